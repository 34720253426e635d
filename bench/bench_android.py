"""Benchmark: reading Android phones through the real adb server, against baselines measured in the same run.

Emulated phones (scanner.simulator.android) behind a private real adb server.
Three comparisons, best of N each:

  1. whole process: `python -m scanner scan --platform android --serial X --format json` on a phone with
     400 packages, vs `adb -P PORT -s X shell pm list packages -f -i -U` (one listing, nothing checked);
  2. in process: one phone's whole inventory (discovery, props, users, every listing) vs one bare
     `shell2("true", v2=True)` round trip; target <= 3 round trips' worth;
  3. in process: 20 phones in one scan vs one phone; target <= 3x the wall time.

The emulated phones and their adb server run in a separate process, so that the scanner's own CPU is
what the in-process rows measure; on a 2-core machine they still share the cores with it.

Run:  python bench/bench_android.py [--runs 7] [--apps 400] [--devices 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable

import adbutils

from scanner.connectors.android.connector import AndroidConnector
from scanner.simulator.android import adb_binary

CPU: dict[str, float] = {}  # label -> this process's CPU seconds per run (mean), for in-process rows


def best(fn: Callable[[], object], runs: int, label: str | None = None) -> float:
    times = []
    cpu = time.process_time()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    if label:
        CPU[label] = (time.process_time() - cpu) / runs
    return min(times)


SERVE = r"""
import json, sys
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps
count, apps = int(sys.argv[1]), int(sys.argv[2])
framework = AppProfile("android", system=True, uid=1000)
phones = [DeviceProfile("android", f"BENCH{i:04d}", model="Pixel 7",
                        apps=(framework, *filler_apps("android", apps - 1, f"BENCH{i:04d}"))) for i in range(count)]
with AndroidSimulator(phones) as sim:
    print(json.dumps({"port": sim.adb_port, "pids": sim.pids,
                      "serials": {p.serial: sim.transport_serial(p.serial) for p in phones}}), flush=True)
    for line in sys.stdin:  # "shells SERIAL": the shell round trips that phone has served; until stdin closes
        print(sim.shell_count(line.split()[1]), flush=True)
"""


class Fleet:
    """Emulated phones served by another process, as real phones would be: their CPU is not the scanner's."""

    def __init__(self, count: int, apps: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(count), str(apps)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the simulator process did not start")
        info = json.loads(line)
        self.adb_port: int = info["port"]
        self.serials: dict[str, str] = info["serials"]
        self.env = {"ANDROID_ADB_SERVER_PORT": str(self.adb_port)}

    def shell_count(self, serial: str) -> int:
        """The shell round trips phone `serial` has served so far, counted by the phone itself."""
        self.proc.stdin.write(f"shells {serial}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # it stops its adb server by PID and exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def scan(port: int, serials: list[str] | None = None) -> list:
    results = list(AndroidConnector(f"127.0.0.1:{port}", serials=serials or ()).inventories())
    bad = [r for r in results if r.status != "complete"]
    if bad:
        raise SystemExit(f"a benchmark scan was not complete: {bad[0].device.serial}: {bad[0].message}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--apps", type=int, default=400)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    rows: list[tuple[str, str, float, str]] = []

    with Fleet(1, args.apps) as sim:
        port = sim.adb_port
        transport = sim.serials["BENCH0000"]
        env = {**os.environ, **sim.env}
        cli = [sys.executable, "-m", "scanner", "scan", "--platform", "android", "--serial", transport,
               "--format", "json", "--inventory"]
        adb_cli = [adb_binary(), "-P", str(port), "-s", transport, "shell", "pm list packages -f -i -U"]

        def run_cli(cmd: list[str]) -> None:
            proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{cmd[:4]} exited {proc.returncode}")

        base = best(lambda: run_cli(adb_cli), args.runs)
        whole = best(lambda: run_cli(cli), args.runs)
        rows.append(("process", f"adb shell pm list packages -f -i -U ({args.apps} packages)", base, "baseline"))
        rows.append(("process", "scanner scan --platform android --serial X", whole, f"{whole / base:.1f}x"))
        imports = best(lambda: run_cli([sys.executable, "-c", "import adbutils"]), args.runs)
        rows.append(("process", "  of which: python -c 'import adbutils'", imports, f"{imports / whole:.0%} of the scan"))

        device = adbutils.AdbClient(port=port).device(transport)
        device.shell2("true", v2=True)  # features fetched once, as the connector does per phone
        trip = best(lambda: device.shell2("true", v2=True), args.runs * 3)
        served = sim.shell_count(transport)
        one = best(lambda: scan(port, [transport]), args.runs, "one")
        trips = (sim.shell_count(transport) - served) / args.runs
        rows.append(("in-process", "one bare shell2('true', v2=True) round trip", trip, "baseline"))
        rows.append(("in-process", f"one phone's whole inventory ({trips:.0f} shell round trips)", one,
                     f"{one / trip:.1f} round trips' worth (target <= 3)"))

    with Fleet(args.devices, args.apps) as sim:
        single = best(lambda: scan(sim.adb_port, [sim.serials["BENCH0000"]]), args.runs, "single")
        many = best(lambda: scan(sim.adb_port), args.runs, "many")
        rows.append(("in-process", "one phone of the fleet", single, "baseline"))
        rows.append(("in-process", f"{args.devices} phones in one scan", many,
                     f"{many / single:.1f}x one phone (target <= 3x)"))

    width = max(len(r[1]) for r in rows)
    print(f"{'':11} {'what':{width}}  {'best of ' + str(args.runs):>12}  ratio")
    for kind, what, seconds, ratio in rows:
        print(f"{kind:11} {what:{width}}  {seconds * 1000:9.1f} ms  {ratio}")
    print(f"scanner CPU per scan (this process; the emulated phones run in another one, on the same cores): "
          f"one phone {CPU['one'] * 1000:.1f} ms, {args.devices} phones {CPU['many'] * 1000:.1f} ms "
          f"({CPU['many'] / args.devices * 1000:.1f} ms per phone)")


if __name__ == "__main__":
    main()
