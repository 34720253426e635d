"""Benchmark: a fleet export of 1,000,000 app records matched end to end through the CLI.

Prints wall time and peak memory of
  - the baseline: a bare `csv.reader` pass over the same file (a separate process), and
  - `scanner scan --input fleet.csv --format json` (a separate process),
and their ratio, measured in the same run. Also times start-up of
`scanner --help` and `scanner signatures list` against `python -c pass`.

Targets (issue 2): at most 3 s and 300 MB for the scan; start-up under 0.3 s.
Run:  python bench/bench_files.py [--devices 10000] [--apps 100]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ORDINARY = [
    "com.google.android.gm", "com.google.android.apps.maps", "com.android.chrome", "com.whatsapp",
    "com.microsoft.teams", "com.microsoft.office.outlook", "com.slack", "com.spotify.music",
    "com.tencent.ig", "com.tencent.wework", "com.intsig.BCRLite", "com.uc.browser.en", "com.nemo.vidmate",
    "cn.wps.yun", "com.ushareit.watchit", "com.alibaba.aliexpresshd",
] + [f"com.example.app{i:04d}" for i in range(2000)]
PROHIBITED = ["com.intsig.camscanner", "com.lenovo.anyshare.gps", "cn.wps.moffice_eng", "com.tencent.mm"]


def generate(path: Path, devices: int, apps: int) -> int:
    rng = random.Random(13971)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("platform,device,app_id,name,version\n")
        for d in range(devices):
            platform = "android" if d % 2 == 0 else "ios"
            device = f"SN{d:07d}"
            chosen = rng.sample(ORDINARY, apps)
            if d % 50 == 0:  # 2 % of devices hold a prohibited app
                chosen[0] = rng.choice(PROHIBITED)
            for app_id in chosen:
                out.write(f"{platform},{device},{app_id},App {app_id[-6:]},1.{d % 10}.0\n")
                rows += 1
    return rows


MEASURE = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)
"""


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc)


def best_of(cmd: list[str], runs: int) -> tuple[float, float, int]:
    results = [measure(cmd) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results), results[0][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scanner_cmd = shutil.which("scanner") or str(Path(sys.executable).with_name("scanner"))

    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp) / "fleet.csv"
        rows = generate(fleet, args.devices, args.apps)
        size = fleet.stat().st_size / 1e6
        print(f"fleet: {rows:,} app records, {args.devices:,} devices, {size:.0f} MB ({fleet.name})")

        base = [sys.executable, "-c", "import csv,sys; n=sum(1 for _ in csv.reader(open(sys.argv[1], newline=''))); print(n)", str(fleet)]
        b_wall, b_rss, _ = best_of(base, args.runs)
        s_wall, s_rss, rc = best_of([scanner_cmd, "scan", "--input", str(fleet), "--format", "json"], args.runs)
        print(f"baseline  bare csv.reader pass         wall {b_wall:6.2f} s   peak {b_rss:6.0f} MB")
        print(f"scanner   scan --format json (exit {rc})   wall {s_wall:6.2f} s   peak {s_rss:6.0f} MB")
        print(f"ratio     scanner / csv.reader          wall {s_wall / b_wall:6.2f}x   peak {s_rss / b_rss:6.2f}x")
        verdict = "meets" if s_wall <= 3.0 and s_rss <= 300 else "MISSES"
        print(f"target    <= 3 s and <= 300 MB: {verdict}")

    def startup(cmd: list[str]) -> float:
        return statistics.median(measure(cmd)[0] for _ in range(7))

    bare = startup([sys.executable, "-c", "pass"])
    helps = startup([scanner_cmd, "--help"])
    listing = startup([scanner_cmd, "signatures", "list"])
    print(f"start-up  python -c pass                {bare:6.3f} s")
    print(f"start-up  scanner --help                {helps:6.3f} s   ({helps / bare:.1f}x python)")
    print(f"start-up  scanner signatures list       {listing:6.3f} s   ({listing / bare:.1f}x python)")
    print(f"target    < 0.3 s: {'meets' if max(helps, listing) < 0.3 else 'MISSES'}")


if __name__ == "__main__":
    main()
