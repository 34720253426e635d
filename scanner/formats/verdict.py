"""watch's verdict line: one line on stdout per scanned device, read by an admin at the USB hub.

Every string a device sent goes through `safe()`, as in the table. At a terminal the line is wrapped to its
width (the verdict word coloured); in a pipe or a file it is one line, for grep and for logs. A device's
message tells a person what to do, in words written for `scanner scan` ("then run again"): watch rescans by
itself, so here it says when watch reads the device again instead.
"""

from __future__ import annotations

import re
import time
from datetime import date

from scanner.model import SEVERITIES, DeviceResult, device_verdict
from scanner.terminal.colour import Painter
from scanner.terminal.layout import wrap
from scanner.terminal.text import safe

__all__ = ["for_watch", "verdict_line"]

# "…, then run again", "… and run again", "…: run again, and report this": what a scan's message asks for.
_RUN_AGAIN = re.compile(r"(?:,\s*then|,?\s+and|,?\s+then|:)?\s*\brun (?:it )?again\b", re.IGNORECASE)
_REPLUG = " — watch reads it again when it is plugged back in"
_PROMPT = " — watch reads it as soon as the prompt is accepted"


def for_watch(message: str, reason: str | None = None) -> str:
    """A device's message as watch says it: never "run again", since watch rescans by itself."""
    again = _PROMPT if reason == "unauthorized" else _REPLUG
    text, n = _RUN_AGAIN.subn(again, message, count=1)
    text = _RUN_AGAIN.sub("", text)  # a second "run again" (rare) says nothing the first did not
    return text if n else message


def verdict_line(result: DeviceResult, fail_on: str, transport: str | None = None, *, color: bool = False,
                 width: int | None = None, day: date | None = None) -> str:
    """When, which device, the verdict, what was found or what to do.

    `transport`: what watch knows the device by (adb transport serial, USB path); shown beside the hardware
    serial when it differs, since two clones report one ro.serialno and only this tells their lines apart.
    `day`: the day watch started; a line of another day carries its date. `width`: the terminal's columns
    (the line is wrapped to them), None for one line.
    """
    d = result.device
    paint = Painter(color)
    label = " ".join(safe(x, limit=60) for x in dict.fromkeys((d.name, d.model)) if x) or "-"
    if transport and transport != d.serial:
        label += f" (via {safe(transport, limit=80)})"
    word = device_verdict(result, fail_on)
    stamp = time.strftime("%H:%M:%S") if day is None or date.today() == day else time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [stamp, f"{d.platform or '?':<7}", safe(d.serial or d.source, limit=80), label,
             paint.word(word.upper(), word)]
    details = []
    for severity in SEVERITIES:
        names = dict.fromkeys(safe(f.listed) for f in result.findings if f.severity == severity)
        if names:
            details.append(f"{paint.word(severity)}: " + ", ".join(names))
    if result.status != "complete":
        what = result.message or result.reason or result.status
        details.append(safe(for_watch(what, result.reason) if result.message else what, limit=400))
    elif not result.findings:
        details.append(f"{result.app_count} app{'' if result.app_count == 1 else 's'} read, nothing listed")
    line = "  ".join(parts) + ("  " + "; ".join(details) if details else "")
    return "\n".join(wrap(line, "", " " * 10, width)) if width is not None else line
