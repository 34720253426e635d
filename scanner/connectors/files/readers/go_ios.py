"""go-ios `ios apps` JSON: an array of installation_proxy app records of one iPhone.

Verified in danielpaulus/go-ios: main.go (printInstalledApps) prints `convertToJSONString(response)`, a
`json.Marshal` of the `[]installationproxy.AppInfo` that Browse returned, unless `--nojson` (a log line, not
read here) or `--list` (`<bundle id> <name> <version>` lines, read by the tidevice reader). In
ios/installationproxy/installationproxy.go an AppInfo was first a struct whose fields are the plist keys
(ApplicationType, CFBundleDisplayName, CFBundleIdentifier, CFBundleName, CFBundleShortVersionString,
CFBundleVersion, Entitlements, Path, SignerIdentity, ...: every key written, empty ones as "" or null),
and is now a `map[string]any` of whatever attributes the device returned; both are read, each record as
the pymobiledevice3 reader reads one (scanner.connectors.grammars.installation_proxy).

Without `--system` or `--all`, go-ios browses the user apps only (BrowseUserApps), as `ideviceinstaller -l`
lists them by default: the list is read the way the ideviceinstaller reader reads its list, complete when
every record was read. The JSON names no device, so the serial is unknown (None), as there.

A record that is not an object, has no usable CFBundleIdentifier (the zero-valued AppInfo of a slot that
Browse never filled is one) or holds another app's record is a bad record: counted, its text kept as
evidence, and the device is never complete. JSON that was cut short does not parse, and fails as bad JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scanner.connectors.files.common import failed_inventory, label_of, make_inventory
from scanner.connectors.grammars.installation_proxy import parse_app
from scanner.connectors.grammars.json_values import json_type
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["READER", "read_go_ios"]


def _is_apps(doc: object) -> bool:
    """An array of app records (objects with CFBundle... keys), or an empty array."""
    return isinstance(doc, list) and (not doc or any(
        isinstance(e, dict) and any(str(k).startswith("CFBundle") for k in e) for e in doc
    ))


def _read(name: str, doc: list[Any]) -> Iterator[Inventory]:
    if not doc:
        yield failed_inventory(name, "empty", (
            f"{label_of(name)} is an empty JSON array: no apps; if it is go-ios output, export again with "
            f"ios apps --all (without --all or --system it lists the user apps only) and rescan"
        ), platform="ios")
        return
    yield read_go_ios(name, doc)


READER = FileReader(
    name="go_ios",
    description="go-ios `ios apps` JSON",
    help="go-ios ios apps",
    document=_is_apps,
    shape="go-ios ios apps output (an array of app objects)",
    read=_read,
)


def read_go_ios(name: str, doc: list[Any]) -> Inventory:
    apps: list[App] = []
    problems = Problems()
    for i, record in enumerate(doc, 1):
        try:
            if not isinstance(record, dict):
                raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
            bundle_id = record.get("CFBundleIdentifier")
            if bundle_id is None or bundle_id == "":
                raise BadRecord("no CFBundleIdentifier (an AppInfo that the device never filled in, or a record "
                                "that was edited)")
            apps.append(parse_app(bundle_id if isinstance(bundle_id, str) else "", record))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (CFBundleIdentifier, Path, ...).
            problems.add(f"record {i}: {err}", evidence=json.dumps(record, ensure_ascii=False))
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return make_inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records")
