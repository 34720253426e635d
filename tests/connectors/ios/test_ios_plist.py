"""The scan's plist reader (scanner.connectors.ios.plist) against plistlib: the same value, or the same error.

Every Lookup the emulated iPhones can send (each ApplicationType, with and
without placeholders and ReturnAttributes, the fleet bench's devices, hostile
app names), generated plists of every type plistlib writes, and documents
mutated byte by byte, which must give plistlib's value or plistlib's exception.
"""

from __future__ import annotations

import datetime
import plistlib
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.connectors.ios.apps import LOOKUP_OPTIONS
from scanner.connectors.ios.plist import loads
from scanner.connectors.ios.session import parse_plist
from scanner.simulator.ios_apps import BROWSE_CHUNK, AppCatalog
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps

HOSTILE = ["AT&T", "a<b>c", "]]>", "x\"y", "back\\slash", "comma, }", "\\u002c", "&amp;", "&lt;", "tab\there",
           "line\nbreak", "\u2028\u2029", "\ufffd", "\U0001f600", "\u202eevil", "\x7f", "", " ", "<!-- -->",
           "<![CDATA[x]]>", "&#13;", '",}', "null", "007", "\ud7ff\ue000"]


def outcome(fn, data: bytes) -> tuple[str, Any]:
    try:
        return "value", fn(data)
    except Exception as err:  # noqa: BLE001 - the outcome compared is the error itself
        return "error", (type(err), str(err))


def same(data: bytes) -> None:
    assert outcome(loads, data) == outcome(plistlib.loads, data)


def lookup_replies(device: DeviceProfile) -> list[bytes]:
    """Every message the simulator's installation_proxy sends for `device`, for every option set."""
    catalog = AppCatalog(device)
    replies = []
    for app_type in ("Any", "User", "System", "Hidden"):
        for placeholders in (False, True):
            for attributes in (None, LOOKUP_OPTIONS["ReturnAttributes"], ["CFBundleIdentifier"], []):
                options: dict[str, Any] = {"ApplicationType": app_type, "ShowPlaceholders": placeholders}
                if attributes is not None:
                    options["ReturnAttributes"] = attributes
                apps = catalog.select(options)
                for status in (True, False):  # Status: Complete, or never (the no_complete fault)
                    reply: dict[str, Any] = {"LookupResult": dict(apps)}
                    if status:
                        reply["Status"] = "Complete"
                    replies.append(plistlib.dumps(reply))
                for start in range(0, len(apps), BROWSE_CHUNK):
                    chunk = [entry for _, entry in apps[start:start + BROWSE_CHUNK]]
                    replies.append(plistlib.dumps({"Status": "BrowsingApplications", "CurrentIndex": start,
                                                   "CurrentAmount": len(chunk), "Total": len(apps),
                                                   "CurrentList": chunk}))
    return replies


def hostile_device() -> DeviceProfile:
    apps = [AppProfile(id=f"com.example.h{i}", name=text, version=text, build=text, team_id="ABCDE12345",
                       signer=f"iPhone Distribution: {text}", state="offloaded" if i % 3 == 0 else "installed",
                       type=("User", "System", "Hidden")[i % 3]) for i, text in enumerate(HOSTILE)]
    apps.append(AppProfile(id="com.apple.mobilesafari", name="Safari", system=True))
    return DeviceProfile(platform="ios", serial="00008120-5CA9E5000000AA", apps=tuple(apps) + filler_apps("ios", 30))


def bench_device() -> DeviceProfile:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    try:
        from bench_fleet import ios_device
    finally:
        sys.path.pop(0)
    return ios_device("00008130-FEE7000000000001", 227, ["wechat", "qq", "alipay"], 1)


@pytest.mark.parametrize("device", [hostile_device(), bench_device()], ids=["hostile", "bench-fleet"])
def test_every_lookup_the_simulator_sends_reads_as_plistlib_reads_it(device):
    replies = lookup_replies(device)
    assert len(replies) > 64
    for data in replies:
        assert loads(data) == plistlib.loads(data)


def test_the_fast_path_is_taken_for_a_lookup():
    """Not a test that cannot fail: the Lookup must not fall back to plistlib (the point of the reader)."""
    from scanner.connectors.ios.plist import _as_json

    data = lookup_replies(hostile_device())[0]
    assert isinstance(_as_json(data), str)


