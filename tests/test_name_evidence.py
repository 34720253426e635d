"""Matching an app a source gives only by display name (Intune), and the evidence each finding rests on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import SignatureError, load_signatures, normalized_name


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


APP = """\
kind = "app"
schema = 2
id = "acme-chat"
name = "Acme Chat"
maker = "acme"

[[identifiers]]
platform = "android"
id = "com.acme.chat"
edition = "primary"
confidence = "confirmed"
sources = ["one", "two"]

[[names]]
name = "Acme Chat"
platforms = ["android", "ios"]
confidence = "confirmed"
sources = ["store listing"]

[[names]]
name = "阿克米聊天"
platforms = ["ios"]
language = "zh-Hans"
confidence = "reported"
sources = ["store listing (China)"]
"""
MAKER = 'kind = "maker"\nschema = 2\nid = "acme"\nname = "Acme"\nsources = ["test"]\n'
POLICY = """\
kind = "policy"
schema = 2
id = "acme-ban"
title = "Acme ban"
authority = "Test"
citation = "Test 1"
signed = 2025-01-31
status = "in-force"
url = "https://example.test/p"
jurisdiction = "us-wy"

[[entries]]
key = "chat"
listed = "Acme Chat"
app = "acme-chat"
relation = "app"
severity = "prohibited"
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    folder = tmp_path_factory.mktemp("sigs")
    write(folder, "makers/acme.toml", MAKER)
    write(folder, "catalog/acme-chat.toml", APP)
    write(folder, "policies/acme-ban.toml", POLICY)
    return Matcher(load_signatures([folder], bundled=False), ["acme-ban"])


def named(platform: str, name: str) -> App:
    return App(platform, name, name, evidence="name")


@pytest.mark.parametrize("shown", ["Acme Chat", "acme chat", "ACME CHAT", "  Acme   Chat ", "Ａｃｍｅ Ｃｈａｔ",
                                   "Acme\u00a0Chat"])
def test_a_display_name_matches_after_normalisation(matcher, shown):
    [finding] = matcher.match([named("android", shown)])
    assert (finding.match, finding.matched_by, finding.evidence) == ("name", "name", "name")
    assert finding.identifier == "Acme Chat" and finding.severity == "prohibited"
    assert "display name" in finding.explanation and "no app id" in finding.explanation


@pytest.mark.parametrize("shown", ["Acme Chat Lite", "Acme", "Chat", "My Acme Chat", "Acme-Chat", "AcmeChat", ""])
def test_never_a_substring_or_a_near_name(matcher, shown):
    assert matcher.match([named("android", shown)]) == []


def test_names_are_per_platform(matcher):
    assert len(matcher.match([named("ios", "阿克米聊天")])) == 1
    assert matcher.match([named("android", "阿克米聊天")]) == []  # curated for iOS only


def test_an_id_shaped_name_is_matched_as_the_id(matcher):
    # Intune shows an Android app's package name as its name.
    [finding] = matcher.match([named("android", "com.acme.chat")])
    assert (finding.match, finding.evidence) == ("exact", "identifier")
    assert finding.app.evidence == "name"  # the record itself still says what the source gave


def test_an_identifier_app_is_never_matched_by_its_name(matcher):
    # A phone's own listing: the id decides, never the label the app chose for itself.
    assert matcher.match([App("android", "com.fake.app", "Acme Chat")]) == []


def test_an_aggregate_row_rests_on_a_count(matcher):
    [finding] = matcher.match([App("ios", "Acme Chat", "Acme Chat", evidence="name", devices=3)])
    assert finding.evidence == "count"


def test_a_name_claimed_by_two_apps_is_refused(tmp_path):
    write(tmp_path, "makers/acme.toml", MAKER)
    write(tmp_path, "catalog/acme-chat.toml", APP)
    other = APP.replace('id = "acme-chat"', 'id = "acme-other"').replace("com.acme.chat", "com.acme.other")
    other = other.replace('name = "Acme Chat"\nmaker', 'name = "Other"\nmaker').replace(
        'name = "Acme Chat"\nplatforms', 'name = "ACME  chat"\nplatforms')
    write(tmp_path, "catalog/acme-other.toml", other)
    with pytest.raises(SignatureError) as info:
        load_signatures([tmp_path], bundled=False)
    assert any("already belongs to app 'acme-chat'" in p for p in info.value.problems)


@pytest.mark.parametrize("change, expected", [
    ('platforms = ["android", "ios"]', "names[0].platforms: expected a non-empty list"),
    ('platforms = ["ios"]\nlanguage = "zh-Hans"', None),
])
def test_names_are_checked(tmp_path, change, expected):
    write(tmp_path, "makers/acme.toml", MAKER)
    text = APP.replace('platforms = ["android", "ios"]', 'platforms = ["windows"]') if expected else APP
    write(tmp_path, "catalog/acme-chat.toml", text)
    if expected is None:
        assert load_signatures([tmp_path], bundled=False).apps["acme-chat"].names
        return
    with pytest.raises(SignatureError) as info:
        load_signatures([tmp_path], bundled=False)
    assert any(expected in p for p in info.value.problems), info.value.problems


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_random_names_match_only_when_they_normalize_equal(matcher, text):
    found = matcher.match([named("android", text)])
    assert bool(found) == (normalized_name(text) == "acme chat" or text.lower() == "com.acme.chat")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=10), st.text(max_size=10))
def test_text_around_a_name_never_matches(matcher, before, after):
    shown = f"{before}Acme Chat{after}"
    if normalized_name(shown) != "acme chat":
        assert matcher.match([named("ios", shown)]) == []
