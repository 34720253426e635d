"""CSV records, each read whole or counted as a problem with the lines it
spans: shared by the ideviceinstaller CSV form and the fleet CSV.
"""

from __future__ import annotations

import csv
import re
from typing import Any, Iterator

from scanner.connectors.files.source import InputLines
from scanner.connectors.records import Problems

__all__ = [
    "SPILL", "blank_row", "csv_error_text", "csv_records", "header_cells", "is_spill", "line_span",
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
    lines: Iterator[str] = src.csv_lines(start, bad, quoted, span)
    if spaces_after_quotes:
        lines = map(_closing_quote, lines)
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
