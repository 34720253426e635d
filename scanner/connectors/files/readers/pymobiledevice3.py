"""`pymobiledevice3 apps list` JSON: an object keyed by bundle id."""

from __future__ import annotations

import json
from typing import Any

from scanner.connectors.files.common import BadRecord, clean_id, make_inventory, snippet
from scanner.connectors.files.json_values import Repeats, check_text, flag_of, json_type, no_repeats, text_of
from scanner.connectors.files.source import Problems
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["read_pmd3"]


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
            apps.append(_pmd3_app(key, value))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (its key, CFBundleIdentifier, ...).
            problems.add(f"app {snippet(key)}: {err}", evidence=f"{key} {json.dumps(value, ensure_ascii=False)}")
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return make_inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records")


def _pmd3_app(key: str, v: dict[str, Any]) -> App:
    no_repeats(v)
    if _holds_a_record(v):
        # A line moved in the file (or an edit) put another app's record inside this one's attributes: as it
        # stands that app would be read as nothing but this app's entitlements.
        raise BadRecord("another app's record (an object with CFBundleIdentifier) is nested inside its attributes, "
                        "so the file was edited or damaged")
    bundle_id = v.get("CFBundleIdentifier", key)
    if not isinstance(bundle_id, str) or not bundle_id:
        raise BadRecord(f"CFBundleIdentifier is {json_type(bundle_id)}, expected a bundle id")
    check_text("CFBundleIdentifier", bundle_id)
    bundle_id, why = clean_id(bundle_id, "CFBundleIdentifier" if "CFBundleIdentifier" in v else "the key")
    if why:
        raise BadRecord(why)
    if key.strip().lower() != bundle_id.lower():
        # pymobiledevice3 keys each app by its bundle id: either of the two could be the real app.
        raise BadRecord(f"the key and CFBundleIdentifier {snippet(bundle_id)} name different apps, so the "
                        f"file was edited or damaged")
    app_type = text_of(v, "ApplicationType")
    state = "hidden" if app_type == "Hidden" else "installed"
    if flag_of(v, "IsPlaceholder") or flag_of(v, "IsDemotedApp"):
        state = "offloaded"  # the app's data is kept and it reinstalls with one tap
    entitlements = v.get("Entitlements")
    if entitlements is None:
        entitlements = {}
    elif not isinstance(entitlements, dict):
        raise BadRecord(f"Entitlements is {json_type(entitlements)}, expected an object")
    no_repeats(entitlements, "Entitlements: ")
    team_id = text_of(entitlements, "com.apple.developer.team-identifier")
    if team_id is None:
        app_identifier = text_of(entitlements, "application-identifier")
        prefix = app_identifier.split(".", 1)[0] if app_identifier and "." in app_identifier else ""
        # A team id is 10 letters/digits; Apple's own apps have none ("com.apple.mobilesafari").
        looks_like_team = len(prefix) == 10 and prefix.isascii() and prefix.isalnum() and prefix == prefix.upper()
        team_id = prefix if looks_like_team else None
    return App(
        "ios", bundle_id, text_of(v, "CFBundleDisplayName") or text_of(v, "CFBundleName"),
        text_of(v, "CFBundleShortVersionString"), text_of(v, "CFBundleVersion"), None, None, state,
        {"System": True, "User": False}.get(app_type or ""), text_of(v, "Path"), team_id, text_of(v, "SignerIdentity"),
    )


def _holds_a_record(v: dict[str, Any]) -> bool:
    """True when an object below the app's own attributes has a CFBundleIdentifier: an app record out of place.
    Real attributes nest only shallow dictionaries (Entitlements), so this walks little."""
    stack = [x for x in v.values() if isinstance(x, (dict, list))]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "CFBundleIdentifier" in item:
                return True
            stack.extend(x for x in item.values() if isinstance(x, (dict, list)))
        else:
            stack.extend(x for x in item if isinstance(x, (dict, list)))
    return False
