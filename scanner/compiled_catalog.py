"""The bundled signatures, compiled: what loading the bundled TOML files gives, shipped ready to use.

Parsing and checking the ~130 bundled TOML files was most of what `scanner
signatures list` cost, and part of the start of every scan and offline read,
although those files change only with a new release of scanner. So the
package ships the result of that load, made once by a developer with

    python -m scanner.compiled_catalog

and committed beside this module (compiled_catalog.pickle, packaged with the
.py files). A test (tests/test_compiled_catalog.py) fails while it is stale,
so a TOML edit without a regeneration never reaches a release unnoticed.

The file begins with its key, as text: the format version, the Python minor
version, the sha256 of the code that decides what a load returns
(signatures.py and vocabulary.py, everything scanner.signatures imports of
scanner's), then one line per bundled file in load order: its name as
reports give it (signatures/catalog/tiktok.toml) and the sha256 of its
bytes. A load of the bundled files alone reads and hashes every file as it
always did (cheap), builds the key it would have, and uses the compiled form
only when the file's key is exactly that; a changed, added, removed or
renamed file, an edit of the loader, another Python or a damaged compiled
file all mean a miss, and the TOML is parsed as before. Nothing is ever
written at run time. A user's own signature files (--signatures, the config
file's) are always parsed; the opt-in per-user cache (scanner.signature_cache,
SCANNER_CACHE=1) can keep those, and when it is on it answers every load, the
bundled files' too, as it did before this module.

`scanner.signatures` finds the compiled form without pathlib's work per file
when the bundled folder holds only plain folders and files (the installed
package's, a checkout's): that, an unpickling and the hashing are all a load
of the bundled files costs (about 4 ms, against 35 ms for the parse).

The result is a pickle. A pickle runs code when it is loaded, so it is only
ever read from this package's own folder: the same trust as the package's
.py files and their __pycache__, which whoever can change this file can
change as well. It is never read from anywhere a user or a download puts
files.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["COMMAND", "FILE", "compile_catalog", "key", "lookup", "made_for", "stale"]

FORMAT = 1  # bump when the file's layout or what is pickled changes in a way the code digest would not show
HERE = Path(__file__).resolve().parent
FILE = HERE / "compiled_catalog.pickle"
COMMAND = "python -m scanner.compiled_catalog"
# The modules whose code decides what a load of the bundled files returns: scanner.signatures and every
# scanner module it imports (a test checks that this list keeps up with its imports).
CODE = ("signatures.py", "vocabulary.py")
_MAGIC = b"scanner compiled catalog\0\n"  # the NUL: git and editors take the file for binary, as it is
_END = b"end\n"


def key(files: Sequence[tuple[str, str]], python: tuple[int, int] | None = None) -> bytes:
    """The key a compiled form of these bundled files must carry to be used: `files` as (name as reports give
    it, sha256 of its bytes) in load order, and this code and Python."""
    major, minor = python or sys.version_info[:2]
    lines = [_MAGIC, f"format {FORMAT}\npython {major}.{minor}\n".encode()]
    for name in CODE:
        lines.append(f"code {name} {hashlib.sha256((HERE / name).read_bytes()).hexdigest()}\n".encode())
    for name, digest in files:
        # A name is text the loader made from a path: surrogateescape keeps an odd byte in it distinct.
        lines.append(b"file " + name.encode("utf-8", "surrogateescape") + f" {digest}\n".encode())
    lines.append(_END)
    return b"".join(lines)


def lookup(files: Sequence[tuple[str, str]], path: Path | None = None,
           python: tuple[int, int] | None = None) -> object | None:
    """The compiled load (at `path`, default FILE) of exactly these bundled files (as for key()), or None: no
    compiled form, another key, or a file that cannot be read whole. Never an error."""
    from scanner.signatures import Signatures

    path = path or FILE
    try:
        expected = key(files, python)  # an install without the .py sources cannot tell its code: a miss
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.startswith(expected):
        return None
    try:
        value = pickle.loads(memoryview(data)[len(expected):])  # the package's own file: see the docstring
    except Exception:  # noqa: BLE001 - a damaged file is a miss: the TOML is parsed instead
        return None
    return value if type(value) is Signatures else None


def bundled_files() -> list[tuple[str, str]]:
    """The bundled files as a load of them alone sees them: (name, sha256), in load order."""
    from scanner import signatures

    base = signatures.bundled_dir()
    base_real = base.resolve()
    found = []
    for path, real, _, data in signatures.read_files(signatures.toml_files(base), base_real):
        if isinstance(data, OSError):
            raise OSError(f"{path}: cannot be read: {data.strerror or data}")
        found.append((signatures._display(path, real, base_real), hashlib.sha256(data).hexdigest()))
    return found


def compile_catalog(path: Path | None = None) -> Path:
    """Parse the bundled files and write their compiled form to `path` (default FILE; a developer's step: see
    the docstring). Raises SignatureError when the bundled files do not load."""
    from scanner import signatures

    path = path or FILE
    files = bundled_files()
    loaded = signatures._load((), bundled=True, compiled=False, cache=False)
    if bundled_files() != files:
        raise RuntimeError("the bundled signature files changed while they were compiled; run it again")
    data = key(files) + pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(data)
    temp.replace(path)
    return path


def made_for(path: Path | None = None) -> tuple[int, int] | None:
    """The Python (major, minor) the compiled form at `path` (default FILE) was made with, or None."""
    try:
        with open(path or FILE, "rb") as f:
            head = f.read(len(_MAGIC) + 64)
    except OSError:
        return None
    lines = head[len(_MAGIC):].split(b"\n") if head.startswith(_MAGIC) else []
    found = [line[7:] for line in lines[:2] if line.startswith(b"python ")]
    major, _, minor = found[0].partition(b".") if found else (b"", b"", b"")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def stale(path: Path | None = None, python: tuple[int, int] | None = None) -> list[str]:
    """What makes the compiled form at `path` (default FILE) unusable for the bundled files and this code (and
    `python`, default this one), one line each; [] when a load of the bundled files uses it."""
    path = path or FILE
    files = bundled_files()
    expected = key(files, python)
    try:
        data = path.read_bytes()
    except OSError as err:
        return [f"{path}: cannot be read: {err.strerror or err}"]
    if data.startswith(expected):
        return [] if lookup(files, path, python) is not None else [f"{path}: its key is right but it does not load"]
    head = data[: data.find(_END) + len(_END)] if _END in data else b""
    if not head.startswith(_MAGIC):
        return [f"{path}: not a compiled catalog"]
    have = {tuple(line.split(b" ", 1)) for line in head.splitlines()[1:-1]}
    want = {tuple(line.split(b" ", 1)) for line in expected.splitlines()[1:-1]}
    problems = []
    for what, text in sorted(want - have):
        problems.append(f"expected {what.decode()} {text.decode('utf-8', 'replace')}")
    for what, text in sorted(have - want):
        problems.append(f"the file has {what.decode()} {text.decode('utf-8', 'replace')}")
    return problems or ["the bundled files are the same but in another order"]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=COMMAND, description="Write the compiled form of the bundled "
                                     "signatures (scanner/compiled_catalog.pickle), or --check it.")
    parser.add_argument("--check", action="store_true", help="only say whether it is up to date (exit 1: stale)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for line in problems:
            print(line)
        print(f"{FILE}: {'stale; regenerate it with: ' + COMMAND if problems else 'up to date'}")
        return 1 if problems else 0
    from scanner.signatures import bundled_dir

    if bundled_dir().name == "_signatures":  # an installed scanner's: its package is not the place to edit
        print(f"{COMMAND}: this scanner is installed ({bundled_dir()}); run it in a source checkout, where the "
              "compiled form is committed beside the TOML it is made from", file=sys.stderr)
        return 2
    print(f"wrote {compile_catalog()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
