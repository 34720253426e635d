"""scanner: find prohibited apps on Android and iOS devices and in saved app inventories.

The library API is small::

    import scanner
    report = scanner.scan(["phone.txt"], policies=["us-eo-13971"])
    report = scanner.scan_devices(platforms=("android", "ios"), timeout=60)
    report.exit_code, report.summary, report.results

Imports are lazy so that importing the package (and starting the CLI) stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["__version__", "load_signatures", "scan", "scan_devices"]

if TYPE_CHECKING:
    from scanner.model import Report
    from scanner.signatures import Signatures


def load_signatures(extra: Iterable[str] = ()) -> Signatures:
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
    accept_scopes: Iterable[str] = (),
    max_age: int | None = None,
) -> Report:
    """Match saved or exported inventories (file paths) against policies.

    `policies` None means the default policy; ["all"] every loaded one. The
    returned Report carries per-device results and the exit code it implies.
    `accept_scopes` ("mdm",) and `max_age` (days) are the CLI's --accept-scope
    and --max-age.
    """
    from scanner.audit import run
    from scanner.connectors.files import FileConnector
    from scanner.matcher import Matcher

    names = tuple(inputs)
    matcher = Matcher(load_signatures(signatures), policies)
    accept = tuple(dict.fromkeys(accept_scopes))
    from scanner.audit import ACCEPTABLE_SCOPES

    unknown = [s for s in accept if s not in ACCEPTABLE_SCOPES]
    if unknown:
        raise ValueError(f"accept_scopes: {unknown[0]!r} is not one of {', '.join(ACCEPTABLE_SCOPES)}")
    return run((FileConnector(n, keep=matcher.knows) for n in names), matcher, inventory=inventory, fail_on=fail_on,
               inputs=names, accept_scopes=accept, max_age=max_age)


def scan_devices(
    *,
    platforms: Iterable[str] = ("android", "ios"),
    serials: Iterable[str] = (),
    udids: Iterable[str] = (),
    timeout: float = 60.0,
    adb_server: str | None = None,
    usbmux_address: str | None = None,
    policies: Iterable[str] | None = None,
    signatures: Iterable[str] = (),
    inventory: bool = False,
    fail_on: str = "prohibited",
) -> Report:
    """Scan the attached devices of `platforms`, concurrently, each within `timeout` seconds.

    Android goes through the adb server (`adb_server` "HOST:PORT", default the
    one on $ANDROID_ADB_SERVER_PORT or 5037, started if none runs); iOS through
    usbmuxd (`usbmux_address`, default $USBMUXD_SOCKET_ADDRESS or the OS's).
    A platform that cannot be reached is a failed result, never a clean one.
    """
    from scanner import connectors, live
    from scanner.matcher import Matcher

    chosen = {p: True for p in platforms}
    unknown = sorted(set(chosen) - {e.platform for e in connectors.TRANSPORTS})
    if unknown:
        raise ValueError(f"platforms {unknown}: not a registered transport; give any of "
                         f"{[e.platform for e in connectors.TRANSPORTS]}")
    matcher = Matcher(load_signatures(signatures), policies)
    transports = live.open_transports(chosen,
                                      select={"android": tuple(serials), "ios": tuple(udids)},
                                      addresses={"android": adb_server, "ios": usbmux_address}, timeout=timeout)
    return live.scan(transports, matcher, inventory=inventory, fail_on=fail_on)
