"""Benchmark: reading Android phones through the real adb server, against baselines measured in the same run.

Emulated phones (scanner.simulator.android) behind a private real adb server.
Every comparison alternates its two sides (A B A B ...) and prints medians
with min and max, of the wall times and of each round's ratio, since the
machine is shared:

  1. whole process: `python -m scanner scan --platform android --serial X --format json` on a phone with
     400 packages, vs `adb -P PORT -s X shell pm list packages -f -i -U` (one listing, nothing checked);
     target (issue 14): at most 20x. Every scan's JSON is checked: one device, complete, every package
     counted, exactly the one prohibited app placed on the phone found, exit code 1; every adb run must list
     every package. For information in the same rounds: `python -c pass`, the scan's import floor,
     `import adbutils`, the part of it a scan never uses (ADBUTILS_TOP), and of that `import requests` alone.
     Each process's own CPU time (user + system, from the children's rusage) is printed beside its wall
     time, steadier than wall on a shared machine;
     Then where one scan process's time goes (PHASES): the same scan, its imports done one package at a time
     in the order the scan meets them and its steps timed (wall and CPU of the process), medians over --runs
     processes: what is left of the 20x budget, item by item;
  2. in process: one phone's whole inventory (discovery, props, users, every listing) vs one bare
     `shell2("true", v2=True)` round trip (through the connector's client, without adbutils' close
     sleep); target <= 3 round trips' worth;
  3. in process: 20 phones in one scan vs one phone; target <= 3x the wall time.

The whole processes cache their bytecode (in a private folder) as an installed package has it.
The emulated phones and their adb server run in a separate process, so that the scanner's own CPU is
what the in-process rows measure; on a 2-core machine they still share the cores with it.

Run:  python bench/bench_android.py [--runs 9] [--apps 400] [--devices 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import adbutils
from alternating import Spread, cached_bytecode_env, ratios, rounds

from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.android.server import Client, parse_server
from scanner.simulator.android import adb_binary

PROHIBITED = "com.zhiliaoapp.musically"  # TikTok: placed on every benchmark phone, so a scan must find it
# What adbutils/__init__.py imports that reading a phone never uses: requests (for install from a URL), PIL
# (screenshots), importlib.metadata (its __version__) and deprecation (decorators); the upstream change
# proposed in issue 14's note would import them where they are used. requests, the largest, also alone.
# (Deferring requests with importlib.util.LazyLoader was tried and dropped: a first `import requests.adapters`
# or `from requests.exceptions import X` then executes that submodule twice; PIL.Image cannot wait, since
# adbutils/screenshot.py evaluates `-> Image.Image` while its class is defined.)
ADBUTILS_TOP = "import requests, PIL.Image, importlib.metadata, deprecation"
REQUESTS = "import requests"
FLOOR = "import scanner.cli.scan, scanner.live, scanner.formats.json_report, scanner.connectors.android.connector"

# One `scanner scan` (argv[1:]) whose phases are timed: imports one package at a time, in the order the scan
# meets them (requests first among adbutils' imports, so importlib.metadata, which it also imports, counts there),
# then the command, its steps marked by wrappers around them (this measuring process only). Prints one JSON line
# on stderr: [[phase, wall s, CPU s], ...].
PHASES = r"""
import json, sys, time
marks = [("start", time.perf_counter(), time.process_time())]
def mark(what):
    marks.append((what, time.perf_counter(), time.process_time()))
import scanner.cli; mark("scanner.cli: click, scanner, model, terminal helpers")
import scanner.cli.scan; mark("scanner.cli.scan: its options and output")
import scanner.live; mark("scanner.live: audit, matcher, signatures module, connector interface")
import logging, socket, subprocess, threading, dataclasses, pathlib, scanner.connectors.android
mark("stdlib modules adbutils needs (logging, socket, subprocess, ...)")
import requests; mark("adbutils: requests (install from a URL)")
import PIL.Image; mark("adbutils: PIL.Image (screenshots)")
import importlib.metadata; importlib.metadata.version("adbutils"); mark("adbutils: importlib.metadata, version()")
import deprecation, retry; mark("adbutils: deprecation, retry (decorators)")
import adbutils; mark("adbutils: its own modules")
import scanner.connectors.android.connector; mark("scanner.connectors.android")
import scanner.cli.scan as command, scanner.live as live
def timed(module, name, what):
    step = getattr(module, name)
    def run(*args, **kwargs):
        mark(f"before {name}: click, options")
        try:
            return step(*args, **kwargs)
        finally:
            mark(what)
    setattr(module, name, run)
timed(command, "make_matcher", "signature loading (make_matcher)")
timed(live, "open_transports", "opening the transport")
timed(live, "scan", "reading the phone and matching (live.scan)")
timed(command, "deliver", "the JSON report (deliver)")
from scanner.cli import main
try:
    code = main(sys.argv[1:], standalone_mode=False)
finally:
    mark("exit")
    print(json.dumps([[b[0], b[1] - a[1], b[2] - a[2]] for a, b in zip(marks, marks[1:])]), file=sys.stderr)
