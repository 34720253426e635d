"""The emulated fleet for `scanner simulate` and `scanner demo`: its profile loaded, its devices started.

The simulators are imported when a command calls these, never at import:
only these two commands may use scanner.simulator.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.cli.output import CommandError

__all__ = ["PROFILE_HELP", "fleet_lines", "load_fleet_profile", "start_fleet"]

PROFILE_HELP = ("A device profile (TOML; see the bundled one: `scanner simulate --print-profile`). "
                "Default: the demo fleet.")


def load_fleet_profile(path: str | None):
    """The profile's devices, or a CommandError listing every problem in the file."""
    from scanner.simulator.profile import ProfileError, default_profile_path, load_profile
    from scanner.terminal.text import safe

    path = path or str(default_profile_path())
    try:
        profile = load_profile(path)
    except ProfileError as err:
        raise CommandError(f"the profile {safe(path)} cannot be used:", details=err.problems) from None
    if not profile.devices:
        raise CommandError(f"the profile {path} has no [[device]]; add at least one")
    return profile.devices


def fleet_lines(devices: Sequence) -> list[str]:
    """One line per emulated device: platform, serial, name and model, for the person who started them."""
    from scanner.terminal.text import safe

    lines = []
    for d in devices:
        label = " ".join(safe(x) for x in (d.name, d.model) if x)
        lines.append(f"  {d.platform:<7} {safe(d.serial):<28} {label}")
    return lines


def start_fleet(devices: Sequence, adb_port: int | None = None, usbmuxd_port: int | None = None):
    """The devices started behind a private adb server and an emulated usbmuxd, or a CommandError."""
    from scanner.simulator.android import SimulatorError
    from scanner.simulator.fleet import Fleet

    fleet = Fleet(devices, adb_port=adb_port, usbmuxd_port=usbmuxd_port, every_transport=True)
    try:
        return fleet.start()
    except (SimulatorError, OSError, ValueError) as err:
        raise CommandError(f"the emulated devices could not be started: {err}") from None
