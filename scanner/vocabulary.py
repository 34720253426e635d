"""The model's words and exit codes that the signatures and the CLI share, and SignatureFile.

Split from scanner.model, which re-exports every name here, so that loading
the signatures and starting a command cost no more than they use: the
model's dataclasses are most of what importing it costs, and `scanner
signatures list` needs none of them. No I/O here, and nothing but this one
small dataclass is built at import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CONFIDENCES",
    "EXIT_CLEAN",
    "EXIT_FINDINGS",
    "EXIT_FINDINGS_INCOMPLETE",
    "EXIT_INCOMPLETE",
    "EXIT_USAGE",
    "FAIL_ON",
    "PLATFORMS",
    "RELATIONS",
    "SEVERITIES",
    "SignatureFile",
    "signature_digest",
]

PLATFORMS = ("android", "ios")
SEVERITIES = ("prohibited", "review")  # most severe first
RELATIONS = ("app", "feature-of", "related", "maker")  # "maker": the entry names the company, not the app
CONFIDENCES = ("confirmed", "reported")
FAIL_ON = ("prohibited", "review", "never")

# Exit codes: the contract with audit scripts (DESIGN.md).
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 4
EXIT_FINDINGS_INCOMPLETE = 5


@dataclass(frozen=True)
class SignatureFile:
    path: str
    sha256: str
    kind: str  # "app" | "policy" | "maker"


def signature_digest(files: Iterable[SignatureFile]) -> str:
    """One hash for the signature data a run used: sha256 over `<sha256>  <path>\\n` per file (sha256sum's
    line, the path as reports give it), the lines sorted. Two runs with the same files (same contents, same
    names) give the same hash; any file added, removed, renamed or changed gives another. `scanner --version`
    and the HTML report both print it."""
    import hashlib

    lines = sorted(f"{f.sha256}  {f.path}\n" for f in files)
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
