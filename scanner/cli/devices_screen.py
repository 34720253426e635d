"""`scanner devices`: what is attached, and what to do for each device not ready to scan.

The table escapes every string a device sent (a device name is the owner's
free text); the JSON keeps values intact with `ensure_ascii`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence, TextIO

from scanner.connectors.interface import Attached
from scanner.terminal.text import safe

__all__ = ["write_devices"]

_PLATFORM = {"android": "Android", "ios": "iOS"}


def write_devices(devices: Sequence[Attached], problems: Sequence[str], out: TextIO, fmt: str = "table") -> None:
    if fmt == "json":
        doc = {"devices": [asdict(d) for d in devices], "problems": list(problems)}
        out.write(json.dumps(doc, ensure_ascii=True, indent=2) + "\n")
        return
    from tabulate import tabulate

    if devices:
        rows = [
            (_PLATFORM.get(d.platform, d.platform), safe(d.serial, limit=64), safe(d.state),
             safe(d.model or "", limit=40), safe(d.name or "", limit=40), safe(d.os_version or "", limit=20))
            for d in devices
        ]
        out.write(tabulate(rows, headers=("platform", "serial", "state", "model", "name", "OS")) + "\n")
        todo = [d for d in devices if d.state != "ready"]
        if todo:
            out.write("\nTo do before scanning:\n")
            for d in todo:
                what = d.message or f"the device is {d.state}"
                out.write(f"  {safe(d.serial, limit=64)}: {safe(what, limit=400)}\n")
    else:
        out.write("No device found.\n")
    for problem in problems:
        out.write(f"\n{safe(problem, limit=1000)}\n")
