"""`adb shell pm list packages` output, with any of -f, -i, -U and
--show-versioncode, and the users the device refused to list.

pm ends every line it prints and prints nothing but `package:` lines, so
anything else is a damaged line: counted, kept as evidence, and the device is
never complete. The one exception is what adb itself prints first when it has
to start its server: those lines are recognised exactly and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.connectors.files.common import label_of, make_inventory
from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.pm import ADB_STATUS, PM_PREFIX, PM_REFUSED, pm_evidence, pm_line
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import Problems, clean_id, snippet
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_pm"]


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    yield read_pm(name, src)


READER = FileReader(
    name="pm",
    description="`adb shell pm list packages` output",
    help="pm list packages",
    head=lambda text: text.startswith(PM_PREFIX),
    read=_read,
)


def read_pm(name: str, src: InputLines) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    refused: dict[str, str] = {}  # user id -> what the device said
    listing = False  # a package line was read: adb's status lines come only before the listing
    for n, text in src.nonblank_lines(problems):
        m = pm_line(text)
        if m is None:
            if not listing and ADB_STATUS.fullmatch(text.strip(" \t")):
                continue
            denied = PM_REFUSED.search(text)
            if denied:
                refused.setdefault(denied.group(1), text.strip())
            problems.add(f"line {n}: {_fault(text)}", evidence=pm_evidence(text))
            continue
        listing = True
        path, pkg, code, installer, uid = m.group("path", "pkg", "code", "installer", "uid")
        pkg, why = clean_id(pkg, "package")
        if why:
            problems.add(f"line {n}: {why}", evidence=pm_evidence(text))
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


def _fault(text: str) -> str:
    """Why a line is not a pm line, for a person."""
    records = text.count(PM_PREFIX)
    if records > 1:
        return (f"{records} 'package:' records on one line (lines joined by a lost line break, or copied from a "
                f"narrow console): {snippet(text)}; none of them was read as an app")
    if records and not text.startswith(PM_PREFIX):
        return f"other text before 'package:' in {snippet(text)}, so the line was not read as an app"
    if not text.rstrip(" \t").isprintable():
        return (f"a control, format or line-break character (NUL padding after a crash, ESC, a bidi mark...) in "
                f"{snippet(text)}, so the line is damaged or forged and was not read as an app")
    return f"expected 'package:<name>' (adb shell pm list packages output), got {snippet(text)}"
