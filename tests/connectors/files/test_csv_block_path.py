"""The block path of csv_records (whole blocks through csv.reader) reports
exactly what the careful line-by-line path reports: the same rows with the
same line numbers, the same problems with the same evidence, the same cut
line and read error, however the blocks fall."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.connectors.files import csv_rows
from scanner.connectors.files.source import InputLines
from scanner.connectors.records import Problems

FMT = {"delimiter": ",", "skipinitialspace": True}


def _src(data: bytes, head: int = 1) -> InputLines:
    src = InputLines(io.BytesIO(data))
    stream = src.stream
    for _ in range(head):
        line = stream.readline()
        if line:
            src.head.append(line)
    return src


def _careful(data: bytes) -> tuple:
    src = _src(data)
    problems, bad, quoted, span = Problems(), [], [], []
    rows = list(csv_rows._records(src.csv_lines(1, bad, quoted, span), 1, quoted, span, bad, problems, False, FMT))
    return rows, problems.kept, problems.count, sorted(problems.evidence), src.unterminated, src.error_line


def _blocks(data: bytes) -> tuple:
    src = _src(data)
    problems = Problems()
    rows = list(csv_rows.csv_records(src, 1, [], problems, **FMT))
    return rows, problems.kept, problems.count, sorted(problems.evidence), src.unterminated, src.error_line


LINE = st.sampled_from([
    b'"k","WhatsApp","1.0","dev-1","Android"\n', b'"k","com.tencent.mm","2","dev-2","Android"\r\n', b'a,b,c,d,e\n',
    b'"k","Open \n', b'quote never closed","1","dev-3","iOS"\n', b'"k","x"y,"1","d","iOS"\n', b'\n', b'  \n',
    b'"k","caf\xc3\xa9","1","d","iOS"\n', b'"k","bad \xff byte","1","d","iOS"\n', b'"k","cr\rinside","1","d","iOS"\n',
    b'a,b\rc\n', b'"k","\xe2\x80\xae","1","d","iOS"\n', b'"a\n', b'b", "c"\n', b'"k","com.tencent.mm"', b'x,y',
    b'"k","nul\x00","1","d","iOS"\n',
])


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=40), st.integers(1, 64))
def test_blocks_report_what_lines_report(lines: list[bytes], block: int) -> None:
    data = b"H1,H2,H3,H4,H5\n" + b"".join(lines)
    old = csv_rows._BLOCK
    csv_rows._BLOCK = block
    try:
        got = _blocks(data)
    finally:
        csv_rows._BLOCK = old
    assert got == _careful(data)


def test_a_clean_block_is_read_whole_and_a_damaged_one_is_not() -> None:
    data = (b"H1,H2\n" + b'"a","1"\n' * 3 + b'"open,"2"\n' + b'"b","3"\n')
    got = _blocks(data)
    rows, kept, count, *_ = got
    assert [n for n, _ in rows] == [2, 3, 4, 6]
    assert count == 1 and kept[0].startswith("line 5:")
    assert got == _careful(data)


class _Failing(io.RawIOBase):
    """A stream that gives `data` and then fails."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        if not self.data:
            raise OSError(5, "Input/output error")
        n = min(len(buf), len(self.data))
        buf[:n], self.data = self.data[:n], self.data[n:]
        return n


@pytest.mark.parametrize("tail", [b"", b'"open\n'])
def test_a_read_error_is_kept_with_the_line_after_the_last_read(tail: bytes) -> None:
    src = InputLines(io.BufferedReader(_Failing(b'"a","1"\n"b","2"\n' + tail)))
    problems = Problems()
    rows = list(csv_rows.csv_records(src, 0, [], problems, **FMT))
    assert [n for n, _ in rows] == [1, 2]
    assert src.error is not None and src.error_line == 3 + (1 if tail else 0)
    assert problems.count == (1 if tail else 0)
