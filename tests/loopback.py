"""What the tests' relays and fake servers on 127.0.0.1 share: a listening
socket on a free loopback port, a thread per connection, byte copying, and
closing every socket they were handed.
"""

from __future__ import annotations

import socket
import threading


class LoopbackServer:
    """Listens on a free port of 127.0.0.1 and hands each connection to
    `serve` in a daemon thread of its own; `close()` closes the listener and
    every socket given to `keep`."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self._kept: list[socket.socket] = []
        self._kept_lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.keep(client)
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def keep(self, *sockets: socket.socket) -> None:
        with self._kept_lock:
            self._kept.extend(sockets)

    def close(self) -> None:
        self.server.close()
        with self._kept_lock:
            for s in self._kept:
                s.close()


def pump(src: socket.socket, dst: socket.socket, record: bytearray | None = None) -> None:
    """Copy `src` to `dst` until either end goes, keeping a copy in `record`; then shut both down."""
    try:
        while data := src.recv(65536):
            if record is not None:
                record += data
            dst.sendall(data)
    except OSError:
        pass
    finally:
        shut(src, dst)


def shut(*sockets: socket.socket) -> None:
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """`n` bytes, or fewer when the peer closed first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
