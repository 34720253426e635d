"""Live progress on a terminal: one line per device, redrawn in place on stderr.

An admin scanning a hub of phones wants to see which device is still being
read and which one is waiting on a Trust dialog; a script wants none of it.
So progress is drawn only when stderr is a terminal (and not with --quiet),
never on stdout (which carries the report, maybe JSON), and it is erased
before the report is written, so what stays on the screen is the report.

The connectors call the display from their own threads (Progress in
scanner/connectors/base.py): every drawing happens under one lock. Notes
(`note()`) are printed above the live lines so they do not tear them.
Device serials are untrusted text and go through `safe()`.

When there are more devices than the terminal has rows, the finished ones are
folded into one summary line, so the block never scrolls (a block that
scrolls cannot be redrawn in place).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from typing import Callable, Iterator, TextIO

from scanner.terminal.layout import clip, cols
from scanner.terminal.text import safe

__all__ = ["ProgressDisplay", "progress_for"]

_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # to the start of the line n lines up, then clear to the end of the screen
_TICK = 0.5  # seconds between redraws while nothing changes (the elapsed time moves on)
_WORD = {"waiting": "waiting", "reading": "reading", "done": "done", "failed": "failed"}


def progress_for(stream: TextIO | None, *, quiet: bool = False) -> ProgressDisplay | None:
    """A display on `stream` when it is a terminal and progress is wanted; otherwise None.

    Not a terminal (a pipe, a file, an MDM agent's log), `--quiet`, or
    TERM=dumb (no cursor movement): nothing extra is written at all.
    """
    if quiet or stream is None or os.environ.get("TERM") == "dumb":
        return None
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    return ProgressDisplay(stream)


class ProgressDisplay:
    """Callable as a connector Progress: (platform, serial, state, apps)."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic,
                 size: Callable[[], os.terminal_size] = shutil.get_terminal_size, tick: float = _TICK) -> None:
        self._stream = stream
        self._clock = clock
        self._size = size
        self._tick = tick
        self._lock = threading.RLock()
        # (platform, serial) -> [state, apps, started, finished]; insertion order = discovery order
        self._devices: dict[tuple[str, str], list] = {}
        self._names: dict[tuple[str, str], str] = {}  # (platform, serial) -> model and hardware serial
        self._drawn = 0  # lines of the block now on the screen
        self._closed = False
        self._started = clock()
        self._wake = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- what connectors and the CLI call ------------------------------------------------------

    def __call__(self, platform: str, serial: str, state: str, apps: int | None = None) -> None:
        with self._lock:
            if self._closed:
                return
            now = self._clock()
            entry = self._devices.get((platform, serial))
            if entry is None:
                entry = self._devices[(platform, serial)] = [state, apps, now, None]
            if state == "reading" and entry[0] != "reading":
                entry[2] = now  # time the read, not the wait
            entry[0], entry[1] = state, apps
            entry[3] = now if state in ("done", "failed") else None
            self._redraw()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick_loop, name="progress", daemon=True)
                self._ticker.start()

    def name(self, platform: str, serial: str, label: str) -> None:
        """Who the device behind the transport `serial` is ("SM-S911B SIMGALAXYS23B"), once a connector knows:
        its line then names it as the report will, with the transport beside it where it differs."""
        with self._lock:
            self._names[(platform, serial)] = label
            if not self._closed and (platform, serial) in self._devices:
                self._redraw()

    def note(self, text: str) -> None:
        """A line for the person (already made safe by the caller), printed above the live lines."""
        with self._lock:
            self._erase()
            self._write(text.rstrip("\n") + "\n")
            if not self._closed:
                self._redraw()

    def forget(self, platform: str, serial: str) -> None:
        """Drop a device's line (`watch` prints its verdict instead)."""
        with self._lock:
            if self._devices.pop((platform, serial), None) is not None and not self._closed:
                self._redraw()

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Erase the block while the caller writes to the terminal (stdout too), then draw it again."""
        with self._lock:
            self._erase()
            try:
                yield
            finally:
                if not self._closed:
                    self._redraw()

    def close(self) -> None:
        """Erase the block: what stays on the screen is the report. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._erase()
        self._wake.set()
        ticker = self._ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(2)

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- drawing -------------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._wake.wait(self._tick):
            with self._lock:
                if self._closed:
                    return
                if any(e[0] in ("waiting", "reading") for e in self._devices.values()):
                    self._redraw()

    def lines(self) -> list[str]:
        """The block as it would be drawn now (without cursor movement)."""
        with self._lock:
            size = self._size()
            width = max(20, size.columns - 1)  # never wrap: a wrapped line breaks the redraw
            room = max(3, size.lines - 2)
            now = self._clock()
            rows = list(self._devices.items())
            if len(rows) > room:
                active = [(k, e) for k, e in rows if e[0] in ("waiting", "reading")]
                finished = [e for _, e in rows if e[0] in ("done", "failed")]
                shown = active[: room - 1]
                head = (f"{len(rows)} devices: {sum(e[0] == 'done' for e in finished)} done, "
                        f"{sum(e[0] == 'failed' for e in finished)} failed, {len(active)} in progress")
                if len(active) > len(shown):
                    head += f" ({len(active) - len(shown)} not shown)"
                out = [head]
                rows = shown
            else:
                out = []
            shown_as = {k: self._shown_as(*k) for k, _ in rows}
            serial_width = min(60, max((cols(v) for v in shown_as.values()), default=0))
            for (platform, serial), (state, apps, started, finished_at) in rows:
                elapsed = (finished_at or now) - started
                detail = ""
                if state == "done":
                    detail = f"{apps} apps" if apps is not None else ""
                elif state == "failed":
                    detail = "see the report"
                who = shown_as[(platform, serial)]
                line = (f"  {platform:<7} {who}{' ' * max(0, serial_width - cols(who))}  "
                        f"{_WORD.get(state, safe(state)):<7} {elapsed:5.1f}s  {detail}").rstrip()
                out.append(line)
            return [clip(line, width) for line in out]  # by display width: a CJK serial takes two a character

    def _shown_as(self, platform: str, serial: str) -> str:
        label = self._names.get((platform, serial))
        if not label:
            return safe(serial, limit=28)
        shown = safe(label, limit=40)
        return shown if serial in label.split() else f"{shown} (via {safe(serial, limit=28)})"

    def _redraw(self) -> None:
        block = self.lines()
        erase = _UP_AND_CLEAR.format(n=self._drawn) if self._drawn else ""
        self._drawn = 0
        self._write(erase + "".join(line + "\n" for line in block))  # one write: no flicker
        self._drawn = len(block)

    def _erase(self) -> None:
        if self._drawn:
            self._write(_UP_AND_CLEAR.format(n=self._drawn))
            self._drawn = 0

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed terminal: progress is not worth a crash
            self._closed = True
