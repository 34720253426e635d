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


# --- scanner devices ---------------------------------------------------------------------------------------


def _attached():
    from scanner.connectors.interface import Attached

    return [
        Attached("android", "127.0.0.1:43511", "ready", model="SM-S911B", name="张伟的手机" * 5, os_version="14"),
        Attached("android", "R58N\x1b[2J" + "9" * 30, "unauthorized", model="Pixel\u202e 7",
                 message="Unlock the phone and accept the USB debugging prompt (\"Allow USB debugging?\"), then run "
                         "again; if no prompt appears, unplug and plug the cable back in"),
        Attached("ios", "00008110-00125C963A91801E", "locked", model="iPhone15,2", name="iPhone C",
                 os_version="17.5.1", message="The iPhone is locked: unlock it, then run again"),
    ]


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_devices_screen_fits_and_never_cuts_what_to_do(width):
    from scanner.cli.devices_screen import write_devices

    out = io.StringIO()
    write_devices(_attached(), ["usbmuxd is not running at /var/run/usbmuxd: install it"], out, color=True,
                  width=width)
    text = out.getvalue()
    assert not too_wide(text, width), too_wide(text, width)[:3]
    assert "\x1b[2J" not in text and "\u202e" not in text  # escaped, colour or not
    words = " ".join(text.split())
    assert "unplug and plug the cable back in" in words and "unlock it, then run again" in words
    assert "\x1b[32mready\x1b[0m" in text


def test_the_devices_screen_in_a_pipe_is_a_row_a_line_and_plain():
    from scanner.cli.devices_screen import write_devices

    out = io.StringIO()
    write_devices(_attached(), [], out)
    text = out.getvalue()
    assert "\x1b" not in text
    assert any("127.0.0.1:43511" in line and "SM-S911B" in line and "张伟的手机" in line for line in text.splitlines())
