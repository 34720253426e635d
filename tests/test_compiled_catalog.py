"""The compiled bundled catalog (scanner.compiled_catalog): the same answer as the TOML, and only for the TOML it was
made from.

The committed compiled form is checked against the bundled files and the
loader's code (stale: regenerate it), and its load against a parse of the
TOML, field by field. The rules of the key are tested on a copy of the
bundled folder, compiled into a temporary file: an unchanged copy is never
parsed (tomllib.loads refuses to run), and every change of a file, of the
set of files, of their names, of the code or of the Python misses and gives
what the files say. Nothing here writes into the package.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import compiled_catalog, signature_cache, signatures
from scanner.cli import main
from scanner.signatures import SignatureError, Signatures, load_signatures
from scanner.vocabulary import signature_digest

GEORGIA = "policies/us-ga-governor-memo-2022.toml"  # a policy no other file names


def parsed(extra=()) -> Signatures:
    """What the TOML says: parsed, whatever is kept."""
    return signatures._load(extra, bundled=True, compiled=False, cache=False)


def same(a: object, b: object, where: str = "signatures") -> list[str]:
    """Where `a` and `b` differ: types, every dataclass field, dict keys in order, items of tuples."""
    if type(a) is not type(b):
        return [f"{where}: {type(a).__name__} != {type(b).__name__}"]
    if dataclasses.is_dataclass(a):
        return [d for f in dataclasses.fields(a) for d in same(getattr(a, f.name), getattr(b, f.name),
                                                              f"{where}.{f.name}")]
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{where}: keys {list(a)[:5]}... != {list(b)[:5]}..."]
        return [d for k in a for d in same(a[k], b[k], f"{where}[{k!r}]")]
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


@pytest.fixture
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(signature_cache.ENV_ON, raising=False)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the TOML files parsed (tomllib.loads calls), still parsing them."""
    calls: list[str] = []
    real = tomllib.loads

    def counted(text: str, **kwargs):
        calls.append(text[:40])
        return real(text, **kwargs)

    monkeypatch.setattr(tomllib, "loads", counted)
    return calls


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_cache) -> Path:
    """A copy of the bundled folder, loaded as the bundled one, with its own compiled form (made here, for this
    Python) in place of the package's."""
    copy = tmp_path / "signatures"
    shutil.copytree(signatures.bundled_dir(), copy)
    monkeypatch.setattr(signatures, "bundled_dir", lambda: copy)
    compiled = compiled_catalog.compile_catalog(tmp_path / "compiled.pickle")
    monkeypatch.setattr(compiled_catalog, "FILE", compiled)
    return copy


def test_the_committed_compiled_catalog_is_up_to_date():
    made_for = compiled_catalog.made_for()
    assert made_for is not None, f"{compiled_catalog.FILE} is missing or damaged; make it with: {compiled_catalog.COMMAND}"
    # Checked against the Python it was made with: on another one it is not used (a miss), not stale.
    problems = compiled_catalog.stale(python=made_for)
    assert not problems, (f"{compiled_catalog.FILE} is stale (a bundled file or the loader changed): "
                          f"{'; '.join(problems[:8])}. Regenerate it with: {compiled_catalog.COMMAND}")


def test_the_compiled_load_is_the_toml_load():
    files = [(f.path, f.sha256) for f in parsed().files]
    compiled = compiled_catalog.lookup(files, python=compiled_catalog.made_for())
    toml = parsed()
    assert isinstance(compiled, Signatures)
    assert same(compiled, toml) == []
    assert compiled == toml and repr(compiled) == repr(toml)
    assert (list(compiled.apps), list(compiled.policies), list(compiled.makers)) == \
        (list(toml.apps), list(toml.policies), list(toml.makers))
    assert signature_digest(compiled.files) == signature_digest(toml.files)
    assert compiled.select() == toml.select()  # the default policies


