"""parse_app's two paths give one answer: the quick path for ordinary installation_proxy records
(_plain_app) returns exactly the App the checked path (_checked_app, the grammar as it was) returns, and for
anything else it steps aside, so that the checked path raises the same BadRecord as before. Hypothesis
generates records near the grammar's edges: numbers or booleans for text, lone surrogates, empty strings,
ids with whitespace or other case, nested records, repeated keys."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.connectors.grammars.installation_proxy import _checked_app, _plain_app, parse_app
from scanner.connectors.grammars.json_values import Repeats
from scanner.connectors.records import BadRecord
from scanner.simulator.ios_apps import AppCatalog
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps

TEXT_KEYS = ("CFBundleDisplayName", "CFBundleName", "CFBundleShortVersionString", "CFBundleVersion",
             "ApplicationType", "Path", "SignerIdentity")
ids = st.sampled_from(["com.tencent.xin", "com.apple.mobilesafari", "org.example.a-b_c", "x", " com.a.b ",
                       "com.a b", "com.a.\u202eb", "", "COM.TENCENT.XIN", "com..a", "\ud800.a"])
texts = st.one_of(st.sampled_from(["", "User", "System", "Hidden", "Any", "88L2Q4487U", "88l2q4487u",
                                   "88L2Q4487U.com.tencent.xin", "ABCDE1234.x", "com.apple.x", "1.0", "\ud800",
                                   "é", "华为"]), st.text(max_size=12))
scalars = st.one_of(texts, st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=False))
flat = st.one_of(scalars, st.lists(scalars, max_size=3))


def repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return Repeats(pairs + pairs[:1]) if pairs else {}


entitlement_keys = st.sampled_from(["com.apple.developer.team-identifier", "application-identifier",
                                    "keychain-access-groups", "get-task-allow", "CFBundleIdentifier"])
entitlements = st.one_of(
    st.dictionaries(entitlement_keys, flat, max_size=4),
    st.dictionaries(entitlement_keys, st.one_of(flat, st.dictionaries(entitlement_keys, flat, max_size=2)),
                    max_size=3),
    st.lists(st.tuples(entitlement_keys, flat), min_size=1, max_size=3).map(repeats),
    flat,
)
attribute = st.one_of(st.sampled_from(TEXT_KEYS), st.sampled_from(["IsPlaceholder", "IsDemotedApp",
                                                                    "UIDeviceFamily", "Container"]))


@st.composite
def records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    bundle_id = draw(ids)
    key = draw(st.one_of(st.just(bundle_id), st.just(bundle_id.upper()), st.just(f" {bundle_id}"), ids))
    record: dict[str, Any] = {}
    if draw(st.booleans()):
        record["CFBundleIdentifier"] = draw(st.one_of(st.just(bundle_id), scalars))
    for name in draw(st.lists(attribute, max_size=6)):
        record[name] = draw(st.one_of(flat, st.dictionaries(st.sampled_from(["CFBundleIdentifier", "a"]), flat,
                                                            max_size=2)))
    if draw(st.booleans()):
        record["Entitlements"] = draw(entitlements)
    if draw(st.integers(0, 9)) == 0:
        record = Repeats([*record.items(), *list(record.items())[:1]])
    return key, record


def outcome(parse, key: str, record: dict[str, Any]) -> Any:
    try:
        return parse(key, record)
    except BadRecord as err:
        return ("BadRecord", str(err))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
@example(("com.a.b", {"CFBundleIdentifier": "com.a.b", "Entitlements": "88L2Q4487U"}))
@example(("com.a.b", {"CFBundleIdentifier": "com.a.b", "Entitlements": ["88L2Q4487U"]}))
@example(("com.a.b", {"CFBundleIdentifier": "com.a.b", "CFBundleVersion": 12}))
@example(("com.a.b", {"CFBundleIdentifier": "com.a.b", "CFBundleName": "\ud800", "CFBundleDisplayName": "A"}))
@example(("com.a.b", {"CFBundleIdentifier": "com.a.b", "X": [{"CFBundleIdentifier": "com.evil"}]}))
@example(("com.a.b", {"CFBundleIdentifier": None}))
@example(("com.a.b", {"Entitlements": {"application-identifier": "88L2Q4487U.com.a.b"}}))  # the team from the prefix
@example(("com.a.b", {"Entitlements": {"application-identifier": "88l2q4487u.com.a.b"}}))
@example(("com.a.b", {"Entitlements": {"com.apple.developer.team-identifier": "", "application-identifier": "X"}}))
@example((" COM.A.B", {"CFBundleIdentifier": "com.a.b ", "ApplicationType": "Hidden", "IsDemotedApp": True}))
def test_the_quick_path_agrees_with_the_checked_one(record: tuple[str, dict[str, Any]]) -> None:
    key, attributes = record
    quick = _plain_app(key, attributes)
    checked = outcome(_checked_app, key, attributes)
    if quick is not None:
        assert quick == checked  # the quick path only answers where the checked one reads an App, the same App
        assert tuple(map(type, quick)) == tuple(map(type, checked))
    assert outcome(parse_app, key, attributes) == checked


def test_ordinary_records_take_the_quick_path_and_read_as_before():
    """The records the emulated iPhone sends (every kind of app the scan meets) all go the quick way."""
    apps = (
        AppProfile(id="com.tencent.xin", name="WeChat", version="8.0.50", build="8.0.50.34", team_id="88L2Q4487U"),
        AppProfile(id="com.intsig.CamScannerLite", name="CamScanner", team_id="2XG5WP5BD9", state="offloaded"),
        AppProfile(id="com.apple.mobilesafari", name="Safari", version="17.5.1", system=True),
        AppProfile(id="com.apple.webapp", name="Web", type="Hidden"),
        AppProfile(id="com.example.corp.tool", name="Corp Tool", team_id="ABCDE12345",
                   signer="iPhone Distribution: Example Corp"),
    ) + filler_apps("ios", 60, seed="paths")
    device = DeviceProfile(platform="ios", serial="00008120-5CA9E5A0000000FF", apps=apps)
    for options in ({"ApplicationType": "Any", "ShowPlaceholders": True},  # every attribute, as get_apps asks
                    {"ApplicationType": "Any", "ShowPlaceholders": True,
                     "ReturnAttributes": ["CFBundleIdentifier", "CFBundleDisplayName", "Entitlements",
                                          "ApplicationType", "IsPlaceholder"]}):
        entries = AppCatalog(device).select(options)
        assert len(entries) == len(apps)
        for key, record in entries:
            quick = _plain_app(key, record)
            assert quick is not None, record
            assert quick == _checked_app(key, record)
    states = {app.id: app.state for app in (parse_app(k, r) for k, r in AppCatalog(device).select({"ShowPlaceholders": True}))}
    assert states["com.intsig.CamScannerLite"] == "offloaded" and states["com.apple.webapp"] == "hidden"


@pytest.mark.parametrize("record", [
    {"CFBundleIdentifier": "com.a.b", "Entitlements": {"CFBundleIdentifier": "com.evil.app"}},
    Repeats([("CFBundleIdentifier", "com.a.b"), ("CFBundleIdentifier", "com.evil.app")]),
    {"CFBundleIdentifier": "com.a.b", "CFBundleVersion": True},
    {"CFBundleIdentifier": "com.a.b", "IsPlaceholder": "yes"},
    {"CFBundleIdentifier": "com.other.app"},
])
def test_a_damaged_record_is_still_refused_with_its_reason(record):
    assert _plain_app("com.a.b", record) is None
    with pytest.raises(BadRecord):
        parse_app("com.a.b", record)
