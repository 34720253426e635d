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

__all__ = ["REMOVAL_OUTCOMES", "Attached", "Connector", "DeviceTransport", "Notify", "Pairing", "Plugs", "Progress",
           "Removal", "Removing", "ScannerError"]

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
    hardware_serial: str | None = None  # ro.serialno when it differs from `serial` (the report's serial), if read


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

    def explain_state(self, state: str) -> tuple[str, str]:
        """(reason code, what to do) for a state its tracker saw a device in (Plugs.seen): "offline", ..."""
        ...

    def unread(self, serial: str, reason: str, message: str) -> Inventory:
        """The failed Inventory of a device its tracker saw (by what tells it apart) that was never read."""
        ...


class Pairing(Protocol):
    """A transport whose devices must trust this computer before they can be read (iOS): `scanner pair`.

    The only change a scan ever makes to a device, and only when that command is run.
    """

    def pair(self, udid: str | None, *, timeout: float | None = None) -> Attached:
        """Pair with one device (the only one attached when `udid` is None); the device as `scanner devices`
        would show it afterwards. Raises ScannerError when there is nothing to pair."""
        ...


#: What a device answered when asked to remove one app (Removal.outcome):
#:   removed        the device says it is gone (the rescan still has to agree)
#:   not-installed  it was not installed (for that user), nothing to do
#:   system-app     it came with the device and cannot be removed from the system image
#:   device-admin   an active device administrator: the device refuses until it is deactivated
#:   managed        the MDM manages it and the device refuses (iOS)
#:   locked         the device is locked (iOS): unlock it and run again
#:   refused        any other refusal the device gave, with its own answer
#:   disconnected   the device went away before it answered: whether it was removed is unknown
#:   failed         any other error
REMOVAL_OUTCOMES = ("removed", "not-installed", "system-app", "device-admin", "managed", "locked", "refused",
                    "disconnected", "failed")


@dataclass(frozen=True)
class Removal:
    """A device's answer to one removal (`scanner remove`): only that command ever asks for one."""

    app_id: str  # the package name or bundle id asked for
    user: int | None  # the Android user it was removed for; None on iOS
    outcome: str  # one of REMOVAL_OUTCOMES
    message: str  # in the tool's own words: what happened and what to do
    answer: str = ""  # the device's own answer ("Success", "Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]", an
    # installation_proxy status or error), untrusted text: sanitize before showing it


class Removing(Protocol):
    """A transport that can remove apps from its devices (`scanner remove`, `watch --remove`).

    The second change a device ever sees from this tool (after Pairing), and only from a command whose name
    says so: the scan path never reaches it (tests/test_import_rules.py).
    """

    def remove(self, serial: str, app_id: str, *, user: int | None = None,
               timeout: float | None = None) -> Removal:
        """Remove one app from the device known by `serial` (adb transport serial or UDID), for Android user
        `user` (None on iOS). Never raises for what the device answers: every answer is a Removal."""
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


# --- file readers ------------------------------------------------------------------------------------------------

__all__ += ["FileReader", "HeadLine"]


@dataclass(frozen=True)
class HeadLine:
    """The head line that decided an input's format, as the reader of that format is handed it."""

    at: int  # its index among the head lines (0-based); len(head) when only a count line decided
    text: str  # its text as read to recognise it, without the line end ("" when `at` is past the head)
    count: int | None = None  # what a count line before it said ("Total: 12 apps" -> 12), if there was one


@dataclass(frozen=True)
class FileReader:
    """One saved or exported format: how it is recognised, named and read (registered in
    scanner.connectors.files.readers.READERS).

    A format of lines is recognised by its deciding head line, the first line of the input that is not
    blank, a tool's error, adb's own status or a count line: `head(text)` is true of it. It is read by
    `read(name, lines, head_line)`, `lines` the input's InputLines and `head_line` a HeadLine.

    A JSON format is recognised by the parsed document: `document(doc)`, and read by `read(name, doc)`.

    Either way `read` yields the input's Inventories and never raises for a bad input. READERS asks the
    readers in its order, which is also the order the messages and the --input help name them in; the
    first that recognises an input reads it.
    """

    name: str  # tells the readers apart in code and tests: "pm", "ideviceinstaller", ...
    description: str  # how messages name it among the accepted formats: "`ideviceinstaller -l` output"
    help: str  # how the --input help names it: "ideviceinstaller -l"
    read: Callable[..., Iterator[Inventory]]
    head: Callable[[str], bool] | None = None
    document: Callable[[object], bool] | None = None
    #: A format of lines that may begin with a line giving the number of apps ("Total: 12 apps"): that line's
    #: count, None for any other line. Once it is seen, the lines after it are this format's unless a reader
    #: before this one in READERS recognises them, and the count is handed to `read` in HeadLine.count.
    count: Callable[[str], int | None] | None = None
    #: A JSON format: what its document is, for the message about JSON that no reader recognises
    #: ("pymobiledevice3 apps list output (an object keyed by bundle id)").
    shape: str | None = None

    def __post_init__(self) -> None:
        # Both is a format with two forms (a plist, or the JSON webhook that carries it); its read takes either.
        if self.head is None and self.document is None:
            raise ValueError(f"file reader {self.name!r}: give head (a format of lines), document (JSON) or both")

