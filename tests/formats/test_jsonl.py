"""watch's jsonl record: the device's entry of the JSON report plus when, why and what it was checked against."""

from __future__ import annotations

import json

from report_samples import BIDI, CLEAN, ESC, PHONE, make_report

from scanner.formats.json_report import device_to_dict, report_to_dict
from scanner.formats.jsonl import device_record


def test_a_record_is_one_utf8_line_of_the_device_entry_and_the_scan():
    report = make_report(PHONE)
    line = device_record(PHONE, report, "authorized")
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # the hostile newlines are \n escapes
    record = json.loads(line.decode("utf-8"))
    assert list(record)[:5] == ["scanned_at", "trigger", "exit_code", "policies", "tool"]
    assert record["scanned_at"] == "2025-03-01T09:30:02.000Z" and record["trigger"] == "authorized"
    assert record["exit_code"] == 1 and record["policies"] == ["us-eo-13971", "us-no-tiktok-gov-devices"]
    assert record["tool"] == {"name": "scanner", "version": "0.1.0"}
    body = {k: v for k, v in record.items() if k not in ("scanned_at", "trigger", "exit_code", "policies", "tool")}
    assert body == device_to_dict(PHONE, report) == report_to_dict(report)["devices"][0]
    assert body["device"]["model"] == ESC and body["device"]["name"] == BIDI  # values intact, as in the JSON


def test_a_record_is_utf8_text_not_ascii_escapes():
    assert "\u202e".encode() in device_record(PHONE, make_report(PHONE), "attached")  # BIDI, in the device name
    assert json.loads(device_record(CLEAN, make_report(CLEAN), "attached"))["verdict"] == "clean"
