"""The records of a saved report: an app (report_app), a coverage scope
(report_scope), and the id-like words kept of a record that cannot be
trusted (keep_evidence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scanner.connectors.files.common import KNOWN_PLATFORMS, KNOWN_STATES
from scanner.connectors.grammars.json_values import check_text, int_of, json_type, no_repeats, strings_in, text_of
from scanner.connectors.records import BadRecord, Problems, clean_id, snippet
from scanner.model import APP_STATES, EVIDENCE_LEVELS, App, Scope

# What an app record can say it rests on; "count" is a finding's (an app with `devices`).
APP_EVIDENCE = tuple(e for e in EVIDENCE_LEVELS if e != "count")


def report_app(item: Any, platform: str | None) -> App:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not an app object")
    no_repeats(item)
    evidence = item.get("evidence")  # 1.2: "name" when the source gave only a display name
    if evidence is None:
        evidence = "identifier"
    elif not (isinstance(evidence, str) and evidence in APP_EVIDENCE):
        raise BadRecord(f"evidence {snippet(str(evidence))} is not one of {', '.join(APP_EVIDENCE)}")
    app_id = item.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise BadRecord(f"id is {json_type(app_id)}, expected an app id")
    check_text("id", app_id)
    if evidence == "name":  # a display name, kept exactly as given: the matcher normalizes it
        if not app_id.strip():
            raise BadRecord("id is a blank display name")
    else:
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
        text_of(item, "team_id"), text_of(item, "signer"), int_of(item, "uid"), evidence, int_of(item, "devices"),
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


def report_identity(value: Any) -> tuple[tuple[str, str], ...]:
    """1.2: a device's identity, [{"kind": "serial", "value": "C39X..."}, ...], in its order."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRecord(f"identity is {json_type(value)}, not a list")
    pairs = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise BadRecord(f"identity #{i} is {json_type(item)}, not an object")
        no_repeats(item, f"identity #{i}: ")
        kind, text = item.get("kind"), item.get("value")
        if not (isinstance(kind, str) and kind.strip() and isinstance(text, str) and text):
            raise BadRecord(f"identity #{i} needs a 'kind' and a 'value', both text")
        pairs.append((check_text("identity kind", kind), check_text("identity value", text)))
    return tuple(pairs)


# How far an MDM's clock may run ahead of the scanner's: an inventory time past the report by more is an edit.
CLOCK_SKEW = timedelta(days=1)


def report_when(value: Any, finished: datetime | None) -> datetime | None:
    """1.2: when the device was inventoried (UTC, as the writer writes it; a naive time is UTC). A time after
    the report was written is an edit that would dodge --max-age."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"inventoried is {json_type(value)}, expected a time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadRecord(f"inventoried {snippet(value)} is not an ISO 8601 time") from None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if finished is not None and when > finished + CLOCK_SKEW:
        raise BadRecord(f"inventoried {snippet(value)} is later than the report was written")
    return when


def report_finished(value: Any) -> datetime | None:
    """The report's `finished` time, when it can be read (an aware time)."""
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when if when is None or when.tzinfo is not None else when.replace(tzinfo=UTC)
