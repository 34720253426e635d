"""Saved Microsoft Graph answers: one page (`{"@odata.context": ..., "value": [...]}`) or a JSON array of pages,
and the failed result for the pages an `@odata.nextLink` points to that were not saved."""

from __future__ import annotations

from collections.abc import Callable

from scanner.connectors.files.common import label_of
from scanner.model import DeviceInfo, Inventory, Scope


def pages_of(doc: object, is_page: Callable[[dict], bool]) -> list[dict] | None:
    """The pages of a document that is one page or a non-empty array of pages, else None."""
    if isinstance(doc, dict):
        return [doc] if is_page(doc) else None
    if isinstance(doc, list) and doc and all(isinstance(p, dict) and is_page(p) for p in doc):
        return doc
    return None


def value_page(doc: dict, context: str, record: Callable[[object], bool]) -> bool:
    """A Graph page of `context` records: its @odata.context names it, or its value's first record is one."""
    value = doc.get("value")
    if not isinstance(value, list):
        return False
    ctx = doc.get("@odata.context")
    if isinstance(ctx, str) and ctx.rstrip("/").rpartition("#")[2].split("(")[0].endswith(context):
        return True
    return bool(value) and record(value[0])


def unsaved(name: str, pages: list[dict], what: str, platform: str | None = None) -> Inventory | None:
    """A failed result when the pages' @odata.nextLink point to more pages than the file holds."""
    linked = sum(1 for p in pages if p.get("@odata.nextLink"))
    missing = linked - (len(pages) - 1)
    if missing <= 0:
        return None
    return Inventory(
        device=DeviceInfo(platform=platform, serial=None, source=name), apps=(),
        coverage=(Scope("records", read=False, reason=f"at least {missing} page(s) of {what} not in this file"),),
        status="failed", reason="truncated",
        message=(f"{label_of(name)}: {linked} of its {len(pages)} Graph page(s) have an @odata.nextLink, so at least "
                 f"{missing} page(s) of {what} were not saved and not checked: follow every @odata.nextLink, save "
                 f"all the pages (a JSON array of them) and scan them all"))