def test_what_the_fast_path_leaves_to_plistlib_still_reads_as_plistlib():
    for value in ({"a": 1.5}, {"d": datetime.datetime(2024, 1, 2, 3, 4, 5)}, {"b": b"\x00\x01"}, {"i": 0x7FFFFFFFFFFF},
                  {"i": -1}, [1, [2, [3]]], "root string", {"k": {}}, {"k": []}):
        same(plistlib.dumps(value))
    same(plistlib.dumps({"a": "b"}, fmt=plistlib.FMT_BINARY))


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
    b'"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n' + body + b"\n</plist>\n"
    for body in (
        b"<dict><key>a</key><string>x</key></dict>",  # mismatched end tag
        b"<dict><key>a</key></dict>",  # a key without a value
        b"<array><key>a</key></array>",  # a key in an array
        b"<array>5</array>",  # stray text that JSON would read
        b"<array>null</array>",
        b"<dict><key>a</key>5</dict>",
        b"<dict><key>a</key><integer>007</integer></dict>",
        b"<dict><key>a</key><integer>+7</integer></dict>",
        b"<dict><key>a</key><integer>0x1F</integer></dict>",
        b"<dict><key>a</key><integer> 7 </integer></dict>",
        b"<dict><key>a</key><integer>1.0</integer></dict>",
        b"<dict><key>a</key><string>&bogus;</string></dict>",
        b"<dict><key>a</key><string>&#13;&#x41;</string></dict>",
        b"<dict><key>a</key><string>x\r\ny</string></dict>",
        b"<dict><key>a</key><string>x\x01y</string></dict>",
        b"<dict><key>a</key><string>\xff</string></dict>",
        b"<dict><key>a</key><string>\xef\xbf\xbe</string></dict>",
        b"<dict><key>a</key><string>a<!-- c -->b</string></dict>",
        b"<dict><key>a</key><string><![CDATA[<x>]]></string></dict>",
        b"<dict><key>a</key><string>a<b/>c</string></dict>",
        b"<dict><key>a</key><foo/><string>x</string></dict>",
        b"<dict><key>a</key><string a='1'>x</string></dict>",
        b"<dict><key>a</key><true>x</true></dict>",
        b"<dict><key></key><key>b</key><string>x</string></dict>",  # plistlib's empty-key quirk
        b"<dict><key>a</key><string>1</string><key>a</key><string>2</string></dict>",  # last wins
        b"<dict><key>a</key><string>x</string></dict><dict/>",  # two roots
        b"<dict><key>a</key><string>x</string>",  # unclosed
        b"<dict>" * 5000 + b"</dict>" * 5000,  # deeper than json's recursion limit
        b"",
    )
])
def test_hand_made_documents_read_as_plistlib_reads_them(data):
    same(data)


def test_a_header_other_than_apples_goes_to_plistlib():
    same(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<plist version="1.0"><string>\xe9</string></plist>')
    same(b'<plist version="1.0"><string>x</string></plist>')
    same(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist [<!ENTITY e "x">]>\n'
         b'<plist version="1.0"><string>&e;</string></plist>')


HEAD = plistlib.dumps("x").split(b"<string>")[0]


@pytest.mark.parametrize("data", [
    HEAD + b"<string>x</string>\n</plist>" + tail
    for tail in (b"", b"\n", b" \t\n\n", b"\r\n", b"x", b"\n</plist>", b"</plist>\n", b"\x00", b"<!-- -->")
] + [
    HEAD + body + b"\n</plist>\n"
    for body in (b"<string>a]]b</string>", b"<string>]]</string>", b"<string>a]]&gt;</string>",
                 b"<string>\xef\xbf\xbf</string>", b"<string>\xef\xbf\xbd\xc3\xa9]</string>")
] + [HEAD.rstrip(b"\n") + b"</plist>", HEAD + b"</plist>", b"</plist>"])
def test_the_end_and_the_text_checks_read_as_plistlib_reads_them(data):
    """What follows </plist>, "]]" with and without ">", the non-characters U+FFFE/U+FFFF beside other non-ASCII."""
    same(data)


# --- generated ----------------------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")
               .filter(lambda c: c in "\t\n" or ord(c) >= 0x20), max_size=30)
texts = st.one_of(text, st.sampled_from(HOSTILE))
leaves = st.one_of(texts, st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1), st.floats(allow_nan=False),
                   st.binary(max_size=20), st.datetimes(min_value=datetime.datetime(1900, 1, 1)))
values = st.recursive(st.one_of(texts, st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1)),
                      lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5),
                      max_leaves=30)
any_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                          max_leaves=20)


@given(values)
@settings(max_examples=300, deadline=None)
def test_generated_plists_of_what_devices_send_read_as_plistlib_reads_them(value):
    data = plistlib.dumps(value)
    assert loads(data) == plistlib.loads(data) == value


@given(any_values)
@settings(max_examples=200, deadline=None)
def test_generated_plists_of_every_type_read_as_plistlib_reads_them(value):
    same(plistlib.dumps(value))


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(plistlib.dumps(draw(values)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        insert = draw(st.one_of(st.binary(min_size=1, max_size=3),
                                st.sampled_from([b"<", b">", b"&", b"&amp;", b"]]>", b"\r", b"\x00", b"/", b"<true/>",
                                                 b"<key>k</key>", b"</string>", b"<string>", b"</dict>", b"<dict>",
                                                 b"5", b",", b'"', b"\\", b"<!--", b"\xef\xbf\xbf", b"<integer>"])))
        cut = draw(st.integers(0, 3))
        data[at:at + cut] = insert
    return bytes(data)


@given(mutated())
@example(plistlib.dumps({"a": ["b"]}).replace(b"<string>b</string>", b"<string>b</string>1"))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_documents_give_plistlibs_value_or_plistlibs_error(data):
    same(data)


@given(mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_service_message_reads_as_pymobiledevice3_reads_it(data):
    """session.parse_plist against pymobiledevice3's own parse_plist (its retry without control characters)."""
    from pymobiledevice3.service_connection import parse_plist as theirs

    assert outcome(parse_plist, data) == outcome(theirs, data)
