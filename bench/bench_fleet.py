"""Benchmark: one `scanner scan` of 100 emulated devices (50 Android, 50 iOS) against one device alone.

Issues 5 and 14. Three `scanner simulate --profile FILE` processes serve, side by side:

  fleet         50 Android phones + 50 iPhones (--per-platform), 150-300 apps each, prohibited apps on some
  one Android   one phone with the fleet's mean Android app count      (baseline)
  one iOS       one iPhone with the fleet's mean iOS app count         (baseline)

Each is its own process (its adb server a child of it), so the emulated devices never share the
scanner's GIL or its CPU accounting; on a 2-core machine they do share the cores. Every timed run is
`python -m scanner scan --format json` in a fresh process with the env `simulate` printed
(`--platform android|ios` for the baselines, so that no adb server is ever looked for on 5037);
wall time from spawn to exit, and the child's rusage from os.wait4 (ru_maxrss = peak RSS in KiB on
Linux, ru_utime + ru_stime = its CPU). The machine is shared, so the targets are run in turn,
A B C D ... A B C D ..., `--runs` rounds after one untimed warm-up each, and every figure is a median
with its min and max; ratios are of medians. For diagnosis the fleet's Android and iOS halves are also
scanned alone (`--platform`), and its first 10 iPhones (`--udid` x 10), with the CPU the serving
simulate (and its adb server) spent meanwhile, read from /proc: the CPU per iPhone between 1 and 10
and between 10 and all of them shows whether a device costs more as the fleet grows.

Every run's JSON is checked: every device present, every one `complete` with its app count, exactly
the expected prohibited apps found. A run that did not read everything is not a fast run: abort.
PYTHONDONTWRITEBYTECODE is dropped from the scans' environment: an installed scanner has its bytecode
(the warm-up writes it).

Targets (issue 14): fleet wall <= 2x the wall of one device; scanner CPU per iPhone <= 10 ms; no
per-device cost that grows with the fleet.
Run:  python bench/bench_fleet.py [--runs 5] [--per-platform 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from scanner.simulator.profile import (
    AppProfile,
    DeviceProfile,
    filler_apps,
    load_profile,
)

FORBIDDEN_PORTS = {5037, *range(5554, 5586)}
TARGET = 2.0  # fleet wall / one device
CPU_PER_IPHONE = 0.010  # s of scanner CPU per iPhone in the fleet
SUBSET = 10  # the fleet's first iPhones, scanned alone: the per-device cost at a smaller fleet
TICK = os.sysconf("SC_CLK_TCK")

# Prohibited apps (bundled signatures) placed on some devices; the scan must report exactly these.
ANDROID_PROHIBITED = {
    "camscanner": AppProfile("com.intsig.camscanner", name="CamScanner", version="6.71.0", build="6710",
                             installer="com.android.vending"),
    "shareit": AppProfile("com.lenovo.anyshare.gps", name="SHAREit", version="6.40.68", build="4080648",
                          installer="com.android.vending"),
    "wps": AppProfile("cn.wps.moffice_eng", name="WPS Office", version="18.13", build="1700",
                      installer="com.android.vending"),
}
IOS_PROHIBITED = {
    "wechat": AppProfile("com.tencent.xin", name="WeChat", version="8.0.50", build="8.0.50.34", team_id="88L2Q4487U"),
    "qq": AppProfile("com.tencent.mqq", name="QQ", version="9.0.70", build="9.0.70.606"),
    "alipay": AppProfile("com.alipay.iphoneclient", name="Alipay", version="10.6.10", build="10.6.10.6000"),
}
ANDROID_SYSTEM = ("android", "com.android.chrome", "com.google.android.gm", "com.google.android.gms",
                  "com.android.vending", "com.android.settings", "com.android.systemui", "com.google.android.youtube")
IOS_SYSTEM = ("mobilesafari", "mobilemail", "MobileSMS", "mobilecal", "mobilenotes", "Maps", "camera",
              "mobileslideshow", "Preferences", "AppStore", "weather", "calculator", "facetime", "Health",
              "Passbook", "reminders", "shortcuts", "podcasts", "Music", "tv", "news", "stocks", "iBooks",
              "Translate", "measure", "compass", "VoiceMemos", "findmy", "Home", "Fitness")
ANDROID_MODELS = (("Pixel 7", "Google", "14", 34), ("SM-S911B", "samsung", "14", 34), ("Pixel 6a", "Google", "13", 33),
                  ("SM-A546B", "samsung", "13", 33), ("moto g84", "motorola", "14", 34))
IOS_MODELS = (("iPhone15,2", "17.5.1", "21F90"), ("iPhone14,5", "17.4", "21E219"), ("iPhone12,1", "16.7.8", "20H343"))


# --- the devices --------------------------------------------------------------------------------


def android_device(serial: str, apps: int, prohibited: list[str], n: int) -> DeviceProfile:
    model, maker, release, sdk = ANDROID_MODELS[n % len(ANDROID_MODELS)]
    system = [AppProfile(p, system=True, uid=1000 if p == "android" else 10100 + i)
              for i, p in enumerate(ANDROID_SYSTEM)]
    bad = [ANDROID_PROHIBITED[k] for k in prohibited]
    filler = filler_apps("android", apps - len(system) - len(bad), seed=serial)
    return DeviceProfile("android", serial, name=f"Fleet phone {n}", model=model, manufacturer=maker,
                         os_version=release, sdk=sdk, apps=(*system, *filler, *bad))


def ios_device(udid: str, apps: int, prohibited: list[str], n: int) -> DeviceProfile:
    product, release, build = IOS_MODELS[n % len(IOS_MODELS)]
    system = [AppProfile(f"com.apple.{p}", name=p, version=release, system=True) for p in IOS_SYSTEM]
    bad = [IOS_PROHIBITED[k] for k in prohibited]
    filler = filler_apps("ios", apps - len(system) - len(bad), seed=udid)
    return DeviceProfile("ios", udid, name=f"Fleet iPhone {n}", product_type=product, os_version=release,
                         build_version=build, hardware_serial=f"F{n:04d}BENCH", apps=(*system, *filler, *bad))


def fleet_devices(per_platform: int) -> list[DeviceProfile]:
    """`per_platform` phones of each kind, 150-300 apps each (deterministic); prohibited apps on some."""
    devices = []
    for i in range(per_platform):
        rng = random.Random(f"fleet-android-{i}")
        bad = (["camscanner"] if i % 4 == 0 else []) + (["shareit", "wps"] if i % 6 == 1 else [])
        devices.append(android_device(f"FLEETA{i:03d}", rng.randint(150, 300), bad, i))
    for i in range(per_platform):
        rng = random.Random(f"fleet-ios-{i}")
        bad = (["wechat"] if i % 4 == 0 else []) + (["qq", "alipay"] if i % 6 == 1 else [])
        devices.append(ios_device(f"00008130-FEE7{i:012X}", rng.randint(150, 300), bad, i))
    return devices


def expected(device: DeviceProfile) -> set[str]:
    """The app ids the scan must flag on this device: the prohibited ones placed there, nothing else."""
    catalog = ANDROID_PROHIBITED if device.platform == "android" else IOS_PROHIBITED
    ids = {a.id for a in catalog.values()}
    return {a.id for a in device.apps if a.id in ids}


# --- profiles as TOML -------------------------------------------------------------------------


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII-safe basic string; JSON escapes are TOML escapes
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _changed(obj: object) -> list[tuple[str, object]]:
    """The fields of a profile dataclass that differ from their defaults (the only ones written)."""
    out = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        default = f.default if f.default_factory is MISSING else f.default_factory()
        if value != default:
            out.append((f.name, value))
    return out


def write_profile(path: Path, devices: list[DeviceProfile]) -> None:
    """The devices as a profile file; read back with load_profile and compared, so the bench serves what it checks."""
    lines = ["schema = 1"]
    for device in devices:
        lines += ["", "[[device]]"]
        for name, value in _changed(device):
            if name == "apps":
                continue
            if name in ("users", "faults", "props"):
                raise ValueError(f"{device.serial}: the fleet bench writes no {name}")
            lines.append(f"{name} = {_toml(value)}")
        for app in device.apps:
            lines.append("[[device.app]]")
            lines += [f"{name} = {_toml(value)}" for name, value in _changed(app)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if load_profile(path).devices != tuple(devices):
        raise SystemExit(f"{path}: the written profile does not read back as the devices it was made from")


# --- processes ----------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, as {pid: start time} (the start time guards against PID reuse)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents.setdefault(int(st[1]), []).append(int(entry))
            starts[int(entry)] = st[19]
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        if (st := _stat(pid)) is not None:
            total += int(st[11]) + int(st[12])
    return total / TICK


class Simulate:
    """One `scanner simulate --profile FILE` process: started, read until `ready`, stopped with SIGINT by PID."""

    def __init__(self, label: str, profile: Path, env: dict[str, str]) -> None:
        self.label = label
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; stop() closes it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", "simulate", "--profile", str(profile), "--quiet"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.errors, text=True,
        )
        self.children: dict[int, str] = {}
        self.env: dict[str, str] = {}

    def wait_ready(self, startup: float) -> None:
        """Read the export lines up to `ready`; SystemExit when it fails (the caller still stop()s it)."""
        label = self.label
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:  # stdout is read in a thread so that the wait for `ready` can time out
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name=f"simulate-{label}-stdout", daemon=True).start()
        deadline = time.monotonic() + startup
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"{label}: `scanner simulate` printed no `ready` within {startup:g} s") from None
            if line is None:
                self.proc.wait()
                raise SystemExit(f"{label}: `scanner simulate` exited {self.proc.returncode} before `ready`: "
                                 f"{self.stderr()}")
            line = line.strip()
            if line == "ready":
                break
            if not line.startswith("export ") or "=" not in line:
                raise SystemExit(f"{label}: unexpected line from `scanner simulate`: {line!r}")
            name, value = line[len("export "):].split("=", 1)
            self.env[name] = value
        for name, value in self.env.items():
            port = int(value.rsplit(":", 1)[-1])
            if port in FORBIDDEN_PORTS:
                raise SystemExit(f"{label}: `scanner simulate` chose port {port} ({name}), "
                                 "which this bench must not use")
        self.children = descendants(self.proc.pid)  # its adb server, if it serves Android phones

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace").strip()[-2000:]

    def cpu(self) -> float:
        return cpu_seconds([self.proc.pid, *self.children])

    def stop(self) -> str | None:
        """SIGINT by PID and wait; a problem is returned (never raised) so that every simulate gets stopped."""
        problem = None
        if self.proc.poll() is None:
            self.children |= descendants(self.proc.pid)  # also when it is stopped before `ready`
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: this Popen's own process
                self.proc.wait()
                problem = f"{self.label}: `scanner simulate` ignored SIGINT for 60 s and was killed"
        if problem is None and self.proc.returncode != 0:
            problem = f"{self.label}: `scanner simulate` exited {self.proc.returncode} after SIGINT: {self.stderr()}"
        left = {pid: start for pid, start in self.children.items()
                if (st := _stat(pid)) is not None and st[19] == start}
        for pid in left:
            os.kill(pid, signal.SIGKILL)  # a process it started and left running: ours to end, by PID
        if left:
            problem = (problem + "; " if problem else "") + f"{self.label}: left {sorted(left)} running (killed)"
        self.errors.close()
        return problem


@dataclass
class Run:
    wall: float
    cpu: float  # the scan process: ru_utime + ru_stime
    rss_kib: int  # the scan process: ru_maxrss
    sim_cpu: float  # the serving `simulate` and its adb server, during the scan


@dataclass
class Target:
    label: str
    sim: Simulate
    devices: list[DeviceProfile]
    args: list[str]
    runs: list[Run] = field(default_factory=list)

    def median(self) -> Run:
        """The median of each figure over the runs (each on its own)."""
        return Run(*(statistics.median(getattr(r, f.name) for r in self.runs) for f in fields(Run)))


def scan_once(target: Target, env: dict[str, str], workdir: Path) -> Run:
    """One `scanner scan --format json` process against the target's simulate; checked, then measured."""
    out_path = workdir / "scan.json"
    err_path = workdir / "scan.err"
    cmd = [sys.executable, "-m", "scanner", "scan", *target.args, "--format", "json"]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        sim_before = target.sim.cpu()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**env, **target.sim.env}, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sim_cpu = target.sim.cpu() - sim_before
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    check(target, proc.returncode, out_path.read_bytes(), err_path.read_text(errors="replace"))
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, sim_cpu)


