"""The failed result for a page of a saved API answer that cannot be read, shared by the readers of paged JSON
(google_admin, intune.graph, jamf_pro, workspace_one, android_management): a value that is no page of the
format, or a page that gives a key twice (the JSON parser keeps one value; the other would be silently
ignored). Either way its strings are kept as evidence, so a catalog id in it is still found."""

from __future__ import annotations

from scanner.connectors.files.common import failed_inventory, value_evidence
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text
from scanner.model import Inventory

__all__ = ["page_refused"]


def page_refused(name: str, where: str, page: object, *, is_page: bool, what: str, advice: str,
                 refetch: str | None = None, platform: str | None = None) -> Inventory | None:
    """None for a page to read; else the failed Inventory of `page` (at `where`, "file page #2"): not a page
    (`is_page` false; `what` says what it should have been: "neither ... nor ...", `advice` what to do), or a
    page with a key given twice (`refetch` what to do, `advice` when not given)."""
    if not is_page:
        return failed_inventory(name, "bad-records", f"{where} is {json_type(page)} that is {what}; {advice}",
                                platform=platform, evidence=value_evidence(page))
    if isinstance(page, Repeats):
        return failed_inventory(name, "bad-json", (
            f"{where} gives {keys_text(page.repeated)} more than once, so part of it would be silently ignored: it "
            f"was edited or damaged; {refetch or advice}"), platform=platform, evidence=value_evidence(page))
    return None
