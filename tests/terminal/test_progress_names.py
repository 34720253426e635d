"""A progress line names the device as its report will (model and hardware serial), with the transport beside
it where it differs, once the connector knows who the device is; until then, by its transport."""

from __future__ import annotations

import io
import os

from scanner.terminal.progress import ProgressDisplay


def display() -> ProgressDisplay:
    return ProgressDisplay(io.StringIO(), clock=lambda: 0.0, size=lambda: os.terminal_size((80, 24)), tick=3600)


def test_a_line_names_the_device_once_it_is_known():
    d = display()
    d("android", "127.0.0.1:43511", "reading")
    assert "127.0.0.1:43511" in d.lines()[0] and "SM-S911B" not in d.lines()[0]
    d.name("android", "127.0.0.1:43511", "SM-S911B SIMGALAXYS23B")
    assert "SM-S911B SIMGALAXYS23B (via 127.0.0.1:43511)" in d.lines()[0]
    d.name("ios", "00008110-00125C963A91801E", "iPhone15,2 00008110-00125C963A91801E")
    d("ios", "00008110-00125C963A91801E", "done", 7)
    line = d.lines()[1]
    assert "iPhone15,2 00008110-00125C963A91801E" in line and "(via" not in line  # the UDID is the serial
    d.close()


def test_a_hostile_or_wide_name_is_escaped_and_the_line_still_fits():
    d = display()
    d("android", "emulator-5554", "reading")
    d.name("android", "emulator-5554", "\x1b[2J华为手机华为手机华为手机华为手机 R58N\u202e")
    line = d.lines()[0]
    assert "\x1b" not in line and "\u202e" not in line and "\\x1b[2J" in line
    width = sum(2 if ch in "华为手机" else 1 for ch in line)
    assert width <= 79
    d.close()
