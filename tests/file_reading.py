"""Helpers the file-reader tests share: reading bytes as a named input, the ids of an inventory's apps, the
bundled signatures' matcher (built once per session)."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

import scanner
from scanner.connectors.files import read_input
from scanner.matcher import Matcher
from scanner.model import Inventory


def reader(default: str) -> Callable[..., list[Inventory]]:
    """read(data, name=default): the inventories of `data` (bytes or text) read as an input named `name`."""
    def read(data: bytes | str, name: str = default) -> list[Inventory]:
        return list(read_input(name, io.BytesIO(data.encode() if isinstance(data, str) else data)))
    return read


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)
