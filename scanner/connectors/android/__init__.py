"""Android through the adb server: listing, reading, following plug events, the server itself, what its
errors mean."""

from __future__ import annotations

from typing import Sequence


def open_transport(address: str | None = None, *, select: Sequence[str] = (), timeout: float = 60.0,
                   notify=None, progress=None, required: bool = False, may_start: bool = True):
    """The registered factory (scanner.connectors.TRANSPORTS): the adb server at `address`."""
    from scanner.connectors.android.connector import AndroidConnector

    return AndroidConnector(address, serials=select, timeout=timeout, notify=notify, progress=progress,
                            required=required, may_start=may_start)
