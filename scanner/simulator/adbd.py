"""The adb transport protocol as a phone's adbd speaks it, on 127.0.0.1.

Why a fake adbd rather than a fake adb server: the real adb server in front
of it then supplies everything a scanner meets in the field (device states,
AUTH, the 10 s connect wait, reconnects, `devices -l` sanitising, error
strings, flow control), so the tests exercise the real thing. See
`/work/shared/research/android-adb.md` section 3 for the facts this follows.

This module knows the wire (CNXN, AUTH, OPEN/OKAY/WRTE/CLSE with one write
in flight per stream, shell v1 and shell v2 framing) and the /system/bin/sh
adbd hands a command line to (`run_script`: `;`, `&&`, `||`, quotes, `$?`,
redirections, echo/true/false/exit), and nothing about Android itself: what
`pm`, `getprop` and friends print comes from a `Device` (android.py).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["FORBIDDEN_PORTS", "Chunk", "Device", "FakeAdbd", "Output", "ShellOutput", "free_port", "run_script"]

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453

A_VERSION = 0x01000001  # "skip checksum" version, what adbd has answered since Android 9
MAX_PAYLOAD = 1024 * 1024

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

# Shell protocol v2 packet ids.
V2_STDIN, V2_STDOUT, V2_STDERR, V2_EXIT, V2_CLOSE_STDIN, V2_WINDOW = 0, 1, 2, 3, 4, 5

#: Ports the project never uses: the default adb server, and the range an adb
#: server scans for emulators when it starts (anything there becomes `emulator-N`).
FORBIDDEN_PORTS = frozenset({5037, *range(5554, 5586)})

#: How long a stream waits for the host's OKAY before it gives up: generous, the
#: machine may be loaded; the host never legitimately takes this long.
OKAY_TIMEOUT = 60.0


def free_port() -> int:
    """A free 127.0.0.1 TCP port outside FORBIDDEN_PORTS.

    The kernel picks (bind to port 0); a pick in a forbidden range is kept
    bound while picking again so the kernel cannot hand it out twice.
    """
    held: list[socket.socket] = []
    try:
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in FORBIDDEN_PORTS:
                s.close()
                return port
            held.append(s)
    finally:
        for s in held:
            s.close()


@dataclass(frozen=True)
class Chunk:
    """A piece of a command's output: fd 1 or 2, and whether a drop fault may cut it."""

    fd: int
    data: bytes
    droppable: bool = False  # part of a `pm list packages` answer


@dataclass
class ShellOutput:
    chunks: list[Chunk] = field(default_factory=list)
    code: int = 0
    hangup: bool = False  # the connection drops before any of the answer is sent (a removal's drop knob)


class Device(Protocol):
    """What the wire needs from an emulated phone (android.EmulatedAndroid)."""

    #: Faults the wire applies: never answer CNXN, never accept AUTH, pause, cut, CRLF.
    offline: bool
    unauthorized: bool
    delay: float
    drop_after_bytes: int
    crlf: bool

    def banner(self) -> bytes: ...

    def shell(self, command: str) -> ShellOutput: ...


class ProtocolError(Exception):
    pass


def _checksum(data: bytes) -> int:
    return sum(data) & 0xFFFFFFFF


