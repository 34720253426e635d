"""The second half of a large fleet CSV, read by a second process (Half).

A lean read of a file on disk large enough to pay for it (SPLIT_BYTES) forks
a child that reads the file from the first line break after 45 % of it (the
split) for as long as its blocks are plain ones that plain.groups takes
whole, and leaves what they come to in a temporary file: groups of rows,
nothing decided. The reader reads the first half meanwhile; at the split, if
no record is open there, it takes the child's groups as it would have taken
those blocks itself (the same replay, so the same runs, results and line
numbers), and reads on from where the child stopped: the first block that is
not plain (a quote, a control character, a broken or cut line, bytes that
are not UTF-8, a row it would say anything about), or the end of the file as
it was when the child started. Anything else (no fork, a child that failed,
a record open across the split) and the reader reads on from the split
itself: the result is the same whichever way it goes, only slower.
"""

from __future__ import annotations

import csv
import io
import marshal
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.readers.fleet_csv.blocks import plain_lines
from scanner.connectors.files.readers.fleet_csv.plain import Group, Known, groups
from scanner.connectors.files.source import InputLines

#: Bytes after the header from which a lean read of a file is split in two (None: never). Below it the
#: fork and the hand-over cost about what the second process saves: bench/bench_files.py --threshold, 5 rounds,
#: split/one process 1.18 at 1 MB, 1.01 at 2 MB, 0.92 at 4 MB, 0.90 at 8 MB, 0.78 at 16 MB.
SPLIT_BYTES: int | None = 4 << 20

_BLOCK = 1 << 15  # bytes the child reads at a time, as blocks.py
_BATCH = 64  # blocks of groups the child writes at a time


class Half:
    """The child reading the second half: where it starts (`split`, a byte offset just after a line break),
    and once taken, how many lines it read (`lines`) and where the reader goes on (`resume`)."""

    def __init__(self, split: int, pid: int, spool: Any) -> None:
        self.split, self.pid, self.spool = split, pid, spool
        self.lines = 0
        self.resume = split

    def take(self) -> Iterator[Group]:
        """The child's groups, in order, once it has finished (none when it failed); `lines` and `resume`
        are set as they are given."""
        if not self._reaped():
            return
        self.spool.seek(0)
        while True:
            batch = marshal.load(self.spool)
            if batch is None:
                return
            found, lines, end = batch
            yield from found
            self.lines += lines
            self.resume = end

    def _reaped(self) -> bool:
        """Wait for the child; whether it finished its work."""
        pid, self.pid = self.pid, 0
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return False
        return os.waitstatus_to_exitcode(status) == 0

    def close(self) -> None:
        """Stop the child if it still runs (the reader stopped early, or went on from the split itself): by
        its id, and only while it is still this process's child, running (never an id reused since)."""
        pid, self.pid = self.pid, 0
        if pid:
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            except ChildProcessError:  # reaped already, by whoever reaps this process's children
                pass
        self.spool.close()


def start(src: InputLines, width: int, cols: tuple[int, int, int, int, int], wants: Any) -> Half | None:
    """Fork the child that reads the second half of `src`, or None when that does not pay or cannot be done:
    a stream that is not a file on disk, a file too small, a single CPU, a fork that failed."""
    limit = SPLIT_BYTES
    stream = src.stream
    if (limit is None or not isinstance(stream, io.BufferedReader) or not hasattr(os, "fork")
            or not hasattr(os, "pread") or _cpus() < 2 or threading.active_count() > 1):
        return None  # (no fork on Windows; a fork while other threads run may copy a lock one of them holds)
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
        here = stream.tell()
        if not stat.S_ISREG(info.st_mode) or info.st_size - here < max(limit, 2):
            return None
        size = info.st_size
        middle = split_near(here, size)
        cut = os.pread(fd, _BLOCK, middle).find(b"\n")
        if cut < 0:
            return None
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Half.close()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    split = middle + cut + 1
    try:
        pid = os.fork()
    except OSError:
        spool.close()
        return None
    if pid == 0:  # the child: never returns
        code = 1
        try:
            _read_half(fd, split, size, width, cols, Known(wants), spool)
            code = 0
        finally:
            os._exit(code)
    return Half(split, pid, spool)


def split_near(start: int, end: int) -> int:
    """Where to look for the split of the bytes start..end: the first line break from here on. Before the
    middle, since the reader also builds, matches and writes every device's result while the child only
    reads: at 45 % the child is done about when the reader reaches the split (1M rows, measured)."""
    return start + (end - start) * 9 // 20


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _read_half(fd: int, at: int, size: int, width: int, cols: tuple[int, int, int, int, int], known: Known,
               spool: Any) -> None:
    """The child's work: the groups of the plain blocks from byte `at` on, written in batches of (groups,
    lines, the byte after them), then None."""
    limit = csv.field_size_limit()
    batch: list[Group] = []
    lines_in = 0
    blocks = 0
    carry = b""
    while at < size:
        data = carry + os.pread(fd, min(_BLOCK, size - at - len(carry)), at + len(carry))
        if len(data) == len(carry):  # the file is shorter now than it was
            break
        cut = data.rfind(b"\n") + 1
        if not cut:
            carry = data  # a line longer than a block
            continue
        chunk, carry = data[:cut], data[cut:]
        lines = plain_lines(chunk, limit)
        found = groups(lines, width, cols, known) if lines is not None else None
        if found is None:
            break  # the reader reads on from here
        batch.extend(found)
        lines_in += len(lines)  # type: ignore[arg-type]
        at += cut
        blocks += 1
        if blocks % _BATCH == 0:
            marshal.dump((batch, lines_in, at), spool)
            batch, lines_in = [], 0
    marshal.dump((batch, lines_in, at), spool)
    marshal.dump(None, spool)
    spool.flush()
