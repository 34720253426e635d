"""The signature loader: bundled files load; users' broken files fail with `file: key: problem`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import SignatureError, bundled_dir, load_signatures

GOOD_APP = """\
kind = "app"
schema = 1
id = "acme-chat"
name = "Acme Chat"
maker = "Acme"

[[identifiers]]
platform = "android"
id = "com.acme.chat"
edition = "primary"
confidence = "confirmed"
sources = ["acme.example store page"]
"""

GOOD_POLICY = """\
kind = "policy"
schema = 1
id = "acme-byod"
title = "ACME BYOD policy"
authority = "ACME IT"
citation = "ACME-SEC-12"
signed = 2025-03-01
status = "in-force"
url = "https://intranet.example/sec-12"

[[entries]]
key = "acme-chat"
listed = "Acme Chat"
app = "acme-chat"
relation = "app"
severity = "prohibited"

[[entries]]
key = "camscanner"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "review"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(*paths) -> list[str]:
    with pytest.raises(SignatureError) as info:
        load_signatures(paths)
    return info.value.problems


def test_bundled_signatures_load_with_hashes():
    sigs = load_signatures()
    assert {"us-eo-13971", "us-no-tiktok-gov-devices"} <= set(sigs.policies)
    assert sigs.policies["us-eo-13971"].default is True
    assert sigs.policies["us-no-tiktok-gov-devices"].default is True  # a federal device with TikTok is never clean
    assert all(len(f.sha256) == 64 for f in sigs.files)
    assert all(f.path.startswith("signatures/") for f in sigs.files)
    assert bundled_dir().is_dir()


def test_user_folder_adds_policy_that_points_at_bundled_catalog(tmp_path):
    write(tmp_path, "app.toml", GOOD_APP)
    write(tmp_path, "policy.toml", GOOD_POLICY)
    sigs = load_signatures([tmp_path])
    assert "acme-byod" in sigs.policies and "acme-chat" in sigs.apps
    m = Matcher(sigs, ["acme-byod"])
    (chat,) = m.match_app(App("android", "com.acme.chat"))
    assert (chat.listed, chat.severity, chat.rule) == ("Acme Chat", "prohibited", "acme-byod/acme-chat")
    (cam,) = m.match_app(App("android", "com.intsig.camscanner"))
    assert cam.severity == "review" and cam.policy_status == "in-force"
    # the defaults are still the federal devices' set
    assert [p.id for p in Matcher(sigs).policies] == ["us-eo-13971", "us-no-tiktok-gov-devices"]
    assert len(Matcher(sigs, ["all"]).policies) == len(sigs.policies) == len(load_signatures().policies) + 1


def test_single_file_is_accepted(tmp_path):
    sigs = load_signatures([write(tmp_path, "app.toml", GOOD_APP)])
    assert "acme-chat" in sigs.apps


@pytest.mark.parametrize(
    "change, expected",
    [
        (('severity = "prohibited"', 'severity = "banned"'), "entries[0].severity: expected one of prohibited, review, got 'banned'"),
        (('relation = "app"\nseverity = "prohibited"', 'relation = "app"\nseverity = "prohibited"\ncolour = "red"'), "entries[0].colour: unknown key"),
        (("signed = 2025-03-01", 'signed = "2025-03-01"'), "signed: expected a date like 2021-01-05 (unquoted), got a string"),
        (('status = "in-force"', 'status = "active"'), "status: expected one of in-force, revoked"),
        (('url = "https://intranet.example/sec-12"', 'url = "intranet"'), "url: 'intranet' is not an http(s) URL"),
        (('app = "acme-chat"', 'app = "no-such-app"'), "entries[0].app: no catalog app 'no-such-app' is loaded"),
        (('key = "camscanner"', 'key = "acme-chat"'), "entries[1].key: 'acme-chat' is used twice in this policy"),
        (('title = "ACME BYOD policy"\n', ""), "title: missing"),
        (('id = "acme-byod"', 'id = "us-eo-13971"'), "id: policy 'us-eo-13971' is already defined in signatures/policies/us-eo-13971.toml"),
    ],
)
def test_policy_errors_name_file_key_and_problem(tmp_path, change, expected):
    write(tmp_path, "app.toml", GOOD_APP)
    bad = write(tmp_path, "policy.toml", GOOD_POLICY.replace(*change))
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{bad}: ") and expected in p for p in problems), problems