def check(target: Target, code: int, stdout: bytes, stderr: str) -> None:
    """Abort unless the scan read every device completely and found exactly the prohibited apps placed."""
    def fail(why: str) -> None:
        raise SystemExit(f"{target.label}: the scan did not read the devices as expected: {why}\n"
                         f"stderr: {stderr.strip()[-1500:]}")

    want_code = 1 if any(expected(d) for d in target.devices) else 0
    if code != want_code:
        fail(f"exit code {code}, expected {want_code}")
    try:
        report = json.loads(stdout)
    except ValueError as err:
        fail(f"no JSON on stdout ({err})")
    results = {r["device"]["serial"]: r for r in report["devices"]}
    if len(report["devices"]) != len(target.devices) or set(results) != {d.serial for d in target.devices}:
        fail(f"{len(report['devices'])} results for {len(target.devices)} devices: {sorted(results)}")
    for device in target.devices:
        r = results[device.serial]
        if r["status"] != "complete":
            fail(f"{device.serial}: {r['status']} ({r['reason']}): {r['message']}")
        if r["app_count"] != len(device.apps):
            fail(f"{device.serial}: {r['app_count']} apps read, the device has {len(device.apps)}")
        flagged = {f["app"]["id"] for f in r["findings"]}
        if flagged != expected(device):
            fail(f"{device.serial}: flagged {sorted(flagged)}, expected {sorted(expected(device))}")


