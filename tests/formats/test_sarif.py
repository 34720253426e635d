"""SARIF 2.1.0: a rule per policy entry, a result per finding, unread devices as notifications."""

from __future__ import annotations

import json
import re

from report_samples import CLEAN, ESC, F_EXACT, FAILED, PHONE, make_report, render

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
