"""`tidevice applist` output: one `<bundle id> <display name> <version>` line per app, of one iPhone.

Verified in alibaba/tidevice, tidevice/__main__.py (cmd_applist): each app is printed with
`print(bundle_id, display_name, version)`, so the three fields are joined by single spaces, the display
name (CFBundleDisplayName) may hold spaces itself, and a missing CFBundleShortVersionString prints as ""
(the line then ends in a space). `--type` is `user` by default (choices user, system, all): like
`ideviceinstaller -l`, whose reader counts a device complete when every line of its list was read, the
default list holds the user apps, and this reader treats it the same way. The file names no device, so the
serial is unknown (None), as in the ideviceinstaller reader.

go-ios prints the same line for `ios apps --list` (danielpaulus/go-ios, main.go, printInstalledApps:
`fmt.Printf("%s %s %s\\n", CFBundleIdentifier, CFBundleName, CFBundleShortVersionString)`), so that list
is read here too.

Plausible variants are accepted: a line whose trailing space was lost (`com.example.notes Notes`, read as a
name without a version when its last word does not start with a digit), and blanks around the line.
A line with a control or format character (ESC, a bidi mark, NUL padding), with no name part at all, or
holding a second record (a lost line break), is a bad line: counted, its text kept as evidence, and the
device never complete. A last line without its line break may have been cut, so the list is never
complete then either.

Recognised by a head line that is a bundle id, one space and more, but not `<bundle id> - ` (the old
`ideviceinstaller -l` form) nor a bare bundle id (`ios-deploy --list_bundle_id`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scanner.connectors.files.common import make_inventory
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import Problems, clean_id, snippet
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["READER", "read_tidevice"]

_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+"
# The deciding head line: a bundle id, one space, then something, but not "- " (ideviceinstaller's form).
_HEAD = re.compile(rf"^[ \t]*{_ID} (?!- )(?=.*\S)")
# A reverse-DNS id of three labels or more inside the name and version: another record on this line.
_ANOTHER_ID = re.compile(r"(?<![A-Za-z0-9_.-])[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+){2,}")
# A version with the next record's bundle id glued to it ("17.5com.tencent.xin"): a lost line break.
_GLUED = re.compile(r"(?<![A-Za-z0-9_.-])\d+(?:\.\d+)*[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+")
# For the evidence only: the version that a lost line break glued to the next record's bundle id.
_VERSION_THEN_ID = re.compile(r"(?<![A-Za-z0-9_.-])(\d+(?:\.\d+)*)(?=[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)")


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    yield read_tidevice(name, src)


READER = FileReader(
    name="tidevice",
    description="`tidevice applist` (or go-ios `ios apps --list`) output",
    help="tidevice applist",
    head=lambda text: _HEAD.match(text) is not None,
    read=_read,
)


def read_tidevice(name: str, src: InputLines) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    for n, text in src.nonblank_lines(problems):
        app, why = _record(text)
        if app is None:
            split = _VERSION_THEN_ID.sub(r"\1 ", text)  # "13.1com.tencent.xin": the next record's id kept whole
            problems.add(f"line {n}: {why}", evidence=text if split == text else f"{text}\n{split}")
        else:
            apps.append(app)
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return make_inventory(name, device, apps, problems, src)


def _record(text: str) -> tuple[App | None, str]:
    """The App of one line, or None and why it is not one."""
    if not text.isprintable():
        return None, (f"a line break or control character inside {snippet(text)} (NUL padding after a crash, ESC, "
                      f"a bidi mark...): the line is damaged or forged, and other apps may be hidden in it")
    line = text.lstrip(" \t").rstrip("\t")
    app_id, sep, rest = line.partition(" ")
    if not sep:
        return None, f"expected '<bundle id> <name> <version>' (tidevice applist), got {snippet(text)}"
    app_id, why = clean_id(app_id, "bundle id", dotted=True)
    if why:
        return None, why
    if app_id[0].isdigit():  # a reverse-DNS id never starts with a digit: a version glued to it
        return None, (f"bundle id {snippet(app_id)} starts with a digit, as the version of a record whose line "
                      f"break was lost does; none of the records on this line was read as an app")
    if _GLUED.search(rest) or _ANOTHER_ID.search(rest):
        return None, (f"more than one record on one line (a lost line break, or a copy from a narrow console): "
                      f"{snippet(text)}; none of them was read as an app")
    name_part, _, version = rest.rpartition(" ")
    if version and not version[0].isdigit():  # the trailing space of an empty version was lost: all name
        name_part, version = rest, ""
    return App("ios", app_id, name_part.strip() or None, version or None), ""
