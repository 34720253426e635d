"""A saved report's top level against its devices (TopLevel): the summary
counts, fail_on, exit_code and verdict; and the failed results for the
targets of the saved scan that the file does not hold (unseen)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.connectors.files.common import KNOWN_PLATFORMS, failed_inventory, label_of
from scanner.connectors.grammars.json_values import Repeats, json_text, json_type, keys_text, text_or_none
from scanner.model import FAIL_ON, SEVERITIES, STATUSES, DeviceInfo, Inventory, Scope, severity_at_least

# What the top level's exit_code and verdict say: (not every target fully read, findings at or above fail_on).
_EXIT_MEANS = {0: (False, False), 1: (False, True), 4: (True, False), 5: (True, True)}
_VERDICT_MEANS = {"clean": (False, False), "findings": (False, True), "incomplete": (True, False),
                  "findings-incomplete": (True, True)}
_SUMMARY_WORDS = {
    "devices": "devices", "complete": "complete devices", "partial": "partial devices", "failed": "failed devices",
    "findings": "findings", "prohibited": "prohibited findings", "review": "review findings",
    "devices_with_findings": "devices with findings", "apps_read": "apps read", "not_checked": "devices not checked",
}
# The reason a transport that did not answer gives, as the live connectors give it.
_UNASKED = {"android": "adb-unavailable", "ios": "usbmuxd-unavailable"}


@dataclass
class TopLevel:
    """What the report's top level says against its devices."""

    distrust: list[str] = field(default_factory=list)  # makes every device saved as complete partial
    missing: list[str] = field(default_factory=list)  # devices counted but not listed
    unfinished: list[str] = field(default_factory=list)  # "not fully read" while every device says complete

    @classmethod
    def of(cls, doc: dict[str, Any], devices: list[Any]) -> TopLevel:
        top = cls()
        entries = [e if isinstance(e, dict) else {} for e in devices]
        found = [_list(e.get("findings")) for e in entries]
        severities = [f.get("severity") if isinstance(f, dict) else None for fs in found for f in fs]
        counts = {
            "devices": len(devices),
            **{s: sum(e.get("status") == s for e in entries) for s in STATUSES},
            "findings": len(severities),
            **{s: severities.count(s) for s in SEVERITIES},
            "devices_with_findings": sum(bool(fs) for fs in found),
            "apps_read": sum(e.get("app_count", 0) for e in entries if type(e.get("app_count", 0)) is int),
            "not_checked": len(_list(doc.get("not_checked"))),
        }
        if "summary" in doc:
            top._summary(doc["summary"], counts)
        top._options(doc)
        fail_on = doc.get("fail_on")
        known = isinstance(fail_on, str) and fail_on in FAIL_ON
        if "fail_on" in doc and not known:
            top.distrust.append(f"the report's fail_on is {json_text(fail_on)}, not one of {', '.join(FAIL_ON)}")
        failing = any(s in SEVERITIES and severity_at_least(s, fail_on) for s in severities) if known else None
        for key, means in (("exit_code", _EXIT_MEANS), ("verdict", _VERDICT_MEANS)):
            if key in doc:
                top._outcome(key, doc[key], means, counts["complete"] == len(devices), failing)
        return top

    def _options(self, doc: dict[str, Any]) -> None:
        """1.2: --accept-scope and --max-age as the saved scan was given them."""
        scopes = doc.get("accepted_scopes", [])
        if not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            self.distrust.append(f"the report's accepted_scopes is {json_text(scopes)}, not a list of scope names")
        max_age = doc.get("max_age")
        if not (max_age is None or (type(max_age) is int and max_age >= 0)):
            self.distrust.append(f"the report's max_age is {json_text(max_age)}, not a number of days or null")

    def _summary(self, summary: Any, counts: dict[str, int]) -> None:
        if not isinstance(summary, dict) or isinstance(summary, Repeats):
            what = f"gives {keys_text(summary.repeated)} more than once" if isinstance(summary, Repeats) else (
                f"is {json_type(summary)}, not an object")
            self.distrust.append(f"the report's summary {what}")
            return
        for key, counted in counts.items():
            saved = summary.get(key, counted)
            if not (type(saved) is int and saved == counted):
                self.distrust.append(f"the report's summary counts {json_text(saved)} {_SUMMARY_WORDS[key]} "
                                     f"where its devices say {counted}")
        listed = summary.get("devices")
        if type(listed) is int and listed > counts["devices"]:
            self.missing.append(f"its summary counts {listed} devices but it lists {counts['devices']}")

    def _outcome(self, key: str, value: Any, means: dict[Any, tuple[bool, bool]], all_complete: bool,
                 failing: bool | None) -> None:
        meaning = means.get(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
        if meaning is None:
            self.distrust.append(f"the report's {key} is {json_text(value)}, not one of "
                                 f"{', '.join(json_text(v) for v in means)}")
            return
        unfinished, says_failing = meaning
        if unfinished and all_complete:
            self.unfinished.append(f"its {key} is {json_text(value)} (not every target fully read) although "
                                   f"every device in it says complete")
        if failing is not None and says_failing != failing:
            self.distrust.append(f"the report's {key} is {json_text(value)} while its devices list "
                                 f"{'no' if says_failing else 'a'} finding at or above its fail_on")


def unseen(name: str, doc: dict[str, Any], devices: list[Any], top: TopLevel,
           complete: bool) -> Iterator[Inventory]:
    """Failed results for targets of the saved scan that the file does not
    hold: a transport that did not answer, devices taken out of it. A top
    level that only says "not fully read" needs one only while every device
    it lists still reads complete (`complete`)."""
    label = label_of(name)
    asked = list(_unanswered(name, doc, devices))
    yield from asked
    why = top.missing + (top.unfinished if complete and not asked else [])
    if why:
        yield failed_inventory(name, "report-incomplete", (
            f"{label}: {why[0]}: the scan it saved did not read every target (a device transport that did not "
            f"answer, a device taken out of the report), or the report was edited or damaged; what it does not "
            f"list was not checked: scan again and save the scan again with --inventory"
        ), problems=tuple(why))


def _unanswered(name: str, doc: dict[str, Any], devices: list[Any]) -> Iterator[Inventory]:
    """A failed result per saved transport that did not answer (devices
    attached through it were never seen), unless the report already holds a
    failed result for it; or that cannot be read (it may not have)."""
    if "transports" not in doc:
        return
    saved = doc["transports"]
    label = label_of(name)
    for item in saved if isinstance(saved, list) else [saved]:
        if isinstance(item, dict) and not isinstance(item, Repeats) and item.get("answered") is True:
            continue
        if not (isinstance(item, dict) and not isinstance(item, Repeats) and item.get("answered") is False):
            yield failed_inventory(name, "bad-records", (
                f"{label}: its list of transports cannot be read ({json_text(item)}), so it cannot show that "
                f"every transport it asked for devices answered: it was edited or damaged; scan again and save "
                f"the scan again with --inventory"))
            continue
        kind, platform = text_or_none(item.get("transport")), item.get("platform")
        platform = platform if isinstance(platform, str) and platform in KNOWN_PLATFORMS else None
        if kind and _failed_there(devices, kind):
            continue
        address, said = text_or_none(item.get("address")), text_or_none(item.get("message"))
        what = (kind or "a device transport") + (f" at {address}" if address else "")
        reason = _UNASKED.get(platform or "", "transport-unavailable")
        message = (f"{label}: when this scan was saved, {what} did not answer" + (f" ({said})" if said else "")
                   + ", so the devices attached through it were never seen and are not in this report; "
                     "scan them again")
        yield Inventory(
            device=DeviceInfo(platform=platform, serial=None, source=f"{name}: {kind}" if kind else name),
            apps=(), coverage=(Scope("devices", read=False, reason=f"{what} did not answer"),), status="failed",
            reason=reason, message=message,
        )


def _failed_there(devices: list[Any], kind: str) -> bool:
    """A failed, serial-less result from transport `kind` (how a connector reports its server down)."""
    for entry in devices:
        info = entry.get("device") if isinstance(entry, dict) else None
        if isinstance(info, dict) and info.get("source") == kind and info.get("serial") is None \
                and entry.get("status") == "failed":
            return True
    return False


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
