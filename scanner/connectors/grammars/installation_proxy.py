"""The grammar of one installation_proxy app record: the attributes of an
app as the device's Lookup returns them, keyed by bundle id.

Shared by the live iOS reader (scanner.connectors.ios.apps) and the file
reader of `pymobiledevice3 apps list` JSON
(scanner.connectors.files.readers.pymobiledevice3): that JSON is this same
Lookup result, so a live scan and a saved export are read by one piece of code.
"""

from __future__ import annotations

from typing import Any

from scanner.connectors.grammars.json_values import check_text, flag_of, json_type, no_repeats, text_of
from scanner.connectors.records import BadRecord, clean_id, snippet
from scanner.model import App

__all__ = ["parse_app"]


def parse_app(key: str, v: dict[str, Any]) -> App:
    """The App of one installation_proxy record: `v` its attributes, `key` the bundle id it is listed under;
    BadRecord says why a record cannot be trusted."""
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
