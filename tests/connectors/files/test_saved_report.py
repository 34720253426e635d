"""A saved scanner report can be edited: re-reading one never says more than the scan it saved (issue 10, item 5).

Every report here is written by the tool itself (scanner.scan or a live scan of emulated phones, then the
JSON writer), then edited as an attacker or a careless admin would, then read back. An edit that leaves a
trace never reads complete, and what the file still says about a prohibited app is never lost. A report
the tool wrote reads back as it was.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

import scanner
from scanner.connectors.files import read_input
from scanner.formats.json_report import write_json
from scanner.model import FAIL_ON, Inventory, Report
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, UserProfile, filler_apps

PM_CLEAN = (
    "package:/system/framework/framework-res.apk=android versionCode:34  installer=null uid:1000\n"
    "package:/data/app/~~a==/com.google.android.gm-b==/base.apk=com.google.android.gm versionCode:64  installer=com.android.vending uid:10101\n"
    "package:/data/app/~~c==/com.tencent.wework-d==/base.apk=com.tencent.wework versionCode:9  installer=com.android.vending uid:10102\n"
)
PM_WECHAT = PM_CLEAN + (
    "package:/data/app/~~w==/com.tencent.mm-u==/base.apk=com.tencent.mm versionCode:2280  installer=com.android.vending"
    " uid:10234\n"
)
FLEET = "platform,device,app_id\nandroid,R58M1,com.tencent.mm\nandroid,R58M1,com.google.android.gm\n" \
        "ios,UDID-2,com.tencent.xin.share\nios,UDID-2,com.apple.mobilesafari\nios,UDID-3,com.apple.mobilesafari\n"
EDITED = "edited or damaged"


def saved_report(tmp_path: Path, inputs: dict[str, str]) -> dict[str, Any]:
    """The JSON report the tool writes for these files, scanned with --inventory."""
    paths = []
    for name, text in inputs.items():
        (tmp_path / name).write_bytes(text.encode())
        paths.append(str(tmp_path / name))
    return as_json(scanner.scan(paths, inventory=True))


def as_json(report: Report) -> dict[str, Any]:
    out = io.StringIO()
    write_json(report, out)
    return json.loads(out.getvalue())


def reread(tmp_path: Path, doc: dict[str, Any], name: str = "edited.json") -> list[Inventory]:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return list(read_input(str(path)))


def rescan(tmp_path: Path, doc: dict[str, Any], name: str = "edited.json") -> Report:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return scanner.scan([str(path)], inventory=True)


def found(report: Report) -> list[tuple[str, str, str]]:
    return sorted((f.app.id, f.rule, f.match) for r in report.results for f in r.findings)


def wechat_report(tmp_path: Path) -> dict[str, Any]:
    doc = saved_report(tmp_path, {"wechat.txt": PM_WECHAT})
    (device,) = doc["devices"]
    assert device["status"] == "complete" and device["verdict"] == "findings" and doc["exit_code"] == 1
    return doc


def untrusted(inv: Inventory) -> None:
    """What every edited device must say: not complete, why in a code, and what to do."""
    assert inv.status in ("partial", "failed") and inv.reason
    assert EDITED in inv.message and ("save the scan again" in inv.message or "scan the device again" in inv.message)


# --- the edits the review found -------------------------------------------------------------------


def test_a_failed_device_edited_to_look_complete_is_still_failed(tmp_path):
    doc = json.loads((Path(__file__).parents[2] / "data" / "inputs" / "report-with-inventory.json").read_text())
    offline = doc["devices"][2]
    assert offline["status"] == "failed" and offline["reason"] == "unauthorized"
    offline.update(status="complete", coverage=[{"scope": "all users", "read": True, "reason": None, "apps": 0}],
                   problems=[], problem_count=0)  # reason and verdict still say failed
    inv = reread(tmp_path, doc)[2]
    untrusted(inv)
    assert inv.status == "failed" and inv.reason == "bad-records" and inv.apps == ()
    assert '(its reason is "unauthorized")' in inv.message and "save the scan again" in inv.message
    assert 'device #3: saved as complete but its verdict is "failed", not clean' in inv.problems


def test_a_failed_device_edited_everywhere_but_with_no_apps_is_refused_as_empty(tmp_path):
    doc = json.loads((Path(__file__).parents[2] / "data" / "inputs" / "report-with-inventory.json").read_text())
    offline = doc["devices"][2]
    offline.update(status="complete", reason=None, message=None, verdict="clean", problems=[], problem_count=0,
                   coverage=[{"scope": "all users", "read": True, "reason": None, "apps": 0}])
    del doc["summary"], doc["exit_code"], doc["verdict"]
    inv = reread(tmp_path, doc)[2]
    assert inv.status == "failed" and inv.reason == "empty" and "a phone always has some" in inv.message
    assert EDITED in inv.message and inv.message.endswith("scan the device again")


def test_a_re_read_device_with_no_apps_is_failed_unless_it_already_was(tmp_path):
    doc = saved_report(tmp_path, {"clean.txt": PM_CLEAN, "wechat.txt": PM_WECHAT})
    empty, partial = copy.deepcopy(doc["devices"][0]), copy.deepcopy(doc["devices"][0])
    empty.update(inventory=[], app_count=0, coverage=[{"scope": "records", "read": True, "reason": None, "apps": 0}])
    partial.update(inventory=[], app_count=0, status="partial", reason="user-refused", message="ask the owner",
                   verdict="incomplete",
                   coverage=[{"scope": "user 0", "read": True, "reason": None, "apps": 0},
                             {"scope": "user 10", "read": False, "reason": "refused", "apps": None}])
    doc["devices"] += [empty, partial]
    del doc["summary"]
    invs = reread(tmp_path, doc)
    assert [i.status for i in invs] == ["complete", "complete", "failed", "failed"]
    assert invs[2].reason == "empty" and invs[3].reason == "user-refused" and invs[3].message == "ask the owner"


@pytest.mark.parametrize("coverage", ["without its count", "with its count"])
def test_an_app_deleted_from_the_inventory_is_never_complete_and_its_finding_is_kept(tmp_path, coverage):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    device["inventory"] = [a for a in device["inventory"] if a["id"] != "com.tencent.mm"]
    device["app_count"] -= 1
    if coverage == "without its count":
        del device["coverage"][0]["apps"]  # deleted "together with its coverage key"
    else:
        device["coverage"][0]["apps"] -= 1
    inv = reread(tmp_path, doc)[0]
    untrusted(inv)
    assert "finding #1 names 'com.tencent.mm' of user 0, which is not in its inventory" in " ".join(inv.problems)
    report = rescan(tmp_path, doc)
    assert report.exit_code == 5 and found(report) == [("com.tencent.mm", "us-eo-13971/wechat-pay", "exact")]


def test_an_app_deleted_with_its_finding_still_leaves_counts_that_disagree(tmp_path):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    device["inventory"] = [a for a in device["inventory"] if a["id"] != "com.tencent.mm"]
    device.update(findings=[], verdict="clean", app_count=3)
    del device["coverage"][0]["apps"]
    inv = reread(tmp_path, doc)[0]
    untrusted(inv)
    assert "does not count the apps read in 'records'" in inv.message
    # The top level still says what was found.
    assert any("the report's summary counts 1 findings where its devices say 0" in p for p in inv.problems)
    assert rescan(tmp_path, doc).exit_code == 4


def test_an_inventory_id_changed_under_its_finding_is_caught_and_the_finding_is_kept(tmp_path):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    (wechat,) = [a for a in device["inventory"] if a["id"] == "com.tencent.mm"]
    wechat["id"] = "com.tencent.mn"
    inv = reread(tmp_path, doc)[0]
    untrusted(inv)
    assert inv.status == "partial" and "its finding #1 names 'com.tencent.mm'" in inv.message
    assert {"com.tencent.mn", "com.tencent.mm"} <= {a.id for a in inv.apps}
    report = rescan(tmp_path, doc)
    assert report.exit_code == 5 and [f.app.id for f in report.results[0].findings] == ["com.tencent.mm"]


def test_a_finding_whose_user_differs_from_the_inventory_is_caught(tmp_path):
    doc = saved_report(tmp_path, {"fleet.csv": FLEET})
    doc["devices"][0]["findings"][0]["app"]["user"] = 10
    inv = reread(tmp_path, doc)[0]
    untrusted(inv)
    assert "names 'com.tencent.mm' of user 10, which is not in its inventory" in inv.message


@pytest.mark.parametrize("findings", ["kept", "deleted too"])
def test_an_app_whose_platform_contradicts_its_device_is_a_bad_record_and_still_found(tmp_path, findings):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    (wechat,) = [a for a in device["inventory"] if a["id"] == "com.tencent.mm"]
    wechat["platform"] = "ios"  # matched as an iPhone app, com.tencent.mm is nothing
    if findings == "deleted too":
        device.update(findings=[], verdict="clean")
        doc.update(verdict="clean", exit_code=0)
        del doc["summary"]
    inv = reread(tmp_path, doc)[0]
    assert inv.status == "partial" and inv.reason == "bad-records"
    assert "'com.tencent.mm' is an ios app on an android device" in inv.message
    report = rescan(tmp_path, doc)
    assert report.exit_code == 5
    # With its saved finding, the app is matched as the finding gives it; without, its edited record still
    # names the Android app's id (an other-platform match); either way one finding, the best-founded.
    assert found(report) == [("com.tencent.mm", "us-eo-13971/wechat-pay",
                              "exact" if findings == "kept" else "other-platform")]


def test_a_bad_app_record_is_still_searched_for_prohibited_ids(tmp_path):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    device["inventory"] = ["com.tencent.mm" if a["id"] == "com.tencent.mm" else a for a in device["inventory"]]
    device.update(findings=[], verdict="clean")
    report = rescan(tmp_path, doc)
    assert report.results[0].status == "partial"
    assert report.exit_code == 5 and found(report) == [("com.tencent.mm", "us-eo-13971/wechat-pay", "recovered")]


@pytest.mark.parametrize("key", ["match", "matched_by"])
def test_a_recovered_finding_means_its_device_was_never_complete(tmp_path, key):
    doc = wechat_report(tmp_path)
    device = doc["devices"][0]
    finding = copy.deepcopy(device["findings"][0])
    finding.update({key: "recovered", "app": {"platform": "android", "id": "com.intsig.camscanner"}})
    device["findings"].append(finding)
    inv = reread(tmp_path, doc)[0]
    untrusted(inv)
    assert "its finding #2 ('com.intsig.camscanner') was recovered from text that could not be read" in inv.message
    report = rescan(tmp_path, doc)
    assert report.exit_code == 5
    assert ("com.intsig.camscanner", "recovered") in {(f.app.id, f.match) for f in report.results[0].findings}


# --- every field that speaks about completeness ---------------------------------------------------


def _device(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["devices"][0]


def _wechat(doc: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in _device(doc)["inventory"] if a["id"] == "com.tencent.mm")


def _set(where: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: where(doc).update(values)


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "reason": _set(_device, reason="unauthorized"),
    "message": _set(_device, message="Accept the USB debugging prompt"),
    "verdict clean with findings": _set(_device, verdict="clean"),
    "verdict review with a prohibited finding": _set(_device, verdict="review"),
    "verdict failed": _set(_device, verdict="failed"),
    "verdict not text": _set(_device, verdict=["findings"]),
    "app_count one more": lambda d: _device(d).update(app_count=_device(d)["app_count"] + 1),
    "app_count one less": lambda d: _device(d).update(app_count=_device(d)["app_count"] - 1),
    "coverage apps one less": lambda d: _device(d)["coverage"][0].update(apps=3),
    "coverage apps one more": lambda d: _device(d)["coverage"][0].update(apps=5),
    "coverage apps null": lambda d: _device(d)["coverage"][0].update(apps=None),
    "coverage apps deleted": lambda d: _device(d)["coverage"][0].pop("apps"),
    "coverage not read": lambda d: _device(d)["coverage"][0].update(read=False),
    "coverage emptied": _set(_device, coverage=[]),
    "coverage split in two": _set(_device, coverage=[{"scope": "user 0", "read": True, "reason": None, "apps": 4},
                                                     {"scope": "user 10", "read": True, "reason": None, "apps": 4}]),
    "problems listed": _set(_device, problems=["line 3: not valid UTF-8"]),
    "problem_count": _set(_device, problem_count=1),
    "findings emptied": _set(_device, findings=[]),
    "findings not a list": _set(_device, findings={}),
    "finding without its app": lambda d: _device(d)["findings"][0].pop("app"),
    "finding severity": lambda d: _device(d)["findings"][0].update(severity="low"),
    "finding recovered": lambda d: _device(d)["findings"][0].update(match="recovered", matched_by="recovered"),
    "inventory id changed": _set(_wechat, id="com.tencent.mm2"),
    "inventory platform flipped": _set(_wechat, platform="ios"),
    "inventory app dropped": lambda d: _device(d)["inventory"].pop(0),
    "device platform flipped": lambda d: _device(d)["device"].update(platform="ios"),
    "top exit_code 0": lambda d: d.update(exit_code=0),
    "top exit_code 4": lambda d: d.update(exit_code=4),
    "top exit_code as text": lambda d: d.update(exit_code="1"),
    "top verdict clean": lambda d: d.update(verdict="clean"),
    "top verdict incomplete": lambda d: d.update(verdict="incomplete"),
    "top fail_on never": lambda d: d.update(fail_on="never"),
    "top fail_on unknown": lambda d: d.update(fail_on="everything"),
    "summary findings": lambda d: d["summary"].update(findings=0),
    "summary complete": lambda d: d["summary"].update(complete=2),
    "summary apps_read": lambda d: d["summary"].update(apps_read=3),
    "summary devices": lambda d: d["summary"].update(devices=2),
    "summary not an object": lambda d: d.update(summary=[]),
    "transports not answered": lambda d: d.update(transports=[
        {"platform": "ios", "transport": "usbmux", "address": "/var/run/usbmuxd", "answered": False,
         "message": "usbmuxd is not running"}]),
    "transports unreadable": lambda d: d.update(transports=["usbmux"]),
}


@pytest.mark.parametrize("edit", EDITS)
def test_any_edit_of_a_field_about_completeness_never_reads_complete_and_keeps_the_finding(tmp_path, edit):
    doc = wechat_report(tmp_path)
    assert rescan(tmp_path, doc, "original.json").exit_code == 1  # as saved: complete, one finding
    EDITS[edit](doc)
    report = rescan(tmp_path, doc)
    assert report.exit_code == 5, [(r.status, r.reason, r.message) for r in report.results]
    assert "com.tencent.mm" in {f.app.id for f in report.results[0].findings}
    if not edit.startswith("transports"):  # those add a failed result of their own
        assert report.results[0].status != "complete"
    for result in report.results:
        assert result.status == "complete" or (result.reason and result.message)


def test_a_transport_that_did_not_answer_is_a_failed_result_of_the_re_read(tmp_path):
    doc = saved_report(tmp_path, {"clean.txt": PM_CLEAN})
    doc.update(exit_code=4, verdict="incomplete", transports=[
        {"platform": "android", "transport": "adb", "address": "127.0.0.1:5037", "answered": True, "message": None},
        {"platform": "ios", "transport": "usbmux", "address": "/var/run/usbmuxd", "answered": False,
         "message": "usbmuxd is not running: start it"}])
    clean, unasked = reread(tmp_path, doc)
    assert clean.status == "complete"
    assert unasked.status == "failed" and unasked.reason == "usbmuxd-unavailable" and unasked.device.platform == "ios"
    assert "usbmux at /var/run/usbmuxd did not answer (usbmuxd is not running: start it)" in unasked.message
    assert unasked.device.source.endswith("edited.json: usbmux")
    # Without its transports, the exit code alone still says the scan it saved was not complete.
    del doc["transports"]
    clean, unseen = reread(tmp_path, doc)
    assert clean.status == "complete" and unseen.status == "failed" and unseen.reason == "report-incomplete"
    assert 'its exit_code is 4 (not every target fully read) although every device in it says complete' in unseen.message
    assert rescan(tmp_path, doc).exit_code == 4


def test_a_device_taken_out_of_the_report_is_missed_by_its_summary(tmp_path):
    doc = saved_report(tmp_path, {"clean.txt": PM_CLEAN, "wechat.txt": PM_WECHAT})
    del doc["devices"][1]
    doc.update(exit_code=0, verdict="clean")
    invs = reread(tmp_path, doc)
    assert [i.status for i in invs] == ["partial", "failed"]
    assert invs[1].reason == "report-incomplete" and "its summary counts 2 devices but it lists 1" in invs[1].message


# --- the keys newer writers add ---------------------------------------------------------------------


def test_optional_keys_of_newer_writers_are_read_and_never_required(tmp_path):
    doc = wechat_report(tmp_path)
    device = _device(doc)
    device["device"]["transport"] = "127.0.0.1:5555"
    for f in device["findings"]:
        f["matched_by"] = "identifier"
    doc["transports"] = []
    (inv,) = reread(tmp_path, doc)
    assert inv.status == "complete" and inv.device.transport == "127.0.0.1:5555"
    for f in device["findings"]:
        f.pop("matched_by")
    device["device"]["transport"] = None
    del doc["transports"]
    (inv,) = reread(tmp_path, doc)
    assert inv.status == "complete" and inv.device.transport is None
    device["device"]["transport"] = 5555
    (inv,) = reread(tmp_path, doc)
    assert inv.status == "partial" and inv.device.transport is None
    assert inv.problems[0] == "device #1: transport is a number, expected text"


def test_two_clones_with_one_serial_stay_apart_when_re_read(tmp_path):
    doc = saved_report(tmp_path, {"fleet.csv": FLEET})
    twin = copy.deepcopy(doc["devices"][0])
    doc["devices"][0]["device"]["transport"], twin["device"]["transport"] = "127.0.0.1:40001", "127.0.0.1:40002"
    doc["devices"].insert(1, twin)
    del doc["summary"]
    report = rescan(tmp_path, doc)
    assert [r.device.transport for r in report.results[:2]] == ["127.0.0.1:40001", "127.0.0.1:40002"]
    assert [r.app_count for r in report.results[:2]] == [2, 2]


# --- what the tool writes reads back as it was ------------------------------------------------------


def _outcome(doc: dict[str, Any]) -> list[tuple]:
    return [
        (d["status"], d["reason"], d["verdict"], d["app_count"], d["problem_count"],
         sorted((f["rule"], f["app"]["id"], f["app"]["user"], f["match"]) for f in d["findings"]),
         sorted((f["id"] for f in d["findings"])) if d["device"]["serial"] else None)
        for d in doc["devices"]
    ]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", *args], cwd=cwd, capture_output=True, env=env,
                          timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def test_a_saved_scan_of_files_reads_back_as_it_was(tmp_path):
    inputs = {
        "clean.txt": PM_CLEAN,
        "wechat.txt": PM_WECHAT,
        "bad-line.txt": PM_CLEAN + "this is not a pm line\n",
        "damaged.txt": PM_CLEAN + "garbage com.tencent.mm garbage\n",
        "empty.txt": "",
        "fleet.csv": FLEET,
        "idevice.txt": "CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"
                       "com.apple.mobilesafari, \"17.5\", \"Safari\"\ncom.alipay.iphoneclient, \"10.6\", \"Alipay\"\n",
        "apps.json": json.dumps({"com.tencent.xin": {"CFBundleIdentifier": "com.tencent.xin"},
                                 "com.apple.mobilesafari": {"CFBundleIdentifier": "com.apple.mobilesafari"}}),
        "notes.txt": "apps seen on the desk phone: com.tencent.mm and a few others\n",
    }
    for name, text in inputs.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    given = [arg for name in inputs for arg in ("-i", name)]
    first = _cli(*given, "--inventory", "-o", "json=first.json", cwd=tmp_path)
    again = _cli("-i", "first.json", "--inventory", "-o", "json=second.json", cwd=tmp_path)
    third = _cli("-i", "second.json", "--inventory", "-o", "json=third.json", cwd=tmp_path)
    docs = [json.loads((tmp_path / f"{n}.json").read_text(encoding="utf-8")) for n in ("first", "second", "third")]
    assert first.returncode == again.returncode == third.returncode == 5
    assert {d["status"] for d in docs[0]["devices"]} == {"complete", "partial", "failed"}
    assert any(f["match"] == "recovered" for d in docs[0]["devices"] for f in d["findings"])
    assert _outcome(docs[1]) == _outcome(docs[0]) and _outcome(docs[2]) == _outcome(docs[0])
    assert docs[1]["summary"] == docs[0]["summary"] and docs[1]["verdict"] == docs[0]["verdict"]


@pytest.mark.parametrize("fail_on", FAIL_ON)
def test_a_saved_scan_reads_back_as_it_was_under_every_fail_on(tmp_path, fail_on):
    paths = []
    for name, text in {"clean.txt": PM_CLEAN, "wechat.txt": PM_WECHAT, "fleet.csv": FLEET}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    first = scanner.scan(paths, inventory=True, fail_on=fail_on)
    (tmp_path / "saved.json").write_text(json.dumps(as_json(first)), encoding="utf-8")
    again = scanner.scan([str(tmp_path / "saved.json")], inventory=True, fail_on=fail_on)
    assert again.exit_code == first.exit_code and _outcome(as_json(again)) == _outcome(as_json(first))
    # Matched again under another threshold, the saved devices are still complete.
    other = scanner.scan([str(tmp_path / "saved.json")], inventory=True, fail_on="review")
    assert [r.status for r in other.results] == [r.status for r in first.results] == ["complete"] * 5


# --- a live scan of emulated phones, saved and read back --------------------------------------------


def _phone(serial: str, *apps: AppProfile, users=(UserProfile(0),), **kw) -> DeviceProfile:
    system = AppProfile("android", system=True, users=tuple(u.id for u in users), uid=1000)
    return DeviceProfile("android", serial, users=users, apps=(system, *filler_apps("android", 6, serial), *apps), **kw)


PHONES = [
    _phone("TRUSTCLEAN"),
    _phone("TRUSTWECHAT", AppProfile("com.tencent.mm", build="2280", installer="com.android.vending")),
    _phone("TRUSTWORK", AppProfile("com.lenovo.anyshare.gps", users=(10,)),
           users=(UserProfile(0), UserProfile(10, "Work profile"))),
    _phone("TRUSTREFUSE", users=(UserProfile(0), UserProfile(10, "Work profile", refused=True))),
    # An old pm that takes none of the optional flags: complete, with notes saying so among its problems.
    _phone("TRUSTOLD", AppProfile("com.intsig.camscanner", build="77"), os_version="6.0",
           faults=Faults(reject_flags=("-U", "-i", "--show-versioncode"), crlf=True)),
    _phone("TRUSTUNAUTH", faults=Faults(unauthorized=True)),
]


def test_a_saved_live_scan_reads_back_as_it_was(tmp_path):
    with AndroidSimulator(PHONES) as sim:
        live = scanner.scan_devices(platforms=("android",), adb_server=f"127.0.0.1:{sim.adb_port}", timeout=30,
                                    inventory=True)
    saved = as_json(live)
    by_serial = {d["device"]["serial"]: d for d in saved["devices"]}
    assert by_serial["TRUSTOLD"]["status"] == "complete" and by_serial["TRUSTOLD"]["problems"]  # notes
    assert {d["status"] for d in saved["devices"]} == {"complete", "partial", "failed"}
    assert live.exit_code == 5
    (tmp_path / "live.json").write_text(json.dumps(saved), encoding="utf-8")
    again = scanner.scan([str(tmp_path / "live.json")], inventory=True)
    assert again.exit_code == live.exit_code
    assert _outcome(as_json(again)) == _outcome(saved)
    assert [r.device.source for r in again.results] == [f"{tmp_path / 'live.json'}: adb"] * len(PHONES)
