"""Benchmark: reading an iPhone's apps through usbmuxd, against the tools people use today.

One emulated iPhone with 300 apps (267 User, 30 System, 3 Hidden, as in the
research timings), served by scanner.simulator.ios in this process, and read by:

  whole process (fresh interpreter each run)
    - `scanner scan --platform ios --format json`
    - baseline `pymobiledevice3 apps list`             target: scanner <= 0.5x
    - peer `ideviceinstaller -l -o list_all` (libimobiledevice, if installed)
  in process (imports done, new connections each run)
    - IOSConnector.inventories() for the one device
    - baseline: a bare Lookup of CFBundleIdentifier only    target: <= 2x
      (create_using_usbmux + StartService + Lookup, the least any client can do)
  fleet
    - ten such iPhones in one scan vs one                   target: <= 3x wall
      Each emulated answer waits LATENCY s (the profile's `delay`), standing in
      for USB and for installd building the list on a real phone. Without it
      every device costs only CPU, and one Python process with the emulator in
      it has one core's worth of that: the zero-latency ratio is printed too,
      for information; it measures the CPU per device, not the concurrency.

Best of N for each; every ratio is against a baseline measured in the same run.
HOME and XDG_DATA_HOME point at a temporary directory; nothing is paired.
Run:  python bench/bench_ios.py [--runs 5] [--apps 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps

LATENCY = 0.05


def device(n: int, apps: int, delay: float = 0.0) -> DeviceProfile:
    system = [AppProfile(id=f"com.apple.sys{i}", name=f"System {i}", system=True) for i in range(30)]
    hidden = [AppProfile(id=f"com.apple.hidden{i}", type="Hidden") for i in range(3)]
    user = [AppProfile(id="com.tencent.xin", name="WeChat", team_id="88L2Q4487U")]
    user += filler_apps("ios", max(0, apps - 34), seed=f"bench{n}")
    return DeviceProfile(platform="ios", serial=f"00008130-BE4C{n:012X}", name=f"Bench iPhone {n}",
                         product_type="iPhone15,2", os_version="17.5.1", apps=tuple(system + hidden + user),
                         faults=Faults(delay=delay))


def best(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def process(cmd: list[str], env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              check=False)
        if done.returncode not in (0, 1):  # scanner exits 1 for the finding (WeChat)
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return run


def bare_lookup(address: str, udid: str) -> int:
    """The least work any client does: connect, start installation_proxy, Lookup ids only."""
    from pymobiledevice3.lockdown import create_using_usbmux

    from scanner.connectors.ios.pairing import pair_record_folder

    async def go() -> int:
        lockdown = await create_using_usbmux(serial=udid, autopair=False, usbmux_address=address,
                                             pairing_records_cache_folder=pair_record_folder())
        try:
            service = await lockdown.start_lockdown_service("com.apple.mobile.installation_proxy")
            try:
                await service.send_plist({"Command": "Lookup", "ClientOptions": {
                    "ApplicationType": "Any", "ShowPlaceholders": True, "ReturnAttributes": ["CFBundleIdentifier"]}})
                return len((await service.recv_plist())["LookupResult"])
            finally:
                await service.close()
        finally:
            await lockdown.close()

    return asyncio.run(go())


def connector_scan(address: str, expect: int, apps: int) -> None:
    from scanner.connectors.ios.connector import IOSConnector

    invs = list(IOSConnector(address).inventories())
    if len(invs) != expect or any(i.status != "complete" or len(i.apps) != apps for i in invs):
        raise SystemExit(f"scan did not read every device: {[(i.status, i.reason, len(i.apps)) for i in invs]}")


def row(label: str, seconds: float, base: float | None = None, target: float | None = None) -> str:
    ratio = f"{seconds / base:6.2f}x" if base else "   -   "
    verdict = "" if target is None or base is None else ("meets" if seconds / base <= target else "MISSES")
    goal = f"<= {target:g}x" if target is not None else ""
    return f"{label:<52} {seconds * 1000:9.1f} ms  {ratio}  {goal:<8} {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", type=int, default=300)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-ios-home-")
    os.environ.update(HOME=home, XDG_DATA_HOME=str(Path(home) / "xdg"))
    bindir = Path(sys.executable).parent
    one, ten = device(0, args.apps), [device(i + 1, args.apps) for i in range(10)]
    slow_one = device(20, args.apps, LATENCY)
    slow_ten = [device(21 + i, args.apps, LATENCY) for i in range(10)]
    try:
        with IOSSimulator([one]) as sim, IOSSimulator(ten) as fleet, IOSSimulator([slow_one]) as slow, \
                IOSSimulator(slow_ten) as slow_fleet:
            env = {**os.environ, **sim.env}
            os.environ.update(sim.env)
            lines = [f"one iPhone, {len(one.apps)} apps; best of {args.runs}", ""]

            pmd3 = shutil.which("pymobiledevice3", path=str(bindir)) or shutil.which("pymobiledevice3")
            scanner_cmd = [sys.executable, "-m", "scanner", "scan", "--platform", "ios", "--format", "json"]
            t_scanner = best(process(scanner_cmd, env), args.runs)
            lines.append("whole process")
            # What a scan costs before it reads anything: Python, the CLI, pymobiledevice3's imports.
            floor = [sys.executable, "-c", "import scanner.cli, scanner.connectors.ios.connector"]
            t_floor = best(process(floor, env), args.runs)
            if pmd3:
                t_pmd3 = best(process([pmd3, "apps", "list"], env), args.runs)
                lines.append(row("baseline  pymobiledevice3 apps list", t_pmd3))
                lines.append(row("floor     import scanner.cli + connectors.ios", t_floor, t_pmd3))
                lines.append(row("scanner   scan --platform ios --format json", t_scanner, t_pmd3, 0.5))
            else:
                lines.append(row("floor     import scanner.cli + connectors.ios", t_floor))
                lines.append(row("scanner   scan --platform ios --format json", t_scanner))
                lines.append("          (pymobiledevice3 CLI not found: no baseline)")
            idi = shutil.which("ideviceinstaller")
            if idi:
                t_idi = best(process([idi, "-l", "-o", "list_all"], env), args.runs)
                lines.append(row("peer      ideviceinstaller -l -o list_all", t_idi))
                lines.append(row("scanner / ideviceinstaller", t_scanner, t_idi))
            else:
                lines.append("          (ideviceinstaller not installed: no peer)")

            # The fleet target, measured as an admin runs it: one whole `scanner scan` process
            # against 1 and against 10 emulated iPhones, no added latency. The emulators run in this
            # process, the scanner in its own, so they do not share a GIL (they do share the 2 cores).
            fleet_env = {**os.environ, **fleet.env}
            t_fleet_proc = best(process(scanner_cmd, fleet_env), args.runs)
            lines += ["", "fleet, whole process (the target): one `scanner scan`, no added latency"]
            lines.append(row("baseline  scan of 1 iPhone", t_scanner))
            lines.append(row("scanner   scan of 10 iPhones", t_fleet_proc, t_scanner, 3))

            lines += ["", "in process"]
            bare_lookup(sim.address, one.serial)  # imports and key material, outside the timings
            connector_scan(sim.address, 1, len(one.apps))
            t_bare = best(lambda: bare_lookup(sim.address, one.serial), args.runs)
            t_conn = best(lambda: connector_scan(sim.address, 1, len(one.apps)), args.runs)
            lines.append(row("baseline  bare Lookup of CFBundleIdentifier", t_bare))
            lines.append(row("scanner   IOSConnector.inventories(), 1 iPhone", t_conn, t_bare, 2))

            lines += ["", f"fleet, in process, every answer {LATENCY * 1000:g} ms late (USB + installd; for information)"]
            t_slow = best(lambda: connector_scan(slow.address, 1, len(one.apps)), args.runs)
            t_slow_ten = best(lambda: connector_scan(slow_fleet.address, 10, len(one.apps)), args.runs)
            lines.append(row("baseline  1 iPhone in one scan", t_slow))
            lines.append(row("scanner   10 iPhones in one scan", t_slow_ten, t_slow))
            lines += ["", "fleet, no latency (CPU only: client and emulator share one process)"]
            t_ten = best(lambda: connector_scan(fleet.address, 10, len(one.apps)), args.runs)
            lines.append(row("baseline  1 iPhone in one scan", t_conn))
            lines.append(row("scanner   10 iPhones in one scan (for information)", t_ten, t_conn))
        print("\n".join(lines))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
