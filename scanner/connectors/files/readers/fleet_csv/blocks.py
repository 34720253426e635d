"""The fleet CSV's lines, read in blocks for csv.reader (blocks): a block
with nothing unusual in it goes to csv without a Python step per line; the
lines that need a second look are handed out one at a time and marked for
the reader."""

from __future__ import annotations

import csv
import re
from typing import Any, Iterator

from scanner.connectors.files.csv_rows import line_chunks
from scanner.connectors.files.source import InputLines

_BLOCK = 1 << 15  # bytes of lines read at a time
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL_BYTES = bytes([*range(0, 10), 11, 12, *range(14, 32), 127])  # C0 and DEL; LF and CR are counted


SENTINEL = ("\n",)  # what csv is handed in place of a block taken whole: one blank line


def blocks(src: InputLines, start: int, marked: list[tuple[int, str, bool]], bad: list[int],
           whole: list[Any] | None = None, half: Any = None) -> Iterator[list[str] | Iterator[str] | tuple[str]]:
    """The lines from head line `start` (0-based) on, in blocks for csv to
    read through itertools.chain: a block with nothing unusual in it is one
    list of decoded lines, handed out without a Python step per line.

    A block with a quote, a control character, a carriage return other than
    of CRLF, bytes that are not UTF-8, a line over csv's field limit, or the
    end of a file without a line break, is handed out one line at a time:
    each line with a quote or that needs a second look is appended to
    `marked` as (line number, text, whether it needs a second look: see
    _one_by_one), and so is every line after it until the reader empties
    `marked` at the end of the record. A record with nothing in
    `marked` is therefore one ordinary line; otherwise `marked` holds all its
    lines, the raw text of a record csv may reject. Lines that are not UTF-8
    are also numbered in `bad`, and given with surrogate escapes so that
    their device cell can still be told apart.

    `whole`, when given, is where a plain block at the start of a record
    (quotes and all: plain.groups takes it only when each of its lines is
    one record) is put instead of being handed to csv: csv gets
    SENTINEL (one blank line) in its place, and the reader takes the block
    from `whole` when it reads that row (plain.groups). A block the reader
    leaves in `whole` is then handed to csv after all.

    `half` (halves.Half, with `whole`): at its split, when no record is
    open there, `half` is put in `whole` and SENTINEL handed to csv; the
    lines the reader then says the child read (half.lines) are counted, and
    reading goes on after them (line_chunks).
    """
    limit = csv.field_size_limit()
    n = start  # the last line handed out
    tail = b""  # the last lines handed out
    try:
        for chunk in line_chunks(src, start, _BLOCK, half):
            if chunk is None:  # the split
                if not marked and whole is not None:
                    whole.append(half)
                    yield SENTINEL
                    n += half.lines
                continue
            if not chunk:
                continue
            tail = chunk
            lines = plain_lines(chunk, limit)
            if lines is None:
                raw = [line + b"\n" for line in chunk.split(b"\n")]
                raw[-1] = raw[-1][:-1]  # what follows the last line break: nothing, or a last line without one
                if not raw[-1]:
                    raw.pop()
                yield _one_by_one(raw, n, marked, bad, limit)
            elif whole is not None and not marked:
                whole.append(lines)
                yield SENTINEL
                if whole:  # left to csv
                    whole.clear()
                    yield _quoted(lines, n, marked) if b'"' in chunk else lines
            elif marked or b'"' in chunk:
                yield _quoted(lines, n, marked)
            else:
                yield lines
            n += len(lines if lines is not None else raw)
    except OSError as err:
        src.error, src.error_line = err, n + 1
    else:
        if tail[tail.rfind(b"\n") + 1:].strip(b" \t\r"):
            src.unterminated = n  # as InputLines does: make_inventory says the file may have been cut


def plain_lines(chunk: bytes, limit: int) -> list[str] | None:
    """The decoded lines of `chunk`, line ends kept, when none of them needs a
    second look: no control character (C0 or DEL; C1 is \\xc2\\x80-\\x9f in
    UTF-8), no CR but those of CRLF, valid UTF-8, each ending in a line
    break (none of the other line breaks str.splitlines knows), and below
    csv's field limit. Else None."""
    if (len(chunk) >= limit or not chunk.endswith(b"\n")
            or (b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"))
            or (not chunk.isascii() and (b"\xc2" in chunk or b"\xe2\x80\xa8" in chunk or b"\xe2\x80\xa9" in chunk))
            or len(chunk.translate(None, _CONTROL_BYTES)) != len(chunk)):
        return None  # (`in` and isascii() first: a search each, where count() is a slow pass)
    try:
        return chunk.decode("utf-8").splitlines(True)
    except UnicodeDecodeError:
        return None


def _quoted(lines: list[str], n: int, marked: list[tuple[int, str, bool]]) -> Iterator[str]:
    """Plain lines of which some hold a quote, one at a time (see blocks)."""
    for n, text in enumerate(lines, n + 1):
        if marked or '"' in text:
            marked.append((n, text, False))
        yield text


def _one_by_one(block: list[bytes], n: int, marked: list[tuple[int, str, bool]], bad: list[int],
                limit: int) -> Iterator[str]:
    for n, raw in enumerate(block, n + 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(n)
            text = raw.decode("utf-8", "surrogateescape")
            marked.append((n, text, True))
            yield text
            continue
        # A control character (C0 and DEL here, C1 below), a carriage return that is not of the line end,
        # no line break at the end (the last line of a file that may have been cut), a line over csv's limit.
        look = (raw[-1:] != b"\n" or len(raw) >= limit or len(raw.translate(None, _CONTROL_BYTES)) != len(raw)
                or (b"\r" in raw and raw.find(b"\r", 0, len(raw) - 2) >= 0)
                or (b"\xc2" in raw and _C1.search(text) is not None))
        if look or marked or '"' in text:
            marked.append((n, text, look))
        yield text
