"""Text laid out for a width: every line fits, nothing is lost, an escape is never split, and a pipe (no width)
gets the text as it is. Widths are counted here independently of the code under test."""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.terminal.layout import Column, clip, cols, table, width_of, wrap
from scanner.terminal.text import safe

_SGR = re.compile(r"\x1b\[[0-9;]*m")
_ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[nrt])")


def columns(line: str) -> int:
    line = _SGR.sub("", line)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in line)


# Words of every kind a device may send: ASCII, CJK, combining marks, controls and bidi (made safe), long ids.
_WORD = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Zs",)), min_size=1, max_size=12),
    st.text(st.sampled_from("微信支付张伟的手机華為ｗｉｄｅ"), min_size=1, max_size=25),
    st.from_regex(r"[a-z]{2,12}(\.[a-z]{2,12}){1,6}", fullmatch=True),
    st.sampled_from(["\x1b[31mred\x1b[0m", "a\u202eevil", "line1\nline2", "e\u0301", "https://example.com/a/b/c"]),
)
_TEXT = st.lists(_WORD, max_size=12).map(lambda words: safe(" ".join(words), limit=None))


def _words(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.integers(min_value=20, max_value=200), st.sampled_from(["", "  ", "verdict: ", "[1/4] 微信 "]))
def test_wrap_fits_keeps_every_character_and_never_splits_an_escape(text, width, first):
    lines = wrap(text, first, None, width)
    assert all(columns(line) <= width for line in lines), [(columns(line), line) for line in lines]
    assert _words("".join(lines)) == _words(first + text)  # nothing lost, nothing added, in order
    escapes_before = _ESCAPE.findall(text)
    assert [e for line in lines for e in _ESCAPE.findall(line)] == escapes_before


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT), min_size=1, max_size=4), st.integers(min_value=20, max_value=200))
def test_a_table_fits_any_width_and_keeps_every_cell(rows, width):
    table_columns = [
        Column("app id", [r[0] for r in rows], shrink=2, floor=12),
        Column("severity", ["prohibited" for _ in rows], shrink=None),
        Column("what", [r[1] for r in rows], shrink=0),
        Column("policy", [r[2] for r in rows], shrink=1, drop=0),
    ]
    lines = table(table_columns, width, indent="  ")
    assert all(columns(line) <= width for line in lines), [(columns(line), line) for line in lines if
                                                         columns(line) > width][:3]
    # Nothing of a shown cell is cut: every character of them is on the screen (cells side by side interleave,
    # so it is counted, not searched).
    shown = Counter("".join(_words(cell) for c in table_columns if c.shown for cell in c.cells))
    assert not shown - Counter(_words("".join(lines)))
    assert all(c.shown or c.drop is not None for c in table_columns)  # only a column that may be dropped ever is


def test_without_a_width_a_row_is_one_line_and_text_is_untouched():
    text = "a  b   c " + "x" * 300
    assert wrap(text, "  ", width=None) == ["  " + text]
    lines = table([Column("id", ["com.example.one", "two"]), Column("what", ["x " * 100, "y"])], None)
    assert len(lines) == 4 and lines[2].startswith("com.example.one  x x x")


def test_display_columns_and_clip_count_wide_characters_and_ignore_our_colours():
    assert cols("微信") == 4 and cols("e\u0301") == 1 and cols("\x1b[31mred\x1b[0m") == 3
    assert clip("微信支付", 5) == "微信" and columns(clip("\x1b[1mabc\x1b[0mdef", 4)) == 4


def test_width_of_obeys_columns_and_gives_none_for_a_pipe(monkeypatch):
    read, write = os.pipe()
    try:
        with os.fdopen(write, "w") as pipe:
            monkeypatch.delenv("COLUMNS", raising=False)
            assert width_of(pipe) is None
            monkeypatch.setenv("COLUMNS", "80")
            assert width_of(pipe) == 80
            monkeypatch.setenv("COLUMNS", "5")
            assert width_of(pipe) == 20  # too narrow to lay anything out: the narrowest layout
            monkeypatch.setenv("COLUMNS", "wide")
            assert width_of(pipe) is None
    finally:
        os.close(read)
