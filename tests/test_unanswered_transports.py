"""A transport that could not be asked never passes for one with nothing attached.

Issue 10, item 10: usbmuxd down under `--platform all` makes the scan and
`scanner devices` incomplete, and the JSON report lists every transport with
whether it answered; scanning one platform on purpose asks only that
transport; a file scan lists none. Against the emulated phones (and their
real adb server) of tests/android_fleet.py, with a usbmuxd address nothing
listens on.
"""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
from android_fleet import (  # noqa: F401 - the `sim`, `sigs` and `matcher` fixtures
    SCHEMA,
    cli,
    fixture_matcher,
    fixture_sigs,
    fixture_sim,
    live,
)
from served import free_port

from scanner.audit import run
from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.ios.connector import IOSConnector
from scanner.formats.json_report import report_to_dict
from scanner.formats.sarif import report_to_sarif


def test_usbmuxd_down_under_platform_all_makes_the_scan_incomplete(sim, tmp_path):
    nobody = f"127.0.0.1:{free_port()}"
    proc = cli("scan", "--quiet", "--format", "json", env={**sim.env, "USBMUXD_SOCKET_ADDRESS": nobody}, cwd=tmp_path)
    assert proc.returncode == 5, proc.stderr  # WeChat on a clone, and the iPhones unseen
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["verdict"] == "findings-incomplete" and doc["exit_code"] == 5
    transports = {t["platform"]: t for t in doc["transports"]}
    assert transports["android"]["answered"] is True and transports["android"]["transport"] == "adb"
    ios = transports["ios"]
    assert (ios["transport"], ios["answered"]) == ("usbmux", False)
    assert "usbmuxd is not running" in ios["message"] and "--platform android" in ios["message"]
    assert ios["address"] == nobody
    table = cli("scan", "--serial", "PLAIN0001", "--platform", "all", env=sim.env, cwd=tmp_path)
    assert table.returncode == 4, table.stderr  # the phone is clean and complete; the iPhones were not asked
    assert "not scanned: iOS devices (usbmux at" in table.stdout and "--platform android" in table.stdout


def test_scanning_one_platform_on_purpose_asks_only_that_transport(sim, tmp_path):
    proc = cli("scan", "--platform", "android", "--serial", "PLAIN0001", "--format", "json", env=sim.env,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(t["platform"], t["answered"]) for t in doc["transports"]] == [("android", True)]
    assert doc["transports"][0]["address"] == f"127.0.0.1:{sim.adb_port}"


def test_devices_under_platform_all_with_usbmuxd_down_exits_4(sim, tmp_path):
    proc = cli("devices", "--serial", "PLAIN0001", "--platform", "all", "--format", "json", env=sim.env,
               cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(d["serial"], d["state"]) for d in doc["devices"]] == [(sim.transport_serial("PLAIN0001"), "ready")]
    assert any("usbmuxd is not running" in p and "--platform android" in p for p in doc["problems"])
    android_only = cli("devices", "--serial", "PLAIN0001", "--platform", "android", env=sim.env, cwd=tmp_path)
    assert android_only.returncode == 0, android_only.stderr


def test_a_report_with_an_unanswered_transport_is_never_complete_and_sarif_says_so(sim, sigs, matcher):
    android = AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=["PLAIN0001"], timeout=20)
    ios = IOSConnector(f"127.0.0.1:{free_port()}", timeout=5)
    report = live(matcher, sigs, android, ios)
    assert [r.status for r in report.results] == ["complete"]
    assert [(t.platform, t.answered) for t in report.transports] == [("android", True), ("ios", False)]
    assert not report.complete and report.exit_code == 4 and report.verdict == "incomplete"
    invocation = report_to_sarif(report)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 4
    assert any("usbmux" in n["message"]["text"] for n in invocation["toolExecutionNotifications"])
    answered = replace(report, transports=report.transports[:1])
    assert answered.complete and answered.exit_code == 0


def test_a_file_scan_lists_no_transport(sigs, matcher, tmp_path):
    from scanner.connectors.files import FileConnector

    listing = tmp_path / "phone.txt"
    listing.write_text("package:com.google.android.gm\npackage:android\n")
    doc = report_to_dict(run([FileConnector(str(listing))], matcher, inputs=(str(listing),)))
    assert doc["transports"] == [] and doc["devices"][0]["device"]["transport"] is None
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