def _pack(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", command, arg0, arg1, len(data), _checksum(data), command ^ 0xFFFFFFFF) + data


class _Stream:
    """One OPENed service; its worker thread writes, the connection's reader delivers OKAYs."""

    def __init__(self, local_id: int, remote_id: int):
        self.local_id = local_id
        self.remote_id = remote_id
        self.okay = threading.Event()
        self.closed = False  # the host sent CLSE


class _Connection:
    """One TCP connection from the adb server: the handshake, then streams."""

    def __init__(self, adbd: FakeAdbd, sock: socket.socket):
        self.adbd = adbd
        self.device = adbd.device
        self.sock = sock
        self.send_lock = threading.Lock()
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.online = False
        self.maxdata = 4096
        self.dead = threading.Event()

    # -- framing ---------------------------------------------------------------------------

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise EOFError("host closed the connection")
            buf += part
        return bytes(buf)

    def _read_message(self) -> tuple[int, int, int, bytes]:
        command, arg0, arg1, length, _check, magic = struct.unpack("<6I", self._recv_exact(24))
        if magic != command ^ 0xFFFFFFFF:
            raise ProtocolError(f"bad magic for command {command:#x}")
        if length > MAX_PAYLOAD:
            raise ProtocolError(f"payload of {length} bytes is over the limit")
        return command, arg0, arg1, self._recv_exact(length) if length else b""

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        with self.send_lock:
            self.sock.sendall(_pack(command, arg0, arg1, data))

    # -- the reader loop -------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.adbd.stopping.is_set():
                command, arg0, arg1, data = self._read_message()
                self._dispatch(command, arg0, arg1, data)
        except (OSError, EOFError, ProtocolError, struct.error):
            pass
        finally:
            self.close()

    def _dispatch(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.maxdata = max(256, min(arg1, MAX_PAYLOAD))
            if self.device.offline:
                return  # never answer: the server lists the device as offline
            if self.device.unauthorized:
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
                return
            self.online = True
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.device.banner())
        elif command == A_AUTH:
            # Only an unauthorized device ever sends a TOKEN. A signature can't be
            # checked (we keep no key list), so ask again, as a phone that does not
            # know the key does; the host then offers its public key and the
            # phone would show the "Allow USB debugging?" dialog, which nobody taps.
            if arg0 == AUTH_SIGNATURE:
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
        elif not self.online:
            return  # adbd ignores everything before the connection is up
        elif command == A_OPEN:
            self._open(arg0, data.rstrip(b"\0").decode("utf-8", "replace"))
        elif command == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.okay.set()
        elif command == A_WRTE:
            stream = self.streams.get(arg1)
            if stream is not None:  # stdin, or a v2 CLOSE_STDIN: acknowledge and drop
                self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.closed = True
                stream.okay.set()

    # -- services --------------------------------------------------------------------------

    def _open(self, remote_id: int, service: str) -> None:
        mode, command = _parse_service(service, shell_v2=not self.device.crlf)
        if mode is None:
            self.send(A_CLSE, 0, remote_id)  # refuse: the host reports "closed"
            return
        local_id = self.next_id
        self.next_id += 1
        stream = _Stream(local_id, remote_id)
        self.streams[local_id] = stream
        self.send(A_OKAY, local_id, remote_id)
        threading.Thread(
            target=self._serve, args=(stream, mode, command), name=f"adbd-{self.adbd.port}-{local_id}", daemon=True
        ).start()

    def _serve(self, stream: _Stream, mode: str, command: str) -> None:
        try:
            if self.device.delay and self.adbd.stopping.wait(self.device.delay):
                return
            output = self.device.shell(command)
            if output.hangup:
                self.close()
                return
            payload, cut = self._payload(output, mode)
            for start in range(0, len(payload), self.maxdata):
                if not self._write(stream, payload[start : start + self.maxdata]):
                    return
            if cut:
                self.close()  # the drop fault: the TCP connection ends mid-answer
                return
            self.streams.pop(stream.local_id, None)
            if not stream.closed:
                self.send(A_CLSE, stream.local_id, stream.remote_id)
        except OSError:
            self.close()

    def _payload(self, output: ShellOutput, mode: str) -> tuple[bytes, bool]:
        """The bytes of the stream, and whether the drop fault cut them short."""
        budget = self.device.drop_after_bytes
        out = bytearray()
        for chunk in output.chunks:
            if mode == "exec" and chunk.fd != 1:
                continue
            data = chunk.data
            if mode == "v1" and self.device.crlf:
                data = data.replace(b"\n", b"\r\n")  # a PTY's onlcr
            cut = chunk.droppable and 0 < budget < len(data)
            if mode == "v2":
                # The header promises the whole packet; a cut leaves the reader short.
                out += struct.pack("<BI", V2_STDOUT if chunk.fd == 1 else V2_STDERR, len(data))
            out += data[:budget] if cut else data
            if cut:
                return bytes(out), True
        if mode == "v2":
            out += struct.pack("<BIB", V2_EXIT, 1, output.code & 0xFF)
        return bytes(out), False

    def _write(self, stream: _Stream, data: bytes) -> bool:
        """One WRTE, then wait for the host's OKAY: one write in flight."""
        if stream.closed or self.dead.is_set():
            return False
        stream.okay.clear()
        self.send(A_WRTE, stream.local_id, stream.remote_id, data)
        waited = 0.0
        while not stream.okay.wait(0.25):
            waited += 0.25
            if self.dead.is_set() or self.adbd.stopping.is_set() or waited >= OKAY_TIMEOUT:
                return False
        return not stream.closed

    def close(self) -> None:
        if self.dead.is_set():
            return
        self.dead.set()
        for stream in list(self.streams.values()):
            stream.closed = True
            stream.okay.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.adbd._forget(self)


def _parse_service(service: str, *, shell_v2: bool) -> tuple[str | None, str]:
    """("v1" | "v2" | "exec" | None, command) for an OPEN's service string.

    `shell[,arg...]:cmd` with args v2, raw, pty, TERM=...; `exec:cmd`. An empty
    command is an interactive shell, which is not emulated; nor are sync,
    forwarding or abb (none is advertised, so clients do not ask).
    """
    name, sep, command = service.partition(":")
    if not sep:
        return None, ""
    if name == "exec":
        return "exec", command
    parts = name.split(",")
    if parts[0] != "shell" or not command:
        return None, ""
    if "v2" in parts[1:]:
        return ("v2" if shell_v2 else None), command
    return "v1", command


class FakeAdbd:
    """A phone's adbd listening on a free 127.0.0.1 port, served by threads of this process."""

    def __init__(self, device: Device, port: int | None = None):
        self.device = device
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if port is None:
            port = free_port()
        elif port in FORBIDDEN_PORTS:
            raise ValueError(f"port {port} is reserved for adb (5037, 5554-5585)")
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name=f"adbd-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self.stopping.is_set():
                sock.close()
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=conn.run, name=f"adbd-{self.port}-conn", daemon=True).start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)

    def authorize(self) -> None:
        """The person taps "Allow" on the "Allow USB debugging?" dialog: from now on the phone is
        authorized, and every connection waiting in AUTH gets the CNXN a real adbd then sends."""
        self.device.unauthorized = False
        with self._lock:
            waiting = [c for c in self._connections if not c.online]
        for conn in waiting:
            conn.online = True
            try:
                conn.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.device.banner())
            except OSError:
                pass  # that connection is going away; the server's reconnect is authorized now

    @property
    def connections(self) -> int:
        """Open connections from the host (0 after a drop until the server reconnects)."""
        with self._lock:
            return len(self._connections)

    def close(self) -> None:
        """Stop listening and end every connection; idempotent.

        shutdown() before close(): a thread blocked in accept() on a merely
        closed socket keeps accepting.
        """
        if self.stopping.is_set():
            return
        self.stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.close()
        self._thread.join(timeout=5)


