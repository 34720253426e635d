"""iPhones and iPads through usbmuxd and lockdownd (pymobiledevice3): listing, reading, following plug events,
pairing."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.connectors.deferred import defer

# pymobiledevice3.utils imports requests at its top, for downloads a scan never makes (about 0.1 s of its
# import), and its Linux helpers (pymobiledevice3.osu.posix_util, which every pair-record lookup loads) import
# psutil for a process listing the scanner never asks for (~15 ms): both executed on first use instead (see
# scanner.connectors.deferred). questionary cannot wait (pymobiledevice3 uses it in an annotation, which loads
# it at once): the scan does not import the pymobiledevice3 modules that import it (see session.py).
defer("requests", "psutil")


def open_transport(address: str | None = None, *, select: Sequence[str] = (), timeout: float = 60.0,
                   notify=None, progress=None, required: bool = False, may_start: bool = True):
    """The registered factory (scanner.connectors.TRANSPORTS): usbmuxd at `address`; `may_start` means
    nothing here (usbmuxd is the system's)."""
    from scanner.connectors.ios.connector import IOSConnector

    return IOSConnector(address, udids=select, timeout=timeout, notify=notify, progress=progress,
                        required=required)
