"""iPhones and iPads through usbmuxd and lockdownd (pymobiledevice3): listing, reading, following plug events,
pairing."""

from __future__ import annotations

from collections.abc import Sequence


def open_transport(address: str | None = None, *, select: Sequence[str] = (), timeout: float = 60.0,
                   notify=None, progress=None, required: bool = False, may_start: bool = True):
    """The registered factory (scanner.connectors.TRANSPORTS): usbmuxd at `address`; `may_start` means
    nothing here (usbmuxd is the system's)."""
    from scanner.connectors.ios.connector import IOSConnector

    return IOSConnector(address, udids=select, timeout=timeout, notify=notify, progress=progress,
                        required=required)
