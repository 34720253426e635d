"""`pymobiledevice3 apps list` JSON: an object keyed by bundle id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import failed_inventory, label_of, make_inventory
from scanner.connectors.files.readers.report import is_report
from scanner.connectors.grammars.installation_proxy import parse_app
from scanner.connectors.grammars.json_values import Repeats, json_type
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, snippet
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["READER", "read_pmd3"]


def _is_list(doc: object) -> bool:
    """An object of app records (or an empty object: an empty list); a scanner report is an object too, and is
    the report reader's."""
    return isinstance(doc, dict) and not is_report(doc) and (not doc or any(
        isinstance(v, dict) and any(str(k).startswith("CFBundle") for k in v) for v in doc.values()
    ))


def _read(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    if not doc:
        yield failed_inventory(name, "empty", (
            f"{label_of(name)} is an empty JSON object: no apps; export again with pymobiledevice3 apps list --type "
            f"Any (without --type User an empty list is not a real iPhone's)"
        ))
        return
    yield read_pmd3(name, doc)


READER = FileReader(
    name="pymobiledevice3",
    description="`pymobiledevice3 apps list` JSON",
    help="pymobiledevice3 apps list",
    document=_is_list,
    shape="pymobiledevice3 apps list output (an object keyed by bundle id)",
    read=_read,
)


def read_pmd3(name: str, doc: dict[str, Any]) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    # A bundle id given twice: JSON keeps the last value only, so read every one and say so.
    pairs = doc.pairs if isinstance(doc, Repeats) else doc.items()
    for key in doc.repeated if isinstance(doc, Repeats) else ():
        problems.add(f"app {snippet(key)}: listed more than once (the same JSON key twice), so the file was "
                     f"edited or damaged", evidence=key)
    for key, value in pairs:
        try:
            if not isinstance(value, dict):
                raise BadRecord(f"expected an object of app attributes, got {json_type(value)}")
            apps.append(parse_app(key, value))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (its key, CFBundleIdentifier, ...).
            problems.add(f"app {snippet(key)}: {err}", evidence=f"{key} {json.dumps(value, ensure_ascii=False)}")
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return make_inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records")
