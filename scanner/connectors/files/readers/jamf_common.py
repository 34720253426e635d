"""What the Jamf Pro readers share (the Jamf Pro API one, jamf_pro, and the
Classic API one, jamf_classic): the key of a device, so that a device read
from both APIs is one device; the wording of what a Jamf Pro inventory cannot
see; what says a device is personal or a User Enrollment; and the reading of
the inventory's date.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scanner.connectors.records import BadRecord, snippet

__all__ = ["ADVICE", "BLIND", "CLASSIC_ROOTS", "JAMF_KEY", "PERSONAL", "classic_root", "epoch_ms", "iso_time",
           "personal"]

#: The key of a device: its Jamf Pro id, which the Classic API (general/id) and the Jamf Pro API (id,
#: mobileDeviceId) both give, so that the same device read from both merges.
JAMF_KEY = "Jamf id {}"

#: The root elements of the Classic API's XML records and lists of them (jamf_classic reads them; apple_mdm,
#: which takes other `<?xml` lines, leaves these to it).
CLASSIC_ROOTS = ("mobile_device", "mobile_devices", "computer", "computers")


def classic_root(text: str) -> bool:
    """A line that begins with a Classic API record or list (`<mobile_device>`, `<computers>`, their DOCTYPE),
    after an XML declaration on the same line, if any."""
    line = text.lstrip()
    if line.startswith("<?xml"):
        line = line[line.find("?>") + 2:].lstrip() if "?>" in line else ""
    if line.startswith("<!DOCTYPE "):
        line = "<" + line[len("<!DOCTYPE "):].lstrip()
    return any(line.startswith(f"<{root}") and line[len(root) + 1:len(root) + 2] in (">", " ", "/", "\t", "[", "")
               for root in CLASSIC_ROOTS)


BLIND = ("Jamf Pro's inventory is what the device last reported to it: a personal device or a User Enrollment "
         "reports managed apps only, and iOS before 26 reports no system apps")
PERSONAL = ("it is a personal device or a User Enrollment ({what}), for which Jamf Pro's inventory holds the "
            "managed apps only: apps the user installed were not checked")
ADVICE = "scan the iPhone itself over USB to check every app"

_SEPARATORS = str.maketrans("", "", " -_:")
_WORDS = ("personal", "userenrollment", "byod")


def personal(fields: dict[str, object], keys: tuple[str, ...]) -> str | None:
    """What says the device is personal or a User Enrollment ("deviceOwnershipLevel 'Personal'"): the first
    of `keys` in `fields` whose text says so, or None."""
    for key in keys:
        value = fields.get(key)
        folded = value.lower().translate(_SEPARATORS) if isinstance(value, str) else ""
        if any(word in folded for word in _WORDS):
            return f"{key} {snippet(value)}"  # type: ignore[arg-type]
    return None


def iso_time(key: str, value: str) -> datetime:
    """An ISO 8601 time as Jamf Pro writes it ("2025-05-02T14:03:11.000+0000", "...Z"), timezone-aware (a
    naive one is UTC); BadRecord for text that is none."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRecord(f"{key} {snippet(value)} is not an ISO 8601 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def epoch_ms(key: str, value: str | int) -> datetime | None:
    """A Classic API `_epoch` time, milliseconds since 1970 (0: never); BadRecord for anything else."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 15:  # 15 digits: past the year 30000
        raise BadRecord(f"{key} {snippet(text)} is not a time in milliseconds since 1970")
    ms = int(text)
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None
