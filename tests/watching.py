"""A `scanner watch` run as its own process by the tests, and what they wait with.

Shared by the tests of watch (tests/test_watch_engine.py, tests/test_watch_verdicts.py)
and of what it must leave behind (tests/test_no_adb_server_left_behind.py). A module
that requests the `watches` fixture imports `fixture_watches`, under which it is
defined so that the test's argument does not shadow it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from served import free_port

from scanner.simulator.fleet import Fleet


class Watch:
    """A running `scanner watch`: its verdict lines (stdout) and notes (stderr), read as they come."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_", "USBMUXD_"))}
        full.update({"HOME": str(cwd), "PYTHONIOENCODING": "utf-8"}, **env)
        self.proc = subprocess.Popen([sys.executable, "-m", "scanner", "watch", *args], env=full, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        self.notes: list[str] = []
        self.verdicts: list[str] = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q: queue.Queue) -> None:
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    def verdict(self, serial: str, timeout: float = 60) -> str:
        """The next verdict line, which must be about `serial`."""
        return self.verdicts_for({serial}, timeout)[serial]

    def verdicts_for(self, serials: set[str], timeout: float = 60) -> dict[str, str]:
        found: dict[str, str] = {}
        while set(found) != serials:
            line = self._next(self.out, timeout, lambda: f"verdicts seen {sorted(found)}, wanted {sorted(serials)}; "
                                                         f"notes: {self.drain_notes()}")
            self.verdicts.append(line)
            serial = line.split()[2]
            assert serial in serials and serial not in found, line
            found[serial] = line
        return found

    def note(self, text: str, timeout: float = 60) -> str:
        """Wait for a note containing `text`."""
        while True:
            line = self._next(self.err, timeout, lambda: f"no note with {text!r}; notes: {self.notes}")
            self.notes.append(line)
            if text in line:
                return line

    @staticmethod
    def _next(q: queue.Queue, timeout: float, missing: Callable[[], str]) -> str:
        """The next line of a stream; fails the test (saying `missing()`) if none comes or the stream ended."""
        try:
            line = q.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(missing())
        if line is None:
            pytest.fail(f"watch ended; {missing()}")
        return line

    def drain_notes(self) -> list[str]:
        while True:
            try:
                line = self.err.get_nowait()
            except queue.Empty:
                return self.notes
            if line is not None:
                self.notes.append(line)

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
        while True:  # everything it wrote, up to the end of its stderr
            line = self.err.get(timeout=10)
            if line is None:
                break
            self.notes.append(line)
        return code


@pytest.fixture(name="watches")
def fixture_watches(tmp_path):
    started: list[Watch] = []

    def start(env: dict[str, str], *args: str) -> Watch:
        w = Watch(env, tmp_path, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)


def android_only(fleet: Fleet) -> dict[str, str]:
    return {**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"}


def wait_for(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