@pytest.mark.parametrize(
    "change, expected",
    [
        (('confidence = "confirmed"', 'confidence = "sure"'), "identifiers[0].confidence: expected one of confirmed, reported"),
        (('sources = ["acme.example store page"]', "sources = []"), "identifiers[0].sources: must list at least one source"),
        (('sources = ["acme.example store page"]', 'sources = "x"'), "identifiers[0].sources: expected a list of strings, got a string"),
        (('platform = "android"', 'platform = "windows"'), "identifiers[0].platform"),
        (('id = "com.acme.chat"', 'id = "com acme chat"'), "identifiers[0].id: 'com acme chat' is not a package name or bundle id"),
        (('id = "com.acme.chat"', 'id = "com"'), "identifiers[0].id: 'com' is not a package name or bundle id (two or more labels"),
        (('id = "com.acme.chat"', 'id = "com.acme.chat\\n"'), "identifiers[0].id: 'com.acme.chat\\n' is not a package name"),
        (('id = "com.acme.chat"', 'id = "com.tencent.MM"'), "identifiers[0].id: android 'com.tencent.MM' already belongs to app 'wechat'"),
        (('kind = "app"', 'kind = "apps"'), "kind: expected \"app\", \"policy\" or \"maker\", got 'apps'"),
        (('schema = 1', 'schema = 9'), "schema: this scanner reads schema 1 or 2; this file is schema 9"),
        (('name = "Acme Chat"', "name = 3"), "name: expected a string, got an integer"),
    ],
)
def test_catalog_errors_name_file_key_and_problem(tmp_path, change, expected):
    bad = write(tmp_path, "app.toml", GOOD_APP.replace(*change))
    problems = problems_of(bad)
    assert any(p.startswith(f"{bad}: ") and expected in p for p in problems), problems


def test_certificate_digest_length_is_checked(tmp_path):
    text = GOOD_APP + '\n[[certificates]]\nalgorithm = "sha256"\ndigest = "abcd"\nconfidence = "reported"\nsources = ["x"]\n'
    bad = write(tmp_path, "app.toml", text)
    assert any("certificates[0].digest: a sha256 digest has 64 hex digits, this has 4" in p for p in problems_of(bad))


def test_all_problems_of_all_files_are_reported_at_once(tmp_path):
    write(tmp_path, "a.toml", GOOD_APP.replace('maker = "Acme"', 'maker = ""'))
    write(tmp_path, "b.toml", GOOD_POLICY.replace('citation = "ACME-SEC-12"', "").replace('status = "in-force"', 'status = 1'))
    problems = problems_of(tmp_path)
    assert len(problems) >= 3
    assert any("a.toml: maker: must not be empty" in p for p in problems)
    assert any("b.toml: citation: missing" in p for p in problems)
    assert any("b.toml: status: expected one of" in p for p in problems)


def test_syntax_errors_encoding_and_missing_paths(tmp_path):
    syntax = write(tmp_path, "syntax.toml", 'kind = "app"\nid = \n')
    assert any(p.startswith(f"{syntax}: (toml): ") and "line 2" in p for p in problems_of(syntax))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'kind = "app"\nname = "\xff\xfe"\n')
    assert problems_of(binary) == [f"{binary}: line 2: not valid UTF-8"]
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: (file): no such file or folder"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert problems_of(empty) == [f"{empty}: (folder): holds no .toml files"]


def test_unknown_policy_selection_lists_what_is_loaded():
    sigs = load_signatures()
    with pytest.raises(SignatureError) as info:
        Matcher(sigs, ["us-eo-1397"])
    assert "unknown policy 'us-eo-1397'" in str(info.value)
    assert "us-eo-13971" in str(info.value)


def test_deep_nesting_is_a_problem_not_a_crash(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text('kind = "app"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert problems_of(deep) == [f"{deep}: (toml): nested too deeply to be a signature file"]


def test_a_file_without_kind_says_so(tmp_path):
    empty = write(tmp_path, "empty.toml", "")
    assert problems_of(empty) == [f'{empty}: kind: missing (expected "app", "policy" or "maker"; is this a signature file?)']


def test_only_a_bundled_policy_can_be_the_default(tmp_path):
    write(tmp_path, "app.toml", GOOD_APP)
    bad = write(tmp_path, "policy.toml", GOOD_POLICY.replace('status = "in-force"', 'status = "in-force"\ndefault = true'))
    assert any(p.startswith(f"{bad}: default: only a bundled policy can be the default") for p in problems_of(tmp_path))


def test_an_identifier_listed_twice_in_one_app_is_a_problem(tmp_path):
    twice = GOOD_APP + GOOD_APP[GOOD_APP.index("[[identifiers]]"):].replace("com.acme.chat", "COM.ACME.CHAT")
    bad = write(tmp_path, "app.toml", twice)
    assert problems_of(bad) == [f"{bad}: identifiers[1].id: android 'COM.ACME.CHAT' is already listed in this app"]


def test_all_with_an_unknown_policy_is_still_an_error():
    with pytest.raises(SignatureError) as info:
        Matcher(load_signatures(), ["all", "nope"])
    assert "unknown policy 'nope'" in str(info.value)
