"""The second half of a large fleet CSV, read by a second process (Half).

A lean read of a file on disk large enough to pay for it (SPLIT_BYTES) forks
a child that reads the file from the first line break after a point before
its middle (the split) for as long as its blocks are plain ones that
plain.groups takes whole, and hands what they come to over in batches
(groups of rows, nothing decided) through a temporary file and a pipe. The
reader reads the first part meanwhile; at the split, if no record is open
there, it takes the child's groups as it would have taken those blocks
itself (the same replay, so the same runs, results and line numbers), batch
by batch as the child hands them over, and reads on from where the child
stopped: the first block that is not plain (a quote that opens a record of
several lines, a control character, a broken or cut line, bytes that are not
UTF-8, a row it would say anything about), the end of the file as it was
when the child started, or the end of the last batch of a child that died.
No fork, a record open across the split: the reader reads on from the split
itself. The result is the same whichever way it goes, only slower.

SCANNER_PROCESSES=1 in the environment keeps every read in the one process (for
a program that must not fork, or a machine whose other work needs the core).
"""
from __future__ import annotations

import csv
import io
import marshal
import os
import signal
import stat
import struct
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
ENV_ONE = "SCANNER_PROCESSES"  # "1": never fork a second reader

_BLOCK = 1 << 15  # bytes the child reads at a time, as blocks.py
_BATCH = 16  # blocks of groups the child hands over at a time
_SIZE = struct.Struct("<Q")  # the length of a batch, told through the pipe; 0: the child is done


class Half:
    """The child reading the second half: where it starts (`split`, a byte offset just after a line break),
    and once taken, how many lines it read (`lines`) and where the reader goes on (`resume`).

    The child writes each batch of groups to the spool, then tells its length through a pipe: the reader
    takes each batch as soon as it is told of it (while the child reads on), and a child that dies leaves
    the reader the batches it finished."""

    def __init__(self, split: int, pid: int, spool: Any, told: int) -> None:
        self.split, self.pid, self.spool, self.told = split, pid, spool, told
        self.lines = 0
        self.resume = split

    def take(self) -> Iterator[Group]:
        """The child's groups, in order, as it hands them over; `lines` and `resume` are set as they are
        given."""
        at = 0
        fd = self.spool.fileno()
        while True:
            size = self._told()
            if not size:
                return  # done (0), or the child died (None): the reader reads on from `resume`
            data = os.pread(fd, size, at)  # never the file's own offset: the child writes at it
            at += size
            found, lines, end = marshal.loads(data)
            yield from found
            self.lines += lines
            self.resume = end

    def _told(self) -> int | None:
        """The length of the next batch, 0 when the child is done, None when it ended without saying so."""
        got = b""
        while len(got) < _SIZE.size:
            more = os.read(self.told, _SIZE.size - len(got))
            if not more:
                return None
            got += more
        return int(_SIZE.unpack(got)[0])

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
        os.close(self.told)
        self.spool.close()


def start(src: InputLines, width: int, cols: tuple[int, int, int, int, int], wants: Any) -> Half | None:
    """Fork the child that reads the second half of `src`, or None when that does not pay or cannot be done:
    a stream that is not a file on disk, a file too small, a single CPU, a fork that failed."""
    limit = SPLIT_BYTES
    stream = src.stream
    if (limit is None or not isinstance(stream, io.BufferedReader) or not hasattr(os, "fork")
            or not hasattr(os, "pread") or os.environ.get(ENV_ONE, "").strip() == "1" or _cpus() < 2
            or not _alone()):
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
        told, tell = os.pipe()
    except OSError:
        spool.close()
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(told)
        os.close(tell)
        spool.close()
        return None
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(told)
            _read_half(fd, split, size, width, cols, Known(wants), spool, tell)
            code = 0
        finally:
            os._exit(code)
    os.close(tell)  # the child's: the pipe ends when the child does
    return Half(split, pid, spool, told)


def split_near(start: int, end: int) -> int:
    """Where to look for the split of the bytes start..end: the first line break from here on. Well before
    the middle, since the reader also builds, matches and writes every device's result while the child only
    reads (1M rows, in-process, 3 rounds: 0.71-0.74 s at 30 %, 0.65-0.70 at 35 %, 0.67-0.71 at 40 %,
    0.69-0.73 at 45 %)."""
    return start + (end - start) * 7 // 20


def _alone() -> bool:
    """Whether this is the process's only thread."""
    return threading.active_count() == 1


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _read_half(fd: int, at: int, size: int, width: int, cols: tuple[int, int, int, int, int], known: Known,
               spool: Any, tell: int) -> None:
    """The child's work: the groups of the plain blocks from byte `at` on, written to `spool` in batches of
    (groups, lines, the byte after them), the length of each told on `tell` once written, then 0."""
    limit = csv.field_size_limit()
    batch: list[Group] = []
    lines_in = 0
    blocks = 0
    carry = b""

    def hand_over() -> None:
        data = marshal.dumps((batch, lines_in, at))
        spool.write(data)
        spool.flush()
        os.write(tell, _SIZE.pack(len(data)))

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
            hand_over()
            batch, lines_in = [], 0
    if batch:
        hand_over()
    os.write(tell, _SIZE.pack(0))
