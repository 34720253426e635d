"""The emulated iPhone keeps its serialised Lookup and Browse replies: the same bytes as made afresh, and a
removal (or other options) makes new ones."""

from __future__ import annotations

import plistlib

from scanner.simulator.ios_apps import BROWSE_CHUNK, AppCatalog, _browse_replies, _lookup_reply
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps

OPTIONS = {"ApplicationType": "Any", "ReturnAttributes": ["CFBundleIdentifier", "CFBundleDisplayName"]}


def device(apps: int = 30) -> DeviceProfile:
    return DeviceProfile("ios", "00008030-000A1B2C3D4E5F60", apps=(
        AppProfile("com.tencent.xin", name="WeChat"), *filler_apps("ios", apps, seed="cache")))


def test_a_kept_lookup_reply_is_the_one_made_afresh() -> None:
    catalog = AppCatalog(device())
    first = catalog.replies("Lookup", OPTIONS, lambda apps: _lookup_reply(apps, False))
    again = catalog.replies("Lookup", OPTIONS, lambda apps: (b"never made", 0))
    assert again is first
    fresh = _lookup_reply(AppCatalog(device()).select(OPTIONS), False)
    assert first == fresh
    payload, count = first
    assert count == 31
    assert set(plistlib.loads(payload)["LookupResult"]) == {a.id for a in device().apps}


def test_a_removal_and_other_options_make_new_replies() -> None:
    catalog = AppCatalog(device())
    before, _ = catalog.replies("Lookup", OPTIONS, lambda apps: _lookup_reply(apps, False))
    other, none = catalog.replies("Lookup", {**OPTIONS, "ApplicationType": "System"},
                                  lambda apps: _lookup_reply(apps, False))
    assert none == 0 and other != before
    catalog.remove("com.tencent.xin")
    after, count = catalog.replies("Lookup", OPTIONS, lambda apps: _lookup_reply(apps, False))
    assert count == 30 and "com.tencent.xin" not in plistlib.loads(after)["LookupResult"]
    assert "com.tencent.xin" in plistlib.loads(before)["LookupResult"]


def test_browse_replies_are_kept_per_options_and_cut_where_the_device_drops() -> None:
    catalog = AppCatalog(device(2 * BROWSE_CHUNK))
    whole = catalog.replies("Browse", OPTIONS, lambda apps: _browse_replies(apps, 0))
    assert catalog.replies("Browse", OPTIONS, lambda apps: []) is whole
    listed = [e["CFBundleIdentifier"] for p in whole for e in plistlib.loads(p)["CurrentList"]]
    assert len(listed) == 2 * BROWSE_CHUNK + 1 and len(whole) == 3
    cut = _browse_replies(catalog.select(OPTIONS), 5)
    assert [len(plistlib.loads(p)["CurrentList"]) for p in cut] == [5]


def test_the_kept_replies_stay_bounded() -> None:
    catalog = AppCatalog(device(3))
    for n in range(100):
        catalog.replies("Lookup", {**OPTIONS, "Junk": n}, lambda apps: _lookup_reply(apps, False))
    assert len(catalog._replies) <= 32
