"""The fleet CSV's header: the columns it may name, whether it can be
trusted to say which value of a row is which (header_fault, refused), and
a row that is the header again (is_header_row, HEADER_AGAIN)."""

from __future__ import annotations

import re

from scanner.connectors.files.common import KNOWN_PLATFORMS, header_refused
from scanner.connectors.files.source import InputLines
from scanner.connectors.records import snippet
from scanner.model import Inventory

CSV_FIELDS = ("name", "version", "build", "user", "state", "installer", "team_id")

# The control characters (Unicode Cc): refused in every value, since no real value holds one. NUL padding
# after a crash, ESC, a tab or a carriage return standing for a line break mean a damaged or forged line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


HEADER_AGAIN = ("the header line again (two exports joined into one?): not a row of any device, and the rows "
                "after it may follow another order of columns")


def is_header_row(row: list[str]) -> bool:
    return {"platform", "device", "app_id"} <= {c.strip(" \t\ufeff").lower() for c in row}


_COLUMNS = frozenset(("platform", "device", "app_id", *CSV_FIELDS))


def header_fault(cells: list[str]) -> str | None:
    """Why the header cannot be trusted to say which value is which, or None:
    a column named twice (compared without case), a control character, or
    a row joined to it ("version" + "android,R58M1,..." = "versionandroid")."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for cell in cells:
        key = cell.casefold()
        if CONTROL.search(cell):
            return f"the header's column {snippet(cell)} holds a control character"
        if key in KNOWN_PLATFORMS or any(key.endswith(p) and key[:-len(p)] in _COLUMNS for p in KNOWN_PLATFORMS):
            return f"the header's column {snippet(cell)} is not a name but runs into a row (a lost line break)"
        if key in seen:
            repeated[cell] = None
        elif key:  # columns with no name ("a,b,c,," from a spreadsheet) are ignored
            seen.add(key)
    if repeated:
        names = ", ".join(repr(r) for r in repeated)
        return (f"the header gives the column {names} more than once, so which of them holds each row's value "
                f"cannot be known")
    return None


def refused(name: str, src: InputLines, at: int, why: str) -> Inventory:
    return header_refused(name, src, at, why, "export it again with each column named once and nothing else on "
                                               "the header line")
