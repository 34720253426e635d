"""Imported before adbutils (by this package's __init__), so that importing adbutils costs less.

adbutils/install.py imports `requests` at module level, for the one thing it
needs it for: installing an APK from a URL, which the scanner never does.
`import adbutils` runs it (the package imports every extension), and with it
urllib3, charset_normalizer, chardet, http.cookiejar and ssl: about 85 ms of a
whole 270 ms `scanner scan` of one phone (bench/bench_android.py). Here the
first `import requests` gets a module that runs its code when an attribute is
first read (importlib.util.LazyLoader, through a one-shot finder first on
sys.meta_path), so a scan never executes it and a program that does use
requests (adbutils' own install from a URL included) notices nothing.

Unnecessary once adbutils imports requests where it downloads (the proposed
upstream change to openatx/adbutils, item 2: `import requests` inside
InstallExtension.download_apk); then this module can go.

What cannot be deferred this way, tried with adbutils 2.12:
- PIL.Image: adbutils/screenshot.py evaluates `-> Image.Image` in an annotation
  while its class is defined, so the lazy module would be executed during
  `import adbutils` anyway (upstream item 3: import PIL inside screenshot()).
- importlib.metadata (adbutils/_version.py calls version() at import) and
  deprecation (decorators applied at class definition): used at import.
- a second `import requests` in the same process (pymobiledevice3.utils has one,
  so a scan of Android and iOS together): CPython's import statement reads
  `__spec__` of a module already in sys.modules, and any attribute read executes
  a LazyLoader module; that importer gets the executed module, as it would have.

A broken requests install surfaces at its first use instead of at the import.
Python 3.11's LazyLoader is not thread-safe for the first use; the scanner
never uses requests, so the first use, if any, is the program's own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys

__all__ = ["DEFERRED", "DeferredImport", "defer"]

DEFERRED = ("requests",)


class DeferredImport:
    """A one-shot meta path finder: the first import of `name` gets a lazily executed module."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, name: str, path=None, target=None):
        if name != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: later imports find the module in sys.modules
        for finder in list(sys.meta_path):  # whichever finder would have found it (a path, a zip, an editable install)
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def defer(name: str) -> None:
    """Make the first import of `name` lazy, unless it is imported already or a finder for it is waiting."""
    if name in sys.modules or any(getattr(f, "name", None) == name and type(f).__name__ == "DeferredImport"
                                  for f in sys.meta_path):
        return
    sys.meta_path.insert(0, DeferredImport(name))


for _name in DEFERRED:
    defer(_name)
