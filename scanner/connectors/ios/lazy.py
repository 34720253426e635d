"""Imported by the iOS connector before pymobiledevice3, so that importing it costs less.

pymobiledevice3.utils imports `requests` at module level, for downloads the
scanner never makes: about 0.1 s of the 0.35 s pymobiledevice3 takes to
import, paid by every scan. Here the first `import requests` gets a module
that loads itself when an attribute is first used (importlib.util.LazyLoader),
so a program that does use requests notices nothing. psutil the same: pymobiledevice3's
Linux helpers (pymobiledevice3.osu.posix_util, which every pair-record lookup
loads) import it for a process listing the scanner never asks for (~15 ms).
questionary, the other heavy one, cannot wait: pymobiledevice3 uses it in an
annotation, which loads it at once; the scan no longer imports the modules
that import it (scanner.connectors.ios.session).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from typing import Any

__all__ = ["DeferredImport"]


class DeferredImport(importlib.abc.MetaPathFinder):
    """Load one module on first use rather than at its first import (a one-shot finder)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: later imports find the module in sys.modules
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


for _name in ("requests", "psutil"):
    if _name not in sys.modules:
        sys.meta_path.insert(0, DeferredImport(_name))
