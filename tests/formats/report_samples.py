"""Output formats: the table is terminal-safe, the machine formats are intact and well-formed.

Reports are built by hand from the model, with hostile strings where a device
or a file could put them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from scanner.formats.csv_report import HEADER, write_csv
from scanner.formats.json_report import finding_id, report_to_dict, write_json
from scanner.formats.sarif import write_sarif
from scanner.formats.table import write_table
from scanner.terminal.text import safe
from scanner.model import (
    APP_STATES,
    CONFIDENCES,
    FAIL_ON,
    MATCH_KINDS,
    PLATFORMS,
    RELATIONS,
    SEVERITIES,
    STATUSES,
    App,
    DeviceInfo,
    DeviceResult,
    Finding,
    PolicyRef,
    Report,
    Scope,
    SignatureFile,
)

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "report-schema.json"

ESC = "\x1b[31mred\x1b[0m"
BIDI = "a\u202eevil"
NEWLINE = "line1\nline2"
LONG = "N" * 10_000
FORMULA = "=cmd|' /C calc'!A0"

EO = PolicyRef(
    id="us-eo-13971",
    title="Executive Order 13971",
    status="revoked",
    status_note="Revoked by EO 14034 (86 FR 31423, 2021-06-09).",
    signed="2021-01-05",
    source="signatures/policies/us-eo-13971.toml",
    sha256="a" * 64,
    entries=8,
)
TIKTOK = PolicyRef(
    id="us-no-tiktok-gov-devices",
    title="No TikTok on Government Devices Act",
    status="in-force",
    status_note=None,
    signed="2022-12-29",
    source="signatures/policies/us-no-tiktok-gov-devices.toml",
    sha256="b" * 64,
    entries=1,
)


def finding(app: App, **kw) -> Finding:
    base = dict(
        app=app,
        policy="us-eo-13971",
        policy_status="revoked",
        rule="us-eo-13971/wechat-pay",
        listed="WeChat Pay",
        relation="app",
        catalog_app="wechat",
        catalog_name="WeChat",
        match="exact",
        identifier="com.tencent.mm",
        confidence="confirmed",
        severity="prohibited",
        edition="primary",
    )
    base.update(kw)
    return Finding(**base)


# Device 1: complete, with every relation and match kind and hostile values.
WECHAT = App("android", "com.tencent.mm", name="WeChat", version="8.0.47", build="2540", user=0)
WECHAT_WORK = App("android", "com.tencent.mm", name="WeChat", version="8.0.47", user=10, state="disabled")
HOSTILE = App("android", ESC, name=LONG, version=NEWLINE, user=0)
FORMULA_APP = App("android", "com.tencent.mobileqq", name=FORMULA, version="-1", user=0)
BIDI_APP = App("android", BIDI, name=NEWLINE, user=0, state="uninstalled-data-kept")

F_EXACT = finding(WECHAT)
F_FEATURE = finding(
    WECHAT_WORK, rule="us-eo-13971/wechat-pay", listed="WeChat Pay", relation="feature-of", confidence="reported"
)
F_HOSTILE = finding(HOSTILE, rule="us-eo-13971/qq-wallet", listed="QQ Wallet", catalog_app="qq", catalog_name="QQ",
                    identifier=ESC)
F_FORMULA = finding(FORMULA_APP, rule="us-eo-13971/tencent-qq", listed="Tencent QQ", catalog_app="qq",
                    catalog_name="QQ", identifier="com.tencent.mobileqq")
F_RELATED = finding(BIDI_APP, rule="us-eo-13971/wechat-pay", relation="related", severity="review",
                    catalog_app="weixin", catalog_name="Weixin")

PHONE = DeviceResult(
    device=DeviceInfo("android", "1A2B3C4D", model=ESC, os_version="14", name=BIDI, source="adb"),
    status="complete",
    reason=None,
    message=None,
    coverage=(Scope("user 0", True, apps=3), Scope("user 10 (Work profile)", True, apps=2)),
    findings=(F_EXACT, F_FEATURE, F_HOSTILE, F_FORMULA, F_RELATED),
    app_count=5,
)

# Device 2: an iPhone with an extension and a team-id match, partial (a refused scope).
WEWORK_EXT = App("ios", "com.tencent.xin.sharetimeline", name="WeChat Share", team_id="88L2Q4487U")
TENCENT_OTHER = App("ios", "com.tencent.other", name="Tencent Other", team_id="88L2Q4487U", state="offloaded")
F_EXT = finding(WEWORK_EXT, rule="us-eo-13971/wechat-pay", match="extension", identifier="com.tencent.xin",
                edition="ios")
F_TEAM = finding(TENCENT_OTHER, rule="us-eo-13971/wechat-pay", relation="related", match="team-id",
                 identifier="88L2Q4487U", severity="review", edition=None)
F_TIKTOK = finding(App("ios", "com.zhiliaoapp.musically", name="TikTok"), policy="us-no-tiktok-gov-devices",
                   policy_status="in-force", rule="us-no-tiktok-gov-devices/tiktok", listed="TikTok",
                   catalog_app="tiktok", catalog_name="TikTok", identifier="com.zhiliaoapp.musically")
IPHONE = DeviceResult(
    device=DeviceInfo("ios", "00008110-001A", model="iPhone14,2", os_version="17.4", name="Sam's iPhone",
                      source="usbmux"),
    status="partial",
    reason="bad-lines",
    message="line 7 could not be read\x1b]0;pwned\x07",
    coverage=(Scope("apps", True, apps=3), Scope("records", False, reason="refused\r\nby device")),
    findings=(F_EXT, F_TEAM, F_TIKTOK),
    app_count=3,
    problems=("line 7: not valid UTF-8 \x1b[2J", NEWLINE),
    problem_count=12,
)

# Device 3: failed, nothing read.
FAILED = DeviceResult(
    device=DeviceInfo(None, None, source="export\u202e.csv"),
    status="failed",
    reason="unauthorized",
    message="Unlock the phone and accept the USB debugging prompt",
    coverage=(),
    findings=(),
    app_count=0,
)

# Device 4: complete and clean.
CLEAN = DeviceResult(
    device=DeviceInfo("android", "CLEAN01", model="Pixel 7", os_version="14", source="adb"),
    status="complete",
    reason=None,
    message=None,
    coverage=(Scope("user 0", True, apps=1),),
    findings=(),
    app_count=1,
)

STARTED = datetime(2025, 3, 1, 9, 30, 0, 125000, tzinfo=timezone.utc)
FINISHED = datetime(2025, 3, 1, 9, 30, 2, tzinfo=timezone.utc)


def make_report(*results: DeviceResult, **kw) -> Report:
    base = dict(
        tool="scanner",
        version="0.1.0",
        started=STARTED,
        finished=FINISHED,
        policies=(EO, TIKTOK),
        signature_files=(SignatureFile("signatures/policies/us-eo-13971.toml", "c" * 64, "policy"),
                         SignatureFile("signatures/catalog/wechat.toml", "d" * 64, "app")),
        results=results or (PHONE, IPHONE, FAILED, CLEAN),
        inputs=("phone.txt", FORMULA),
    )
    base.update(kw)
    return Report(**base)


def with_inventory(report: Report) -> Report:
    inventories = {
        PHONE.device: (WECHAT, WECHAT_WORK, HOSTILE, FORMULA_APP, BIDI_APP),
        IPHONE.device: (WEWORK_EXT, TENCENT_OTHER, F_TIKTOK.app),
        FAILED.device: (),
        CLEAN.device: (App("android", "com.android.chrome", name="Chrome", system=True, user=0),),
    }
    results = tuple(replace(r, apps=inventories[r.device]) for r in report.results)
    return replace(report, results=results, inventory_included=True)


def render(writer, report: Report, **kw) -> str:
    out = io.StringIO()
    writer(report, out, **kw)
    return out.getvalue()


@pytest.fixture(scope="module")
def schema() -> dict:
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def validate(document: dict, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


# --- safe() --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("com.tencent.mm", "com.tencent.mm"),
        (ESC, "\\x1b[31mred\\x1b[0m"),
        (BIDI, "a\\u202eevil"),
        (NEWLINE, "line1\\nline2"),
        ("a\rb\tc\x7fd\x85e\x00", "a\\rb\\tc\\x7fd\\x85e\\x00"),
        ("x\u200by\u200ez\u2066w\u2069\ufeff\u061c", "x\\u200by\\u200ez\\u2066w\\u2069\\ufeff\\u061c"),
        ("bad\udcffbyte", "bad\\udcffbyte"),
        ("微信 WeChat ✓", "微信 WeChat ✓"),
        (None, ""),
        (10, "10"),
    ],
)
def test_safe_escapes_controls_and_invisible_characters(raw, shown):
    assert safe(raw) == shown


def test_safe_truncates_long_values_and_counts_what_is_left_out():
    assert safe("x" * 120) == "x" * 120
    assert safe(LONG) == "N" * 120 + "…(+9880 chars)"
    # Escapes count towards the limit and are never cut in half.
    shown = safe("\x1b" * 100)
    assert shown == "\\x1b" * 30 + "…(+70 chars)"


# --- table ---------------------------------------------------------------------------------------


def assert_terminal_safe(text: str) -> None:
    lines = text.split("\n")
    for ch in ["\x1b", "\r", "\t", "\x07", "\u202e", "\u200e", "\u2066", "\ufeff"]:
        assert ch not in text, f"raw {ch!r} in table output"
    assert "line1" not in [line.strip() for line in lines]  # the hostile newline did not split a line
    assert not any(line.startswith("line2") for line in lines)


def test_table_is_terminal_safe_and_shows_escapes_and_truncation():
    text = render(write_table, make_report())
    assert_terminal_safe(text)
    assert "\\x1b[31mred\\x1b[0m" in text  # the hostile app id and model, escaped
    assert "a\\u202eevil" in text  # the hostile device name and app id
    assert "export\\u202e.csv" in text  # the failed input's name
    assert "\\x1b]0;pwned\\x07" in text  # a device message
    assert "refused\\r\\nby device" in text  # a refused scope's reason
    assert "line 7: not valid UTF-8 \\x1b[2J" in text  # a problem
    assert "N" * 10_000 not in text


def test_table_inventory_truncates_the_long_name():
    text = render(write_table, with_inventory(make_report()))
    assert_terminal_safe(text)
    assert "N" * 120 + "…(+9880 chars)" in text
    assert "N" * 121 not in text
    assert "apps read (5):" in text and "com.android.chrome" in text
    assert "apps read: none" in text  # the failed device


def test_table_device_blocks_show_status_findings_and_verdicts():
    text = render(write_table, make_report())
    assert text.startswith("[1/4] 1A2B3C4D  Android · ")
    phone = text[:text.index("[2/4]")]
    assert "Android 14" in phone and "— complete" in phone
    assert "feature-of: WeChat Pay is a feature of WeChat [identifier reported, not confirmed]" in phone
    assert "related: Weixin is related to WeChat Pay (same maker, not named)" in phone
    assert "us-eo-13971 (revoked)" in phone
    assert "disabled" in phone and "uninstalled-data-kept" in phone  # states other than installed

    iphone_start = text.index("[2/4] 00008110-001A")
    iphone = text[iphone_start:text.index("[3/4]")]
    assert "— partial (bad-lines)\n  line 7 could not be read" in iphone
    assert "not read: records: refused\\r\\nby device" in iphone
    assert "problems: 12, 2 shown" in iphone
    assert "app extension of WeChat (com.tencent.xin)" in iphone
    assert "same developer (88L2Q4487U) as WeChat" in iphone
    assert "us-no-tiktok-gov-devices (in-force)" in iphone
    assert "offloaded" in iphone
    assert "verdict: findings-incomplete — 3 findings (2 prohibited, 1 review)" in iphone

    failed = text[text.index("[3/4]"):text.index("[4/4]")]
    assert "— failed (unauthorized)\n  Unlock the phone" in failed
    assert "verdict: failed — nothing could be read" in failed
    assert "relation" not in failed  # no findings table

    clean = text[text.index("[4/4]"):text.index("Summary")]
    assert "verdict: clean — nothing listed in 1 app read" in clean
    assert "relation" not in clean


def test_table_summary_gives_counts_policies_and_exit_code():
    text = render(write_table, make_report())
    summary = text[text.index("Summary"):]
    assert "devices:  4 (2 complete, 1 partial, 1 failed); 9 apps read" in summary
    assert "findings: 8 (6 prohibited, 2 review) on 2 devices" in summary
    assert "us-eo-13971 (revoked)" in summary and "Revoked by EO 14034" in summary
    assert "verdict:  findings-incomplete (exit 5" in summary

    clean = render(write_table, make_report(CLEAN))
    assert "verdict:  clean (exit 0" in clean


def test_table_colour_only_when_asked():
    plain = render(write_table, make_report())
    coloured = render(write_table, make_report(), color=True)
    assert "\x1b" not in plain
    assert "\x1b[31mprohibited\x1b[0m" in coloured
    # Colour never lets the hostile ESC through.
    assert "\x1b[31mred" not in coloured


def test_table_does_not_import_tabulate_at_module_import():
    import subprocess
    import sys

    code = "import sys, scanner.formats.table, scanner.terminal.text; print('tabulate' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- JSON ----------------------------------------------------------------------------------------


def test_json_validates_and_keeps_hostile_values_intact(schema):
    text = render(write_json, make_report())
    assert text.isascii()
    assert "\x1b" not in text and "\n" in text  # indented, and the ESC is a \u001b escape
    document = json.loads(text)
    validate(document, schema)

    assert document["schema_version"] == "1.1"
    assert document["tool"] == {"name": "scanner", "version": "0.1.0"}
    assert document["started"] == "2025-03-01T09:30:00.125Z"
    assert document["verdict"] == "findings-incomplete" and document["exit_code"] == 5
    assert document["inputs"] == ["phone.txt", FORMULA]
    assert [p["status"] for p in document["policies"]] == ["revoked", "in-force"]
    assert document["summary"]["findings"] == 8 and document["summary"]["apps_read"] == 9

    phone, iphone, failed, clean = document["devices"]
    assert phone["device"]["model"] == ESC and phone["device"]["name"] == BIDI
    apps = [f["app"] for f in phone["findings"]]
    assert apps[2]["id"] == ESC and apps[2]["name"] == LONG and apps[2]["version"] == NEWLINE
    assert apps[3]["name"] == FORMULA
    assert apps[4]["id"] == BIDI
    assert phone["findings"][2]["identifier"] == ESC
    assert iphone["message"] == IPHONE.message
    assert iphone["coverage"][1] == {"scope": "records", "read": False, "reason": "refused\r\nby device", "apps": None}
    assert iphone["problems"] == list(IPHONE.problems) and iphone["problem_count"] == 12
    assert failed["device"] == {"platform": None, "serial": None, "transport": None, "model": None,
                                "os_version": None, "name": None, "source": "export\u202e.csv"}
    assert [d["verdict"] for d in document["devices"]] == ["findings", "findings-incomplete", "failed", "clean"]
    assert all("inventory" not in d for d in document["devices"])


def test_json_findings_carry_every_field(schema):
    document = report_to_dict(make_report())
    team = document["devices"][1]["findings"][1]
    assert team == {
        "id": finding_id(IPHONE, F_TEAM),
        "policy": "us-eo-13971",
        "policy_status": "revoked",
        "rule": "us-eo-13971/wechat-pay",
        "listed": "WeChat Pay",
        "relation": "related",
        "catalog_app": "wechat",
        "catalog_name": "WeChat",
        "match": "team-id",
        "matched_by": "team-id",
        "identifier": "88L2Q4487U",
        "confidence": "confirmed",
        "severity": "review",
        "edition": None,
        "explanation": "same developer (88L2Q4487U) as WeChat",
        "app": {"platform": "ios", "id": "com.tencent.other", "name": "Tencent Other", "version": None,
                "build": None, "installer": None, "user": None, "state": "offloaded", "system": None,
                "path": None, "team_id": "88L2Q4487U", "signer": None, "uid": None},
    }


def test_json_with_inventory_validates_and_includes_it(schema):
    document = json.loads(render(write_json, with_inventory(make_report())))
    validate(document, schema)
    assert document["inventory_included"] is True
    inventories = [d["inventory"] for d in document["devices"]]
    assert [len(i) for i in inventories] == [5, 3, 0, 1]
    assert inventories[0][2]["name"] == LONG
    assert inventories[3][0] == {"platform": "android", "id": "com.android.chrome", "name": "Chrome",
                                 "version": None, "build": None, "installer": None, "user": 0,
                                 "state": "installed", "system": True, "path": None, "team_id": None,
                                 "signer": None, "uid": None}


def test_schema_rejects_what_it_should(schema):
    good = report_to_dict(make_report())
    validate(good, schema)

    def broken(mutate) -> dict:
        document = json.loads(json.dumps(good))
        mutate(document)
        return document

    cases = [
        lambda d: d.update(extra=1),  # unknown top-level key
        lambda d: d["devices"][0]["findings"][0].update(severity="critical"),
        lambda d: d["devices"][0]["findings"][0]["app"].pop("uid"),  # keys always present
        lambda d: d["devices"][0]["findings"][0]["app"].update(state="removed"),
        lambda d: d["devices"][0].update(status="ok"),
        lambda d: d["devices"][0].update(verdict="pass"),
        lambda d: d["devices"][0].update(inventory=[]),  # inventory without inventory_included
        lambda d: d["devices"][0]["findings"][0].update(relation="sibling"),
        lambda d: d["devices"][0]["findings"][0].update(match="prefix"),
        lambda d: d.update(exit_code=3),
        lambda d: d["devices"][0]["findings"][0].update(id="XYZ"),
    ]
    for mutate in cases:
        with pytest.raises(jsonschema.ValidationError):
            validate(broken(mutate), schema)

    # With inventory_included, every device must carry its inventory.
    with_inv = report_to_dict(with_inventory(make_report()))
    del with_inv["devices"][2]["inventory"]
    with pytest.raises(jsonschema.ValidationError):
        validate(with_inv, schema)


def test_schema_enums_match_the_model(schema):
    defs = schema["$defs"]
    assert defs["app"]["properties"]["platform"]["enum"] == list(PLATFORMS)
    assert defs["app"]["properties"]["state"]["enum"] == list(APP_STATES)
    assert defs["device"]["properties"]["status"]["enum"] == list(STATUSES)
    finding_props = defs["finding"]["properties"]
    assert finding_props["severity"]["enum"] == list(SEVERITIES)
    assert finding_props["relation"]["enum"] == list(RELATIONS)
    assert finding_props["match"]["enum"] == list(MATCH_KINDS)
    assert finding_props["confidence"]["enum"] == list(CONFIDENCES)
    assert schema["properties"]["fail_on"]["enum"] == list(FAIL_ON)
    from scanner.signatures import POLICY_STATUSES

    assert defs["policy_status"]["enum"] == list(POLICY_STATUSES)


def test_empty_report_validates(schema):
    report = make_report(CLEAN, policies=(), signature_files=(), inputs=())
    report = replace(report, results=())
    document = report_to_dict(report)
    validate(document, schema)
    assert document["verdict"] == "incomplete" and document["exit_code"] == 4


# --- finding id ----------------------------------------------------------------------------------


def test_finding_id_is_stable_and_distinguishes_users():
    first = finding_id(PHONE, F_EXACT)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert finding_id(PHONE, F_EXACT) == first
    assert report_to_dict(make_report())["devices"][0]["findings"][0]["id"] == first
    # Same app, same rule, another Android user: another finding.
    other_user = finding(replace_app(WECHAT, user=10))
    assert finding_id(PHONE, other_user) != first
    # Same app on another device: another finding.
    assert finding_id(CLEAN, F_EXACT) != first
    # Nothing from the report's time or order goes in.
    later = make_report(CLEAN, PHONE, started=FINISHED)
    assert report_to_dict(later)["devices"][1]["findings"][0]["id"] == first


def test_finding_id_separator_cannot_be_forged():
    a = DeviceResult(DeviceInfo("android", "x|y", source="s"), "complete", None, None, (), (), 0)
    b = DeviceResult(DeviceInfo("android", "x", source="s"), "complete", None, None, (), (), 0)
    fa = finding(App("android", "z"), rule="p/r")
    fb = finding(App("android", "z"), rule="y|p/r")
    assert finding_id(a, fa) != finding_id(b, fb)


def replace_app(app: App, **kw) -> App:
    return app._replace(**kw)


# --- CSV -----------------------------------------------------------------------------------------


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


# --- SARIF ---------------------------------------------------------------------------------------


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
