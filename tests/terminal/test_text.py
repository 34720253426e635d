"""safe(): what a device or a file sent, as one line of inert, visible text on a terminal."""

from __future__ import annotations

import pytest

from scanner.terminal.text import safe

ESC = "\x1b[31mred\x1b[0m"
BIDI = "a\u202eevil"
NEWLINE = "line1\nline2"
LONG = "N" * 10_000


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("com.tencent.mm", "com.tencent.mm"),
        (ESC, "\\x1b[31mred\\x1b[0m"),
        (BIDI, "a\\u202eevil"),
        (NEWLINE, "line1\\nline2"),
        ("a\rb\tc\x7fd\x85e\x00", "a\\rb\\tc\\x7fd\\x85e\\x00"),
        ("x\u200by\u200ez\u2066w\u2069\ufeff\u061c", "x\\u200by\\u200ez\\u2066w\\u2069\\ufeff\\u061c"),
        ("bad\udcffbyte", "bad\\udcffbyte"),
        ("微信 WeChat ✓", "微信 WeChat ✓"),
        (None, ""),
        (10, "10"),
    ],
)
def test_safe_escapes_controls_and_invisible_characters(raw, shown):
    assert safe(raw) == shown


def test_safe_truncates_long_values_and_counts_what_is_left_out():
    assert safe("x" * 120) == "x" * 120
    assert safe(LONG) == "N" * 120 + "…(+9880 chars)"
    # Escapes count towards the limit and are never cut in half.
    shown = safe("\x1b" * 100)
    assert shown == "\\x1b" * 30 + "…(+70 chars)"
