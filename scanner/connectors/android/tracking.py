"""Following the adb server's plug events for `scanner watch`: its `host:track-devices` service.

The server sends a length-prefixed `serial<TAB>state` list (with `-l`, USB
paths too), and sends it again on every change. A phone in state `device`
is scanned; `unauthorized` and `no permissions` are scanned too, which gives
their failed verdict with what to do, and the phone is scanned again once it
turns `device`; the passing states (`offline`, `connecting`, `authorizing`)
are only noted.

A server that does not answer is retried every RETRY seconds and noted once
per outage. One is started only as watch begins, and only when the
connector may (`start`); a server that answered and then went away (a
simulator stopped) is waited for, never replaced: a server of ours must not
stay behind on a port someone else's server used.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable

from adbutils import AdbError

from scanner.connectors.android.server import Client, ServerAddress
from scanner.connectors.interface import Notify, Plugs, Stopping
from scanner.connectors.outage import RETRY, Outage, why
from scanner.terminal.text import safe

__all__ = ["PASSING_STATES", "RETRY", "SCAN_STATES", "parse_tracked", "track"]

SCAN_STATES = ("device", "unauthorized", "no permissions")  # adb states worth a verdict
PASSING_STATES = ("offline", "connecting", "authorizing")  # adb states that usually turn into `device`


def track(address: ServerAddress, plugs: Plugs, stop: Stopping, *, notify: Notify,
          start: Callable[[], bool] | None) -> None:
    """Follow the server at `address` until `stop`, telling `plugs` what comes and goes.

    `start`: starts a server when none answers at first, and says whether it did (None: never start one).
    """
    where = f"{address.host}:{address.port}"
    outage = Outage(plugs, notify, "android", "adb", where)
    may_start = start is not None  # only as watch begins: a server that went away is never replaced
    listing_long = True  # track-devices-l: with USB paths, which tell clones with one serial apart
    while not stop.is_set():
        try:  # a smart-socket connection with `host:track-devices` accepted
            conn = Client(address).make_connection(timeout=5)
        except (AdbError, OSError) as err:
            if may_start:
                may_start = False
                if start():
                    continue
            outage.unreachable(
                f"no adb server answers on {where} ({why(err)}); Android devices will be scanned once one runs "
                f"(`adb start-server`), retrying every {RETRY:.0f} s",
                f"no adb server answered on {where} ({why(err)}), so Android devices attached then were not seen; "
                f"start one (adb start-server), or watch only iPhones on purpose with --platform ios")
            stop.wait(RETRY)
            continue
        may_start = False
        try:
            service = "host:track-devices-l" if listing_long else "host:track-devices"
            conn.send_command(service)
            try:
                conn.check_okay()
            except AdbError:
                if not listing_long:
                    raise
                listing_long = False  # an adb older than platform-tools 30: no USB paths
                continue
            outage.answers(f"the adb server on {where} answers again")
            _follow(conn.conn, listing_long, plugs, stop, notify)
        except (AdbError, OSError, ValueError) as err:
            if not stop.is_set():
                outage.lost(
                    f"lost the adb server on {where} ({why(err)}); retrying every {RETRY:.0f} s",
                    f"the adb server on {where} went away ({why(err)}), so Android devices attached since were "
                    f"not seen; start it again (adb start-server) and rescan")
                stop.wait(RETRY)
        finally:
            conn.close()


def _follow(sock: socket.socket, listing_long: bool, plugs: Plugs, stop: Stopping, notify: Notify) -> None:
    states: dict[str, str] = {}
    refused: set[str] = set()  # listed unauthorized / no permissions since it was plugged in
    sock.settimeout(0.5)
    reader = _Blocks(sock)
    while not stop.is_set():
        block = reader.next()
        if block is None:
            continue  # no change yet: look at the stop flag again
        now = parse_tracked(block, listing_long)
        plugs.attached("android", {("android", serial) for serial in now})
        for serial in states.keys() - now.keys():
            refused.discard(serial)
            notify(f"android {_safe(serial)}: unplugged")
        for serial, state in now.items():
            if states.get(serial) == state:
                continue
            if serial not in states:
                plugs.seen(("android", serial), state)  # plugged in: unread until a verdict
            if state in SCAN_STATES:
                # a phone listed unauthorized (or without permissions) while plugged in, now readable, was let in
                why = "authorized" if state == "device" and serial in refused else "attached"
                if state == "device":
                    refused.discard(serial)
                else:
                    refused.add(serial)
                plugs.scan("android", serial, why)
            elif state in PASSING_STATES:
                if serial in states:  # it was there: a cable pulled, or adb lost it
                    notify(f"android {_safe(serial)}: {_safe(state)}")
                else:
                    notify(f"android {_safe(serial)}: {_safe(state)}; it is scanned once it is ready")
            else:
                notify(f"android {_safe(serial)}: {_safe(state)}: not a state a phone can be read in "
                       "(bootloader, recovery or sideload?); restart it normally")
        states = now


_TAGS = ("usb:", "product:", "model:", "device:", "transport_id:")


def parse_tracked(block: str, listing_long: bool) -> dict[str, str]:
    """A track-devices block as {what tells the phone apart: its state}.

    That is the transport serial, or, for phones listed under one serial (cheap clones share ro.serialno
    0123456789ABCDEF, which USB reports as the serial), each one's USB path `usb:1-1.2` (else
    `transport_id:N`), as the Android connector names them, so a scan asked for it reads that phone alone.
    `-l` lines are `SERIAL<spaces>STATE TAG:VALUE...`; the state may hold spaces ("no permissions (...)").
    """
    rows: list[tuple[str, str, dict[str, str]]] = []
    for line in block.splitlines():
        if listing_long:
            words = line.split()
            if len(words) < 2:
                continue
            end = len(words)
            while end > 2 and words[end - 1].startswith(_TAGS):
                end -= 1
            tags = dict(word.split(":", 1) for word in words[end:])
            rows.append((words[0], " ".join(words[1:end]), tags))
        else:
            serial, sep, state = line.partition("\t")
            if sep and serial:
                rows.append((serial, state.strip(), {}))
    shared = Counter(serial for serial, _, _ in rows)
    tracked: dict[str, str] = {}
    for serial, state, tags in rows:
        if shared[serial] > 1 and (tags.get("usb") or tags.get("transport_id")):
            serial = f"usb:{tags['usb']}" if tags.get("usb") else f"transport_id:{tags['transport_id']}"
        tracked[serial] = "no permissions" if state.startswith("no permissions") else state
    return tracked


class _Blocks:
    """Length-prefixed blocks (`%04x` + payload) from a socket with a short timeout, kept whole across timeouts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> str | None:
        """The next whole block, or None when nothing complete arrived within the socket's timeout."""
        while True:
            if len(self.buffer) >= 4:
                try:
                    size = int(self.buffer[:4], 16)
                except ValueError:
                    raise ValueError(f"not an adb length prefix: {self.buffer[:4]!r}") from None
                if len(self.buffer) >= 4 + size:
                    block, self.buffer = self.buffer[4:4 + size], self.buffer[4 + size:]
                    return block.decode("utf-8", errors="replace")
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("the adb server closed the connection")
            self.buffer += chunk


def _safe(value: object) -> str:
    return safe(value, limit=200)
