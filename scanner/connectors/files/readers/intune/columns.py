"""Intune's Discovered-apps reports exported as JSON (format "json" of the
export jobs): `{"columns": [...], "values": [...]}`, each value a row object
keyed by column name or a row array in column order (both accepted); a UTF-8
BOM is allowed. The columns are those of the CSV form (discovered.py), read by
the same rows (rows.py): devices keyed "Intune id <DeviceId>", every mobile
device partial mdm-scope, apps by display name, desktop rows not checked, an
aggregate one counted inventory.

Verified against: the shape CIPP's test fixture gives for "Intune's own layout"
(research/mdm-inventories.md §2.2, observed in public code; no real export).
Recognised by a top-level object with a `columns` list naming ApplicationKey or
ApplicationName and DeviceId or DeviceCount, and a `values` list. A value that
is neither an object nor an array, or holds a value that is no text, number or
null, is a bad record: counted, its strings kept as evidence.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.connectors.files.common import failed_inventory, label_of, value_evidence
from scanner.connectors.files.readers.intune.rows import Columns, Rows
from scanner.connectors.grammars.json_values import Repeats, json_type, strings_in
from scanner.connectors.interface import FileReader
from scanner.model import Inventory

__all__ = ["READER", "read_discovered_json"]


def _is_report(doc: object) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list) or "values" not in doc:
        return False
    cols = doc["columns"]
    return all(isinstance(c, str) for c in cols) and Columns(cols).recognised


def _cell(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def read_discovered_json(name: str, doc: dict) -> Iterator[Inventory]:
    columns = Columns(doc["columns"])
    values = doc["values"]
    if not isinstance(values, list):
        evidence = value_evidence(values)
        yield failed_inventory(name, "bad-records", f"{label_of(name)}: its values are {json_type(values)}, not a "
                                                    f"list of rows; export the report again", evidence=evidence)
        return
    rows = Rows(name, columns, what="rows")
    folded = {c.casefold(): i for i, c in enumerate(columns.cells)}
    if isinstance(doc, Repeats):
        rows.orphans.add(f"the report gives {', '.join(doc.repeated)} more than once, so it was edited or damaged",
                         evidence=" ".join(strings_in([v for k, v in doc.pairs if k in doc.repeated])))
    for n, value in enumerate(values, 1):
        text = " ".join(strings_in(value))
        if isinstance(value, dict):
            cells: list[str | None] = [""] * columns.width
            if isinstance(value, Repeats):
                rows.orphans.add(f"row {n}: a key is given more than once, so the row was edited or damaged",
                                 evidence=text)
                continue
            for key, cell in value.items():
                i = folded.get(key.casefold()) if isinstance(key, str) else None
                if i is not None:
                    cells[i] = _cell(cell)
        elif isinstance(value, list):
            cells = [_cell(v) for v in value]
        else:
            rows.orphans.add(f"row {n}: {json_type(value)}, not a row object or array", evidence=text)
            continue
        if any(c is None for c in cells):
            rows.orphans.add(f"row {n}: a value is neither text, a number nor null", evidence=text)
            continue
        done = rows.row(n, cells, text)  # type: ignore[arg-type]
        if done is not None:
            yield done
    yield from rows.end(None)


READER = FileReader(
    name="intune-json",
    description="an Intune Discovered-apps report as JSON (columns and values)",
    help="an Intune Discovered-apps JSON",
    document=_is_report,
    shape="an Intune Discovered-apps report ({\"columns\": [...], \"values\": [...]})",
    read=read_discovered_json,
)
