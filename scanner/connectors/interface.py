"""What every connector promises, and the error that carries a message for a person.

A connector turns one source (an adb server, usbmuxd, a file) into
Inventories. It reports what it could not read inside those Inventories
(status, reason, message, coverage) rather than by raising, so that one bad
device or file never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from scanner.model import Inventory

__all__ = ["Attached", "Connector", "Notify", "Progress", "ScannerError"]

#: Tells the person running the tool something on stderr ("started an adb server on port 5037").
Notify = Callable[[str], None]

#: Per-device progress: (platform, serial, state, app count or None), state one of
#: "waiting", "reading", "done", "failed". Called from connector threads.
Progress = Callable[[str, str, str, "int | None"], None]


@dataclass(frozen=True)
class Attached:
    """A device a transport can see, ready to scan or not (`scanner devices`)."""

    platform: str  # "android" | "ios"
    serial: str  # transport serial (adb) or UDID
    state: str  # "ready", or why not: "unauthorized", "offline", "locked", "not-paired", ...
    model: str | None = None
    name: str | None = None
    os_version: str | None = None
    message: str | None = None  # when not ready: what to do ("Unlock the phone and accept ...")


class Connector(Protocol):
    """A source of inventories: a device transport or an input file."""

    #: How the source is named to a person ("adb", "usbmux", a path, "-").
    #: The audit names a failed result after it if the connector itself breaks.
    name: str

    def inventories(self) -> Iterator[Inventory]:
        """One Inventory per device (or per part of a device) the source holds.

        Problems with the source become Inventories with status "partial" or
        "failed"; implementations do not raise for them.
        """
        ...


class ScannerError(Exception):
    """An error meant for the person running the tool.

    `str(err)` is the whole message, written to be shown as it is: what went
    wrong and what to do about it, with no traceback needed to understand it.
    """
