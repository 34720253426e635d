"""The grammar of one installation_proxy app record: the attributes of an
app as the device's Lookup returns them, keyed by bundle id.

Shared by the live iOS reader (scanner.connectors.ios.apps) and the file
reader of `pymobiledevice3 apps list` JSON
(scanner.connectors.files.readers.pymobiledevice3): that JSON is this same
Lookup result, so a live scan and a saved export are read by one piece of code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.connectors.grammars.json_values import check_text, flag_of, json_type, no_repeats, text_of
from scanner.connectors.records import BadRecord, clean_id, snippet
from scanner.model import App

__all__ = ["parse_app"]


def parse_app(key: str, v: dict[str, Any]) -> App:
    """The App of one installation_proxy record: `v` its attributes, `key` the bundle id it is listed under;
    BadRecord says why a record cannot be trusted.

    A record as a device sends it (text where text belongs, nothing nested but
    Entitlements' flat values) is read by `_plain_app`, twice as quick; any
    other one, by `_checked_app`, which says what is wrong. The two give the
    same App for every record the quick one reads (tests/test_installation_proxy_paths.py).
    """
    app = _plain_app(key, v)
    return app if app is not None else _checked_app(key, v)


_SCALARS = frozenset({str, bool, int, float, type(None)})  # values that cannot hold a record


def _plain_app(key: str, v: dict[str, Any]) -> App | None:
    """The App of an ordinary record, or None for anything `_checked_app` must look at: a repeated key (a
    Repeats is no plain dict), a record nested in it, a number for text, a lone surrogate, an id that is not
    clean. Plain loops: a generator costs more here than the checks it runs."""
    if type(v) is not dict or type(key) is not str:
        return None
    for value in v.values():
        kind = type(value)
        if kind in _SCALARS or (kind is list and _shallow(value)) or (
                kind is dict and "CFBundleIdentifier" not in value and _shallow(value.values())):
            continue
        if _holds_a_record(v):  # deeper (a whole Info.plist, as `pymobiledevice3 apps list` saves): walked
            return None
        break
    entitlements = v.get("Entitlements")
    team = app_identifier = None
    if entitlements is not None:
        if type(entitlements) is not dict:
            return None
        team = entitlements.get("com.apple.developer.team-identifier")
        app_identifier = entitlements.get("application-identifier")
    bundle_id = v.get("CFBundleIdentifier", key)
    display, name = v.get("CFBundleDisplayName"), v.get("CFBundleName")
    version, build = v.get("CFBundleShortVersionString"), v.get("CFBundleVersion")
    app_type, path, signer = v.get("ApplicationType"), v.get("Path"), v.get("SignerIdentity")
    texts = []
    for t in (bundle_id, display, name, version, build, app_type, path, signer, team, app_identifier):
        if t is not None:
            if type(t) is not str:
                return None
            texts.append(t)
    placeholder, demoted = v.get("IsPlaceholder"), v.get("IsDemotedApp")
    if not bundle_id or (placeholder is not None and type(placeholder) is not bool) or (
            demoted is not None and type(demoted) is not bool):
        return None
    joined = "".join(texts)
    if not joined.isascii():
        try:  # one encode for every text: a lone surrogate anywhere fails it, and the checked path names the field
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return None
    clean, why = clean_id(bundle_id, "")
    if why or key.strip().lower() != clean.lower():
        return None
    state = "offloaded" if placeholder or demoted else ("hidden" if app_type == "Hidden" else "installed")
    return App(
        "ios", clean, display or name or None, version or None, build or None, None, None, state,
        {"System": True, "User": False}.get(app_type or ""), path or None, team or _team_prefix(app_identifier),
        signer or None,
    )


def _shallow(items: Iterable[Any]) -> bool:
    """True when every item is a scalar or a list of scalars: nothing there can be an app's record."""
    for x in items:
        if type(x) not in _SCALARS:
            if type(x) is not list:
                return False
            for y in x:
                if type(y) not in _SCALARS:
                    return False
    return True


def _checked_app(key: str, v: dict[str, Any]) -> App:
    """parse_app for any record, checking each attribute in turn so that BadRecord says what is wrong."""
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
        team_id = _team_prefix(text_of(entitlements, "application-identifier"))
    return App(
        "ios", bundle_id, text_of(v, "CFBundleDisplayName") or text_of(v, "CFBundleName"),
        text_of(v, "CFBundleShortVersionString"), text_of(v, "CFBundleVersion"), None, None, state,
        {"System": True, "User": False}.get(app_type or ""), text_of(v, "Path"), team_id, text_of(v, "SignerIdentity"),
    )


def _team_prefix(app_identifier: str | None) -> str | None:
    """The team id an application-identifier starts with ("88L2Q4487U.com.tencent.xin"), if it looks like one:
    10 capital letters/digits; Apple's own apps have none ("com.apple.mobilesafari")."""
    prefix = app_identifier.split(".", 1)[0] if app_identifier and "." in app_identifier else ""
    return prefix if len(prefix) == 10 and prefix.isascii() and prefix.isalnum() and prefix == prefix.upper() else None


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