def test_scanner_version_says_the_same_either_way(no_cache, monkeypatch, tmp_path):
    with_compiled = CliRunner().invoke(main, ["-V"])
    monkeypatch.setattr(compiled_catalog, "FILE", tmp_path / "none.pickle")  # no compiled form: parsed
    parsed_out = CliRunner().invoke(main, ["-V"])
    assert with_compiled.exit_code == parsed_out.exit_code == 0
    assert with_compiled.output == parsed_out.output
    assert f"sha256 {signature_digest(parsed().files)}" in with_compiled.output


def test_an_unchanged_bundle_is_never_parsed(bundle, parses):
    expected = parsed()
    parses.clear()
    loaded = load_signatures()
    assert parses == [] and loaded == expected
    assert load_signatures([bundle]) == expected and parses == []  # `validate signatures/`: the same files


def test_an_edited_file_misses_even_at_the_same_size(bundle, parses):
    path = bundle / GEORGIA
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('title = "Georgia', 'title = "GEORGIA', 1), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    loaded = load_signatures()
    assert parses and loaded.policies["us-ga-governor-memo-2022"].title.startswith("GEORGIA")
    assert loaded == parsed()


def test_an_added_removed_or_renamed_file_misses(bundle, parses):
    georgia = bundle / GEORGIA
    text = georgia.read_text(encoding="utf-8")
    (bundle / "policies" / "zz-copy.toml").write_text(text.replace('id = "us-ga-governor-memo-2022"',
                                                                  'id = "us-ga-copy"', 1), encoding="utf-8")
    assert "us-ga-copy" in load_signatures().policies and parses
    (bundle / "policies" / "zz-copy.toml").unlink()
    assert load_signatures() == parsed()  # back as it was made: the compiled form again...
    parses.clear()
    load_signatures()
    assert parses == []  # ...not parsed
    georgia.rename(bundle / "policies" / "us-ga-renamed.toml")
    loaded = load_signatures()
    assert parses and loaded.policies["us-ga-governor-memo-2022"].source == "signatures/policies/us-ga-renamed.toml"
    (bundle / "policies" / "us-ga-renamed.toml").unlink()
    parses.clear()
    assert "us-ga-governor-memo-2022" not in load_signatures().policies and parses


def test_a_broken_bundled_file_is_reported_not_hidden(bundle):
    (bundle / GEORGIA).write_text('kind = "policy"\nthis is not toml\n', encoding="utf-8")
    with pytest.raises(SignatureError) as info:
        load_signatures()
    assert any(p.startswith(f"signatures/{GEORGIA}: (toml)") for p in info.value.problems)


def test_a_link_out_of_the_bundled_folder_is_not_a_bundled_file(bundle, parses, tmp_path):
    outside = tmp_path / "outside.toml"
    shutil.copyfile(bundle / GEORGIA, outside)
    (bundle / GEORGIA).unlink()
    (bundle / GEORGIA).symlink_to(outside)
    loaded = load_signatures()
    assert parses and loaded.policies["us-ga-governor-memo-2022"].source == str(bundle / GEORGIA)


