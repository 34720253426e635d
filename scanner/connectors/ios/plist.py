"""Parsing the plists iPhones send (placeholder: plistlib)."""

from __future__ import annotations

import plistlib
from typing import Any

__all__ = ["loads"]


def loads(data: bytes) -> Any:
    return plistlib.loads(data)
