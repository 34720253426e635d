"""Values of a JSON document, checked: a key given twice, a value of the
wrong type, text that is not text. Shared by the installation_proxy record
grammar (live and saved pymobiledevice3 lists) and the saved scanner report.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from scanner.connectors.records import BadRecord, decodable, snippet

__all__ = [
    "Repeats", "check_text", "flag_of", "int_of", "json_object", "json_text", "json_type", "keys_text",
    "no_repeats", "strings_in", "text_of", "text_or_none",
]


class Repeats(dict):  # type: ignore[type-arg]
    """A JSON object whose text gives a key more than once: the last value
    of each, as json keeps it, plus every (key, value) pair as written."""

    __slots__ = ("pairs", "repeated")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        self.repeated = [key for key, n in counts.items() if n > 1]


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: a repeated key must not silently drop the value before it."""
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else Repeats(pairs)


def json_text(value: Any, width: int = 60) -> str:
    """A saved value as JSON writes it (so "2" and 2 differ), ASCII only, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, RecursionError):
        return json_type(value)
    return text if len(text) <= width else text[:width] + "..."


def keys_text(keys: list[str]) -> str:
    return ", ".join(snippet(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def no_repeats(obj: dict[str, Any], where: str = "") -> None:
    if isinstance(obj, Repeats):
        raise BadRecord(f"{where}{keys_text(obj.repeated)} given more than once, so the record was edited or damaged")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def text_of(obj: dict[str, Any], key: str) -> str | None:
    """An optional text attribute; numbers are taken as their text."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return check_text(key, value) or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadRecord(f"{key} is {json_type(value)}, expected text")


def check_text(key: str, value: str | None) -> str | None:
    """JSON can spell lone surrogates ("\\ud800"), which are not text and break every writer."""
    if value is not None and not decodable(value):
        raise BadRecord(f"{key} holds a lone surrogate escape, which is not text")
    return value


def int_of(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or (type(value) is int and value >= 0):
        return value
    raise BadRecord(f"{key} is {json_type(value)}, expected a whole number")


def flag_of(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise BadRecord(f"{key} is {json_type(value)}, expected true or false")


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included, and every value of a key
    given twice (which a dict keeps only the last of): the text of a record
    that cannot be trusted, to be searched for whole catalog ids."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key, inner in reversed(item.pairs if isinstance(item, Repeats) else list(item.items())):
                stack.append(inner)
                stack.append(key)


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and decodable(value) else None