sys.exit(code)
"""

SERVE = r"""
import json, sys
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, filler_apps
count, apps, prohibited = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
framework = AppProfile("android", system=True, uid=1000)
tiktok = AppProfile(prohibited, installer="com.android.vending", build="370104")
phones = [DeviceProfile("android", f"BENCH{i:04d}", model="Pixel 7",
                        apps=(framework, tiktok, *filler_apps("android", apps - 2, f"BENCH{i:04d}")))
          for i in range(count)]
with AndroidSimulator(phones) as sim:
    print(json.dumps({"port": sim.adb_port, "pids": sim.pids,
                      "serials": {p.serial: sim.transport_serial(p.serial) for p in phones}}), flush=True)
    for line in sys.stdin:  # "shells SERIAL": the shell round trips that phone has served; until stdin closes
        print(sim.shell_count(line.split()[1]), flush=True)
"""


class Fleet:
    """Emulated phones served by another process, as real phones would be: their CPU is not the scanner's."""

    def __init__(self, count: int, apps: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(count), str(apps), PROHIBITED],
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

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # it stops its adb server by PID and exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class CPU:
    """A step that also adds up this process's CPU seconds (process_time) over its calls."""

    def __init__(self, step: Callable[[], object]) -> None:
        self.step = step
        self.seconds = 0.0
        self.calls = 0

    def __call__(self) -> None:
        start = time.process_time()
        self.step()
        self.seconds += time.process_time() - start
        self.calls += 1

    @property
    def mean(self) -> float:
        return self.seconds / max(self.calls, 1)


def scan(port: int, apps: int, serials: list[str] | None = None, expect: int = 1) -> list:
    results = list(AndroidConnector(f"127.0.0.1:{port}", serials=serials or ()).inventories())
    bad = [r for r in results if r.status != "complete" or len(r.apps) != apps]
    if bad or len(results) != expect:
        first = bad[0] if bad else None
        raise SystemExit(f"a benchmark scan was not complete: {len(results)} results for {expect} phones"
                         + (f"; {first.device.serial}: {first.status}, {len(first.apps)} apps: {first.message}"
                            if first else ""))
    return results


