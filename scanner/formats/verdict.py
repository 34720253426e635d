"""watch's verdict line: one line on stdout per scanned device, read by an admin at the USB hub.

Every string a device sent goes through `safe()`, as in the table.
"""

from __future__ import annotations

import time

from scanner.model import SEVERITIES, DeviceResult, device_verdict
from scanner.terminal.text import safe

__all__ = ["verdict_line"]


def verdict_line(result: DeviceResult, fail_on: str, transport: str | None = None) -> str:
    """When, which device, the verdict, what was found or what to do.

    `transport`: what watch knows the device by (adb transport serial, USB path); shown beside the hardware
    serial when it differs, since two clones report one ro.serialno and only this tells their lines apart.
    """
    d = result.device
    label = " ".join(safe(x, limit=60) for x in dict.fromkeys((d.name, d.model)) if x) or "-"
    if transport and transport != d.serial:
        label += f" (via {safe(transport, limit=80)})"
    word = device_verdict(result, fail_on)
    parts = [time.strftime("%H:%M:%S"), f"{d.platform or '?':<7}", safe(d.serial or d.source, limit=80), label,
             word.upper()]
    details = []
    for severity in SEVERITIES:
        names = dict.fromkeys(safe(f.listed) for f in result.findings if f.severity == severity)
        if names:
            details.append(f"{severity}: " + ", ".join(names))
    if result.status != "complete":
        details.append(safe(result.message or result.reason or result.status, limit=400))
    elif not result.findings:
        details.append(f"{result.app_count} apps read, nothing listed")
    return "  ".join(parts) + ("  " + "; ".join(details) if details else "")
