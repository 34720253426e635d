"""Kandji (now Iru) Prism apps: the fleet-wide app inventory, one row per app
per device, saved as the JSON pages of `GET /api/v1/prism/apps?limit=300&cursor=...`
(`{"data": [...], "cursor": "..."}`: one page, pages one after another
(`curl ... >> prism.json`), or a JSON array of pages), or as the CSV that
`POST /api/v1/prism/export` (category "apps") renders ("The export always
produces a CSV file with a header row").

Verified against: Kandji's own public examples (kandji-inc/support
api-tools/code-examples: the `data` list and the `cursor` of a page, a page
with no cursor or no rows being the last; the export's CSV with a header row,
its `app_name` filter and its device families "Mac", "iPhone"); the
fields of a row are NOT shown by any source research/mdm-inventories.md §9
cites. Accepted, unverified: a row's device as `device_id` (or `device__id`),
`device_name`, `serial_number`, `device_family` (or `family`, `platform`),
`blueprint_name`, `last_check_in`, `user_email`; its app as `bundle_id`,
`app_name` (or `name`), `version`, `bundle_version`, `path`; the same names
as the CSV's headers in any case, spelled with spaces ("Bundle ID", "Device
Family") or underscores, `,`, `;` or tab delimited, with a BOM. A header is
recognised by an app column together with a blueprint or device-family
column (what no other export here has).

A row of a Mac (device family Mac, or no family and a path on disk such as
/Applications/WeChat.app) is listed as not checked with its rows counted; an
Apple TV or Vision Pro too; a row that names no family is read as an iPhone's
or iPad's (Kandji manages Apple devices only). What Kandji's inventory cannot
see is said on every device (it is what the device reports over Apple's MDM:
no preinstalled Apple apps on an iPhone or iPad, managed apps only for a User
Enrollment): partial with reason mdm-scope, never complete. A page whose
cursor says more pages follow, with none after it in the file, is a missing
page: the file fails as cut ("a cursor is given and no page follows").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import label_of
from scanner.connectors.files.readers.app_rows import AppRows, RowFormat, header_fields, normal, read_csv
from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text, strings_in
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import Problems, snippet
from scanner.model import DeviceInfo, Inventory, Scope

__all__ = ["FORMAT", "READER", "read_prism_json"]

_COLUMNS = {
    "deviceid": "device id", "serialnumber": "serial", "deviceserialnumber": "serial", "serial": "serial",
    "devicename": "device name", "devicefamily": "platform", "family": "platform", "platform": "platform",
    "bundleid": "app id", "bundleidentifier": "app id", "identifier": "app id",
    "appname": "app name", "name": "app name", "applicationname": "app name",
    "version": "version", "appversion": "version", "shortversion": "version", "bundleversion": "build",
    "lastcheckin": "date", "devicelastcheckin": "date", "osversion": "os version", "model": "model",
    "deviceuseremail": "user", "useremail": "user", "username": "user", "user": "user", "path": "path",
    "udid": "udid", "deviceudid": "udid",
}

FORMAT = RowFormat(
    system="Kandji Prism apps export",
    columns=_COLUMNS,
    marks=frozenset({"blueprint", "blueprintname", "blueprintid", "devicefamily", "family"}),
    key="Kandji id {}",
    platform="ios",
    blind=("Kandji's inventory is what the device reports over Apple's MDM: it leaves out an iPhone's or iPad's "
           "preinstalled Apple apps, and a User Enrollment reports managed apps only"),
    advice="scan the iPhone itself over USB to check every app",
    export="export Prism's apps again (POST /api/v1/prism/export, category apps) and rescan",
)


def _head(text: str) -> bool:
    return header_fields(FORMAT, text)


def _read_csv(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    return read_csv(name, FORMAT, src, head.at)


def _page(doc: object) -> bool:
    if not isinstance(doc, dict) or "schema_version" in doc or not isinstance(doc.get("data"), list):
        return False
    rows = [r for r in doc["data"][:50] if isinstance(r, dict)]
    named = any(normal(k) in ("bundleid", "appname") for r in rows for k in r)
    return ("cursor" in doc and (named or not doc["data"])) or (named and any(
        normal(k) in ("deviceid", "serialnumber") for r in rows for k in r))


def _is_prism(doc: object) -> bool:
    return _page(doc) or (isinstance(doc, list) and any(_page(d) for d in doc))


def _cell(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def read_prism_json(name: str, doc: Any) -> Iterator[Inventory]:
    pages = doc if isinstance(doc, list) else [doc]
    rows = AppRows(name, FORMAT, what="rows")
    extra = Problems()
    ended = False
    number = 0
    for p, page in enumerate(pages, 1):
        at = f"page #{p}: " if len(pages) > 1 else ""
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            extra.add(f"{at}{json_type(page)} that is no Prism page ({{\"data\": [...]}})",
                      evidence=" ".join(strings_in(page)))
            continue
        if isinstance(page, Repeats):
            extra.add(f"{at}the page gives {keys_text(page.repeated)} more than once, so it was edited or damaged",
                      evidence=" ".join(strings_in([v for k, v in page.pairs if k in page.repeated])))
        cursor = page.get("cursor")
        if not page["data"] or cursor is None or cursor == "":
            ended = True
        elif not isinstance(cursor, str):
            extra.add(f"{at}the cursor is {json_type(cursor)}, not text")
        for record in page["data"]:
            number += 1
            text = " ".join(strings_in(record))
            if not isinstance(record, dict):
                extra.add(f"{at}row {number}: {json_type(record)}, not an object of app attributes", evidence=text)
                continue
            values: dict[str, str] = {}
            bad = None
            if isinstance(record, Repeats):
                bad = f"gives {keys_text(record.repeated)} more than once"
            for key, value in record.items():
                field = _COLUMNS.get(normal(key))
                if field is None:
                    continue
                cell = _cell(value)
                if cell is None:
                    bad = bad or f"{key} is {json_type(value)}, not text"
                elif cell:
                    values.setdefault(field, cell)
            if bad is not None:
                _bad_row(rows, values, number, f"row {number}: {bad}", text, extra)
                continue
            done = rows.row(number, values, text)
            if done is not None:
                yield done
    yield from rows.end(None, extra if extra.count else None)
    if not ended and number:
        cursor = next((page.get("cursor") for page in reversed(pages) if isinstance(page, dict)), None)
        yield Inventory(
            device=DeviceInfo(platform=None, serial=None, source=name), apps=(),
            coverage=(Scope("records", read=False, reason="pages missing"),), status="failed", reason="truncated",
            message=(f"{label_of(name)}: every page gives a cursor (the last {snippet(str(cursor))}), so the pages "
                     f"after it are not in this file and their devices were not checked: fetch every page (until one "
                     f"gives no cursor) or {FORMAT.export}"))


def _bad_row(rows: AppRows, values: dict[str, str], number: int, why: str, text: str, extra: Problems) -> None:
    """A row that cannot be trusted: charged to its device when it names one, else to the whole file."""
    run = rows.run
    key = FORMAT.key.format(values["device id"]) if values.get("device id") else values.get("serial")
    if run is not None and key == run.key:
        run.rows += 1
        run.problems.add(why, evidence=text)
    else:
        extra.add(why, evidence=text)


def _read(name: str, *args: Any) -> Iterator[Inventory]:
    """The CSV as lines (src, head line), or the parsed JSON pages (doc)."""
    if len(args) == 1:
        yield from read_prism_json(name, args[0])
    else:
        yield from _read_csv(name, args[0], args[1])


READER = FileReader(
    name="kandji-prism",
    description="a Kandji Prism apps export (prism/apps JSON pages or the export's CSV)",
    help="Kandji Prism apps JSON or CSV",
    head=_head,
    document=_is_prism,
    shape='Kandji Prism apps pages ({"data": [...], "cursor": ...})',
    read=_read,
)
