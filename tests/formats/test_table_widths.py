"""The table laid out for a width: every line fits it, with hostile and East Asian wide names; a pipe (no
width) keeps each row on one line. Widths are counted independently of the code under test."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import replace

import pytest
from report_samples import ESC, PHONE, WECHAT, finding, make_report

from scanner.formats.table import write_table
from scanner.model import App

_CSI = re.compile(r"\x1b\[[0-9;]*m")


def too_wide(text: str, width: int) -> list[tuple[int, str]]:
    def columns(line: str) -> int:
        line = _CSI.sub("", line)
        return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
                   for ch in line)

    return [(columns(line), line) for line in text.split("\n") if columns(line) > width]


CJK = App("android", "com.tencent.mm.微信", name="微信支付" * 8, version="８.０", user=0)


def _cjk_report():
    wide = replace(PHONE, device=replace(PHONE.device, model="华为 Mate 60 Pro 雅丹黑 " * 3, name="张伟的手机" * 4),
                   findings=(*PHONE.findings, finding(CJK, listed="微信支付 WeChat Pay 微信支付", catalog_name="微信")))
    return make_report(wide)


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_the_table_fits_any_width_with_hostile_and_wide_names(width):
    for report in (make_report(), _cjk_report()):
        out = io.StringIO()
        write_table(report, out, width=width, color=True)
        text = out.getvalue()
        assert not too_wide(text, width), too_wide(text, width)[:3]
        assert "\x1b[31mred" not in text  # the hostile ESC stays escaped, colour or not
        assert "\\x1b[31mred\\x1b[0m" in text.replace("\n", "").replace(" ", "") or ESC not in text


def test_the_table_in_a_pipe_keeps_each_row_on_one_line():
    out = io.StringIO()
    write_table(make_report(), out)
    text = out.getvalue()
    row = next(line for line in text.splitlines() if line.strip().startswith(WECHAT.id))
    assert "WeChat Pay" in row and "us-eo-13971 (revoked)" in row
