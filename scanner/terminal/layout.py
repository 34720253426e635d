"""Text laid out for the width it is read at: a terminal's columns, or no limit for a pipe or a file.

A terminal (or `COLUMNS`) gives a width: every line written for it fits, text cells are wrapped at words,
a word longer than a line (a URL, an app id) is split where it has a natural break (after a '/' or a '.',
never inside an escape that `safe()` wrote), and columns of little value are dropped before anything a
person must do is cut. A pipe or a file gets width None: one line per row, as wide as it needs, for grep.

Widths are display columns: an East Asian wide character takes two, a combining mark none, and the colour
codes this program writes itself (SGR, `ESC [ ... m`) none. Untrusted text never holds a raw ESC (it went
through `safe()`), so every ESC measured here is ours.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = ["ESCAPE", "Column", "clip", "cols", "fit_prefix", "table", "width_of", "wrap"]

MIN_WIDTH = 20  # narrower than this, nothing can be laid out: treated as this
_SGR = re.compile(r"\x1b\[[0-9;]*m")
# What safe() writes for a character it escapes: a line is never split inside one.
ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[nrt])")
_BREAK_AFTER = ("/", ".-_;,:&?=#)")  # where a long word may be split, best first


def width_of(stream: TextIO | None) -> int | None:
    """The columns text written to `stream` is read at: `COLUMNS` when set to a number, else the terminal's
    width when `stream` is one, else None (a pipe or a file: no limit)."""
    given = os.environ.get("COLUMNS", "").strip()
    if given.isdigit() and int(given) > 0:
        return max(MIN_WIDTH, int(given))
    try:
        if stream is None or not stream.isatty():
            return None
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return max(MIN_WIDTH, columns) if columns > 0 else None


def _char_cols(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def cols(text: str) -> int:
    """Columns `text` takes on a terminal: wide (CJK) characters two, combining marks and our colours none."""
    if "\x1b" in text:
        text = _SGR.sub("", text)
    if text.isascii():
        return len(text)
    return sum(_char_cols(ch) for ch in text)


def fit_prefix(text: str, room: int) -> int:
    """How many characters of `text` fit in `room` columns (a colour code takes none, and is never split)."""
    used, index = 0, 0
    while index < len(text):
        sgr = _SGR.match(text, index) if text[index] == "\x1b" else None
        if sgr:
            index = sgr.end()
            continue
        used += _char_cols(text[index])
        if used > room:
            return index
        index += 1
    return len(text)


def clip(text: str, width: int | None) -> str:
    """`text` cut to `width` columns (for lines redrawn in place, which must never wrap)."""
    if width is None or cols(text) <= width:
        return text
    return text[:fit_prefix(text, width)]


def _cut(word: str, room: int, fresh: bool) -> int:
    """Where to split a word too long for `room` columns: after its last natural break that fits, a '/' before
    any other (on a line of its own, only one in the second half: no stubs), else at the edge; never inside an
    escape or a colour code."""
    end = max(1, fit_prefix(word, room))
    lowest = end // 2 if fresh else 0
    at = next((index for breaks in _BREAK_AFTER for index in range(end, lowest, -1) if word[index - 1] in breaks),
              end)
    for escape in (*ESCAPE.finditer(word), *_SGR.finditer(word)):
        if escape.start() < at < escape.end():
            at = escape.start() or escape.end()
            break
    return at


def wrap(text: str, first: str = "", rest: str | None = None, width: int | None = 80) -> list[str]:
    """`text` (already safe) as lines of at most `width` columns, the first beginning with `first` and the
    others with `rest` (default: as many spaces as `first` is wide). Width None: one line, as it is."""
    if width is None:
        return [first + text]
    rest = " " * cols(first) if rest is None else rest
    lines: list[str] = []
    line, fresh = first, True
    for word in text.split():
        while word:
            gap = 0 if fresh else 1
            room = width - cols(line) - gap
            if cols(word) <= room:
                line, fresh, word = line + " " * gap + word, False, ""
            elif not fresh and (cols(word) <= width - cols(rest) or room < 12):
                lines.append(line)
                line, fresh = rest, True
            else:  # longer than any line: split it here
                at = _cut(word, max(room, 1), fresh)
                if not fresh and at < 12:  # a stub ("https://") would end this line: begin the word on the next
                    lines.append(line)
                    line, fresh = rest, True
                    continue
                lines.append(line + " " * gap + word[:at])
                line, fresh, word = rest, True, word[at:]
    if not fresh or not lines:
        lines.append(line)
    return lines


@dataclass(eq=False)
class Column:
    """One column of a table: its heading and cells (safe text; a cell may hold lines, split at "\\n").

    When the table is too wide, columns give up room in `shrink` order (lowest first; None: never wrapped,
    e.g. a severity word) down to `floor` columns, then are dropped in `drop` order (None: never dropped).
    """

    header: str
    cells: list[str]
    shrink: int | None = 0
    floor: int = 10
    drop: int | None = None
    shown: bool = True  # set by table(): False when the column was dropped to fit

    def natural(self) -> int:
        return max([cols(self.header)] + [cols(line) for cell in self.cells for line in cell.split("\n")])


_GAP = "  "


def _layout(columns: Sequence[Column], width: int) -> tuple[list[Column], list[int], bool]:
    """The columns kept and their widths, so that the table fits `width` (or comes as close as it can): text
    columns wrap at words first; then the columns of least value are dropped; only then are words split
    (and said so: True)."""
    kept = list(columns)
    while True:
        widths = [c.natural() for c in kept]
        excess = _shrink(kept, widths, sum(widths) + len(_GAP) * (len(kept) - 1) - width, split=False)
        droppable = [i for i, c in enumerate(kept) if c.drop is not None]
        if excess <= 0:
            return kept, widths, False
        if not droppable:
            _shrink(kept, widths, excess, split=True)
            return kept, widths, True
        del kept[min(droppable, key=lambda i: kept[i].drop)]


def _shrink(kept: Sequence[Column], widths: list[int], excess: int, *, split: bool) -> int:
    """Take `excess` columns from the wrappable ones, in their order: down to their longest word, or (`split`)
    down to their floor. What could not be taken is returned."""
    for index in sorted((i for i, c in enumerate(kept) if c.shrink is not None), key=lambda i: kept[i].shrink):
        if excess <= 0:
            break
        column = kept[index]
        longest = max([cols(w) for cell in column.cells for w in cell.split()] + [1])
        floor = min(widths[index], column.floor if split else max(column.floor, longest))
        give = min(excess, widths[index] - floor)
        if give > 0:
            widths[index] -= give
            excess -= give
    return excess


def table(columns: Sequence[Column], width: int | None, *, indent: str = "", groups: Sequence[int] = ()) -> list[str]:
    """A plain table (heading, a rule, rows) that fits `width` columns with `indent` before each line.

    `groups`: the indexes of rows that begin a group (one app's rows): when cells wrap, a blank line goes
    before each group so that a wrapped row still reads as one. Width None: each row on one line.
    """
    rows = len(columns[0].cells) if columns else 0
    if width is None:
        kept, widths, split = list(columns), [c.natural() for c in columns], False
    else:
        kept, widths, split = _layout(columns, width - cols(indent))
    for column in columns:
        column.shown = any(column is k for k in kept)
    wrapped = [[_cell(c.cells[r], w) for c, w in zip(kept, widths)] for r in range(rows)]
    spread = any(len(cell) > len(c.cells[r].split("\n")) for r, row in enumerate(wrapped)
                 for c, cell in zip(kept, row))
    lines = [_row([wrap(c.header, width=w) for c, w in zip(kept, widths)], widths, indent)]
    lines[0:1] = lines[0]
    lines.append(indent + _GAP.join("-" * w for w in widths))
    starts = set(groups)
    for r, row in enumerate(wrapped):
        if spread and r in starts and r:
            lines.append("")
        lines += _row(row, widths, indent)
    if width is not None and (split or any(cols(line) > width for line in lines)):
        return _stacked(kept, rows, width, indent)  # words cut in columns read worse than rows one under another
    return lines


def _stacked(columns: Sequence[Column], rows: int, width: int, indent: str) -> list[str]:
    """Too narrow for columns side by side: each row as its first cell (when it has one: a group's first row),
    then the others as "heading: value" under it, wrapped."""
    lines: list[str] = []
    first, others = columns[0], columns[1:]
    for r in range(rows):
        if first.cells[r]:
            if lines:
                lines.append("")
            lines += wrap(first.cells[r].replace("\n", " "), indent, indent + "  ", width)
        facts = [f"{c.header}: {c.cells[r]}".replace("\n", " ") for c in others if c.cells[r]]
        lines += wrap(" · ".join(facts), indent + "  ", indent + "    ", width)
    return lines


def _cell(text: str, width: int) -> list[str]:
    out: list[str] = []
    for part in text.split("\n"):
        out += wrap(part, width=width) if part else [""]
    return out


def _row(cells: list[list[str]], widths: list[int], indent: str) -> list[str]:
    height = max([len(c) for c in cells] + [1])
    lines = []
    for i in range(height):
        parts = [(c[i] if i < len(c) else "") for c in cells]
        padded = [p + " " * max(0, w - cols(p)) for p, w in zip(parts, widths)]
        lines.append((indent + _GAP.join(padded)).rstrip())
    return lines
