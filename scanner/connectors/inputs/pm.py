"""`adb shell pm list packages` output, with any of -f, -i, -U and
--show-versioncode, and the users the device refused to list.
"""

from __future__ import annotations

import re

from scanner.connectors.inputs.common import clean_id, label_of, make_inventory, snippet
from scanner.connectors.inputs.source import Problems, Source
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["PM_REFUSED", "read_pm"]

# `pm list packages [-f] [-i] [-U] [--show-versioncode]`: the path holds "=" ("~~abc==/"), so the
# package is the last "="-free word before the optional fields. A greedy `(.+)=` would stop at
# `installer=` and return the installer as the package. Digits are bounded so that int() never
# meets a hostile 5,000-digit uid.
_PM_LINE = re.compile(
    r"^package:(?:(?P<path>\S+)=)?(?P<pkg>[^=\s]+)(?: versionCode:(?P<code>\d{1,19}))?"
    r"(?:\s+installer=(?P<installer>\S+))?(?: uid:(?P<uid>\d{1,10}))?\s*$"
)
PM_REFUSED = re.compile(r"SecurityException: .*?\buser (\d{1,10})\b")


def read_pm(name: str, src: Source) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    refused: dict[str, str] = {}  # user id -> what the device said
    for n, text in src.nonblank_lines(problems):
        m = _PM_LINE.match(text)
        if m is None:
            denied = PM_REFUSED.search(text)
            if denied:
                refused.setdefault(denied.group(1), text.strip())
            problems.add(
                f"line {n}: expected 'package:<name>' (adb shell pm list packages output), got {snippet(text)}",
                evidence=text,
            )
            continue
        path, pkg, code, installer, uid = m.group("path", "pkg", "code", "installer", "uid")
        pkg, why = clean_id(pkg, "package")
        if why:
            problems.add(f"line {n}: {why}")
            continue
        uid_n = int(uid) if uid else None
        apps.append(App(
            "android", pkg, None, None, code, None if installer in (None, "null") else installer,
            None if uid_n is None else uid_n // 100000, "installed", None, path, None, None, uid_n,
        ))
    scopes = tuple(Scope(f"user {u}", read=False, reason=f"refused: {snippet(t, 120)}") for u, t in refused.items())
    device = DeviceInfo(platform="android", serial=None, source=name)
    if not refused:
        return make_inventory(name, device, apps, problems, src)
    users = ", ".join(refused)
    message = (
        f"{label_of(name)}: user {users} (a work profile or another user) was refused by the device "
        f"({snippet(next(iter(refused.values())), 120)}), so its apps are not in this list and were not "
        f"checked; list them with adb shell pm list packages --user <id> where the shell may read that user, "
        f"or scan the device directly"
    )
    return make_inventory(name, device, apps, problems, src, scopes=scopes, reason="user-refused", message=message)
