"""A per-user cache of loaded signatures, used only for byte-identical files: start-up without TOML parsing.

Parsing and checking the ~130 bundled TOML files is most of what `scanner
signatures list` (and the start of every scan) costs, and the files change
only when scanner is upgraded or an admin edits theirs. So a successful load
is kept, pickled, in the user's cache folder, under a key that covers
everything the result depends on:

- every file loaded, in order: the path as given, where it resolves to,
  whether it is bundled, and the sha256 of its bytes (the files are read and
  hashed on every run: the cache never saves reading them, only parsing);
- the source of the code that turns them into objects (scanner/signatures.py
  and scanner/vocabulary.py), the cache format and the Python version.

A cached result is therefore used only when the loader would produce the same
one from the same bytes; any edit, added or removed file, or upgrade misses
and loads from the files. Nothing that failed is cached: a broken file is
reported from the file, every time.

Off unless asked for (SCANNER_CACHE=1): scanner writes nothing into the
user's home on its own (a demo or a scan leaves HOME as it was), so an admin
whose scripts run it often turns the cache on. The folder is the user's own
($XDG_CACHE_HOME/scanner, else ~/.cache/scanner; ~/Library/Caches/scanner on
macOS; %LOCALAPPDATA%\\scanner\\Cache on Windows), created private (0700). A
cache file is read only when it and its folder belong to this user and nobody
else may write them, since a pickle is code: the same trust Python gives its
own __pycache__. A folder that cannot be written (a read-only home) only
means every run parses. Each set of paths has one file, replaced when its key
changes, so the folder does not grow with edits.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ENV_ON", "cache_dir", "cache_key", "read", "write"]

ENV_ON = "SCANNER_CACHE"  # "1": keep and use the cache
FORMAT = 1  # bump when what is pickled changes shape in a way the code digest would not show
_CODE = ("signatures.py", "vocabulary.py")  # the modules whose code decides what a load returns


def cache_dir(environ: dict[str, str] | None = None, platform: str | None = None) -> Path | None:
    """The user's cache folder for scanner, or None when the cache is not turned on (SCANNER_CACHE=1) or there
    is no home to put it in."""
    env = os.environ if environ is None else environ
    if env.get(ENV_ON, "").strip() != "1":
        return None
    platform = platform or sys.platform
    try:
        home = Path(env.get("HOME") or Path.home())
    except RuntimeError:  # no HOME and no password entry
        return None
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA")
        return (Path(local) if local else home / "AppData" / "Local") / "scanner" / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / "scanner"
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".cache") / "scanner"


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for name in _CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def cache_key(files: Sequence[tuple[str, str, bool, str]]) -> tuple[str, str]:
    """(the cache file's name, the full key) for files given as (path as given, resolved path, bundled?,
    sha256 of the bytes), in load order. The name depends only on the paths, so an edit replaces its file."""
    names = hashlib.sha256()
    key = hashlib.sha256(_code_digest().encode())
    for given, real, bundled, sha256 in files:
        entry = f"{given}\0{real}\0{int(bundled)}\0"
        names.update(entry.encode("utf-8", "surrogateescape") + b"\n")
        key.update(entry.encode("utf-8", "surrogateescape") + sha256.encode() + b"\n")
    return f"signatures-{names.hexdigest()[:32]}.pickle", key.hexdigest()


def _private(st: os.stat_result) -> bool:
    """Owned by this user, and writable by nobody else."""
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(folder: Path | None, name: str, key: str, kind: type) -> Any | None:
    """The object cached under `key`, if there is one of type `kind` that may be trusted; else None."""
    if folder is None or not hasattr(os, "getuid"):
        return None
    try:
        if not _private(os.stat(folder)):
            return None
        fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st):
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = f.read()
    except OSError:
        return None
    finally:
        if fd != -1:
            os.close(fd)
    try:
        stored_key, value = pickle.loads(data)  # our own file, checked private above
    except Exception:  # noqa: BLE001 - a damaged or foreign cache file is a miss, never an error
        return None
    return value if stored_key == key and isinstance(value, kind) else None


def write(folder: Path | None, name: str, key: str, value: object) -> None:
    """Keep `value` under `key`, best effort: a folder that cannot be written (or is not private) is skipped."""
    if folder is None or not hasattr(os, "getuid"):
        return
    import tempfile

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(os.stat(folder)):
            return
        data = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        fd, temp = tempfile.mkstemp(prefix=".signatures-", suffix=".tmp", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except (OSError, pickle.PicklingError, RecursionError):
        return