class Output:
    """What one command prints, as chunks in order (stdout, stderr)."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.hangup = False  # the command drops the connection: nothing of the script's answer is sent

    def out(self, text: str, droppable: bool = False) -> None:
        if text:
            self.chunks.append(Chunk(1, text.encode(), droppable))

    def err(self, text: str) -> None:
        if text:
            self.chunks.append(Chunk(2, text.encode()))


# ---------------------------------------------------------------------------------------------
# The emulated /system/bin/sh: just enough of mksh for one-line scripts
# ---------------------------------------------------------------------------------------------

_STATUS = "\x00?"  # stands for `$?` until the command runs (NUL cannot occur in a service string)
_OPERATORS = (";", "&&", "||", "\n", "|", "&")


@dataclass
class _Simple:
    words: list[str]
    redirects: list[tuple[int, str]]  # (fd, "&N" or a path)
    op: str  # the operator after it


class _SyntaxError(Exception):
    pass


def _tokenize(script: str) -> list[_Simple]:
    """Split a script into simple commands, keeping `$?` for run time."""
    commands: list[_Simple] = []
    words: list[str] = []
    redirects: list[tuple[int, str]] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(script)

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            words.append("".join(word))
            word.clear()
            in_word = False

    def read_var(j: int) -> tuple[str, int]:
        """Expand `$...` at script[j] == '$'; returns (text, next index)."""
        if j + 1 < n and script[j + 1] == "?":
            return _STATUS, j + 2
        if j + 1 < n and script[j + 1] == "{":
            close = script.find("}", j + 2)
            if close < 0:
                raise _SyntaxError("${: bad substitution")
            return "", close + 1
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(script, j + 1)
        if m:
            return "", m.end()  # unset variables expand to nothing
        return "$", j + 1

    while i < n:
        c = script[i]
        if c in " \t":
            end_word()
            i += 1
        elif c == "'":
            close = script.find("'", i + 1)
            if close < 0:
                raise _SyntaxError("no closing quote")
            word.append(script[i + 1 : close])
            in_word = True
            i = close + 1
        elif c == '"':
            in_word = True
            i += 1
            while True:
                if i >= n:
                    raise _SyntaxError("no closing quote")
                c = script[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
                    word.append(script[i + 1])
                    i += 2
                elif c == "$":
                    text, i = read_var(i)
                    word.append(text)
                else:
                    word.append(c)
                    i += 1
        elif c == "\\":
            if i + 1 < n:
                word.append(script[i + 1])
                in_word = True
            i += 2
        elif c == "$":
            text, i = read_var(i)
            word.append(text)
            in_word = True
        elif c == "#" and not in_word:
            nl = script.find("\n", i)
            i = n if nl < 0 else nl
        elif c in "><":
            fd = 1 if c == ">" else 0
            if in_word and "".join(word).isdigit():
                fd = int("".join(word))
                word.clear()
                in_word = False
            else:
                end_word()
            i += 1
            if i < n and script[i] == ">":
                i += 1
            if i < n and script[i] == "&":
                m = re.compile(r"&(\d|-)").match(script, i)
                if not m:
                    raise _SyntaxError("bad redirection")
                redirects.append((fd, m.group(0)))
                i = m.end()
                continue
            while i < n and script[i] in " \t":
                i += 1
            m = re.compile(r"[^\s;&|<>]+").match(script, i)
            if not m:
                raise _SyntaxError("syntax error: newline unexpected")
            redirects.append((fd, m.group(0)))
            i = m.end()
        else:
            op = next((o for o in ("&&", "||") if script.startswith(o, i)), c if c in _OPERATORS else None)
            if op is None:
                word.append(c)
                in_word = True
                i += 1
                continue
            end_word()
            if not words and not redirects:
                if op != "\n":
                    raise _SyntaxError(f"syntax error: '{op}' unexpected")
            else:
                commands.append(_Simple(words[:], redirects[:], op))
                words.clear()
                redirects.clear()
            i += len(op)
    end_word()
    if words or redirects:
        commands.append(_Simple(words[:], redirects[:], ";"))
    elif commands and commands[-1].op in ("&&", "||", "|"):
        raise _SyntaxError("syntax error: unexpected end of file")
    return commands


def run_script(script: str, command: Callable[[list[str], Output], int]) -> ShellOutput:
    """Run a one-line sh script: builtins here, everything else through `command`."""
    result = ShellOutput()
    try:
        commands = _tokenize(script)
    except _SyntaxError as err:
        result.chunks.append(Chunk(2, f"/system/bin/sh: {err}\n".encode()))
        result.code = 1 if "quote" not in str(err) else 2
        return result
    status = 0
    run = True
    for simple in commands:
        if not run:
            # and-or lists: a skipped command leaves $? as it was
            run = simple.op in (";", "\n", "&") or (simple.op == "&&") == (status == 0)
            continue
        if simple.op == "|":
            result.chunks.append(Chunk(2, b"/system/bin/sh: pipes are not emulated\n"))
            status = 2
            break
        argv = [w.replace(_STATUS, str(status)) for w in simple.words]
        out = Output()
        fds: dict[int, int | None] = {1: 1, 2: 2}
        bad = None
        for fd, target in simple.redirects:
            if target.startswith("&"):
                fds[fd] = None if target == "&-" else fds.get(int(target[1:]), int(target[1:]))
            elif target == "/dev/null":
                fds[fd] = None
            elif fd == 0:
                bad = f"/system/bin/sh: can't open {target}: No such file or directory\n"
            else:
                bad = f"/system/bin/sh: can't create {target}: Read-only file system\n"
        if bad:
            out.err(bad)
            code = 1
        elif not argv:
            code = 0
        else:
            code = _builtin(argv, out, status)
            if code is None:
                code = command(argv, out)
                if out.hangup:
                    result.hangup = True
                    return result
            elif code < 0:  # exit
                for chunk in out.chunks:
                    result.chunks.append(chunk)
                status = -code - 1
                break
        for chunk in out.chunks:
            fd = chunk.fd if bad else fds.get(chunk.fd, chunk.fd)
            if fd is not None:
                result.chunks.append(Chunk(fd, chunk.data, chunk.droppable))
        status = code
        run = simple.op in (";", "\n", "&") or (simple.op == "&&") == (status == 0)
    result.code = status
    return result


def _builtin(argv: list[str], out: Output, status: int) -> int | None:
    """echo, true, false, exit; None if argv is not a builtin. exit N returns -(N+1)."""
    name = argv[0]
    if name == "echo":
        args = argv[1:]
        newline = True
        if args[:1] == ["-n"]:
            newline, args = False, args[1:]
        out.out(" ".join(args) + ("\n" if newline else ""))
        return 0
    if name in ("true", ":"):
        return 0
    if name == "false":
        return 1
    if name == "exit":
        try:
            code = int(argv[1]) & 0xFF if len(argv) > 1 else status
        except ValueError:
            out.err(f"/system/bin/sh: exit: {argv[1]}: bad number\n")
            code = 1
        return -(code + 1)
    return None
