"""Imported by the iOS connector before pymobiledevice3, so that importing it costs less.

pymobiledevice3.utils imports `requests` at module level, for downloads the
scanner never makes: about 0.1 s of the 0.35 s pymobiledevice3 takes to
import, paid by every scan. Here the first `import requests` gets a module
that loads itself when an attribute is first used (importlib.util.LazyLoader),
so a program that does use requests notices nothing. psutil the same: pymobiledevice3's
Linux helpers (pymobiledevice3.osu.posix_util, which every pair-record lookup
loads) import it for a process listing the scanner never asks for (~15 ms). How,
and why a package needs more than LazyLoader: scanner.connectors.deferred.
questionary, the other heavy one, cannot wait: pymobiledevice3 uses it in an
annotation, which loads it at once; the scan no longer imports the modules
that import it (scanner.connectors.ios.session).
"""

from __future__ import annotations

from scanner.connectors.deferred import defer

defer("requests", "psutil")
