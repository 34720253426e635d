"""Reading an input: its raw lines, numbered and decoded one at a time (the
problems counted on the way are scanner.connectors.records.Problems).

Input is read as bytes and each line decoded here, so invalid UTF-8 is
reported with its line number instead of aborting the whole file.
"""

from __future__ import annotations

from itertools import chain
from typing import BinaryIO, Iterator

from scanner.connectors.records import Problems

__all__ = ["HEAD_LINE_BYTES", "InputLines", "csv_line"]

HEAD_LINE_BYTES = 1 << 16  # of each line read to recognise the format: enough to recognise any format


class InputLines:
    """A binary stream, the lines already read to recognise its format, and
    the I/O error (if any) that stopped reading it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.head: list[bytes] = []  # raw lines 1..n, BOM removed
        self.error: OSError | None = None
        self.error_line = 0
        # The number of the last line when it does not end with a line break. pm and ideviceinstaller end
        # every line, so such a line may have been cut: a crash, a full disk, a copy stopped half-way.
        self.unterminated = 0

    def complete_head(self) -> None:
        """Read the rest of the last head line if it was cut at HEAD_LINE_BYTES."""
        if self.head and not self.head[-1].endswith(b"\n"):
            self.head[-1] += self.stream.readline()

    def raw_lines(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """(line number, raw bytes with the line end) from head line `start`
        (0-based) on; an I/O error ends them and is kept in `error`."""
        n = start
        raw = b""
        try:
            self.complete_head()
            for n, raw in enumerate(self._raw(start), start + 1):
                yield n, raw
        except OSError as err:
            self.error, self.error_line = err, n + 1
        else:
            self._ended(n, raw)

    def text_lines(self, start: int = 0) -> Iterator[tuple[int, str | None]]:
        """(line number, text without its line end) from head line `start`
        (0-based) on; text is None for a line that is not valid UTF-8."""
        for n, raw in self.raw_lines(start):
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield n, None

    def nonblank_lines(self, problems: Problems) -> Iterator[tuple[int, str]]:
        """(line number, text) of every line with something on it; a line that
        is not valid UTF-8 is counted in `problems` instead, its bytes kept as
        evidence (ids are ASCII: a damaged byte elsewhere must not hide one)."""
        for n, raw in self.raw_lines():
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                problems.add(f"line {n}: not valid UTF-8", evidence=raw)
                continue
            if text.strip():
                yield n, text

    def csv_lines(self, start: int, bad: list[int], quoted: list[tuple[int, str]],
                  span: list[str] | None = None) -> Iterator[str]:
        """Decoded lines (line ends kept, as csv wants) from head line `start`
        on. The number of a line that is not valid UTF-8 is appended to `bad`
        when the line is handed out, and the line is given with
        surrogate escapes so that its device cell can still be told apart.
        (line number, text) of a line holding a quote (or a carriage return
        that does not end it, which csv rejects) is appended to
        `quoted`, which the caller empties after each record: only a quote
        makes a record span lines, so a record with nothing in `quoted` is
        one line, and otherwise began on quoted[0] (csv keeps nothing of a
        record it rejects, so that is the only way to know whose it was).
        `span`, when given, gets every line handed out (the caller empties it
        after each record): the raw text of a record csv rejects, kept as
        evidence."""
        n = start
        raw = b""
        try:
            self.complete_head()
            for n, raw in enumerate(self._raw(start), start + 1):
                text = csv_line(n, raw, bad, quoted)
                if span is not None:
                    span.append(text)
                yield text
        except OSError as err:
            self.error, self.error_line = err, n + 1
        else:
            self._ended(n, raw)

    def _ended(self, n: int, raw: bytes) -> None:
        """Reading reached the end: remember a last line without a line break."""
        if raw and not raw.endswith(b"\n") and raw.strip(b" \t\r"):
            self.unterminated = n

    def _raw(self, start: int) -> Iterator[bytes]:
        return chain(self.head[start:], self.stream)  # C-level: no extra generator per line

    def rest(self) -> bytes:
        """Everything: the head and the unread remainder (OSError propagates)."""
        return b"".join(self.head) + self.stream.read()


def csv_line(n: int, raw: bytes, bad: list[int], quoted: list[tuple[int, str]]) -> str:
    """Line `n` (its bytes `raw`) as the csv module is handed it: decoded, with bytes that are not UTF-8 kept
    as surrogate escapes and its number appended to `bad`; (n, text) appended to `quoted` when the line holds
    a quote, or a carriage return that does not end it (which csv rejects)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        bad.append(n)
        text = raw.decode("utf-8", "surrogateescape")
    if '"' in text or ("\r" in text and text.find("\r", 0, -2) >= 0):
        quoted.append((n, text))  # a quote, or a carriage return inside the line
    return text

