"""The file readers, one module per format, and READERS, the registry of them.

Each module declares its format as READER (a scanner.connectors.interface.FileReader):
its name, how messages and the --input help name it, how its head line or
its JSON document is recognised, and its read function. A new format is one
module here and one line in READERS; the list of accepted formats in messages
(ACCEPTED_FORMATS) and the --input help (INPUT_HELP) are built from READERS.

What the readers share is one level up: source (the input as numbered lines),
common (the Inventory built from what was read), csv_rows (CSV records); and
in scanner.connectors.records and scanner.connectors.grammars, what they share
with the live readers.
"""

from __future__ import annotations

from importlib import import_module

from scanner.connectors.interface import FileReader

__all__ = ["ACCEPTED_FORMATS", "INPUT_HELP", "READERS"]

#: Asked in this order: the first reader that recognises an input reads it. Messages and the --input help
#: name the formats in this order too.
READERS: tuple[FileReader, ...] = tuple(import_module(f"{__name__}.{module}").READER for module in (
    "pm",
    "ideviceinstaller",
    "apple_mdm",
    "pymobiledevice3",
    "google_admin",  # before android_management, which takes any document with a nextPageToken
    "android_management",
    "report",
    "jamf_pro",
    "jamf_classic",  # after apple_mdm: a bare `<?xml ...?>` line is its preamble, and a plist's next line apple_mdm's
    "workspace_one",
    "kandji",
    "kandji_prism",  # CSV heads before intune.discovered's, which would take a header with a device and an app name
    "jamf_search",
    "workspace_one_csv",
    "intune.discovered",
    "intune.columns",
    "intune.violations",
    "intune.graph",
    "fleet_csv",
    "go_ios",
    "tidevice",  # after ideviceinstaller: its head refuses `<id> - ` lines, and ios_deploy's bare-id lines
    "ios_deploy",
))


def _listed(names: list[str]) -> str:
    """ "a, b, or c" """
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + (", or " if len(names) > 2 else " or ") + names[-1]


#: Every format, as the messages about an input that is none of them name them.
ACCEPTED_FORMATS = _listed([r.description for r in READERS])
#: The help of `scanner scan --input`.
INPUT_HELP = (f"Scan a saved or exported app inventory instead of attached devices "
              f"({_listed([r.help for r in READERS])}). Repeatable; '-' reads stdin.")
