"""`adb shell pm list packages` output, with any of -f, -i, -U and
--show-versioncode, and the users the device refused to list.

pm ends every line it prints and prints nothing but `package:` lines, so
anything else is a damaged line: counted, kept as evidence, and the device is
never complete. The one exception is what adb itself prints first when it has
to start its server: those lines are recognised exactly and skipped.
"""

from __future__ import annotations

import re

from scanner.connectors.files.common import clean_id, label_of, make_inventory, snippet
from scanner.connectors.files.source import Problems, Source
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["ADB_STATUS", "PM_REFUSED", "pm_evidence", "pm_line", "read_pm"]

_PREFIX = "package:"
# `pm list packages [-f] [-i] [-U] [--show-versioncode]`: the path holds "=" ("~~abc==/"), so the
# package is the last "="-free word before the optional fields. A greedy `(.+)=` would stop at
# `installer=` and return the installer as the package. Digits are bounded so that int() never
# meets a hostile 5,000-digit uid. Every field is held to what pm really prints: an absolute path of
# printable ASCII that never holds "package:" (two lines joined into one would otherwise read as the
# second app only: pm_line() checks that first, since a lookahead inside the repeat costs the regex
# engine memory for every character of a hostile 50 MB line), an installer that is a package name (or "null"), spaces between fields. NUL padding, ESC, bidi
# marks or any other control character in a field therefore make no match. The package itself is
# checked by clean_id, which says what is wrong with it. Shared with the live listing (adb_parse).
_PM_LINE = re.compile(
    r"^package:(?:(?P<path>/[!-~]*)=)?(?P<pkg>[^=\s]+)(?: versionCode:(?P<code>\d{1,19}))?"
    r"(?: +installer=(?P<installer>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*))?(?: uid:(?P<uid>\d{1,10}))?[ \t]*\r?$"
)


def pm_line(text: str) -> re.Match[str] | None:
    """The fields of one `pm list packages` line, or None when it is not one (a second "package:" in it
    means two lines joined)."""
    return None if text.find(_PREFIX, 1) >= 0 else _PM_LINE.match(text)


PM_REFUSED = re.compile(r"SecurityException: .*?\buser (\d{1,10})\b")
# What adb prints when it has to start (or restart) its server before running the command: on stderr
# since adb 1.0.36 and on stdout before, so a listing saved with 2>&1 or copied from a console begins
# with it. Recognised whole and exactly (a port, never a name): such a line holds no app.
ADB_STATUS = re.compile(
    r"\* daemon not running; starting now at tcp:\d{1,5}"
    r"|\* daemon not running\. starting it now on port \d{1,5} \*"
    r"|\* daemon started successfully(?: \*)?"
    r"|adb server version \(\d{1,5}\) doesn't match this client \(\d{1,5}\); killing\.\.\."
    r"|adb server is out of date\.  killing\.\.\."
)


def read_pm(name: str, src: Source) -> Inventory:
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
    records = text.count(_PREFIX)
    if records > 1:
        return (f"{records} 'package:' records on one line (lines joined by a lost line break, or copied from a "
                f"narrow console): {snippet(text)}; none of them was read as an app")
    if records and not text.startswith(_PREFIX):
        return f"other text before 'package:' in {snippet(text)}, so the line was not read as an app"
    if not text.rstrip(" \t").isprintable():
        return (f"a control, format or line-break character (NUL padding after a crash, ESC, a bidi mark...) in "
                f"{snippet(text)}, so the line is damaged or forged and was not read as an app")
    return f"expected 'package:<name>' (adb shell pm list packages output), got {snippet(text)}"


def pm_evidence(text: str | bytes) -> str | bytes:
    """The text of a line that was not read, to be searched for whole ids;
    with its records split apart when several were joined, since the join
    glues one app's id to the next record ("com.tencent.mmpackage:").
    Shared with the live listing, whose lines are bytes."""
    if isinstance(text, bytes):
        return text if text.find(b"package:", 1) < 0 else text + b"\n" + text.replace(b"package:", b"\n")
    return text if text.find(_PREFIX, 1) < 0 else text + "\n" + text.replace(_PREFIX, "\n")