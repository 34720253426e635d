"""Every bundled policy against the research: what it must flag, at which severity, and what it must not.

The expectations are tests/data/policies-in-force.toml, written from the research tables (the identifiers,
and who makes each app) and not from the catalog, so a missing identifier, a wrong maker or a maker rule
that reaches too far fails here as surely as a matcher bug. Each case builds one App from a research
identifier and asks the real matcher, with the bundled signatures, about one policy: the decoys of one
policy are findings of another (WeCom is no EO 13971 app, but it is Tencent's under Texas's list).
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import pytest

from scanner.matcher import Matcher
from scanner.model import App, DeviceInfo, DeviceResult, device_verdict
from scanner.signatures import load_signatures

DATA = tomllib.loads((Path(__file__).parent / "data" / "policies-in-force.toml").read_text(encoding="utf-8"))
UNIVERSE: dict[str, dict] = DATA["universe"]
EXPECTED: dict[str, dict[str, list[str]]] = DATA["policies"]
PLATFORMS = ("android", "ios")


@functools.cache
def signatures():
    return load_signatures()


@functools.cache
def matcher(policy: str) -> Matcher:
    return Matcher(signatures(), [policy])


def expected_severity(policy: str, app: str) -> str | None:
    lists = EXPECTED[policy]
    if app in lists["prohibited"]:
        return "prohibited"
    if app in lists["review"]:
        return "review"
    return None


def flagged(findings) -> str | None:
    """The severity a device with this one app is flagged at: the highest of its findings."""
    severities = {f.severity for f in findings}
    return next((s for s in ("prohibited", "review") if s in severities), None)


CASES = [
    pytest.param(policy, app, platform, ident, id=f"{policy}/{platform}/{ident}")
    for policy in sorted(EXPECTED)
    for app, row in UNIVERSE.items()
    for platform in PLATFORMS
    for ident in row.get(platform, ())
]


@pytest.mark.parametrize(("policy", "app", "platform", "ident"), CASES)
def test_research_identifier_is_flagged_as_the_policy_says(policy, app, platform, ident):
    want = expected_severity(policy, app)
    findings = matcher(policy).match_app(App(platform, ident))
    got = flagged(findings)
    how = "; ".join(f"{f.severity} by {f.rule} ({f.relation}, {f.match}, as {f.catalog_app})" for f in findings)
    assert got == want, (
        f"{policy}: {platform} {ident} ({app}, {UNIVERSE[app]['name']}, maker {UNIVERSE[app].get('maker', '-')}): "
        f"expected {want or 'not flagged'}, got {got or 'not flagged'}" + (f": {how}" if how else "")
    )


def test_every_bundled_policy_has_expectations_and_no_expectation_is_stale():
    bundled = set(signatures().policies)
    assert sorted(bundled - set(EXPECTED)) == [], "bundled policies with no block in policies-in-force.toml"
    assert sorted(set(EXPECTED) - bundled) == [], "blocks in policies-in-force.toml for no bundled policy"


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_expectations_name_research_apps_once(policy):
    prohibited, review = EXPECTED[policy]["prohibited"], EXPECTED[policy]["review"]
    assert sorted(set(prohibited + review) - set(UNIVERSE)) == []
    assert sorted(set(prohibited) & set(review)) == []
    assert prohibited == sorted(set(prohibited)) and review == sorted(set(review))


def test_universe_names_each_identifier_once():
    seen: dict[tuple[str, str], str] = {}
    for app, row in UNIVERSE.items():
        for platform in PLATFORMS:
            for ident in row.get(platform, ()):
                key = (platform, ident.lower())
                assert key not in seen, f"{platform} {ident}: in both {seen[key]} and {app}"
                seen[key] = app


# Research note B.1: values that look like team ids and say nothing about who made an app (an App ID prefix
# from an apple-app-site-association file, TrollStore's default team). An uncatalogued app carrying one is no
# finding under any policy.
NOT_TEAM_IDS = ("T8ALTGMVXN", "532LCLCWL8", "8H6B3SFEU4")


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_values_that_are_not_team_ids_flag_nothing(policy):
    apps = [App("ios", "com.example.resigned", team_id=team) for team in NOT_TEAM_IDS]
    assert matcher(policy).match(apps) == []


# --- the federal default -----------------------------------------------------------------------------------

TIKTOKS = [
    pytest.param(App("android", "com.zhiliaoapp.musically"), id="tiktok-android"),
    pytest.param(App("ios", "com.zhiliaoapp.musically"), id="tiktok-ios"),
    pytest.param(App("android", "com.zhiliaoapp.musically.go"), id="tiktok-lite-android"),
]


@pytest.mark.parametrize("app", TIKTOKS)
def test_a_federal_default_scan_of_a_device_with_tiktok_is_not_clean(app):
    """`scanner scan` with no --policy checks federal devices: TikTok there is a violation, not a lead."""
    findings = Matcher(signatures()).match_app(app)
    device = DeviceResult(DeviceInfo(app.platform, "FEDERAL-1"), "complete", None, None, (), tuple(findings), 1)
    assert device_verdict(device, "prohibited") == "findings", (
        f"{app.platform} {app.id}: default policies "
        f"{sorted(p.id for p in signatures().policies.values() if p.default)} give {findings}"
    )
