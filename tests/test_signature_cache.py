"""The per-user cache of loaded signatures (scanner.signature_cache): never a different answer than the files give.

The cache is off unless SCANNER_CACHE=1. Every test turns it on with
XDG_CACHE_HOME at a folder of its own, and compares it with a load that has
it off, after
edits that keep a file's size and modification time, after breaking a file,
and with cache files that are damaged, planted by someone else or lying
about their key.
"""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import signature_cache
from scanner.signatures import SignatureError, Signatures, load_signatures

POLICY = """\
kind = "policy"
schema = 1
id = "acme-byod"
title = "{title}"
authority = "ACME IT"
citation = "ACME-SEC-12"
signed = 2025-03-01
status = "in-force"
url = "https://intranet.example/sec-12"

[[entries]]
key = "camscanner"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "{severity}"
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(signature_cache.ENV_ON, "1")
    return tmp_path / "cache" / "scanner"


def uncached(extra=()) -> Signatures:
    os.environ[signature_cache.ENV_ON] = "0"
    try:
        return load_signatures(extra)
    finally:
        os.environ[signature_cache.ENV_ON] = "1"


def policy_file(folder: Path, title: str = "ACME BYOD policy", severity: str = "review") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "acme.toml"
    path.write_text(POLICY.format(title=title, severity=severity), encoding="utf-8")
    return path


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("signatures-*.pickle")) if folder.is_dir() else []


def test_a_cached_load_is_the_load_of_the_files_and_is_private(cache, tmp_path):
    mine = policy_file(tmp_path / "mine")
    first = load_signatures([mine])
    assert first == uncached([mine])
    [kept] = cache_files(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    again = load_signatures([mine])
    assert again == first and again is not first
    assert again.policies["acme-byod"].sha256 == first.policies["acme-byod"].sha256
    assert cache_files(cache) == [kept]


def test_an_edit_that_keeps_size_and_time_is_seen(cache, tmp_path):
    mine = policy_file(tmp_path / "mine", severity="review")
    assert load_signatures([mine]).policies["acme-byod"].entries[0].severity == "review"
    before = mine.stat()
    mine.write_text(POLICY.format(title="ACME BYOD policy", severity="banned"), encoding="utf-8")
    # "review" and "banned" have the same length: same size; the same mtime put back
    os.utime(mine, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert mine.stat().st_size == before.st_size
    with pytest.raises(SignatureError) as info:
        load_signatures([mine])
    assert any("severity" in p for p in info.value.problems)
    mine.write_text(POLICY.format(title="ACME BYOD policy", severity="prohibited"), encoding="utf-8")
    assert load_signatures([mine]).policies["acme-byod"].entries[0].severity == "prohibited"
    assert len(cache_files(cache)) == 1  # one file per set of paths, replaced as the key changes


def test_a_broken_file_is_reported_from_the_file_though_a_good_load_was_cached(cache, tmp_path):
    mine = policy_file(tmp_path / "mine")
    load_signatures([mine])
    mine.write_text("kind = \"policy\"\nthis is not toml\n", encoding="utf-8")
    with pytest.raises(SignatureError) as info:
        load_signatures([mine])
    assert any("(toml)" in p for p in info.value.problems)


def test_a_file_added_to_or_removed_from_a_folder_is_seen(cache, tmp_path):
    folder = tmp_path / "mine"
    policy_file(folder)
    assert "acme-byod" in load_signatures([folder]).policies
    (folder / "acme.toml").rename(folder / "acme.txt")
    with pytest.raises(SignatureError) as info:
        load_signatures([folder])
    assert info.value.problems == [f"{folder}: (folder): holds no .toml files"]
    (folder / "acme.txt").rename(folder / "acme.toml")
    assert load_signatures([folder]) == uncached([folder])


def test_a_damaged_cache_file_is_a_miss_and_is_replaced(cache, tmp_path):
    expected = load_signatures()
    [kept] = cache_files(cache)
    for garbage in (b"", b"not a pickle", pickle.dumps(("another key", expected)), pickle.dumps(["a list"]),
                    kept.read_bytes()[:1000]):
        kept.write_bytes(garbage)
        assert load_signatures() == expected
        assert pickle.loads(kept.read_bytes())[1] == expected  # written again, whole


def planted(cache: Path) -> Path:
    """The bundled load's cache file, holding a forged result under the right key: one with no policies."""
    load_signatures()
    [kept] = cache_files(cache)
    key, _ = pickle.loads(kept.read_bytes())
    kept.write_bytes(pickle.dumps((key, Signatures(apps={}, policies={}, files=()))))
    return kept


