"""Benchmark: a fleet export of 1,000,000 app records matched end to end through the CLI.

Compares, alternating A B A B (--rounds of each, medians with min and max, since the machine is shared), two
fresh processes over the same file:
  A  `scanner scan --input fleet.csv --format json` (its report written to a file)
  B  a bare `csv.reader` pass over the same file (`python -c`)
and prints the ratio of the medians (goal, issue 14: A at most 1.5x B) and the peak RSS of each
(resource.getrusage(RUSAGE_CHILDREN).ru_maxrss). With --before DIR a third command C, the same scan with
PYTHONPATH=DIR (a checkout of the code before a change), takes its turn in every round, for before/after
figures measured side by side.

The memory row (--records, 10,000,000 by default; 0 skips it): the same fleet at that many records (more
devices, --apps each), scanned --mem-rounds times alternating with the 1M scan; the goal is a peak RSS
within 20 % of the 1M peak (memory flat as the fleet grows).

Every scan's JSON is checked: every device present and complete, its app count, the planted prohibited app
found on exactly the devices it was planted on and nothing else, the summary's totals and the exit code.
Start-up of `scanner --help` and `scanner signatures list` against `python -c pass` is printed last.

Run:  python bench/bench_files.py [--devices 10000] [--apps 100] [--rounds 3] [--records 10000000]
                                  [--before DIR]
      python bench/bench_files.py --threshold 1 2 4 8 16   (where the second process starts to pay)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from alternating import cached_bytecode_env

RATIO_GOAL = 1.5
RSS_GOAL = 0.20

ORDINARY = [
    "com.google.android.gm", "com.google.android.apps.maps", "com.android.chrome", "com.whatsapp",
    "com.microsoft.teams", "com.microsoft.office.outlook", "com.slack", "com.spotify.music",
    "com.tencent.ig", "com.tencent.wework", "com.intsig.BCRLite", "com.uc.browser.en", "com.nemo.vidmate",
    "cn.wps.yun", "com.ushareit.watchit", "com.alibaba.aliexpresshd",
] + [f"com.example.app{i:04d}" for i in range(2000)]
PROHIBITED = ["com.intsig.camscanner", "com.lenovo.anyshare.gps", "cn.wps.moffice_eng", "com.tencent.mm"]


def generate(path: Path, devices: int, apps: int) -> dict[str, str]:
    """The fleet CSV; returns the planted prohibited app of each device that holds one (serial -> app id)."""
    rng = random.Random(13971)
    planted = {}
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("platform,device,app_id,name,version\n")
        lines = []
        for d in range(devices):
            platform = "android" if d % 2 == 0 else "ios"
            device = f"SN{d:07d}"
            chosen = rng.sample(ORDINARY, apps)
            if d % 50 == 0:  # 2 % of devices hold a prohibited app
                chosen[0] = planted[device] = rng.choice(PROHIBITED)
            lines.extend(f"{platform},{device},{app_id},App {app_id[-6:]},1.{d % 10}.0\n" for app_id in chosen)
            if len(lines) > 50_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return planted


MEASURE = r"""
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t = time.perf_counter()
rc = subprocess.run(sys.argv[2:], stdout=out).returncode
wall = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, use.ru_maxrss / 1024, rc, use.ru_utime + use.ru_stime)
"""
# The scan with the fleet CSV reader's split threshold set (halves.SPLIT_BYTES; "None": never split).
SPLIT = r"""
import sys
from scanner.connectors.files.readers.fleet_csv import halves
halves.SPLIT_BYTES = None if sys.argv[1] == "None" else int(sys.argv[1])
from scanner.cli import main
sys.argv = ["scanner", *sys.argv[2:]]
main()
"""
BARE = "import csv,sys; n=sum(1 for _ in csv.reader(open(sys.argv[1], newline=''))); print(n)"


def measure(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MB, exit code and CPU seconds (with its children: the fleet CSV reader's second
    process) of one fresh process (its stdout saved to `out`)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(out), *cmd], capture_output=True, text=True,
                          check=True, env=env)
    wall, rss, rc, cpu = done.stdout.split()
    return float(wall), float(rss), int(rc), float(cpu)


def check(label: str, report_path: Path, rc: int, devices: int, apps: int, planted: dict[str, str]) -> None:
    """Abort unless the scan read the whole fleet: every device complete with its apps, and the planted apps
    found exactly where they were planted."""
    problems = []
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except ValueError as err:
        sys.exit(f"bench_files: {label}: no JSON report ({err})")
    if rc != 1:
        problems.append(f"exit code {rc}, expected 1 (findings, every device complete)")
    found = report["devices"]
    if len(found) != devices:
        problems.append(f"{len(found)} devices in the report, {devices} in the fleet")
    for d in found:
        serial = d["device"]["serial"]
        if d["status"] != "complete" or d["app_count"] != apps:
            problems.append(f"{serial}: {d['status']} with {d['app_count']} apps, expected complete with {apps}")
            break
        flagged = [f["app"]["id"] for f in d["findings"]]
        want = [planted[serial]] if serial in planted else []
        if flagged != want:
            problems.append(f"{serial}: flagged {flagged}, expected {want}")
            break
    summary = report["summary"]
    if (summary["apps_read"], summary["complete"], summary["prohibited"]) != (devices * apps, devices, len(planted)):
        problems.append(f"summary {summary}")
    if problems:
        sys.exit(f"bench_files: {label}: the scan did not read the fleet: " + "; ".join(problems))


def line(key: str, label: str, runs: list[tuple[float, float, int, float]]) -> str:
    walls = [r[0] for r in runs]
    return (f"  {key} {label:<36} wall median {statistics.median(walls):6.2f} s  min {min(walls):6.2f}  "
            f"max {max(walls):6.2f}   CPU median {statistics.median(r[3] for r in runs):5.2f} s   "
            f"peak {max(r[1] for r in runs):6.0f} MB")


def threshold(tmp: Path, apps: int, rounds: int, sizes: list[float]) -> None:
    """The scan of fleets of `sizes` MB with the second process (SPLIT_BYTES 0) and without (None), alternating:
    where the split starts to pay is where halves.SPLIT_BYTES belongs."""
    print(f"split threshold: each size scanned split (S) and in one process (O), {rounds} rounds, alternating")
    env = cached_bytecode_env()
    for mb in sizes:
        devices = max(2, int(mb * 1e6 / 53 / apps))  # ~53 bytes a record, as generate() writes them
        path = tmp / f"fleet-{mb}.csv"
        planted = generate(path, devices, apps)
        runs: dict[str, list[tuple[float, float, int, float]]] = {"S": [], "O": []}
        report = tmp / "threshold.json"
        for _ in range(rounds):
            for key, limit in (("S", "0"), ("O", "None")):
                runs[key].append(measure([sys.executable, "-c", SPLIT, limit, "scan", "--input", str(path),
                                          "--format", "json"], report, env))
                check(key, report, runs[key][-1][2], devices, apps, planted)
        s, o = (statistics.median(r[0] for r in runs[k]) for k in ("S", "O"))
        print(f"  {path.stat().st_size / 1e6:6.1f} MB  split {s:5.3f} s [{min(r[0] for r in runs['S']):.3f}-"
              f"{max(r[0] for r in runs['S']):.3f}]  one process {o:5.3f} s [{min(r[0] for r in runs['O']):.3f}-"
              f"{max(r[0] for r in runs['O']):.3f}]  split/one {s / o:4.2f}")
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=10_000_000, help="records of the memory row (0: none)")
    parser.add_argument("--mem-rounds", type=int, default=2)
    parser.add_argument("--before", metavar="DIR", help="also run the scan with PYTHONPATH=DIR (C), alternating")
    parser.add_argument("--threshold", metavar="MB", type=float, nargs="+",
                        help="only measure, at these file sizes, whether reading in two processes pays")
    args = parser.parse_args()
    if args.threshold:
        with tempfile.TemporaryDirectory(prefix="bench_files_") as tmp_dir:
            threshold(Path(tmp_dir), args.apps, max(5, args.rounds), args.threshold)
        return
    scanner_cmd = shutil.which("scanner") or str(Path(sys.executable).with_name("scanner"))
    rounds = max(3, args.rounds)

    with tempfile.TemporaryDirectory(prefix="bench_files_") as tmp_dir:
        tmp = Path(tmp_dir)
        fleet = tmp / "fleet.csv"
        planted = generate(fleet, args.devices, args.apps)
        rows = args.devices * args.apps
        print(f"fleet: {rows:,} app records, {args.devices:,} devices, {fleet.stat().st_size / 1e6:.0f} MB "
              f"({fleet.name}); {rounds} rounds, alternating")
        scan = [scanner_cmd, "scan", "--input", str(fleet), "--format", "json"]
        # .pyc files as an installed package has them (in a private folder; the untimed first runs write them).
        env = cached_bytecode_env()
        before_env = None
        if args.before:
            before_env = {**env, "PYTHONPATH": str(Path(args.before).resolve())}
        results: dict[str, list[tuple[float, float, int, float]]] = {"A": [], "B": [], "C": []}
        report = tmp / "report.json"
        measure(scan, report, env)
        if before_env is not None:
            measure(scan, report, before_env)
        for _ in range(rounds):
            results["A"].append(measure(scan, report, env))
            check("A", report, results["A"][-1][2], args.devices, args.apps, planted)
            results["B"].append(measure([sys.executable, "-c", BARE, str(fleet)], tmp / "bare.txt"))
            if before_env is not None:
                results["C"].append(measure(scan, report, before_env))
                check("C", report, results["C"][-1][2], args.devices, args.apps, planted)
        print(line("A", "scanner scan --format json", results["A"]))
        print(line("B", "bare csv.reader pass", results["B"]))
        if before_env is not None:
            print(line("C", "the same scan, --before code", results["C"]))
        median = {k: statistics.median(r[0] for r in v) for k, v in results.items() if v}
        ratio = median["A"] / median["B"]
        print(f"  ratio A/B (medians) {ratio:5.2f}x   goal <= {RATIO_GOAL}x: {'meets' if ratio <= RATIO_GOAL else 'MISSES'}")
        if "C" in median:
            print(f"  ratio C/B (medians) {median['C'] / median['B']:5.2f}x   (before)   C/A {median['C'] / median['A']:5.2f}x")

        if args.records:
            big = tmp / "fleet-large.csv"
            devices = max(1, args.records // args.apps)
            big_planted = generate(big, devices, args.apps)
            print(f"memory: {devices * args.apps:,} records, {devices:,} devices, {big.stat().st_size / 1e6:.0f} MB, "
                  f"against the {rows:,} above; {args.mem_rounds} rounds, alternating")
            small_runs, large_runs = [], []
            for _ in range(max(1, args.mem_rounds)):
                small_runs.append(measure(scan, report, env))
                check("A", report, small_runs[-1][2], args.devices, args.apps, planted)
                large_runs.append(measure([scanner_cmd, "scan", "--input", str(big), "--format", "json"], report, env))
                check("A large", report, large_runs[-1][2], devices, args.apps, big_planted)
            print(line("A", f"scan, {rows:,} records", small_runs))
            print(line("A", f"scan, {devices * args.apps:,} records", large_runs))
            small, large = max(r[1] for r in small_runs), max(r[1] for r in large_runs)
            growth = large / small - 1
            print(f"  peak RSS {small:.0f} MB at {rows:,}, {large:.0f} MB at {devices * args.apps:,}: {growth:+.0%}   "
                  f"goal within {RSS_GOAL:.0%}: {'meets' if abs(growth) <= RSS_GOAL else 'MISSES'}")
            big.unlink()

    def startup(cmd: list[str]) -> float:
        with tempfile.TemporaryDirectory() as tmp_dir:
            measure(cmd, Path(tmp_dir) / "out", env)  # writes its .pyc files
            return statistics.median(measure(cmd, Path(tmp_dir) / "out", env)[0] for _ in range(7))

    bare = startup([sys.executable, "-c", "pass"])
    helps = startup([scanner_cmd, "--help"])
    listing = startup([scanner_cmd, "signatures", "list"])
    print(f"start-up  python -c pass                {bare:6.3f} s")
    print(f"start-up  scanner --help                {helps:6.3f} s   ({helps / bare:.1f}x python)")
    print(f"start-up  scanner signatures list       {listing:6.3f} s   ({listing / bare:.1f}x python)")
    print("          (the start-up goal, each at most 5x python -c pass, is measured by bench/bench_startup.py)")


if __name__ == "__main__":
    main()
