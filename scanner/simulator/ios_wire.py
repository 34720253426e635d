"""Framing shared by the emulated usbmuxd, lockdownd and installation_proxy.

Blocking sockets on purpose: lockdownd upgrades to TLS in the middle of a
connection, and a reader that never reads past the frame it needs leaves the
client's ClientHello for the TLS layer (asyncio streams would buffer it away).
"""

from __future__ import annotations

import plistlib
import socket
import struct
import threading
from typing import Any

__all__ = ["MAX_FRAME", "Link", "read_mux", "read_plist", "recv_exact", "write_mux", "write_plist"]

MAX_FRAME = 16 * 1024 * 1024
MUX_HEADER = struct.Struct("<IIII")  # length (with header), version, message, tag
MUX_PLIST_VERSION = 1
MUX_PLIST_MESSAGE = 8


class Link:
    """One client connection. `sock` is replaced when TLS starts or stops on it.

    `abort()` may be called from any thread (stop, detach): it shuts the
    socket down under whatever is blocked reading it.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.write_lock = threading.Lock()
        self._closed = False

    def abort(self) -> None:
        try:
            # The base-class shutdown, so that an SSLSocket is cut without touching its TLS state.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.abort()
        try:
            self.sock.close()
        except OSError:
            pass

    def stall(self) -> None:
        """Keep the connection open, answering nothing, until the client or the simulator closes it."""
        try:
            while self.sock.recv(4096):
                pass
        except (OSError, ValueError):
            pass


def recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Exactly `size` bytes, or None if the peer closed before the first byte."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            if got == 0:
                return None
            raise ConnectionError("peer closed in the middle of a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_plist(sock: socket.socket) -> dict[str, Any] | None:
    """One big-endian length-prefixed plist (lockdownd and its services), None at end of stream."""
    header = recv_exact(sock, 4)
    if header is None:
        return None
    (size,) = struct.unpack(">I", header)
    if size > MAX_FRAME:
        raise ConnectionError(f"frame of {size} bytes")
    body = recv_exact(sock, size) if size else b""
    if body is None:
        raise ConnectionError("peer closed after a frame header")
    value = plistlib.loads(body) if body else {}
    return value if isinstance(value, dict) else {}


def write_plist(sock: socket.socket, value: dict[str, Any]) -> None:
    payload = plistlib.dumps(value)
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def read_mux(sock: socket.socket) -> tuple[int, int, int, bytes] | None:
    """One usbmuxd packet: (version, message, tag, payload), None at end of stream."""
    header = recv_exact(sock, MUX_HEADER.size)
    if header is None:
        return None
    length, version, message, tag = MUX_HEADER.unpack(header)
    if length < MUX_HEADER.size or length > MAX_FRAME:
        raise ConnectionError(f"usbmuxd packet of {length} bytes")
    payload = recv_exact(sock, length - MUX_HEADER.size) if length > MUX_HEADER.size else b""
    if payload is None:
        raise ConnectionError("peer closed after a usbmuxd header")
    return version, message, tag, payload


def write_mux(sock: socket.socket, tag: int, value: dict[str, Any]) -> None:
    payload = plistlib.dumps(value)
    sock.sendall(MUX_HEADER.pack(MUX_HEADER.size + len(payload), MUX_PLIST_VERSION, MUX_PLIST_MESSAGE, tag) + payload)
