"""Benchmark: reading an iPhone's apps through usbmuxd, against the tools people use today.

One emulated iPhone with 300 apps (267 User, 30 System, 3 Hidden, as in the
research timings), served by scanner.simulator.ios in this process, and read by
whole processes (a fresh interpreter each run):

  A  `scanner scan --platform ios --format json`
  B  baseline `pymobiledevice3 apps list`                 target: A <= 0.35x B
  C  peer `ideviceinstaller -l -o list_all` (libimobiledevice; CI installs it)   target: A <= 2x C
  D  floor: `python -c 'import scanner.cli, scanner.connectors.ios.connector'` (what a scan costs before
     it reads anything; for information)
  E  `scanner scan` of ten such iPhones (one usbmuxd)     for information: A's fleet cost

and, in this process (imports done, new connections each run), IOSConnector.inventories() against a bare
Lookup of CFBundleIdentifier only (connect, StartService, Lookup: the least any client does; target <= 2x).

The machine is shared, so the commands are run in turn, A B C D E A B C D E ..., and each prints its median
with min and max; every ratio is of medians measured in the same run. Every run's output is checked: the
scanner's JSON (the device complete, every app counted, exactly WeChat found, exit 1), pymobiledevice3's
JSON and ideviceinstaller's lines (every app listed); a run that did not read everything aborts the bench.
HOME and XDG_DATA_HOME point at a temporary directory; nothing is paired (usbmuxd holds the records).
PYTHONDONTWRITEBYTECODE is dropped from the commands' environment: an installed scanner has its bytecode,
and without it every run would compile the scanner's modules again (~0.1 s); the warm-up run writes it.
Run:  python bench/bench_ios.py [--runs 9] [--apps 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps

WECHAT = "com.tencent.xin"


def device(n: int, apps: int) -> DeviceProfile:
    system = [AppProfile(id=f"com.apple.sys{i}", name=f"System {i}", system=True) for i in range(30)]
    hidden = [AppProfile(id=f"com.apple.hidden{i}", type="Hidden") for i in range(3)]
    user = [AppProfile(id=WECHAT, name="WeChat", team_id="88L2Q4487U")]
    user += filler_apps("ios", max(0, apps - 34), seed=f"bench{n}")
    return DeviceProfile(platform="ios", serial=f"00008130-BE4C{n:012X}", name=f"Bench iPhone {n}",
                         product_type="iPhone15,2", os_version="17.5.1", apps=tuple(system + hidden + user))


# --- checks of each run's output ---------------------------------------------------------------------


def check_scan(devices: list[DeviceProfile]) -> Callable[[int, str], None]:
    def check(code: int, out: str) -> None:
        if code != 1:
            raise ValueError(f"exit code {code}, expected 1 (WeChat)")
        report = json.loads(out)
        results = {r["device"]["serial"]: r for r in report["devices"]}
        if set(results) != {d.serial for d in devices}:
            raise ValueError(f"devices {sorted(results)}")
        for d in devices:
            r = results[d.serial]
            if r["status"] != "complete" or r["app_count"] != len(d.apps):
                raise ValueError(f"{d.serial}: {r['status']} ({r['reason']}), {r['app_count']} apps")
            if {f["app"]["id"] for f in r["findings"]} != {WECHAT}:
                raise ValueError(f"{d.serial}: findings {[f['app']['id'] for f in r['findings']]}")
    return check


def check_pmd3(apps: int) -> Callable[[int, str], None]:
    def check(code: int, out: str) -> None:
        listed = json.loads(out) if code == 0 else None
        if not isinstance(listed, dict) or len(listed) != apps:
            raise ValueError(f"exit code {code}, {len(listed) if isinstance(listed, dict) else 'no'} apps listed")
    return check


def check_idi(apps: int) -> Callable[[int, str], None]:
    def check(code: int, out: str) -> None:
        rows = [line for line in out.splitlines()[1:] if line.strip()]  # a header line, then one app per line
        if code != 0 or len(rows) != apps:
            raise ValueError(f"exit code {code}, {len(rows)} apps listed")
    return check


def check_floor(code: int, out: str) -> None:
    if code != 0:
        raise ValueError(f"exit code {code}")


# --- timing ------------------------------------------------------------------------------------------


class Case:
    def __init__(self, label: str, cmd: list[str], env: dict[str, str], check: Callable[[int, str], None]) -> None:
        self.label, self.cmd, self.env, self.check = label, cmd, env, check
        self.times: list[float] = []

    def run(self, timed: bool = True) -> None:
        start = time.perf_counter()
        done = subprocess.run(self.cmd, env=self.env, capture_output=True, text=True,
                              check=False)
        elapsed = time.perf_counter() - start
        try:
            self.check(done.returncode, done.stdout)
        except (ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{self.label}: the run did not read everything: {err}\n{done.stderr.strip()[-800:]}")
        if timed:
            self.times.append(elapsed)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def alternate(cases: list[Case], runs: int) -> None:
    """One untimed, checked warm-up each; then A B C ... A B C ..., `runs` rounds."""
    for case in cases:
        case.run(timed=False)
    for _ in range(runs):
        for case in cases:
            case.run()


def stats(times: list[float]) -> str:
    return (f"median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f}   "
            f"max {max(times) * 1000:7.1f}")


def ratio_line(label: str, a: Case | list[float], b: Case | list[float], target: float | None) -> str:
    ta = a.times if isinstance(a, Case) else a
    tb = b.times if isinstance(b, Case) else b
    r = statistics.median(ta) / statistics.median(tb)
    # the spread of the ratio: each A against the B of its own round
    pairs = sorted(x / y for x, y in zip(ta, tb, strict=True))
    verdict = "" if target is None else f"  <= {target:g}x  {'meets' if r <= target else 'MISSES'}"
    return f"  {label:<44} {r:5.2f}x  (round by round {pairs[0]:.2f}-{pairs[-1]:.2f}x){verdict}"


# --- in process --------------------------------------------------------------------------------------


def bare_lookup(address: str, udid: str) -> int:
    """The least work any client does: connect, start installation_proxy, Lookup ids only (pymobiledevice3)."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds of A B C ... (default 9)")
    parser.add_argument("--apps", type=int, default=300)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-ios-home-")
    os.environ.update(HOME=home, XDG_DATA_HOME=str(Path(home) / "xdg"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    bindir = Path(sys.executable).parent
    one, ten = device(0, args.apps), [device(i + 1, args.apps) for i in range(10)]
    try:
        with IOSSimulator([one]) as sim, IOSSimulator(ten) as fleet:
            env = {**os.environ, **sim.env}
            os.environ.update(sim.env)
            scan_cmd = [sys.executable, "-m", "scanner", "scan", "--platform", "ios", "--format", "json"]
            scanner = Case("scanner scan --platform ios --format json", scan_cmd, env, check_scan([one]))
            cases = [scanner]
            pmd3_path = shutil.which("pymobiledevice3", path=str(bindir)) or shutil.which("pymobiledevice3")
            pmd3 = idi = None
            if pmd3_path:
                pmd3 = Case("pymobiledevice3 apps list", [pmd3_path, "apps", "list"], env, check_pmd3(len(one.apps)))
                cases.append(pmd3)
            if idi_path := shutil.which("ideviceinstaller"):
                idi = Case("ideviceinstaller -l -o list_all", [idi_path, "-l", "-o", "list_all"], env,
                           check_idi(len(one.apps)))
                cases.append(idi)
            floor = Case("floor: import scanner.cli + connectors.ios",
                         [sys.executable, "-c", "import scanner.cli, scanner.connectors.ios.connector"], env, check_floor)
            tens = Case("scanner scan of 10 iPhones", scan_cmd, {**os.environ, **fleet.env}, check_scan(ten))
            cases += [floor, tens]
            alternate(cases, args.runs)

            bare_lookup(sim.address, one.serial)  # imports and key material, outside the timings
            connector_scan(sim.address, 1, len(one.apps))
            t_bare: list[float] = []
            t_conn: list[float] = []
            for _ in range(args.runs):
                for times, action in ((t_bare, lambda: bare_lookup(sim.address, one.serial)),
                                      (t_conn, lambda: connector_scan(sim.address, 1, len(one.apps)))):
                    start = time.perf_counter()
                    action()
                    times.append(time.perf_counter() - start)

        print(f"one iPhone, {len(one.apps)} apps; {args.runs} rounds, run in turn (A B C ...); every run checked")
        print("\nwhole process")
        for case in cases:
            print(f"  {case.label:<44} {stats(case.times)}")
        if pmd3 is None:
            print("  (pymobiledevice3 CLI not found: no baseline)")
        if idi is None:
            print("  (ideviceinstaller not installed: no peer; Debian/Ubuntu: apt install ideviceinstaller)")
        print("ratios of medians")
        if pmd3 is not None:
            print(ratio_line("scanner / pymobiledevice3 apps list", scanner, pmd3, 0.35))
        if idi is not None:
            print(ratio_line("scanner / ideviceinstaller -l", scanner, idi, 2))
        print(ratio_line("floor / scanner (share of fixed cost)", floor, scanner, None))
        print(ratio_line("10 iPhones / 1 iPhone", tens, scanner, None))
        print("\nin process (imports done)")
        print(f"  {'bare Lookup of CFBundleIdentifier':<44} {stats(t_bare)}")
        print(f"  {'IOSConnector.inventories(), 1 iPhone':<44} {stats(t_conn)}")
        print(ratio_line("connector / bare Lookup", t_conn, t_bare, 2))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
