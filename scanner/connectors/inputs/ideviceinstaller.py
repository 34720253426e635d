"""`ideviceinstaller -l` output: the old `<bundle id> - <name> <version>`
lines and the newer CSV form, both with an optional `Total: N apps` header
that says whether the list was cut short.
"""

from __future__ import annotations

import re

from scanner.connectors.inputs.common import clean_id, label_of, make_inventory, snippet
from scanner.connectors.inputs.csv_rows import csv_records, header_cells
from scanner.connectors.inputs.source import Problems, Source
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["TOTAL_LINE", "read_idevice_csv", "read_idevice_list"]

TOTAL_LINE = re.compile(r"^Total: (\d{1,9}) apps?\s*$")
# ideviceinstaller before 1.1.1: `<bundle id> - <display name> <version>`.
_IDEVICE_LINE = re.compile(r"^(?P<id>\S+) - (?P<rest>.*)$")


def read_idevice_list(name: str, src: Source, total: int | None) -> Inventory:
    """The old form: `Total: N apps`, then `<bundle id> - <name> <version>` lines."""
    apps: list[App] = []
    problems = Problems()
    seen_total = False
    for n, text in src.nonblank_lines(problems):
        if not seen_total and total is not None and TOTAL_LINE.match(text):
            seen_total = True
            continue
        m = _IDEVICE_LINE.match(text.strip())
        if m is None:
            problems.add(f"line {n}: expected '<bundle id> - <name> <version>' (ideviceinstaller -l), "
                         f"got {snippet(text)}")
            continue
        app_id, why = clean_id(m.group("id"), "bundle id")
        if why:
            problems.add(f"line {n}: {why}")
            continue
        if not m.group("rest").isprintable():  # a carriage return or line break inside: more records may hide here
            problems.add(f"line {n}: a line break or control character inside {snippet(text)}; other apps may "
                         f"be hidden in it")
            continue
        name_part, _, version = m.group("rest").rpartition(" ")
        if not version[:1].isdigit():  # no version printed: it is all name
            name_part, version = m.group("rest"), ""
        apps.append(App("ios", app_id, name_part.strip() or None, version or None))
    return _ios_inventory(name, src, apps, problems, total)


def read_idevice_csv(name: str, src: Source, at: int, total: int | None) -> Inventory:
    """The CSV form: a `CFBundleIdentifier, ...` header, then rows of plist-printed values."""
    header = header_cells(src.head[at])
    col = {h: i for i, h in reversed(list(enumerate(header)))}  # the first of a repeated name wins
    width = len(header)
    problems = Problems()
    for n, text in src.text_lines():  # lines before the header: blank, Total, errors, not UTF-8
        if n > at:
            break
        if text is None:
            problems.add(f"line {n}: not valid UTF-8")
        elif text.strip() and not TOTAL_LINE.match(text):
            problems.add(f"line {n}: not part of an ideviceinstaller list: {snippet(text)}")
    getters = {
        key: col.get(attr)
        for key, attr in (
            ("id", "CFBundleIdentifier"), ("display", "CFBundleDisplayName"), ("bundle_name", "CFBundleName"),
            ("version", "CFBundleShortVersionString"), ("build", "CFBundleVersion"),
            ("type", "ApplicationType"), ("signer", "SignerIdentity"), ("path", "Path"),
        )
    }

    def cell(row: list[str], key: str) -> str | None:
        i = getters[key]
        return (row[i].strip() or None) if i is not None else None

    apps: list[App] = []
    bad: list[int] = []
    i_id = getters["id"]
    for n, row in csv_records(src, at + 1, bad, problems, skipinitialspace=True, escapechar="\\"):
        if len(row) != width:
            problems.add(f"line {n}: expected {width} values ({', '.join(header)}), found {len(row)}")
            continue
        app_id, why = clean_id(row[i_id] if i_id is not None else "", "CFBundleIdentifier")
        if why:
            problems.add(f"line {n}: {why}")
            continue
        app_type = cell(row, "type")
        apps.append(App(
            "ios", app_id, cell(row, "display") or cell(row, "bundle_name"), cell(row, "version"),
            cell(row, "build"), None, None, "hidden" if app_type == "Hidden" else "installed",
            {"System": True, "User": False}.get(app_type or ""), cell(row, "path"), None, cell(row, "signer"),
        ))
    return _ios_inventory(name, src, apps, problems, total)


def _ios_inventory(name: str, src: Source, apps: list[App], problems: Problems, total: int | None) -> Inventory:
    device = DeviceInfo(platform="ios", serial=None, source=name)
    if total is None or len(apps) + problems.count >= total:
        return make_inventory(name, device, apps, problems, src)
    missing = total - len(apps) - problems.count
    problems.add(f"the header says 'Total: {total} apps' but {missing} of them are not in the file", missing)
    message = (
        f"{label_of(name)} says 'Total: {total} apps' but lists {len(apps)}: the list was cut short, so "
        f"{missing} apps were not checked; export it again (ideviceinstaller -l > file) and rescan"
    )
    return make_inventory(name, device, apps, problems, src, reason="truncated", message=message, unit="apps")