def test_other_code_or_another_python_misses(bundle, parses, monkeypatch, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    for name in compiled_catalog.CODE:
        shutil.copyfile(compiled_catalog.HERE / name, code / name)
    monkeypatch.setattr(compiled_catalog, "HERE", code)
    compiled_catalog.compile_catalog(compiled_catalog.FILE)
    parses.clear()
    load_signatures()
    assert parses == []
    with open(code / "signatures.py", "a", encoding="utf-8") as f:
        f.write("\n# an edit of the loader\n")
    assert load_signatures() == parsed() and parses
    compiled_catalog.compile_catalog(compiled_catalog.FILE)
    parses.clear()
    load_signatures()
    assert parses == []
    monkeypatch.setattr(compiled_catalog, "sys", types.SimpleNamespace(version_info=(3, sys.version_info[1] + 1)))
    assert load_signatures() == parsed() and parses


@pytest.mark.parametrize("damage", ["empty", "header only", "cut", "garbage", "another type", "another magic"])
def test_a_damaged_compiled_form_is_a_miss_never_an_error(bundle, parses, damage):
    path = compiled_catalog.FILE
    data = path.read_bytes()
    head = compiled_catalog.key([(f.path, f.sha256) for f in parsed().files])
    assert data.startswith(head)
    path.write_bytes({"empty": b"", "header only": head, "cut": data[: len(head) + 1000],
                      "garbage": head + b"not a pickle", "another type": head + pickle.dumps({"apps": {}}),
                      "another magic": b"x" + data}[damage])
    parses.clear()
    assert load_signatures() == parsed() and parses
    assert compiled_catalog.stale(path)


def test_the_key_is_what_is_trusted(bundle, parses):
    """The package's own file is trusted as its .py files are: under the right key, what it holds is the load.
    (This is why it is only ever read from the package's folder.)"""
    head = compiled_catalog.key([(f.path, f.sha256) for f in parsed().files])
    compiled_catalog.FILE.write_bytes(head + pickle.dumps(Signatures(apps={}, policies={}, files=())))
    parses.clear()
    assert load_signatures().policies == {} and parses == []


def test_the_users_own_files_and_the_opt_in_cache_are_parsed(bundle, parses, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copyfile(bundle / GEORGIA, mine / "ga.toml")
    (mine / "ga.toml").write_text((mine / "ga.toml").read_text(encoding="utf-8").replace(
        'id = "us-ga-governor-memo-2022"', 'id = "ga-mine"', 1).replace("default = false\n", ""), encoding="utf-8")
    assert "ga-mine" in load_signatures([mine]).policies and parses
    parses.clear()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(signature_cache.ENV_ON, "1")
    assert load_signatures() == parsed() and parses  # the cache, turned on, keeps its own answers
    assert list((tmp_path / "cache" / "scanner").glob("signatures-*.pickle"))


def test_nothing_is_written_at_load(bundle, tmp_path):
    package = sorted((p, p.stat().st_mtime_ns) for p in compiled_catalog.HERE.rglob("*") if "__pycache__" not in p.parts)
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    (bundle / GEORGIA).write_text((bundle / GEORGIA).read_text(encoding="utf-8") + "\n", encoding="utf-8")
    touched = bundle / GEORGIA
    load_signatures()
    after = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p != touched)
    assert after == [(p, t) for p, t in before if p != touched]
    assert sorted((p, p.stat().st_mtime_ns) for p in compiled_catalog.HERE.rglob("*")
                  if "__pycache__" not in p.parts) == package


def test_the_command_writes_only_into_a_source_checkout(monkeypatch, tmp_path, capsys):
    installed = tmp_path / "site-packages" / "scanner" / "_signatures"
    installed.mkdir(parents=True)
    monkeypatch.setattr(signatures, "bundled_dir", lambda: installed)
    monkeypatch.setattr(compiled_catalog, "FILE", tmp_path / "compiled.pickle")
    assert compiled_catalog.main([]) == 2
    assert "source checkout" in capsys.readouterr().err and not (tmp_path / "compiled.pickle").exists()


def test_the_check_command_says_how_to_regenerate(bundle, capsys):
    assert compiled_catalog.main(["--check"]) == 0
    (bundle / GEORGIA).write_text((bundle / GEORGIA).read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert compiled_catalog.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert f"signatures/{GEORGIA}" in out and f"regenerate it with: {compiled_catalog.COMMAND}" in out
    compiled_catalog.main([])
    assert compiled_catalog.main(["--check"]) == 0


def test_the_code_in_the_key_is_what_the_loader_imports():
    """compiled_catalog.CODE must name scanner.signatures and every scanner module it imports that decides a
    load; the two it imports to find a kept answer (this one and the opt-in cache) are not part of it."""
    tree = ast.parse((compiled_catalog.HERE / "signatures.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module == "scanner" for a in node.names}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    ours = {m for m in imported if m.startswith("scanner.")} - {"scanner.compiled_catalog", "scanner.signature_cache"}
    assert {m.removeprefix("scanner.").replace(".", "/") + ".py" for m in ours} | {"signatures.py"} == \
        set(compiled_catalog.CODE)


@pytest.mark.parametrize("args", [["signatures", "list"], ["signatures", "show", "us-eo-13971"]])
def test_the_screens_are_the_same_either_way(no_cache, monkeypatch, tmp_path, args):
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("SCANNER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    with_compiled = CliRunner().invoke(main, args)
    monkeypatch.setattr(compiled_catalog, "FILE", tmp_path / "none.pickle")
    parsed_out = CliRunner().invoke(main, args)
    assert with_compiled.exit_code == parsed_out.exit_code == 0
    assert with_compiled.output == parsed_out.output and "us-eo-13971" in parsed_out.output


def test_signatures_list_parses_no_toml_and_builds_no_model(tmp_path):
    """What the start-up work removed stays removed: no tomllib, none of scanner.model's dataclasses."""
    code = ("import sys\nfrom scanner.cli import main\ntry:\n    main(['signatures', 'list'])\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in ('tomllib', 'scanner.model', 'tempfile') if m in sys.modules), "
            "file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k not in ("SCANNER_CONFIG", "SCANNER_CACHE", "XDG_CONFIG_HOME")}
    env["HOME"] = str(tmp_path)  # no config file of the user's: reading one would import tomllib
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "us-eo-13971" in done.stdout
    loaded = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    # On a Python the committed form was not made with, it is not used: the TOML is parsed (tomllib).
    assert loaded == ([] if compiled_catalog.made_for() == sys.version_info[:2] else ["tomllib"])


def test_the_quick_listing_is_the_usual_one(bundle, tmp_path):
    """signatures.plain_bundle (os.scandir, no pathlib per file) names, orders and hashes the files as the usual
    way does: on the bundled folder and on one with awkward shapes (names that sort differently as text and as
    parts, a folder named like a file, hidden files, other files, deep folders)."""
    assert signatures.plain_bundle(str(signatures.bundled_dir())) == compiled_catalog.bundled_files()
    text = (bundle / GEORGIA).read_text(encoding="utf-8")
    for n, place in enumerate(["a/b.toml", "a-c/x.toml", "a.toml/inside.toml", ".hidden.toml", "deep/er/est/z.toml",
                               "A/upper.toml", "a/.toml", "notes.txt", "a b/space.toml"]):
        path = bundle / "extra" / place
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace('id = "us-ga-governor-memo-2022"', f'id = "extra-{n}"', 1), encoding="utf-8")
    quick = signatures.plain_bundle(str(bundle))
    assert quick == compiled_catalog.bundled_files() and len(quick) == 133 + 8
    assert [name for name, _ in quick if name.startswith("signatures/extra/")][:3] == [
        "signatures/extra/.hidden.toml", "signatures/extra/A/upper.toml", "signatures/extra/a/.toml"]


@pytest.mark.parametrize("odd", ["link to a file", "link to a folder", "fifo"])
def test_anything_but_plain_files_takes_the_usual_way(bundle, tmp_path, odd):
    if odd == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    where = bundle / "extra"
    where.mkdir()
    if odd == "link to a file":
        (where / "ga.toml").symlink_to(bundle / GEORGIA)
    elif odd == "link to a folder":
        (where / "policies").symlink_to(bundle / "policies", target_is_directory=True)
    else:
        os.mkfifo(where / "pipe.toml")
    assert signatures.plain_bundle(str(bundle)) is None
    load_signatures()  # the usual way: the link is a file named twice (loaded once), the FIFO no file at all
