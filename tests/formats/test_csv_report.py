"""CSV: a row per finding and per device without one, cells visible on a terminal and inert in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from report_samples import CLEAN, ESC, FAILED, FORMULA, LONG, PHONE, finding, make_mdm_report, make_report, render

from scanner.formats.csv_report import HEADER, write_csv
from scanner.model import App, DeviceInfo, DeviceResult
from scanner.terminal.text import safe


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_one_row_per_finding_with_injection_neutralised():
    report = make_report()
    rows = read_csv(render(write_csv, report))
    assert tuple(rows[0]) == HEADER
    body = [dict(zip(HEADER, r)) for r in rows[1:]]
    findings = [r for r in body if r["policy"]]
    assert len(findings) == report.summary.findings == 8
    assert len(body) == 8 + 2  # and one row each for the failed and the clean device, which have no finding
    assert all(len(r) == len(HEADER) for r in rows)

    formula = next(r for r in body if r["app_id"] == "com.tencent.mobileqq")
    assert formula["app_name"] == "'" + FORMULA
    assert formula["app_version"] == "'-1"
    assert formula["user"] == "0"

    hostile = next(r for r in body if r["app_id"] == safe(ESC, limit=None))  # visible, never raw
    assert hostile["app_version"] == "line1\\nline2"  # one line on a terminal; exact values are in the JSON
    assert hostile["app_name"] == LONG

    related = next(r for r in body if r["app_id"] == "a\\u202eevil")
    assert related["app_name"] == "line1\\nline2" and related["state"] == "uninstalled-data-kept"
    assert related["relation"] == "related" and related["severity"] == "review"

    tiktok = next(r for r in body if r["rule"] == "us-no-tiktok-gov-devices/tiktok")
    assert tiktok["device_status"] == "partial" and tiktok["policy_status"] == "in-force"
    assert tiktok["serial"] == "00008110-001A" and tiktok["platform"] == "ios"
    assert tiktok["user"] == ""

    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", " =", "  @", "\n+"])
def test_csv_neutralises_every_formula_start(start):
    app = App("android", start + "x", name=start + "SUM(A1)")
    device = DeviceResult(DeviceInfo("android", start + "serial", model=start + "m", source=start + "in.txt"),
                          "complete", None, None, (), (finding(app),), 1)
    rows = read_csv(render(write_csv, make_report(device)))
    row = dict(zip(HEADER, rows[1]))
    for key in ("app_id", "app_name", "serial", "model", "device_source"):
        assert row[key].startswith("'" + safe(start))  # a tab, CR or newline is written as \t, \r, \n


def test_csv_without_findings_still_lists_every_device():
    text = render(write_csv, make_report(CLEAN, FAILED))
    rows = [dict(zip(HEADER, r)) for r in read_csv(text)[1:]]
    assert [(r["serial"], r["device_status"], r["device_reason"], r["app_count"], r["policy"]) for r in rows] == [
        ("CLEAN01", "complete", "", str(CLEAN.app_count), ""), ("", "failed", "unauthorized", "0", "")]


def test_csv_new_columns_come_last_and_say_evidence_count_and_inventory_date():
    # Appended, never reordered: `cut -f N` of an older report still means the same.
    assert HEADER[:23] == (
        "device_source", "platform", "serial", "model", "device_status", "policy", "policy_status", "rule", "listed",
        "relation", "severity", "match", "confidence", "app_id", "app_name", "app_version", "user", "state",
        "explanation", "device_reason", "device_message", "app_count", "device_transport")
    assert HEADER[23:] == ("evidence", "app_devices", "device_inventoried")
    rows = read_csv(render(write_csv, make_mdm_report()))
    assert all(len(r) == len(HEADER) for r in rows)
    body = [dict(zip(HEADER, r)) for r in rows[1:]]
    name, hostile, count = body
    assert (name["evidence"], name["app_devices"], name["device_inventoried"]) == ("name", "", "2025-02-20T08:15:00.000Z")
    assert name["app_id"] == "微信" and name["match"] == "name"
    assert hostile["app_id"] == safe(ESC + "WeChat", limit=None)
    assert (count["evidence"], count["app_devices"], count["device_inventoried"]) == ("count", "3", "")
    # Devices not checked are not rows: a row is a phone or tablet of the verdict.
    assert not any("LT-0042" in cell for r in rows for cell in r)
    plain = [dict(zip(HEADER, r)) for r in read_csv(render(write_csv, make_report(CLEAN, PHONE)))[1:]]
    assert [r["evidence"] for r in plain] == ["", "identifier", "identifier", "identifier", "identifier", "identifier"]
