"""CSV records, each read whole or counted as a problem with the lines it
spans: shared by the ideviceinstaller CSV form and the fleet CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.source import InputLines, csv_line
from scanner.connectors.records import Problems

__all__ = [
    "SPILL", "blank_row", "csv_error_text", "csv_records", "header_cells", "is_spill", "line_chunks", "line_span",
    "repeated_names", "swallowed_note",
]

# Spaces or tabs between a closing quote and the comma (or the line end) after it: `"com.x" , "1"`, as a
# person's copy or a spreadsheet writes them. csv's strict mode rejects them, yet they cannot hide an app.
# A quote escaped with a backslash is no closing quote.
_SPACE_AFTER_QUOTE = re.compile(r'(?<!\\)"[ \t]+(?=,|\r?\n?\Z)')


_STRAY_ESCAPE = re.compile(r'\\(?![\\"])')


def header_cells(raw: bytes) -> list[str]:
    """The column names of a header line (a stray CR or quote in it must not raise)."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    try:
        cells = next(csv.reader([text], skipinitialspace=True), [])
    except csv.Error:
        cells = text.split(",")
    return [c.strip() for c in cells]


def csv_records(src: InputLines, start: int, bad: list[int], problems: Problems, *, spaces_after_quotes: bool = False,
                **fmt: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line number, row) of each non-blank record from head line
    `start` on; records that are not UTF-8, that csv rejects (a quote never
    closed) or that hold what look like swallowed rows are counted in
    `problems` instead, with the line they start on and every line they span,
    and their raw text kept as evidence (a prohibited id on them is still
    found). `spaces_after_quotes` tolerates blanks between a closing quote
    and the next comma, which strict csv rejects."""
    quoted: list[tuple[int, str]] = []
    span: list[str] = []  # the raw lines of the record being read
    escaping = fmt.get("escapechar") == "\\"
    if spaces_after_quotes or fmt.get("escapechar") is not None:
        lines: Iterator[str] = src.csv_lines(start, bad, quoted, span)
        if spaces_after_quotes:
            lines = map(_closing_quote, lines)
        return _records(lines, start, quoted, span, bad, problems, escaping, fmt)
    return _block_records(src, start, quoted, span, bad, problems, fmt)


def _records(lines: Iterator[str], start: int, quoted: list[tuple[int, str]], span: list[str], bad: list[int],
             problems: Problems, escaping: bool, fmt: dict[str, Any]) -> Iterator[tuple[int, list[str]]]:
    """The careful path: csv_records over `lines`, the first of which is line
    start + 1, one line at a time (see InputLines.csv_lines for `quoted`,
    `span` and `bad`)."""
    reader = csv.reader(lines, strict=True, **fmt)
    while True:
        try:
            for row in reader:
                last = reader.line_num + start
                first = quoted[0][0] if quoted else last
                quoted.clear()
                if bad:
                    problems.add(f"line {bad[0]}: not valid UTF-8", len(bad), evidence=_taken(span))
                    bad.clear()
                    continue
                if blank_row(row):
                    span.clear()
                    continue
                if last > first and is_spill(row):
                    problems.add(f"line {first}: {SPILL}; {swallowed_note(first, last)}", last - first + 1,
                                 evidence=_taken(span))
                    continue
                if escaping and any(_STRAY_ESCAPE.search(line) for line in span):
                    # csv drops an escape character before any character: `com.\pple.Pages` would be read as
                    # com.pple.Pages. A writer escapes only quotes and itself, so the line was damaged.
                    problems.add(f"line {first}: a backslash that escapes neither a quote nor a backslash, so the "
                                 f"line was damaged or edited", last - first + 1, evidence=_taken(span))
                    continue
                span.clear()
                yield first, row
            return
        except csv.Error as err:
            last = reader.line_num + start
            first = quoted[0][0] if quoted else last
            quoted.clear()
            bad.clear()
            problems.add(f"line {first}: {csv_error_text(err, first, last)}", last - first + 1,
                         evidence=_taken(span))


_BLOCK = 1 << 16  # bytes of lines read at a time by the block path


class _Read:
    """Where the block path is: the last line handed out and its raw bytes."""
    __slots__ = ("n", "raw")

    def __init__(self, n: int) -> None:
        self.n, self.raw = n, b""


def _block_records(src: InputLines, start: int, quoted: list[tuple[int, str]], span: list[str], bad: list[int],
                   problems: Problems, fmt: dict[str, Any]) -> Iterator[tuple[int, list[str]]]:
    """csv_records read in blocks of whole lines: a block csv reads whole with
    one record per line, valid UTF-8 and no carriage return but those of CRLF,
    gives its rows without a Python step per line; any other block (and the
    record it leaves open, into the blocks after it) goes through the careful
    path (_records), so that what it reports is exactly what the line-by-line
    reading reports."""
    at = _Read(start)
    chunks = _chunks(src, start, at)
    for chunk in chunks:
        if not chunk:
            continue
        rows = _plain_rows(chunk, fmt)
        if rows is not None:
            first = at.n + 1
            at.n += len(rows)
            at.raw = b""
            for n, row in enumerate(rows, first):
                if row and (len(row) > 1 or row[0].strip()):
                    yield n, row
            continue
        yield from _records(_careful_lines(chunk, chunks, at, bad, quoted, span), at.n, quoted, span, bad, problems,
                            False, fmt)
    if src.error is None:
        src._ended(at.n, at.raw)


def _chunks(src: InputLines, start: int, at: _Read) -> Iterator[bytes]:
    """line_chunks, an I/O error ending them and kept in src.error, on the
    line after the last one handed out."""
    try:
        yield from line_chunks(src, start)
    except OSError as err:
        src.error, src.error_line = err, at.n + 1


def line_chunks(src: InputLines, start: int, size: int = 0, half: Any = None) -> Iterator[bytes]:
    """Whole lines, about `size` (else _BLOCK) bytes at a time (the rest of the head
    first); the last chunk is what follows the last line break. Reading in
    blocks, not lines, so that a read error loses only the line it cut
    (OSError propagates).

    `half` (fleet_csv.halves.Half): the chunks stop at the byte offset
    `half.split`, just after a line break, and None is given there; reading
    then goes on from `half.resume`, which the caller may set meanwhile.
    """
    src.complete_head()
    yield b"".join(src.head[start:])
    read = getattr(src.stream, "read1", src.stream.read)  # read1: what one read gives, never lost to a later error
    size = size or _BLOCK
    carry: list[bytes] = []
    stop = -1 if half is None else half.split
    at = 0 if half is None else src.stream.tell()
    while True:
        want = size
        if stop >= 0:
            want = min(size, stop - at)
            if want <= 0:
                stop = -1
                want = size
                if not any(carry):  # at a line break, as when the split was chosen
                    carry = []
                    yield None  # type: ignore[misc]
                    if half.resume != at:
                        src.stream.seek(half.resume)
        data = read(want)
        at += len(data)
        if not data:
            yield b"".join(carry)
            return
        cut = data.rfind(b"\n") + 1
        if not cut:  # a line longer than a block
            carry.append(data)
            continue
        carry.append(data[:cut])
        yield b"".join(carry)
        carry = [data[cut:]]


def _plain_rows(chunk: bytes, fmt: dict[str, Any]) -> list[list[str]] | None:
    """The rows of a block of whole lines when csv reads it whole, one record
    per line, and it is valid UTF-8 with no carriage return but those of CRLF;
    else None (the block needs the careful path)."""
    if not chunk.endswith(b"\n") or chunk.count(b"\r") != chunk.count(b"\r\n"):
        return None
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True, **fmt))
    except csv.Error:
        return None
    return rows if len(rows) == chunk.count(b"\n") else None


def _careful_lines(chunk: bytes, chunks: Iterator[bytes], at: _Read, bad: list[int], quoted: list[tuple[int, str]],
                   span: list[str]) -> Iterator[str]:
    """The lines of `chunk` one at a time, as InputLines.csv_lines gives them;
    then, while a record is still open (its lines in `span`), those of the
    chunks after it."""
    while True:
        lines = [line + b"\n" for line in chunk.split(b"\n")]
        lines[-1] = lines[-1][:-1]  # what follows the last line break: nothing, or a last line without one
        if not lines[-1]:
            lines.pop()
        for raw in lines:
            at.n += 1
            at.raw = raw
            text = csv_line(at.n, raw, bad, quoted)
            span.append(text)
            yield text
        if not span:  # every record of the chunk ended in it
            return
        chunk = next(chunks, b"")
        if not chunk:
            return


def _taken(span: list[str]) -> str:
    """The raw text of the record just read, and an empty span for the next."""
    text = "".join(span)
    span.clear()
    return text


def _closing_quote(line: str) -> str:
    return _SPACE_AFTER_QUOTE.sub('"', line) if '"' in line else line


def repeated_names(cells: list[str]) -> list[str]:
    """The column names a header gives more than once, compared without
    regard to case: with two `CFBundleIdentifier` columns, which one holds
    the app's id cannot be known, so the file must not be read at all."""
    seen: set[str] = set()
    repeated: dict[str, str] = {}
    for cell in cells:
        key = cell.casefold()
        if key in seen:
            repeated.setdefault(key, cell)
        seen.add(key)
    return list(repeated.values())


