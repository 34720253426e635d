"""Simulator profiles: the bundled fleet, and mistakes reported all at once with where they are."""

from __future__ import annotations

import pytest

from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import load_signatures
from scanner.simulator.profile import (
    ProfileError,
    default_profile_path,
    filler_apps,
    load_profile,
    parse_profile,
)


def test_bundled_fleet_is_the_demo_fleet():
    profile = load_profile(default_profile_path())
    a, b = profile.android
    c, d = profile.ios
    assert not a.faults.unauthorized and not a.apps_for_user(10)
    assert [u.refused for u in b.users] == [False, True]
    assert "cn.wps.moffice_eng" in {x.id for x in b.apps_for_user(10)}
    assert {x.id: x.state for x in c.apps}["com.intsig.CamScannerLite"] == "offloaded"
    assert d.faults.locked


def test_bundled_fleet_findings_are_exactly_the_listed_apps():
    sigs = load_signatures()
    matcher = Matcher(sigs)
    profile = load_profile(default_profile_path())
    found = {}
    for device in profile.devices:
        apps = [App(device.platform, x.id, team_id=x.team_id) for x in device.apps]
        found[device.serial] = sorted({f.catalog_app for f in matcher.match(apps)})
    assert found == {
        "SIMPIXEL7A": [],
        "SIMGALAXYS23B": ["camscanner", "shareit", "wps-office"],
        "00008110-00125C963A91801E": ["alipay", "camscanner", "qq", "wechat"],
        "00008030-001A35E11E05802E": [],
    }


def test_every_problem_is_reported_with_its_place():
    data = {
        "colour": "red",
        "device": [
            {"platform": "android", "serial": "A", "user": [{"id": 10}, {"id": 10}],
             "app": [{"id": "x.y", "users": [11], "team_id": "T"}], "faults": {"pairing": "paired"}},
            {"platform": "ios", "serial": "A", "app": [{"id": "x.y", "state": "disabled", "uid": 3}],
             "faults": {"reject_flags": ["-U"], "locked": "yes"}},
            {"platform": "windows", "serial": "W"},
            {"platform": "android", "serial": "bad serial!", "faults": {"reject_flags": ["-Z"], "delay": -1}},
        ],
    }
    with pytest.raises(ProfileError) as err:
        parse_profile(data, "p.toml")
    problems = "\n".join(err.value.problems)
    for expected in (
        "p.toml: unknown key 'colour'",
        "device[0].user[1].id: user 10 is given twice",
        "device[0]: app 'x.y' is in user 11, which is not a [[device.user]]",
        "device[0].app[0].team_id: iOS only",
        "device[0].faults.pairing: not a fault of android devices",
        "device[1].app[0].state: 'disabled' is not one of installed, offloaded",
        "device[1].app[0].uid: Android only",
        "device[1].faults.locked: expected bool, got str",
        "device[1].serial: 'A' is given twice",
        "device[2].platform: 'android' or 'ios' is required",
        "device[3].serial: letters, digits",
        "device[3].faults.reject_flags: ['-Z']",
        "device[3].faults.delay: must not be negative",
    ):
        assert expected in problems


def test_unreadable_files_say_so(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[device]\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="cannot be read"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ProfileError, match="no \\[\\[device\\]\\] tables"):
        parse_profile({}, "empty")


def test_filler_apps_are_deterministic_and_never_flagged():
    sigs = load_signatures()
    for platform in ("android", "ios"):
        apps = filler_apps(platform, 400, seed="s")
        assert apps == filler_apps(platform, 400, seed="s")
        assert len({a.id for a in apps}) == 400
        assert not list(Matcher(sigs, ["all"]).match([App(platform, a.id, team_id=a.team_id) for a in apps]))
