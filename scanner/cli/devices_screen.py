"""`scanner devices`: what is attached, and what to do for each device not ready to scan.

The table escapes every string a device sent (a device name is the owner's
free text) and is laid out for the terminal (scanner/terminal/layout.py);
the JSON keeps values intact with `ensure_ascii`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from scanner.connectors.interface import Attached
from scanner.terminal.colour import Painter
from scanner.terminal.layout import Column, table, wrap
from scanner.terminal.text import safe

__all__ = ["write_devices"]

_PLATFORM = {"android": "Android", "ios": "iOS"}


def _identity(d: Attached) -> str:
    """The serial the reports show (ro.serialno, the UDID), with the transport beside it where it differs."""
    if d.hardware_serial and d.hardware_serial != d.serial:
        return f"{safe(d.hardware_serial, limit=64)} via {safe(d.serial, limit=64)}"
    return safe(d.serial, limit=64)


def write_devices(devices: Sequence[Attached], problems: Sequence[str], out: TextIO, fmt: str = "table", *,
                  color: bool = False, width: int | None = None) -> None:
    """The table (laid out for `width` columns, None: a pipe, a row per line; states coloured with `color`), or
    the JSON."""
    if fmt == "json":
        doc = {"devices": [asdict(d) for d in devices], "problems": list(problems)}
        out.write(json.dumps(doc, ensure_ascii=True, indent=2) + "\n")
        return
    paint = Painter(color)
    lines: list[str] = []
    if devices:
        columns = [
            Column("platform", [_PLATFORM.get(d.platform, safe(d.platform)) for d in devices], shrink=None),
            Column("serial", [_identity(d) for d in devices], shrink=3, floor=16),
            Column("state", [paint.word(safe(d.state), "ready" if d.state == "ready" else "partial")
                             for d in devices], shrink=None),
            Column("model", [safe(d.model or "", limit=40) for d in devices], shrink=1, floor=10),
            Column("name", [safe(d.name or "", limit=40) for d in devices], shrink=0, floor=10),
            Column("OS", [safe(d.os_version or "", limit=20) for d in devices], shrink=2, floor=6, drop=0),
        ]
        lines += table(columns, width)
        todo = [d for d in devices if d.state != "ready"]
        if todo:
            lines += ["", "To do before scanning:"]
            for d in todo:
                what = d.message or f"the device is {d.state}"
                who = " ".join(x for x in (safe(d.model or "", limit=40), _identity(d)) if x)
                lines += wrap(f"{who}: {safe(what, limit=400)}", "  ", "    ", width)
    else:
        lines.append("No device found.")
    for problem in problems:
        lines += ["", *wrap(safe(problem, limit=1000), "", "  ", width)]
    out.write("".join(f"{line}\n" for line in lines))
