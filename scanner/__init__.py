"""scanner: find prohibited apps on Android and iOS devices and in saved app inventories.

The library API is small::

    import scanner
    report = scanner.scan(["phone.txt"], policies=["us-eo-13971"])
    report.exit_code, report.summary, report.results

Imports are lazy so that importing the package (and starting the CLI) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

__version__ = "0.1.0"
__all__ = ["__version__", "load_signatures", "scan"]

if TYPE_CHECKING:
    from scanner.model import Report
    from scanner.signatures import Signatures


def load_signatures(extra: Iterable[str] = ()) -> "Signatures":
    """The bundled catalog and policies plus your files or folders in `extra`.

    Raises scanner.signatures.SignatureError listing every problem."""
    from scanner.signatures import load_signatures as _load

    return _load(extra)


def scan(
    inputs: Iterable[str],
    *,
    policies: Iterable[str] | None = None,
    signatures: Iterable[str] = (),
    inventory: bool = False,
    fail_on: str = "prohibited",
) -> "Report":
    """Match saved or exported inventories (file paths) against policies.

    `policies` None means the default policy; ["all"] every loaded one. The
    returned Report carries per-device results and the exit code it implies.
    """
    from scanner.audit import run
    from scanner.connectors.files import FileConnector
    from scanner.matcher import Matcher

    names = tuple(inputs)
    sigs = load_signatures(signatures)
    matcher = Matcher(sigs, policies)
    return run((FileConnector(n) for n in names), sigs, matcher, inventory=inventory, fail_on=fail_on, inputs=names)
