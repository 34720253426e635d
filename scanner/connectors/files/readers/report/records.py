"""The records of a saved report: an app (report_app), a coverage scope
(report_scope), and the id-like words kept of a record that cannot be
trusted (keep_evidence)."""

from __future__ import annotations

from typing import Any

from scanner.connectors.files.common import KNOWN_PLATFORMS, KNOWN_STATES
from scanner.connectors.grammars.json_values import check_text, int_of, json_type, no_repeats, strings_in, text_of
from scanner.connectors.records import BadRecord, Problems, clean_id, snippet
from scanner.model import APP_STATES, App, Scope


def report_app(item: Any, platform: str | None) -> App:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not an app object")
    no_repeats(item)
    app_id = item.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise BadRecord(f"id is {json_type(app_id)}, expected an app id")
    check_text("id", app_id)
    app_id, why = clean_id(app_id, "id")
    if why:
        raise BadRecord(why)
    app_platform = item.get("platform") or platform
    if not (isinstance(app_platform, str) and app_platform in KNOWN_PLATFORMS):
        raise BadRecord(f"{snippet(app_id)}: platform {snippet(str(app_platform))} is not android or ios")
    state = item.get("state")
    if state is None:
        state = "installed"
    elif not (isinstance(state, str) and state in KNOWN_STATES):
        raise BadRecord(f"{snippet(app_id)}: state {snippet(str(state))} is not one of {', '.join(APP_STATES)}")
    system = item.get("system")
    if system is not None and not isinstance(system, bool):
        raise BadRecord(f"{snippet(app_id)}: system is {json_type(system)}, expected true, false or null")
    return App(
        app_platform, app_id, text_of(item, "name"), text_of(item, "version"), text_of(item, "build"),
        text_of(item, "installer"), int_of(item, "user"), state, system, text_of(item, "path"),
        text_of(item, "team_id"), text_of(item, "signer"), int_of(item, "uid"),
    )


def report_scope(item: Any) -> Scope:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not a scope object")
    no_repeats(item)
    scope, read = item.get("scope"), item.get("read")
    if not isinstance(scope, str) or not isinstance(read, bool):
        raise BadRecord("a scope needs a 'scope' name and 'read' true or false")
    return Scope(check_text("scope", scope), read, text_of(item, "reason"), int_of(item, "apps"))


def keep_evidence(problems: Problems, value: Any) -> None:
    """The id-like words of a record that cannot be trusted, for the matcher to search."""
    for text in strings_in(value):
        problems.search(text)
