"""The fleet CSV: platform,device,app_id[,name,version,...], one row per app
of a device.

It can hold millions of rows, so it is streamed: one device's apps at a
time, one Inventory per contiguous run of rows of a device (the audit merges
runs of the same device, and so also the parts of a device's result that
are only known at the end, below).

A row that cannot be read is charged to every device it may be a row of,
never to one device only, and its text goes with it as evidence:

- the device written on its own line, when that cell is whole (a last line
  cut inside its device cell names no device: it goes to every device whose
  serial begins so, and to the file);
- the device of each row hidden inside it (rows joined by a carriage return
  or a tab, rows a stray quote swallowed);
- every device of the file whose serial is one of its values, or the start
  or end of one (a serial run into the next value by a lost comma);
- when the line is broken (not one line of the header's width) and its
  device cell names no device read elsewhere, the devices whose serial that
  cell starts or is the start of, or else the file: the cell may be a
  damaged serial. A serial holding a control or format character is always
  treated so.

Devices already yielded get a part of their own at the end. What cannot be
told to any device goes to the file's own result (no device): "treat every
device in it as possibly incomplete", and the exit code is incomplete.

The package: rows (the rows, streamed), blocks (the lines, read in blocks
for csv), fleet (the records that cannot be read, and whose they may be),
header (the header and the columns), results (what is yielded).
"""

from __future__ import annotations

from typing import Iterator

from scanner.connectors.files.csv_rows import header_cells
from scanner.connectors.files.readers.fleet_csv.rows import read_fleet_csv
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.model import Inventory

__all__ = ["READER", "read_fleet_csv"]


def _is_header(text: str) -> bool:
    names = {c.lower() for c in header_cells(text.encode("utf-8"))}
    return {"platform", "device", "app_id"} <= names


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    return read_fleet_csv(name, src, head.at)


READER = FileReader(
    name="fleet-csv",
    description="a CSV with a platform,device,app_id header",
    help="a platform,device,app_id CSV",
    head=_is_header,
    read=_read,
)
