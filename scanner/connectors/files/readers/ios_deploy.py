"""`ios-deploy --list_bundle_id` (`-B`) output: `[....]` status lines, then one bundle id per line, of one
iPhone; and the same list as `ios-deploy -B --json` writes it.

Verified in phonegap/ios-deploy, src/ios-deploy/ios-deploy.m: list_bundle_id() asks
AMDeviceLookupApplications for CFBundleIdentifier, CFBundleName, CFBundleDisplayName, CFBundleVersion and
CFBundleShortVersionString, then prints each key of the answer (a bundle id) with `NSLogOut(@"%@", key)`, one
a line on stdout; with `--json` it writes `{"Event": "ListBundleId", "Apps": {<bundle id>: {<attributes>}}}`
instead (NSLogJSON, and no status lines). Before the list, main() prints `[....] Waiting for iOS device to be
connected` (or `[....] Waiting up to N seconds ...`) and handle_device() `[....] Using <udid> (<model>, ...)
a.k.a. '<name>'.`, both with NSLogOut, so on stdout too; older versions print `Skipping <device>.` for a
device that `--id` did not ask for, and `-v` adds `Hardware Model: ...`-style lines. Those are the status
lines this reader passes over; any other line that is not a bundle id is a bad line (counted, its text kept
as evidence, the device never complete). Errors go to stderr (`[ !! ] ...` through NSLog).

Which apps the lookup returns without an ApplicationType option is not documented; the list is read as the
ideviceinstaller reader reads its default list: complete when every line was read. The file names no device
by serial here (the `[....] Using` line is a status line), so the serial is unknown (None), as there.

A head line that starts with `[` is taken for JSON by the format detection before any line reader is asked,
so a saved list whose first line is `[....] Waiting ...` is read here only once detection asks the line
readers first; a list without its status lines (`ios-deploy -B | grep -v '^\\['`) and the `--json` form are
read either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import failed_inventory, label_of, make_inventory
from scanner.connectors.files.readers.pymobiledevice3 import read_pmd3
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader
from scanner.connectors.records import Problems, clean_id, snippet
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["READER", "read_ios_deploy"]

_ID = re.compile(r"[ \t]*[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+[ \t]*")
# What ios-deploy prints on stdout around the list: its `[....]` status lines, `Skipping <device>.` (older
# versions, with --id), and the device lines of -v.
_STATUS = re.compile(
    r"^(?:\[\.\.\.\.\] .*|Skipping .*\.|(?:Hardware Model|Device Name|Model Name|SDK Name|Architecture Name): .*"
    r"|Already found device\? \d+)$"
)
# Where a second reverse-DNS id may begin inside a bundle id: a lost line break between two ids reads as one
# valid-looking id ("com.tencent.xincom.burbn.instagram"). Its pieces are kept as evidence, as the
# ideviceinstaller reader keeps them.
_SECOND_ID = re.compile(r"(?<=[A-Za-z0-9_.-])(?=(?:com|net|org|cn|io|jp|kr|ru|de|tv|me|co|uk|us|app)\.)")


def _head(text: str) -> bool:
    return text.startswith("[....] ") or _ID.fullmatch(text) is not None


def _is_json(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("Event") == "ListBundleId" and isinstance(doc.get("Apps"), dict)


def _read(name: str, *args: Any) -> Iterator[Inventory]:
    """A list of lines (src, head line), or the parsed `--json` document."""
    if len(args) == 2:
        src, _head_line = args
        yield read_ios_deploy(name, src)
        return
    apps = args[0]["Apps"]
    if not apps:
        yield failed_inventory(name, "empty", (
            f"{label_of(name)} is ios-deploy's ListBundleId answer with no apps in it, and a phone always has "
            f"some: run ios-deploy --list_bundle_id --json again with the phone unlocked and rescan"
        ), platform="ios")
        return
    yield read_pmd3(name, apps)


READER = FileReader(
    name="ios_deploy",
    description="`ios-deploy --list_bundle_id` output (lines, or its --json answer)",
    help="ios-deploy --list_bundle_id",
    head=_head,
    document=_is_json,
    shape="ios-deploy --list_bundle_id --json output (an object with Event ListBundleId and Apps)",
    read=_read,
)


def read_ios_deploy(name: str, src: InputLines) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    for n, text in src.nonblank_lines(problems):
        if _STATUS.match(text):
            continue
        app, why = _record(text)
        if app is None:
            problems.add(f"line {n}: {why}", evidence=text)
        else:
            apps.append(app)
            for m in _SECOND_ID.finditer(app.id):
                problems.search(f"{app.id[:m.start()].rstrip('.')} {app.id[m.start():]}")
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return make_inventory(name, device, apps, problems, src)


def _record(text: str) -> tuple[App | None, str]:
    if not text.isprintable():
        return None, (f"a line break or control character inside {snippet(text)} (NUL padding after a crash, ESC, "
                      f"a bidi mark...): the line is damaged or forged, and other apps may be hidden in it")
    if _ID.fullmatch(text) is None:
        return None, (f"expected one bundle id a line (ios-deploy --list_bundle_id), got {snippet(text)}; "
                      f"two records on one line, or another tool's output mixed in")
    app_id, why = clean_id(text, "bundle id", dotted=True)
    if why:
        return None, why
    return App("ios", app_id, None, None), ""
