"""SARIF 2.1.0: a rule per policy entry, a result per finding, unread devices as notifications."""

from __future__ import annotations

import json
import re

from report_samples import CLEAN, ESC, F_EXACT, FAILED, NOT_CHECKED, PHONE, make_mdm_report, make_report, render

from scanner.formats.json_report import finding_id
from scanner.formats.sarif import write_sarif


def test_sarif_structure_rules_and_results():
    report = make_report()
    text = render(write_sarif, report)
    assert text.isascii()
    log = json.loads(text)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "scanner" and driver["version"] == "0.1.0" and driver["informationUri"]

    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert set(ids) == {f.rule for r in report.results for f in r.findings}
    wechat = rules[ids.index("us-eo-13971/wechat-pay")]
    assert wechat["name"] == "WeChatPay"
    assert wechat["shortDescription"]["text"] == "WeChat Pay (us-eo-13971)"
    assert wechat["properties"]["policy_status"] == "revoked"
    assert wechat["properties"]["severity"] == "prohibited"  # its most severe finding
    assert wechat["properties"]["relation"] == "app"

    results = run["results"]
    assert len(results) == report.summary.findings
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert re.fullmatch(r"[0-9a-f]{16}", result["partialFingerprints"]["scannerFinding/v1"])
    levels = [r["level"] for r in results]
    assert levels.count("error") == 6 and levels.count("warning") == 2

    first = results[0]
    assert first["message"]["text"] == "com.tencent.mm on 1A2B3C4D: WeChat Pay (us-eo-13971, revoked)"
    location = first["locations"][0]["logicalLocations"][0]
    assert location == {"name": "com.tencent.mm", "fullyQualifiedName": "1A2B3C4D/user 0/com.tencent.mm",
                        "kind": "module"}
    assert first["partialFingerprints"]["scannerFinding/v1"] == finding_id(PHONE, F_EXACT)
    assert first["properties"]["device_serial"] == "1A2B3C4D" and first["properties"]["device_source"] == "adb"

    hostile = results[2]
    assert hostile["ruleId"] == "us-eo-13971/qq-wallet" and hostile["locations"][0]["logicalLocations"][0]["name"] == ESC

    team = next(r for r in results if r["properties"]["match"] == "team-id")
    assert team["level"] == "warning"
    assert team["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "00008110-001A/com.tencent.other"


def test_sarif_incomplete_devices_are_notifications():
    log = json.loads(render(write_sarif, make_report()))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 5
    notes = invocation["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["warning", "error"]
    assert notes[0]["message"]["text"].startswith("00008110-001A: partial (bad-lines): line 7 could not be read")
    assert "not read: records (refused\r\nby device)" in notes[0]["message"]["text"]
    assert notes[1]["message"]["text"] == (
        "export\u202e.csv: failed (unauthorized): Unlock the phone and accept the USB debugging prompt"
    )


def test_sarif_complete_run_is_successful_without_notifications():
    log = json.loads(render(write_sarif, make_report(PHONE, CLEAN)))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert "toolExecutionNotifications" not in invocation
    assert invocation["exitCode"] == 1

    empty = json.loads(render(write_sarif, make_report(CLEAN, FAILED)))
    assert empty["runs"][0]["results"] == [] and empty["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_says_evidence_lists_devices_not_checked_and_the_options():
    text = render(write_sarif, make_mdm_report())
    assert text.isascii() and "\x1b" not in text  # hostile names escaped, never raw
    log = json.loads(text)
    run = log["runs"][0]
    assert run["properties"]["accepted_scopes"] == ["mdm"] and run["properties"]["max_age"] == 30
    name, hostile, count = run["results"]
    assert (name["properties"]["evidence"], name["properties"]["devices"]) == ("name", None)
    assert name["message"]["text"].startswith("微信 on Intune id 2f6c0a: WeChat Pay (by its display name '微信' only")
    assert name["properties"]["device_inventoried"] == "2025-02-20T08:15:00.000Z"
    assert hostile["locations"][0]["logicalLocations"][0]["name"] == ESC + "WeChat"
    assert (count["properties"]["evidence"], count["properties"]["devices"]) == ("count", 3)
    assert count["message"]["text"].startswith(
        "com.tencent.mm on 3 devices of the tenant's aggregate (an aggregate: no device list): WeChat Pay")

    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["warning", "note", "note"]  # the aggregate is partial
    windows, mac = notes[1:]
    assert windows["message"]["text"] == f"Intune id d00001: not checked: {NOT_CHECKED[0].why}"
    assert windows["properties"] == {"device_source": "AppInvRawData.csv", "device_serial": "Intune id d00001",
                                     "device_platform": "windows", "device_name": "LT-0042", "rows": 812,
                                     "status": "not-checked"}
    assert mac["properties"]["device_name"] == "MBP " + ESC and mac["properties"]["device_platform"] == "macos"


def test_sarif_devices_not_checked_do_not_fail_a_complete_run():
    from report_samples import MDM_PHONE

    log = json.loads(render(write_sarif, make_mdm_report(MDM_PHONE)))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True and invocation["exitCode"] == 1
    assert [n["level"] for n in invocation["toolExecutionNotifications"]] == ["note", "note"]
    plain = json.loads(render(write_sarif, make_report(PHONE, CLEAN)))["runs"][0]
    assert plain["properties"]["accepted_scopes"] == [] and plain["properties"]["max_age"] is None
    assert {r["properties"]["evidence"] for r in plain["results"]} == {"identifier"}
