"""The JSON report: valid against docs/report-schema.json, every value intact, stable finding ids."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from report_samples import (
    BIDI,
    CLEAN,
    ESC,
    F_EXACT,
    F_TEAM,
    FINISHED,
    FORMULA,
    INVENTORIED,
    IPHONE,
    LONG,
    MDM_PHONE,
    NEWLINE,
    NOT_CHECKED,
    PHONE,
    WECHAT,
    finding,
    make_mdm_report,
    make_report,
    render,
    with_inventory,
)

from scanner.formats.json_report import finding_id, report_to_dict, write_json
from scanner.model import (
    APP_STATES,
    CONFIDENCES,
    EVIDENCE_LEVELS,
    EVIDENCE_OF_MATCH,
    FAIL_ON,
    MATCH_KINDS,
    PLATFORMS,
    RELATIONS,
    SEVERITIES,
    STATUSES,
    App,
    DeviceInfo,
    DeviceResult,
)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def validate(document: dict, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


def test_json_validates_and_keeps_hostile_values_intact(schema):
    text = render(write_json, make_report())
    assert text.isascii()
    assert "\x1b" not in text and "\n" in text  # indented, and the ESC is a \u001b escape
    document = json.loads(text)
    validate(document, schema)

    assert document["schema_version"] == "1.2"
    assert document["accepted_scopes"] == [] and document["max_age"] is None and document["not_checked"] == []
    assert document["summary"]["not_checked"] == 0
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
                                "os_version": None, "name": None, "source": "export\u202e.csv", "identity": [],
                                "inventoried": None}
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
        "evidence": "identifier",
        "app": {"platform": "ios", "id": "com.tencent.other", "name": "Tencent Other", "version": None,
                "build": None, "installer": None, "user": None, "state": "offloaded", "system": None,
                "path": None, "team_id": "88L2Q4487U", "signer": None, "uid": None, "evidence": "identifier",
                "devices": None},
    }


def test_json_mdm_report_says_evidence_identity_date_and_devices_not_checked(schema):
    text = render(write_json, make_mdm_report())
    assert text.isascii() and "\x1b" not in text
    document = json.loads(text)
    validate(document, schema)
    assert document["accepted_scopes"] == ["mdm"] and document["max_age"] == 30
    assert document["summary"]["not_checked"] == 2 and document["summary"]["devices"] == 2

    phone, aggregate = document["devices"]
    assert phone["device"]["identity"] == [{"kind": "serial", "value": "R58N" + ESC},
                                           {"kind": "user", "value": "sam@example.com" + BIDI},
                                           {"kind": "mdm id", "value": "2f6c0a"}]
    assert phone["device"]["inventoried"] == "2025-02-20T08:15:00.000Z" == INVENTORIED.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    name, hostile = phone["findings"]
    assert (name["match"], name["matched_by"], name["evidence"]) == ("name", "name", "name")
    assert name["app"]["id"] == "微信" and name["app"]["evidence"] == "name" and name["app"]["devices"] is None
    assert "by its display name '微信' only" in name["explanation"]
    assert hostile["app"]["id"] == ESC + "WeChat"  # exactly as given: escaped by JSON, not altered
    assert phone["coverage"][1]["read"] is True and phone["coverage"][1]["reason"].startswith("accepted with")

    count = aggregate["findings"][0]
    assert (count["match"], count["matched_by"], count["evidence"]) == ("exact", "identifier", "count")
    assert count["app"]["devices"] == 3 and count["app"]["evidence"] == "identifier"
    assert aggregate["device"]["serial"] is None and aggregate["device"]["name"] == "the tenant's aggregate"

    windows, mac = document["not_checked"]
    assert windows == {
        "device": {"platform": "windows", "serial": "Intune id d00001", "transport": None, "model": None,
                   "os_version": None, "name": "LT-0042", "source": "AppInvRawData.csv",
                   "identity": [{"kind": "serial", "value": "5CG1" + BIDI}, {"kind": "user", "value": ESC}],
                   "inventoried": None},
        "rows": 812,
        "why": NOT_CHECKED[0].why,
    }
    assert mac["device"]["platform"] == "macos" and mac["device"]["name"] == "MBP " + ESC and mac["rows"] == 97
    # Devices not checked are not results: not in devices, and not what the verdict is about.
    assert all(d["device"]["platform"] in ("android", "ios", None) for d in document["devices"])


def test_json_inventoried_is_utc_whatever_zone_it_was_given_in():
    from datetime import datetime, timedelta, timezone

    local = datetime(2025, 2, 20, 10, 15, tzinfo=timezone(timedelta(hours=2)))
    report = make_mdm_report(replace(MDM_PHONE, device=replace(MDM_PHONE.device, inventoried=local)))
    assert report_to_dict(report)["devices"][0]["device"]["inventoried"] == "2025-02-20T08:15:00.000Z"


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
                                 "signer": None, "uid": None, "evidence": "identifier", "devices": None}


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
        lambda d: d["devices"][0]["findings"][0].pop("evidence"),  # 1.2 keys are always present too
        lambda d: d["devices"][0]["findings"][0].update(evidence="guess"),
        lambda d: d["devices"][0]["findings"][0]["app"].update(evidence="count"),  # an app has an id or a name
        lambda d: d["devices"][0]["findings"][0]["app"].update(devices=-1),
        lambda d: d["devices"][0]["findings"][0]["app"].pop("devices"),
        lambda d: d["devices"][0]["device"].pop("identity"),
        lambda d: d["devices"][0]["device"].update(identity=[{"kind": "serial"}]),
        lambda d: d["devices"][0]["device"].update(identity=[["serial", "X"]]),
        lambda d: d["devices"][0]["device"].update(inventoried="last tuesday"),
        lambda d: d.pop("not_checked"),
        lambda d: d.update(not_checked=[{"device": {}, "rows": 1, "why": "x"}]),
        lambda d: d.update(accepted_scopes=["everything"]),
        lambda d: d.update(max_age="30"),
        lambda d: d["summary"].pop("not_checked"),
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
    assert finding_props["matched_by"]["enum"] == list(dict.fromkeys(EVIDENCE_OF_MATCH.values()))
    assert set(EVIDENCE_OF_MATCH) == set(MATCH_KINDS)
    assert finding_props["evidence"]["enum"] == list(EVIDENCE_LEVELS)
    # An app record names its app by an id or by a display name; "count" is a finding's (App.devices).
    assert defs["app"]["properties"]["evidence"]["enum"] == [e for e in EVIDENCE_LEVELS if e != "count"]
    assert App("android", "x").evidence in defs["app"]["properties"]["evidence"]["enum"]
    from scanner.audit import ACCEPTABLE_SCOPES

    assert schema["properties"]["accepted_scopes"]["items"]["enum"] == list(ACCEPTABLE_SCOPES)
    # A device not checked has the same shape as every other device; only its platform is open.
    other = defs["other_device_info"]
    assert other["required"] == defs["device_info"]["required"]
    assert {k: v for k, v in other["properties"].items() if k != "platform"} == {
        k: v for k, v in defs["device_info"]["properties"].items() if k != "platform"}
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