def check_report(stdout: bytes, code: int, serial: str, apps: int) -> None:
    """Abort unless the scan's JSON reads the one phone completely and finds exactly the app placed on it."""
    def fail(why: str) -> None:
        raise SystemExit(f"the scan did not read the phone as expected: {why}")

    if code != 1:
        fail(f"exit code {code}, expected 1 (a prohibited app, every target read)")
    try:
        devices = json.loads(stdout)["devices"]
    except (ValueError, KeyError) as err:
        fail(f"no JSON report on stdout ({err!r})")
    if len(devices) != 1 or devices[0]["device"]["serial"] != serial:
        fail(f"{len(devices)} devices in the report, expected only {serial}")
    device = devices[0]
    if device["status"] != "complete":
        fail(f"{device['status']} ({device['reason']}): {device['message']}")
    if device["app_count"] != apps:
        fail(f"{device['app_count']} apps read, the phone has {apps}")
    flagged = sorted(f["app"]["id"] for f in device["findings"])
    if flagged != [PROHIBITED]:
        fail(f"flagged {flagged}, expected [{PROHIBITED}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--apps", type=int, default=400)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    if args.apps < 3 or args.runs < 1 or args.devices < 2:
        parser.error("--apps must be at least 3, --runs at least 1, --devices at least 2")
    rows: list[tuple[str, str, Spread, str]] = []

    with Fleet(1, args.apps) as sim:
        port = sim.adb_port
        transport = sim.serials["BENCH0000"]
        env = cached_bytecode_env({**os.environ, **sim.env})  # .pyc files as an installed package has them
        env.pop("SCANNER_CONFIG", None)  # the bundled signatures only

        cpu: dict[str, list[float]] = {}  # each whole process's own CPU seconds, by step (the warm round first)

        def run(cmd: list[str], step: str) -> subprocess.CompletedProcess:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.setdefault(step, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            return proc

        def adb_listing() -> None:
            proc = run([adb_binary(), "-P", str(port), "-s", transport, "shell", "pm list packages -f -i -U"], "adb")
            listed = proc.stdout.count(b"package:")
            if proc.returncode != 0 or listed != args.apps:
                raise SystemExit(f"adb shell pm list packages exited {proc.returncode} listing {listed} of "
                                 f"{args.apps} packages: {proc.stderr[-300:]!r}")

        def scanner_scan() -> None:
            proc = run([sys.executable, "-m", "scanner", "scan", "--platform", "android", "--serial", transport,
                        "--format", "json"], "scan")
            check_report(proc.stdout, proc.returncode, "BENCH0000", args.apps)

        def python(code: str) -> Callable[[], None]:
            def step() -> None:
                if run([sys.executable, "-c", code], code).returncode != 0:
                    raise SystemExit(f"python -c {code!r} failed")
            return step

        base, whole, bare, floor, imports, top, alone = rounds(
            args.runs, [adb_listing, scanner_scan, python("pass"), python(FLOOR), python("import adbutils"),
                        python(ADBUTILS_TOP), python(REQUESTS)])

        def used(step: str) -> str:
            return f"CPU {Spread(tuple(cpu[step][1:])).ms()}"  # the warm round left out, as rounds() does

        rows.append(("process", f"adb shell pm list packages -f -i -U ({args.apps} packages)", base,
                     f"baseline; {used('adb')}"))
        rows.append(("process", "scanner scan --platform android --serial X --format json", whole,
                     f"{ratios(whole, base).times()} adb (target <= 20x); {used('scan')}"))
        rows.append(("process", "  python -c pass", bare, f"{ratios(bare, whole).median:.0%} of the scan; {used('pass')}"))
        rows.append(("process", "  the scan's imports (python -c 'import ...')", floor,
                     f"{ratios(floor, whole).median:.0%} of the scan; {used(FLOOR)}"))
        rows.append(("process", "  python -c 'import adbutils'", imports,
                     f"{ratios(imports, whole).median:.0%} of the scan; {used('import adbutils')}"))
        rows.append(("process", "    of which what its package imports for install/screenshot/version", top,
                     f"{ratios(top, whole).median:.0%} of the scan (python -c '{ADBUTILS_TOP}'); {used(ADBUTILS_TOP)}"))
        rows.append(("process", "      of which requests (install from a URL)", alone,
                     f"{ratios(alone, whole).median:.0%} of the scan (python -c '{REQUESTS}'); {used(REQUESTS)}"))

        phases: dict[str, tuple[list[float], list[float]]] = {}
        for n in range(args.runs + 1):
            proc = run([sys.executable, "-c", PHASES, "scan", "--platform", "android", "--serial", transport,
                        "--format", "json"], "phases")
            check_report(proc.stdout, proc.returncode, "BENCH0000", args.apps)
            for what, wall, used_cpu in json.loads(proc.stderr.splitlines()[-1]) if n else ():  # first: warm
                walls, cpus = phases.setdefault(what, ([], []))
                walls.append(wall)
                cpus.append(used_cpu)
        budget = 20 * base.median
        split = [("process", f"  {what}", Spread(tuple(walls)), f"CPU {Spread(tuple(cpus)).ms()}")
                 for what, (walls, cpus) in phases.items() if Spread(tuple(walls)).median >= 0.0002]
        total = Spread(tuple(map(sum, zip(*(walls for walls, _ in phases.values())))))
        rows.append(("process", "where one scan's time goes (after interpreter start-up, which is python -c pass)",
                     total, (f"the 20x budget is {budget * 1000:.0f} ms; python -c pass + this = "
                             f"{(bare.median + total.median) * 1000:.0f} ms")))
        rows.extend(split)

        # The bare round trip goes through the connector's own client (scanner.connectors.android.server), whose
        # connections close without adbutils' 10 ms sleep: what a round trip costs, not what closing does.
        device = adbutils.AdbDevice(Client(parse_server(f"127.0.0.1:{port}")), serial=transport)
        device.shell2("true", v2=True)  # features fetched once, as the connector does per phone
        served = sim.shell_count(transport)
        one = CPU(lambda: scan(port, args.apps, [transport]))
        trip, whole_one = rounds(args.runs, [lambda: device.shell2("true", v2=True), one])
        trips = (sim.shell_count(transport) - served - (args.runs + 1)) / (args.runs + 1)
        rows.append(("in-process", "one bare shell2('true', v2=True) round trip", trip, "baseline"))
        rows.append(("in-process", f"one phone's whole inventory ({trips:.0f} shell round trips)", whole_one,
                     f"{ratios(whole_one, trip).times()} round trips' worth (target <= 3)"))

    with Fleet(args.devices, args.apps) as sim:
        single = CPU(lambda: scan(sim.adb_port, args.apps, [sim.serials["BENCH0000"]]))
        many = CPU(lambda: scan(sim.adb_port, args.apps, expect=args.devices))
        single_s, many_s = rounds(args.runs, [single, many])
        rows.append(("in-process", "one phone of the fleet", single_s, "baseline"))
        rows.append(("in-process", f"{args.devices} phones in one scan", many_s,
                     f"{ratios(many_s, single_s).times()} one phone (target <= 3x)"))

    width = max(len(r[1]) for r in rows)
    print(f"{args.runs} alternating rounds per comparison: median [min - max]")
    print(f"{'':11} {'what':{width}}  {'wall':>31}  ratio")
    for kind, what, spread, ratio in rows:
        print(f"{kind:11} {what:{width}}  {spread.ms()}  {ratio}")
    print(f"scanner CPU per scan (this process; the emulated phones run in another one, on the same cores): "
          f"one phone {one.mean * 1000:.1f} ms, {args.devices} phones {many.mean * 1000:.1f} ms "
          f"({many.mean / args.devices * 1000:.1f} ms per phone)")


if __name__ == "__main__":
    main()
