"""The live progress display: drawn only on a terminal, in place, erased before the report."""

from __future__ import annotations

import io
import os
import threading

import pytest

from scanner.terminal.progress import ProgressDisplay, progress_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def display(columns: int = 80, lines: int = 24) -> tuple[ProgressDisplay, Terminal, Clock]:
    term, clock = Terminal(), Clock()
    shown = ProgressDisplay(term, clock=clock, size=lambda: os.terminal_size((columns, lines)), tick=3600)
    return shown, term, clock


def test_only_a_terminal_gets_a_display(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert progress_for(io.StringIO()) is None  # a pipe or a file: nothing extra
    assert progress_for(None) is None
    assert progress_for(Terminal(), quiet=True) is None
    assert isinstance(progress_for(Terminal()), ProgressDisplay)
    monkeypatch.setenv("TERM", "dumb")  # cannot move the cursor
    assert progress_for(Terminal()) is None

    class Closed(Terminal):
        def isatty(self) -> bool:
            raise ValueError("I/O operation on closed file")

    monkeypatch.setenv("TERM", "xterm")
    assert progress_for(Closed()) is None


def test_a_line_per_device_with_state_time_and_app_count():
    shown, term, clock = display()
    shown("android", "R5CT123", "waiting", None)
    shown("ios", "00008110-00125C963A91801E", "waiting", None)
    clock.now += 1
    shown("android", "R5CT123", "reading", None)
    clock.now += 2.5
    shown("android", "R5CT123", "done", 412)
    shown("ios", "00008110-00125C963A91801E", "failed", None)
    lines = shown.lines()
    assert len(lines) == 2
    assert lines[0].split() == ["android", "R5CT123", "done", "2.5s", "412", "apps"]  # the read is timed, not the wait
    assert lines[1].split()[:3] == ["ios", "00008110-00125C963A91801E", "failed"]
    # redrawn in place: each redraw moves up over the previous block and clears it
    assert term.getvalue().count("\x1b[2F\x1b[J") >= 3
    shown.close()
    assert term.getvalue().endswith("\x1b[2F\x1b[J")  # erased: the report follows on a clean screen
    shown("android", "R5CT123", "reading", None)  # late calls after close draw nothing
    assert term.getvalue().endswith("\x1b[2F\x1b[J")


def test_notes_go_above_the_live_lines():
    shown, term, _ = display()
    shown("android", "A1", "reading", None)
    shown.note("scanner: started an adb server")
    text = term.getvalue()
    note_at = text.index("scanner: started an adb server\n")
    assert text[:note_at].endswith("\x1b[1F\x1b[J")  # the block was erased first
    assert text[note_at:].count("A1") == 1  # and drawn again below the note
    shown.close()


def test_hostile_serials_are_escaped_and_lines_never_wrap():
    shown, _, _ = display(columns=40)
    shown("android", "EVIL\x1b[2J\x1b[31m\rserial-that-is-very-long-indeed", "reading", None)
    (line,) = shown.lines()
    assert "\x1b" not in line and "\r" not in line
    assert "\\x1b" in line
    assert len(line) <= 39
    shown.close()


def test_more_devices_than_rows_fold_the_finished_ones():
    shown, _, _ = display(lines=8)
    for n in range(30):
        shown("android", f"PHONE{n:02}", "waiting", None)
    for n in range(20):
        shown("android", f"PHONE{n:02}", "done", 100)
    shown("android", "PHONE20", "failed", None)
    lines = shown.lines()
    assert len(lines) <= 6  # never taller than the terminal: the block can always be redrawn in place
    assert lines[0].startswith("30 devices: 20 done, 1 failed, 9 in progress")
    assert "not shown" in lines[0]
    assert all("waiting" in line for line in lines[1:])
    shown.close()


def test_a_closed_terminal_turns_progress_off_instead_of_failing():
    class Gone(Terminal):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    shown = ProgressDisplay(Gone(), size=lambda: os.terminal_size((80, 24)), tick=3600)
    shown("ios", "U1", "reading", None)  # no exception
    shown.note("a note")
    shown.close()


def test_calls_from_many_threads_never_tear_a_line():
    shown, term, _ = display(lines=100)

    def device(n: int) -> None:
        for state in ("waiting", "reading", "done"):
            shown("android", f"P{n}", state, 10 if state == "done" else None)

    threads = [threading.Thread(target=device, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(line.split()[1] for line in shown.lines()) == sorted(f"P{n}" for n in range(16))
    assert all(line.split()[2] == "done" for line in shown.lines())
    shown.close()
    # every write was a whole block: after the last erase nothing is left on screen
    assert term.getvalue().endswith("\x1b[J")


@pytest.mark.parametrize("state", ["waiting", "reading"])
def test_the_ticker_keeps_time_moving_while_a_device_is_slow(state):
    term = Terminal()
    clock = Clock()
    shown = ProgressDisplay(term, clock=clock, size=lambda: os.terminal_size((80, 24)), tick=0.01)
    shown("ios", "SLOW", state, None)
    before = term.getvalue().count("SLOW")
    clock.now += 7
    deadline = threading.Event()
    for _ in range(500):  # wait (bounded) for the ticker to redraw with the new time
        if "7.0s" in term.getvalue():
            break
        deadline.wait(0.01)
    shown.close()
    assert term.getvalue().count("SLOW") > before
    assert "7.0s" in term.getvalue()
