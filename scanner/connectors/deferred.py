"""Modules the device libraries import at their top and a scan never uses, executed on first use instead.

adbutils imports `requests` (in adbutils/install.py, for installs from a URL)
and pymobiledevice3 imports it too (pymobiledevice3.utils, for downloads), and
pymobiledevice3's Linux helpers import `psutil` for a process listing: about
60-100 ms of every scan's start, for code a read-only scan never runs. The
first `import requests` then gets a module that executes itself when one of
its attributes is first used (importlib.util.LazyLoader, the standard
library's mechanism for this), so a program that does use it notices nothing:
adbutils' and pymobiledevice3's own calls get the real module.

LazyLoader alone is not enough for a package. The first `import
requests.adapters` (or `from requests.exceptions import ...`) reads the lazy
package's __path__, which executes requests/__init__, which imports
requests.adapters itself; the import system, which looked in sys.modules
before that, then loads requests.adapters a second time, and the program ends
up with two ConnectionError classes, the one requests raises and another one.
So the finder here also answers for the package's submodules, and only when
one is already in sys.modules by the time it is asked (which happens only in
that race, since the import system looks in sys.modules before it asks any
finder, and a reload names the module it reloads): its loader hands back that
very module, executed once.

No library's code or object is changed. These go away when the libraries
import them where they use them (proposed upstream: adbutils' `import
requests` inside InstallExtension.download_apk; pymobiledevice3's inside the
download helpers).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["DeferredPackage", "defer"]


class _Executed:
    """The loader of a submodule that its package's own __init__ executed while its __path__ was being read."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system set the spec this finder made: the module's own again


class DeferredPackage:
    """A meta-path finder: `name` loads lazily on its first import; its submodules load once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = name + "."

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name.startswith(self.prefix):
            module = sys.modules.get(name)
            if module is None or target is not None or getattr(module, "__spec__", None) is None:
                return None  # an ordinary submodule import, or a reload (it names its target): the usual finders
            return importlib.machinery.ModuleSpec(name, _Executed(module), origin=module.__spec__.origin)
        if name != self.name or name in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not found, or not a loader LazyLoader can wrap: imported as usual
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def defer(*names: str) -> None:
    """Execute each of these modules on first use rather than on first import, unless already imported (once)."""
    for name in names:
        if name in sys.modules or any(isinstance(f, DeferredPackage) and f.name == name for f in sys.meta_path):
            continue
        sys.meta_path.insert(0, DeferredPackage(name))
