"""What the fleet CSV reader yields: a device's run of rows
(Run), the part of a device's result that lines of other devices which
could not be read may hold (charged), and the file's own result (orphaned)."""

from __future__ import annotations

from scanner.connectors.files.common import error_text, failed_inventory, label_of, make_inventory
from scanner.connectors.files.source import InputLines
from scanner.connectors.records import Problems, residue_of, snippet
from scanner.model import App, DeviceInfo, Inventory, Scope


class Run:
    """A contiguous run of rows of one device."""

    __slots__ = ("platform", "serial", "apps", "problems", "skipped")

    def __init__(self, platform: str | None, serial: str) -> None:
        self.platform = platform
        self.serial = serial
        self.apps: list[App] = []
        self.problems = Problems()
        self.skipped = 0  # apps read and not kept (a lean read)

    @property
    def count(self) -> int:
        """The apps read."""
        return len(self.apps) + self.skipped

    def inventory(self, name: str, src: InputLines | None) -> Inventory:
        device = DeviceInfo(platform=self.platform, serial=self.serial, source=name)
        return make_inventory(name, device, self.apps, self.problems, src, what=f"device {snippet(self.serial)}",
                              count=self.count if self.skipped else None)


def charged(name: str, platform: str | None, serial: str, problems: Problems) -> Inventory:
    """The part of a device's result that lines of other devices, which could
    not be read, may hold: no app read, merged by the audit with the device's
    own rows (partial then), or failed when the file has no other row of it."""
    label = f"{label_of(name)}, device {snippet(serial)}"
    return Inventory(
        device=DeviceInfo(platform=platform, serial=serial, source=name), apps=(),
        coverage=(Scope("records", read=False, reason=f"{problems.count} lines that could not be read may hold "
                                                      f"rows of it"),),
        status="failed", reason="bad-lines",
        message=(f"{label}: {problems.count} lines that could not be read may hold rows of this device "
                 f"({problems.kept[0]}); the apps on them were not checked: fix those lines and scan again"),
        problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems),
    )


def orphaned(name: str, src: InputLines, orphans: Problems, runs: int) -> Inventory:
    """The input itself: lines no device can be named for, a read error, or no rows at all."""
    label = label_of(name)
    device = DeviceInfo(platform=None, serial=None, source=name)
    if src.error is not None:
        orphans.add(f"line {src.error_line}: {error_text(src.error)}")
        return Inventory(
            device=device, apps=(), coverage=(Scope("records", read=False, reason=f"reading stopped at line "
                                                                                  f"{src.error_line}"),),
            status="partial" if runs else "failed", reason="read-error",
            message=(f"{label}: reading stopped at line {src.error_line} ({error_text(src.error)}); the devices and "
                     f"apps after it were not checked: copy the file somewhere readable and scan it again"),
            problems=tuple(orphans.kept), problem_count=orphans.count, residue=residue_of(orphans),
        )
    if not orphans.count:
        return failed_inventory(name, "empty",
                                f"{label} has a CSV header but no rows: no device to check; export it again")
    return Inventory(
        device=device, apps=(), coverage=(Scope("records", read=False, reason=f"{orphans.count} lines could not "
                                                                              f"be read"),),
        status="partial" if runs else "failed", reason="bad-lines",
        message=(f"{label}: {orphans.count} lines could not be read ({orphans.kept[0]}) and could belong to any "
                 f"device in the file, so treat every device in it as possibly incomplete; fix those lines and "
                 f"scan again"),
        problems=tuple(orphans.kept), problem_count=orphans.count, residue=residue_of(orphans),
    )
