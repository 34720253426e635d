"""Reading an input: its raw lines, numbered and decoded one at a time, and
the problems counted on the way.

Input is read as bytes and each line decoded here, so invalid UTF-8 is
reported with its line number instead of aborting the whole file.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from itertools import chain
from typing import BinaryIO, Callable, Iterator

__all__ = ["MAX_EVIDENCE", "MAX_PROBLEMS", "Problems", "Source", "id_tokens", "keeping"]

MAX_PROBLEMS = 20  # problem details kept per inventory; all are counted
MAX_EVIDENCE = 1 << 18  # distinct id-like tokens kept from the unreadable text of one inventory

# A run of the characters an app id is made of (letters, digits, "_", "-", "."): an app id inside text
# that could not be parsed is one whole such run, never part of one. "com.tencent.mm-y" is not WeChat.
# Two dots in a row are no part of an id either, so they end a token.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_TOKEN_BYTES = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def id_tokens(text: str | bytes) -> Iterator[str]:
    """The whole tokens of `text` that could be an app id: dot-separated
    labels, at least two of them (every package name and bundle id has a
    dot). A dot at either end is punctuation, not part of the id."""
    if isinstance(text, bytes):  # bytes that are not UTF-8: ids are ASCII, so any other byte is a delimiter
        tokens: Iterator[str] = (t.decode("ascii") for t in _TOKEN_BYTES.findall(text))
    else:
        tokens = iter(_TOKEN.findall(text))
    for token in tokens:
        if "." in token and len(token) <= 255:
            yield token


_wanted = threading.local()  # .keep: which tokens are worth keeping, while a reader runs (see keeping())


@contextmanager
def keeping(keep: Callable[[str], bool] | None) -> Iterator[None]:
    """While the block runs in this thread, Problems keep only the tokens
    `keep` says could be catalog ids, and so never need a cap: a prohibited
    id after a million distinct words of garbage is still kept. The caller
    (the file connector, given the matcher's `knows`) knows the catalog; the
    readers do not need to."""
    previous = getattr(_wanted, "keep", None)
    _wanted.keep = keep
    try:
        yield
    finally:
        _wanted.keep = previous


class Problems:
    """Problems of one inventory: all counted, the first MAX_PROBLEMS kept as
    text, and the id-like tokens of every record that could not be read.

    Evidence is never dropped: the text of a line that cannot be parsed is
    kept as its tokens (`evidence`), which the matcher searches for whole
    catalog identifiers. A prohibited app on a damaged line is still found.
    """

    __slots__ = ("kept", "count", "evidence", "evidence_overflow", "_keep")

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0
        self.evidence: dict[str, None] = {}  # insertion-ordered set of tokens, as written
        self.evidence_overflow = 0  # tokens not kept once MAX_EVIDENCE was reached
        self._keep: Callable[[str], bool] | None = getattr(_wanted, "keep", None)

    def add(self, text: str, count: int = 1, *, evidence: str | bytes | None = None) -> None:
        """Count a problem; `evidence` is the raw text of what could not be read."""
        self.count += count
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(text)
        if evidence:
            self.search(evidence)

    def search(self, text: str | bytes) -> None:
        """Keep the id-like tokens of text that could not be read."""
        kept = self.evidence
        keep = self._keep
        for token in id_tokens(text):
            if keep is not None:  # only what could be a catalog id: no cap needed
                if token not in kept and keep(token):
                    kept[token] = None
            elif token not in kept:
                if len(kept) >= MAX_EVIDENCE:
                    self.evidence_overflow += 1
                    continue
                kept[token] = None


class Source:
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
        """Read the rest of the last head line if it was cut at detect.HEAD_LINE_BYTES."""
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
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append(n)
                    text = raw.decode("utf-8", "surrogateescape")
                if '"' in text or ("\r" in text and text.find("\r", 0, -2) >= 0):
                    quoted.append((n, text))  # a quote, or a carriage return inside the line
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
