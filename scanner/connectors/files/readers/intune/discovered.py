"""Intune's Discovered-apps reports exported as CSV (Reports > Discovered apps, or
the Graph export jobs): AppInvRawData, AppInvByDevice and DevicesByAppInv, one
row per app per device (ApplicationKey, ApplicationName, ApplicationPublisher,
ApplicationShortVersion, ApplicationVersion, DeviceId, DeviceName,
OSDescription, OSVersion, Platform, UserId, EmailAddress, UserName), and
AppInvAggregate / DetectedAppsAggregate, one row per app with a DeviceCount.

Verified against: the column names research/mdm-inventories.md §2 gives for the
export jobs (observed in Microsoft's documentation of the reports, no real
export). Accepted as variants: headers in any case and order, extra columns
(ignored), `<Column>_loc` twins (localizedValuesAsAdditionalColumn: the raw
column is preferred, the twin used only when the raw one is absent), a UTF-8
BOM, `;` or `,` as the delimiter (decided from the header line), quoted or not.
The display-style headers of the admin center's "selected columns" export
("Application name", "Device ID", "Device name", "Device count", ...) are
unverified: a small synonym table accepts them (rows.py). Recognised by a
header with ApplicationKey or ApplicationName and DeviceId or DeviceCount.

Each mobile row is an app by display name only (App evidence "name"; the
ApplicationKey is a hash and never the id). A device is keyed "Intune id
<DeviceId>"; the export can hold millions of rows, so it is streamed: one
Inventory per contiguous run of one device's rows (the audit merges the runs of
one device: a device listed again later, or once per app version, is one
device). Every mobile device is partial with reason mdm-scope: Intune's
discovered apps leave out system apps on a corporate iOS device, list only
managed apps on a personal one and only the work profile on Android Enterprise,
and the export does not say which a device is. Windows, macOS, Linux and
ChromeOS rows are not checked (counted per device); a blank or unknown Platform
is a bad record. An aggregate report is one inventory of counted apps
(App.devices), partial with reason aggregate: it names no device.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from scanner.connectors.files.csv_rows import csv_records
from scanner.connectors.files.readers.intune.rows import Columns, Rows
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.model import Inventory

__all__ = ["READER", "read_discovered_csv"]


def _delimiter(text: str) -> str:
    return ";" if text.count(";") > text.count(",") else ","


def _cells(text: str) -> list[str]:
    text = text.lstrip("\ufeff").rstrip("\r\n")
    try:
        cells = next(csv.reader([text], delimiter=_delimiter(text), skipinitialspace=True), [])
    except csv.Error:
        cells = text.split(_delimiter(text))
    return [c.strip() for c in cells]


def _is_header(text: str) -> bool:
    return len(text) < 8192 and not text.lstrip("\ufeff \t").startswith(("{", "[")) and Columns(_cells(text)).recognised


def read_discovered_csv(name: str, src: InputLines, at: int) -> Iterator[Inventory]:
    text = src.head[at].decode("utf-8", "replace")
    delimiter = _delimiter(text.rstrip("\r\n"))
    rows = Rows(name, Columns(_cells(text)), delimiter=delimiter)
    yield from rows.feed(csv_records(src, at + 1, [], rows.orphans, delimiter=delimiter, skipinitialspace=True))
    yield from rows.end(src)


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    return read_discovered_csv(name, src, head.at)


READER = FileReader(
    name="intune-csv",
    description="an Intune Discovered-apps report (AppInvRawData, AppInvAggregate...) as CSV",
    help="an Intune Discovered-apps CSV",
    head=_is_header,
    read=_read,
)
