"""A `scanner simulate` process run from the tests, and how to tell whether what it started is still running.

Shared by the tests of `simulate` (tests/cli/test_simulate.py) and of what it
must leave behind when it stops or dies (tests/test_no_adb_server_left_behind.py);
`free_port` is for any test that needs an address nothing listens on.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def client_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A client environment that can never reach a real adb server or usbmuxd of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_", "USBMUXD_"))}
    env["HOME"] = str(tmp_path / "home")
    env["ANDROID_ADB_SERVER_PORT"] = str(free_port())  # nobody listens there
    env["USBMUXD_SOCKET_ADDRESS"] = f"127.0.0.1:{free_port()}"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(")", 1)[1].split()[0] == "Z"


class Served:
    """A `scanner simulate` process: its exports, its lines, and a way to talk to it."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "scanner", "simulate", *args], env=env, cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        self._err = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True)
        self._err.start()
        self.exports: dict[str, str] = {}
        self.head: list[str] = []
        while True:
            line = self.next_line()
            self.head.append(line)
            if line == "ready":
                break
            assert line.startswith("export "), f"before ready, only export lines: {self.head}"
            name, _, value = line[len("export "):].partition("=")
            self.exports[name] = value

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def next_line(self, timeout: float = 60) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            pytest.fail(f"simulate said nothing for {timeout} s; stderr: {self.stderr}")
        if line is None:
            self.proc.wait(10)
            pytest.fail(f"simulate ended (exit {self.proc.returncode}); stderr: {self.stderr}")
        return line

    def command(self, text: str) -> list[str]:
        """Send one command; the answer lines up to the final `ok...` or `error:` one."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = [self.next_line()]
        if text == "list":
            while answer[-1] != "ok":
                answer.append(self.next_line())
        return answer

    def error_text(self) -> str:
        """Everything simulate wrote on stderr (call once it has ended)."""
        self._err.join(30)
        return "\n".join(line for line in self.stderr if line is not None)

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
