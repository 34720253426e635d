"""What every part that reads devices or files promises, and the error that carries a message for a person.

Two kinds of part turn a source into Inventories:

- a **device transport** (scanner.connectors.android, scanner.connectors.ios):
  lists the attached devices, reads them, and follows plug events for
  `scanner watch`; registered once in scanner.connectors.TRANSPORTS;
- a **file reader** (scanner.connectors.files.readers): recognises one saved
  or exported format and reads it; registered once in
  scanner.connectors.files.readers.READERS.

Both report what they could not read inside those Inventories (status,
reason, message, coverage) rather than by raising, so that one bad device or
file never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from scanner.model import Inventory, Transport

__all__ = ["Attached", "Connector", "DeviceTransport", "Notify", "Plugs", "Progress", "ScannerError"]

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


class Plugs(Protocol):
    """What a transport's tracker tells the watch engine (scanner.intake) as devices come and go.

    Every method may be called from the tracker's own thread.
    """

    def attached(self, platform: str, keys: set[tuple[str, str]]) -> None:
        """Every device the transport lists now, as (platform, what tells it apart)."""

    def seen(self, key: tuple[str, str], state: str) -> None:
        """A device appeared in `state`: it is unread until a verdict."""

    def scan(self, platform: str, serial: str, why: str) -> None:
        """Read this device now ("attached", or "authorized" once a refused prompt was accepted)."""

    def answering(self, platform: str, transport: str, where: str, message: str | None) -> None:
        """The transport answers (message None) or does not (what happened and what to do)."""


class DeviceTransport(Connector, Protocol):
    """One way of reaching devices: the adb server, usbmuxd.

    Built by the registered factory (scanner.connectors.TRANSPORTS) with the
    address it should use (None: the user's default), the devices to read
    (`select`, empty for all), a time limit per device, and whether the
    platform was asked for by name (`required`): one asked for by name that
    cannot be reached is a failed result, one only scanned by default is a
    note. `may_start`: whether it may start what serves the transport when
    nothing does (the adb server); watch's scans never do.
    """

    platform: str
    required: bool
    #: Whether the transport answered when asked for its devices (None until asked): one that did not may
    #: hide attached devices, so the report is then never complete.
    asked: Transport | None

    def devices(self) -> list[Attached]:
        """Every device the transport sees, ready to scan or not.

        Raises ScannerError when the transport cannot be used and the platform
        was asked for by name; otherwise notifies, records `asked` and
        returns [].
        """
        ...

    def track(self, plugs: Plugs, stop: Stopping) -> None:
        """Follow plug events until `stop` is set, telling `plugs` what comes and goes.

        Blocks; reconnects when the transport goes away, saying so through
        plugs.answering() and the notify callback it was built with.
        """
        ...


class Stopping(Protocol):
    """A threading.Event, as far as a tracker needs it."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


#: Builds a transport: factory(address, select=..., timeout=..., notify=..., progress=..., required=...,
#: may_start=...).
TransportFactory = Callable[..., DeviceTransport]


class ScannerError(Exception):
    """An error meant for the person running the tool.

    `str(err)` is the whole message, written to be shown as it is: what went
    wrong and what to do about it, with no traceback needed to understand it.
    """

