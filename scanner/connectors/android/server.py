"""The adb server: which one to use, reaching it without side effects, and starting it when asked.

adbutils on its own runs `adb start-server` whenever *any* connection to the
server fails (`AdbConnection._safe_connect`), and that command starts a
daemon on `$ANDROID_ADB_SERVER_PORT` or 5037, whatever port the client was
pointed at. A scan must never leave a server running on a port nobody asked
for, so every connection here goes through `_Connection`, which only
connects and never spawns anything. A server is started in exactly one place,
`start_server()`, on the user's own port, as a process whose pid we keep.

The client also carries a per-device deadline: every socket it opens gets
the time left as its timeout, and `abort()` shuts every open socket down, so
a device that trickles bytes forever still ends at the deadline.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from adbutils import AdbClient, AdbConnection, AdbDeviceInfo, adb_path
from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

from scanner.connectors.interface import ScannerError

__all__ = [
    "DEFAULT_PORT", "Client", "CutAnswer", "ServerAddress", "ServerUnavailable", "StartedServer", "parse_server",
    "read_block", "start_server", "user_server",
]

DEFAULT_PORT = 5037
LOOPBACK = "127.0.0.1"
START_WAIT = 15.0  # seconds a freshly started server gets to answer


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    explicit: bool  # given with --adb-server: used as it is, never started

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class StartedServer:
    """An adb server this tool started for the user; it keeps running after the scan, like `adb devices` leaves it."""

    pid: int
    port: int
    adb: str
    log: str
    proc: subprocess.Popen | None = field(default=None, compare=False, repr=False)  # to reap it if stopped here

    @property
    def stop_command(self) -> str:
        """The command that stops it, runnable as written: the full path of the adb that started it (often the
        one inside the adbutils wheel, which is on nobody's PATH)."""
        adb = subprocess.list2cmdline([self.adb]) if os.name == "nt" else shlex.quote(self.adb)
        return f"{adb} -P {self.port} kill-server"


class ServerUnavailable(Exception):
    """No adb server can be used; `str()` says what to do."""


class CutAnswer(AdbError):
    """The server's answer ended before the length its prefix announced (or the prefix is not a length)."""


def read_block(conn: AdbConnection, what: str) -> str:
    """A length-prefixed answer (`XXXX` hex, then that many bytes), checked to be whole.

    adbutils' `read_string_block` returns whatever arrived before the connection closed, so a device list cut
    in transit reads as a shorter list, and the phones after the cut vanish without a trace.
    """
    prefix = conn.read(4)
    if len(prefix) < 4:
        raise CutAnswer(f"the adb server closed the connection before {what} ({len(prefix)} of 4 length bytes)")
    try:
        size = int(prefix.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        raise CutAnswer(f"the adb server's {what} does not start with a length ({prefix!r})") from None
    body = conn.read(size)
    if len(body) < size:
        raise CutAnswer(f"the adb server's {what} was cut short: {len(body)} of the {size} bytes it announced "
                        f"arrived")
    return body.decode("utf-8", errors="replace")


def parse_server(value: str) -> ServerAddress:
    """`HOST:PORT`, `[IPv6]:PORT` or `PORT` as given to --adb-server."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = LOOPBACK, text
    host = host.strip("[]") or LOOPBACK
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ScannerError(
            f"--adb-server {value!r}: expected HOST:PORT (e.g. 127.0.0.1:5037) or a port number"
        )
    return ServerAddress(host, int(port_text), explicit=True)


def user_server() -> ServerAddress:
    """The server adb itself would use: 127.0.0.1 and $ANDROID_ADB_SERVER_PORT or 5037."""
    raw = os.environ.get("ANDROID_ADB_SERVER_PORT", "").strip()
    if not raw:
        return ServerAddress(LOOPBACK, DEFAULT_PORT, explicit=False)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ScannerError(
            f"ANDROID_ADB_SERVER_PORT={raw!r} is not a port number; fix or unset it (adb uses 5037 by default)"
        )
    return ServerAddress(LOOPBACK, int(raw), explicit=False)


class _Connection(AdbConnection):
    """An adbutils connection that fails instead of running `adb start-server`, closes without waiting, and
    tells its client when it is closed (the client keeps the open ones, to cut them at the deadline).

    It owns its socket: adbutils' own `close()` sleeps 10 ms after shutting the write side down (for a
    uiautomator2 connection left established, openatx/adbutils#154), which every connection of a scan
    paid (listing, features, each shell round trip). A connection here is closed when its answer has
    been read whole (or given up on), so nothing is left for the peer to flush: shut down, closed, at once.
    """

    owner: Client | None = None
    _socket: socket.socket | None = None

    def _safe_connect(self):
        self._socket = self._create_socket()
        return self._socket

    @property
    def conn(self) -> socket.socket:
        if self._socket is None:
            raise AdbError("Connection is closed")
        return self._socket

    @property
    def closed(self) -> bool:
        return self._socket is None

    def close(self) -> None:
        if self.owner is not None:
            self.owner.forget(self)
        sock, self._socket = self._socket, None
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already cut (abort) or reset by the peer
        sock.close()


class Client(AdbClient):
    """An AdbClient that never spawns a server, bounds every socket by a deadline, and can be aborted.

    adbutils builds every connection (host requests, transports, shells)
    through `make_connection`, so overriding it is enough to own them all.
    """

    def __init__(self, address: ServerAddress, deadline: float | None = None) -> None:
        super().__init__(host=address.host, port=address.port)
        self.address = address
        self.deadline = deadline
        self.aborted = False
        self._open: set[_Connection] = set()
        self._lock = threading.Lock()

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        limit = self._time_left(timeout)
        try:
            conn = _Connection(self.host, self.port)
        except TimeoutError as err:  # pragma: no cover - adbutils maps socket timeouts itself
            raise AdbTimeout("connect to adb server timeout") from err
        with self._lock:
            if self.aborted:
                conn.close()
                raise AdbTimeout("scan deadline reached")
            self._open.add(conn)
            conn.owner = self
        if limit is not None:
            conn.conn.settimeout(limit)
        return conn

    def _time_left(self, timeout: float | None) -> float | None:
        if self.aborted:
            raise AdbTimeout("scan deadline reached")
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AdbTimeout("scan deadline reached")
        return min(left, timeout) if timeout else left

    def forget(self, conn: _Connection) -> None:
        with self._lock:
            self._open.discard(conn)

    def abort(self) -> None:
        """Cut every open connection: the thread blocked on one gets an error at once."""
        with self._lock:
            self.aborted = True
            conns = list(self._open)
        for conn in conns:
            try:
                conn.conn.shutdown(socket.SHUT_RDWR)
            except (OSError, AdbError):
                pass

    def list(self, extended: bool = False) -> list[AdbDeviceInfo]:
        """`host:devices(-l)` as adbutils parses it, but refused when the answer is shorter than announced."""
        with self.make_connection() as c:
            c.send_command("host:devices-l" if extended else "host:devices")
            c.check_okay()
            text = read_block(c, "device list")
        infos = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            tags = dict(part.split(":", 1) for part in parts[2:] if ":" in part) if extended else {}
            infos.append(AdbDeviceInfo(serial=parts[0], state=parts[1], tags=tags))
        return infos

    def ping(self, timeout: float = 3.0) -> int:
        """The server's version; raises AdbError (or OSError) when nothing usable answers."""
        with self.make_connection(timeout=timeout) as c:
            c.send_command("host:version")
            c.check_okay()
            return int(c.read_string_block(), 16)


def reachable(address: ServerAddress, timeout: float = 3.0) -> tuple[bool, str | None]:
    """(a server answers, why not). Refused means nothing listens; other answers mean something else does."""
    try:
        Client(address).ping(timeout)
        return True, None
    except AdbConnectionError as err:
        return False, None if "refused" in str(err).lower() else str(err)
    except (AdbError, OSError, ValueError, EOFError) as err:
        from scanner.connectors.outage import why

        return False, why(err)  # in the tool's words, never the library's


def start_server(address: ServerAddress, wait: float = START_WAIT) -> StartedServer | None:
    """Start the bundled (or installed) adb as the user's server on `address.port`.

    `adb -P PORT server nodaemon`, in its own session so a Ctrl-C of the scan
    does not stop it, is the server process itself: its pid is the Popen's
    pid, which is what the caller reports and what tests stop. `adb
    start-server` would fork a daemon whose pid nobody learns.
    """
    if address.explicit or address.host != LOOPBACK:
        raise ServerUnavailable(f"not starting a server for {address}")  # never: only the user's own port
    try:
        adb = adb_path()
    except AdbError as err:
        raise ServerUnavailable(
            f"no adb server runs on {address} and no adb program was found to start one ({err}); install "
            f"Android platform-tools, or start adb yourself with adb -P {address.port} start-server"
        ) from err
    log_path = os.path.join(tempfile.gettempdir(), f"adb.{os.getuid()}.log")
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [adb, "-P", str(address.port), "server", "nodaemon"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            )
    except OSError as err:
        raise ServerUnavailable(
            f"no adb server runs on {address} and {adb} could not be started ({err.strerror or err}); start adb "
            f"yourself with adb -P {address.port} start-server"
        ) from err
    end = time.monotonic() + wait
    while time.monotonic() < end:
        ok, _ = reachable(address, timeout=1.0)
        if ok:
            if proc.poll() is None:
                return StartedServer(proc.pid, address.port, adb, log_path, proc)
            return None  # ours exited (port taken), but a server answers: someone else's; use it
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        why = f"it did not answer within {wait:g} s"
    else:
        why = f"it exited with status {proc.returncode}"
    raise ServerUnavailable(
        f"no adb server ran on {address}, and the one started with {adb} failed ({why}; see {log_path}); start "
        f"adb yourself with adb -P {address.port} start-server and run again"
    )