FLOORS = {"one Android": ["scanner.connectors.android.connector"], "one iOS": ["scanner.connectors.ios.connector"],
          "fleet": ["scanner.connectors.android.connector", "scanner.connectors.ios.connector"]}


def floor(env: dict[str, str], runs: int, modules: list[str]) -> float:
    """What a scan costs before it reads a device: the interpreter, the CLI and its connectors' imports."""
    cmd = [sys.executable, "-c", f"import {', '.join(['scanner.cli', 'scanner.audit', *modules])}"]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True)
        best = min(best, time.perf_counter() - start)
    return best


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="rounds of timed scans, each target in turn; medians count (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed, checked scans of each target first (default 1)")
    parser.add_argument("--per-platform", type=int, default=50,
                        help="devices of each platform in the fleet (default 50: the 100-device case)")
    parser.add_argument("--startup", type=float, default=180.0, help="seconds to wait for each simulate's `ready`")
    parser.add_argument("--quick", action="store_true", help="one timed repetition, for a smoke test")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    if runs < 1 or args.per_platform < 1 or args.warmup < 0:
        parser.error("--runs and --per-platform must be at least 1, --warmup at least 0")

    fleet = fleet_devices(args.per_platform)
    android = [d for d in fleet if d.platform == "android"]
    ios = [d for d in fleet if d.platform == "ios"]
    mean_android = round(statistics.mean(len(d.apps) for d in android))
    mean_ios = round(statistics.mean(len(d.apps) for d in ios))
    one_android = android_device("BASEA000", mean_android, ["camscanner"], 0)
    one_ios = ios_device("00008130-BA5E00000000", mean_ios, ["wechat"], 0)

    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    home = workdir / "home"
    (home / "xdg").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("ANDROID_ADB_SERVER_PORT", "USBMUXD_SOCKET_ADDRESS", "ANDROID_SERIAL", "ADB_SERVER_SOCKET")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "xdg"))  # no pair records or adb keys of the real user
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    sims: dict[str, Simulate] = {}
    problems: list[str | None] = []
    try:
        for label, devices in (("one Android", [one_android]), ("one iOS", [one_ios]), ("fleet", fleet)):
            path = workdir / f"{label.replace(' ', '-')}.toml"
            write_profile(path, devices)
            sims[label] = Simulate(label, path, env)
            sims[label].wait_ready(args.startup)
        # The first three are the benchmark; the fleet's halves (same simulate, one platform per scan) show
        # which platform the fleet's time goes to.
        targets = {
            "one Android": Target("one Android", sims["one Android"], [one_android], ["--platform", "android"]),
            "one iOS": Target("one iOS", sims["one iOS"], [one_ios], ["--platform", "ios"]),
            "fleet": Target(f"fleet of {len(fleet)}", sims["fleet"], fleet, []),
            "android half": Target(f"fleet's {len(android)} Android", sims["fleet"], android,
                                   ["--platform", "android"]),
            "ios half": Target(f"fleet's {len(ios)} iOS", sims["fleet"], ios, ["--platform", "ios"]),
        }
        if len(ios) > SUBSET:
            first = ios[:SUBSET]
            targets["ios subset"] = Target(f"fleet's first {SUBSET} iOS", sims["fleet"], first,
                                           [arg for d in first for arg in ("--udid", d.serial)])
        print(f"fleet: {len(android)} Android ({min(len(d.apps) for d in android)}-{max(len(d.apps) for d in android)} "
              f"apps, {sum(len(d.apps) for d in android)} in all) + {len(ios)} iOS "
              f"({min(len(d.apps) for d in ios)}-{max(len(d.apps) for d in ios)} apps, {sum(len(d.apps) for d in ios)} "
              f"in all); baselines: one Android with {mean_android} apps, one iOS with {mean_ios}", flush=True)
        for _ in range(args.warmup):
            for target in targets.values():
                scan_once(target, env, workdir)
        before = {label: sim.cpu() for label, sim in sims.items()}
        for i in range(runs):
            for target in targets.values():
                target.runs.append(scan_once(target, env, workdir))
            print(f"  round {i + 1}/{runs}: "
                  + ", ".join(f"{t.label} {t.runs[-1].wall:.2f} s" for t in targets.values()), flush=True)
        # What the simulates burnt while no scan of theirs ran (should be ~0: they only wait).
        idle_cpu = {label: sim.cpu() - before[label] - sum(r.sim_cpu for t in targets.values() if t.sim is sim
                                                           for r in t.runs) for label, sim in sims.items()}
        floors = {label: floor(env, max(3, runs), modules) for label, modules in FLOORS.items()}
    finally:
        for sim in reversed(sims.values()):
            problems.append(sim.stop())
        shutil.rmtree(workdir, ignore_errors=True)
        problems = [p for p in problems if p]
        for problem in problems:  # printed here too, in case another error is already on its way out
            print(f"bench_fleet: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit("a simulate did not stop cleanly; see above")
    report(targets, runs, floors, idle_cpu, len(fleet))


def spread(values: list[float], scale: float = 1.0, unit: str = "s", digits: int = 3) -> str:
    v = sorted(x * scale for x in values)
    return f"{statistics.median(v):.{digits}f}{unit} ({v[0]:.{digits}f}-{v[-1]:.{digits}f})"


def report(targets: dict[str, Target], runs: int, floors: dict[str, float], idle_cpu: dict[str, float],
           n: int) -> None:
    one_a, one_i, whole = (targets[k].median() for k in ("one Android", "one iOS", "fleet"))
    width = max(len(t.label) for t in targets.values()) + 2
    print(f"\nmedians (min-max) of {runs} rounds, the targets run in turn; every scan checked: all devices complete, "
          f"app counts and findings as placed; {os.cpu_count()} CPUs shared by the scan and the simulators")
    print(f"{'':{width}} {'wall':>22} {'scan CPU':>22} {'peak RSS':>9} {'sim CPU':>8}")
    for key, t in targets.items():
        if key == "android half":
            print("diagnosis: parts of the fleet, scanned alone (same simulate)")
        m = t.median()
        print(f"{t.label:{width}} {spread([r.wall for r in t.runs]):>22} {spread([r.cpu for r in t.runs]):>22} "
              f"{m.rss_kib / 1024:7.1f}MB {m.sim_cpu:7.3f}s")
    print("floor (python -c 'import scanner.cli, scanner.audit' + the connectors the scan uses; no device read): "
          + ", ".join(f"{label} {seconds:.3f}s" for label, seconds in floors.items()))

    print(f"\nratios of medians (target: fleet wall <= {TARGET:g}x one device)")
    fleet_walls = [r.wall for r in targets["fleet"].runs]
    for label, key in (("fleet / one Android", "one Android"), ("fleet / one iOS", "one iOS")):
        base = targets[key].median()
        ratio = whole.wall / base.wall
        rounds = sorted(f / b.wall for f, b in zip(fleet_walls, targets[key].runs, strict=True))
        print(f"  {label:<36} wall {ratio:5.2f}x (round by round {rounds[0]:.2f}-{rounds[-1]:.2f}x)  "
              f"{'meets' if ratio <= TARGET else 'MISSES'} the target   "
              f"peak RSS {whole.rss_kib / base.rss_kib:4.2f}x   scan CPU {whole.cpu / base.cpu:5.2f}x")
    big = max(one_a, one_i, key=lambda r: r.wall)
    ratio = whole.wall / big.wall
    print(f"  {'fleet / max(one Android, one iOS)':<36} wall {ratio:5.2f}x  "
          f"{'meets' if ratio <= TARGET else 'MISSES'} the target")

    print(f"\nper device in the fleet: wall {whole.wall / n * 1000:.1f} ms, scan CPU {whole.cpu / n * 1000:.1f} ms, "
          f"simulator CPU {whole.sim_cpu / n * 1000:.1f} ms")
    for key, one in (("android half", one_a), ("ios half", one_i)):
        half, m = targets[key].median(), len(targets[key].devices)
        if m > 1:
            print(f"  {targets[key].label}: each phone beyond the first adds "
                  f"{(half.wall - one.wall) / (m - 1) * 1000:.1f} ms wall, "
                  f"{(half.cpu - one.cpu) / (m - 1) * 1000:.1f} ms scan CPU, "
                  f"{(half.sim_cpu - one.sim_cpu) / (m - 1) * 1000:.1f} ms simulator CPU")
    half, m = targets["ios half"].median(), len(targets["ios half"].devices)
    if m > 1:
        per_iphone = (half.cpu - one_i.cpu) / (m - 1)
        print(f"scanner CPU per iPhone (fleet's {m} iOS vs one): {per_iphone * 1000:.1f} ms  "
              f"(target <= {CPU_PER_IPHONE * 1000:g} ms: {'meets' if per_iphone <= CPU_PER_IPHONE else 'MISSES'})")
    if "ios subset" in targets:
        sub, k = targets["ios subset"].median(), len(targets["ios subset"].devices)
        early = (sub.cpu - one_i.cpu) / (k - 1)
        late = (half.cpu - sub.cpu) / (m - k)
        print(f"growth: scanner CPU per iPhone from 1 to {k}: {early * 1000:.1f} ms; from {k} to {m}: "
              f"{late * 1000:.1f} ms; wall per iPhone {(sub.wall - one_i.wall) / (k - 1) * 1000:.1f} ms, then "
              f"{(half.wall - sub.wall) / (m - k) * 1000:.1f} ms (a cost growing with the fleet makes the second larger)")
    print(f"fixed cost (floor) share of the wall: one Android {floors['one Android'] / one_a.wall:.0%}, "
          f"one iOS {floors['one iOS'] / one_i.wall:.0%}, fleet {floors['fleet'] / whole.wall:.0%}")
    print(f"fleet scan busy: scan process {whole.cpu / whole.wall:.0%} of one core; "
          f"scan + simulator {(whole.cpu + whole.sim_cpu) / whole.wall:.2f} of {os.cpu_count()} cores on average")
    print("CPU of the simulates while no scan of theirs ran: "
          + ", ".join(f"{label} {cpu:.2f} s" for label, cpu in idle_cpu.items()))
    # What the wall cannot go below on this machine with the scan's CPU as it is: one process runs its Python on
    # one core at a time (one GIL), and the scan and the emulated devices share the cores.
    cores = os.cpu_count() or 1
    one_core, shared = whole.cpu, (whole.cpu + whole.sim_cpu) / cores
    floor_wall = max(one_core, shared)
    print(f"wall floor of the fleet, from its CPU: {floor_wall:.3f} s = {floor_wall / big.wall:.2f}x one device "
          f"(the scan's CPU on one core {one_core:.3f} s; scan + simulator CPU over {cores} cores {shared:.3f} s; "
          f"even in {cores} processes: {shared:.3f} s = {shared / big.wall:.2f}x)")


if __name__ == "__main__":
    main()
