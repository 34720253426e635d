"""watch's verdict line: when, which device, the verdict, and what was found or what to do, on one safe line."""

from __future__ import annotations

import re

from report_samples import CLEAN, FAILED, IPHONE, PHONE

from scanner.formats.verdict import verdict_line


def test_a_line_per_device_with_its_verdict_and_what_was_found():
    line = verdict_line(PHONE, "prohibited")
    assert re.match(r"\d\d:\d\d:\d\d  android  1A2B3C4D  ", line)
    assert "FINDINGS" in line and "prohibited: WeChat Pay, QQ Wallet, Tencent QQ; review: WeChat Pay" in line
    assert "\x1b" not in line and "\u202e" not in line and "\n" not in line
    assert "a\\u202eevil \\x1b[31mred\\x1b[0m" in line  # the hostile name and model, escaped


def test_a_device_not_fully_read_says_what_to_do_and_a_clean_one_how_much_was_read():
    assert "FINDINGS-INCOMPLETE" in verdict_line(IPHONE, "prohibited")
    assert "line 7 could not be read\\x1b]0;pwned\\x07" in verdict_line(IPHONE, "prohibited")
    failed = verdict_line(FAILED, "prohibited")
    assert "?      " in failed and "export\\u202e.csv" in failed and "FAILED" in failed
    assert "Unlock the phone and accept the USB debugging prompt" in failed
    assert verdict_line(CLEAN, "prohibited").endswith("CLEAN  1 app read, nothing listed")  # issue 15: plurals


def test_the_transport_is_shown_only_when_it_is_not_the_serial():
    assert "(via" not in verdict_line(CLEAN, "prohibited", "CLEAN01")
    assert "Pixel 7 (via 127.0.0.1:5555)" in verdict_line(CLEAN, "prohibited", "127.0.0.1:5555")