def blank_row(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def csv_error_text(err: csv.Error, first: int, end: int) -> str:
    """What csv said about the record on lines first..end, for a person."""
    text = str(err)
    if "unexpected end of data" in text:
        text = "a quote opened on this line is never closed (the file ends inside it)"
    elif "field larger than field limit" in text:
        text = f"{text}, probably a quote that is never closed"
    elif "expected after" in text:
        text = f"a quoted value is followed by other text before the next comma ({text})"
    elif "new-line character seen in unquoted field" in text:
        text = "a carriage return (CR) inside a value that is not quoted"
    return f"{text}; {swallowed_note(first, end)}" if end > first else text


def line_span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def swallowed_note(first: int, last: int) -> str:
    """Of a quote opened on line `first` that ran to line `last`."""
    return f"it swallowed {line_span(first + 1, last)}, which {'was' if last == first + 1 else 'were'} not read"


SPILL = "a quoted value runs over several lines and holds what look like rows of the file (a stray quote?)"


def is_spill(row: list[str]) -> bool:
    """True when a cell of a record that spans lines holds a line break
    followed by a comma: the rows a stray quote swallowed, not a name."""
    for cell in row:
        for brk in ("\n", "\r"):
            i = cell.find(brk)
            if i >= 0 and "," in cell[i:]:
                return True
    return False