def test_the_key_is_what_is_trusted_so_the_file_must_be_private(cache):
    kept = planted(cache)
    assert load_signatures().policies == {}  # proof that the planted file is what would be read...
    kept.chmod(0o666)
    assert load_signatures().policies  # ...and that one others may write is not
    kept = planted(cache)
    cache.chmod(0o777)
    try:
        assert load_signatures().policies  # nor one in a folder others may write
    finally:
        cache.chmod(0o700)


def test_a_link_in_place_of_the_cache_file_is_not_followed(cache, tmp_path):
    kept = planted(cache)
    elsewhere = tmp_path / "elsewhere.pickle"
    kept.rename(elsewhere)
    kept.symlink_to(elsewhere)
    assert load_signatures().policies


def test_off_unless_turned_on_it_neither_reads_nor_writes(cache, tmp_path, monkeypatch):
    monkeypatch.delenv(signature_cache.ENV_ON)
    assert load_signatures().policies
    assert not cache.exists() and not (tmp_path / "home").exists()  # nothing written anywhere of the user's
    monkeypatch.setenv(signature_cache.ENV_ON, "1")
    planted(cache)
    for off in ("", "0", "yes"):
        monkeypatch.setenv(signature_cache.ENV_ON, off)
        assert load_signatures().policies  # the planted file is never read


def test_a_cache_folder_that_cannot_be_made_only_means_parsing(cache, tmp_path):
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder should be")
    assert load_signatures() == uncached()
    assert cache.read_text() == "a file where the folder should be"


def test_the_cache_folder_of_each_os():
    home = {"HOME": "/home/kim", signature_cache.ENV_ON: "1"}
    assert signature_cache.cache_dir(home, "linux") == Path("/home/kim/.cache/scanner")
    assert signature_cache.cache_dir({**home, "XDG_CACHE_HOME": "/var/cache/kim"}, "linux") == \
        Path("/var/cache/kim/scanner")
    assert signature_cache.cache_dir({**home, "XDG_CACHE_HOME": "relative"}, "linux") == \
        Path("/home/kim/.cache/scanner")
    assert signature_cache.cache_dir(home, "darwin") == Path("/home/kim/Library/Caches/scanner")
    assert signature_cache.cache_dir({**home, "LOCALAPPDATA": "C:/Users/kim/AppData/Local"}, "win32") == \
        Path("C:/Users/kim/AppData/Local/scanner/Cache")
    assert signature_cache.cache_dir({"HOME": "/home/kim"}, "linux") is None  # off unless turned on
    assert signature_cache.cache_dir({"HOME": "/home/kim", signature_cache.ENV_ON: "0"}, "linux") is None


TITLES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\'), max_size=20)
EDITS = st.lists(st.tuples(TITLES, st.sampled_from(["prohibited", "review", "banned", ""])), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_whatever_the_edits_the_cache_gives_the_answer_of_the_files(cache, tmp_path, edits):
    folder = tmp_path / "mine"
    for title, severity in edits:
        path = policy_file(folder, title, severity)
        outcomes = []
        for load in (lambda: load_signatures([path]), lambda: uncached([path]), lambda: load_signatures([path])):
            try:
                outcomes.append(load())
            except SignatureError as err:
                outcomes.append(err.problems)
        assert outcomes[0] == outcomes[1] == outcomes[2]
