"""Benchmark: an Intune AppInvRawData export (1,000,000 rows over 100,000 devices; 5,000,000 with --rows),
zipped as Intune delivers it, scanned end to end through the CLI.

Compares, alternating A B A B (at least 3 rounds each), two fresh processes:
  A  `python -m scanner scan --input <zip> --format json` (the CSV streamed out of the ZIP)
  B  a bare `csv.reader` pass over the same CSV unzipped (`python -c`)
and prints their medians, min and max, the ratio of medians (goal: scanner <= 2x csv.reader), and the
peak RSS of each (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss). With --rows N it also runs the 1M size
and prints how the scanner's peak RSS grew (goal: within 20 %: memory stays flat as the file grows).
Every scanner run's JSON is checked: the mobile devices all present and partial (mdm-scope), the desktop
devices listed as not checked, and the planted com.tencent.mm rows found. --unzipped scans the CSV
itself (for a build without ZIP reading). With --before DIR a third command C, the same scan with
PYTHONPATH=DIR (a checkout of the code before a change), takes its turn in every round. The generated files
live in a temp dir removed at the end.

Run:  python bench/bench_intune.py [--rows 5000000] [--rounds 3] [--unzipped] [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from alternating import cached_bytecode_env

HEADER = ("ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceId,"
          "DeviceName,OSDescription,OSVersion,Platform,UserId,EmailAddress,UserName\n")
NAMES = ["Microsoft Outlook", "Microsoft Teams", "Authenticator", "Company Portal", "Google Maps", "WhatsApp",
         "Slack", "Zoom", "Spotify", "Adobe Acrobat", "Chrome", "Gmail"] + [f"Line of business {i}" for i in range(800)]
PLANTED = "com.tencent.mm"  # an Android ApplicationName that is a package id: found by the bundled catalog
RATIO_GOAL = 2.0
RSS_GOAL = 0.20
DESKTOP_EVERY = 50  # one device in 50 is a Windows computer


def generate(path: Path, rows: int, devices: int) -> dict[str, int]:
    """The CSV; what the scan must report: mobile devices, desktop devices, devices with the planted app."""
    rng = random.Random(13971)
    per = rows // devices
    stats = {"mobile": 0, "desktop": 0, "planted": 0}
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("\ufeff" + HEADER)
        lines = []
        for d in range(devices):
            dev = f"{d:08x}-1111-4e2b-9c1d-0a1b2c3d4e5f"
            platform = "Windows" if d % DESKTOP_EVERY == 7 else ("Android" if d % 2 else "iOS")
            stats["desktop" if platform == "Windows" else "mobile"] += 1
            chosen = rng.sample(NAMES, per)
            if platform == "Android" and d % 40 == 1:
                chosen[0] = PLANTED
                stats["planted"] += 1
            for name in chosen:
                lines.append(f'"{d:x}{name[:3]}","{name}","Pub","1.{d % 10}","1.{d % 10}.0","{dev}","DEV-{d}",'
                             f'"OS","17.4","{platform}","u{d}","user{d}@agency.gov","User {d}"\n')
            if len(lines) > 50_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return stats


MEASURE = r"""
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t = time.perf_counter()
rc = subprocess.run(sys.argv[2:], stdout=out).returncode
wall = time.perf_counter() - t
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)
"""
BARE = "import csv,sys; n=sum(1 for _ in csv.reader(open(sys.argv[1], newline='', encoding='utf-8-sig'))); print(n)"


def measure(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one fresh process (its stdout saved to `out`)."""
    # Run in the output's folder: `python -m scanner` would take a ./scanner of the current folder before PYTHONPATH.
    done = subprocess.run([sys.executable, "-c", MEASURE, str(out), *cmd], capture_output=True, text=True, check=True,
                          env=env, cwd=out.parent)
    wall, rss, rc = done.stdout.split()
    return float(wall), float(rss), int(rc)


def check(report_path: Path, stats: dict[str, int], rc: int, rows: int, devices_in: int) -> None:
    """Abort unless the scan read what the export holds."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    devices = report["devices"]
    mobile = [d for d in devices if d["device"]["serial"]]
    problems = []
    if len(mobile) != stats["mobile"]:
        problems.append(f"{len(mobile)} mobile devices in the report, {stats['mobile']} in the export")
    if any(d["status"] != "partial" or d["reason"] != "mdm-scope" for d in mobile):
        problems.append("a mobile device is not partial mdm-scope")
    if len(report["not_checked"]) != stats["desktop"]:
        problems.append(f"{len(report['not_checked'])} devices not checked, {stats['desktop']} desktops in the export")
    found = sum(1 for d in mobile if any(f["app"]["id"] == PLANTED for f in d.get("findings", ())))
    if found != stats["planted"]:
        problems.append(f"{PLANTED} found on {found} devices, planted on {stats['planted']}")
    if len(devices) != len(mobile) or any(d["findings"] and d["findings"][0]["app"]["id"] != PLANTED for d in mobile):
        problems.append("a device that is no phone of the export, or a finding that is not the planted app")
    per = rows // devices_in
    summary = report["summary"]
    want = (stats["mobile"], 0, stats["mobile"], stats["planted"], stats["mobile"] * per, stats["desktop"])
    got = (summary["devices"], summary["complete"], summary["partial"], summary["devices_with_findings"],
           summary["apps_read"], summary["not_checked"])
    if got != want:
        problems.append(f"summary (devices, complete, partial, with findings, apps read, not checked) {got}, "
                        f"expected {want}")
    if rc != 5:
        problems.append(f"exit code {rc}, expected 5 (findings, every device partial)")
    if problems:
        sys.exit("bench_intune: the scan did not read the export: " + "; ".join(problems))


def compare(tmp: Path, rows: int, devices: int, rounds: int, unzipped: bool, before: str | None = None) -> float:
    """One size: A/B rounds, printed; returns the scanner's peak RSS (MB)."""
    csv_path = tmp / f"AppInvRawData_{rows}.csv"
    stats = generate(csv_path, rows, devices)
    target = csv_path
    if not unzipped:
        target = tmp / f"AppInvRawData_{rows}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(csv_path, csv_path.name)
    print(f"export: {rows:,} rows, {devices:,} devices ({stats['desktop']:,} Windows), CSV "
          f"{csv_path.stat().st_size / 1e6:.0f} MB, scanned as {target.name} ({target.stat().st_size / 1e6:.0f} MB)")
    scan = [sys.executable, "-m", "scanner", "scan", "--input", str(target), "--format", "json"]
    bare = [sys.executable, "-c", BARE, str(csv_path)]
    results: dict[str, list[tuple[float, float, int]]] = {"A": [], "B": [], "C": []}
    out = tmp / "report.json"
    # .pyc files as an installed package has them (in a private folder; the untimed first runs write them).
    after_env = cached_bytecode_env()
    env = None if before is None else {**after_env, "PYTHONPATH": str(Path(before).resolve())}
    measure(scan, out, after_env)
    if env is not None:
        measure(scan, out, env)
    for _ in range(rounds):
        results["A"].append(measure(scan, out, after_env))
        check(out, stats, results["A"][-1][2], rows, devices)
        results["B"].append(measure(bare, tmp / "bare.txt"))
        if env is not None:
            results["C"].append(measure(scan, out, env))
            check(out, stats, results["C"][-1][2], rows, devices)
    for key, label in (("A", "scanner scan --format json"), ("B", "bare csv.reader pass     "),
                       ("C", "the same scan, --before  ")):
        if not results[key]:
            continue
        walls = [r[0] for r in results[key]]
        print(f"  {key} {label}  wall median {statistics.median(walls):6.2f} s  min {min(walls):6.2f}  "
              f"max {max(walls):6.2f}   peak {max(r[1] for r in results[key]):6.0f} MB"
              + (f"   exit {results[key][0][2]}" if key == "A" else ""))
    ratio = statistics.median(r[0] for r in results["A"]) / statistics.median(r[0] for r in results["B"])
    print(f"  ratio A/B (medians) {ratio:5.2f}x   goal <= {RATIO_GOAL:.0f}x: {'meets' if ratio <= RATIO_GOAL else 'MISSES'}")
    if results["C"]:
        c = statistics.median(r[0] for r in results["C"])
        print(f"  ratio C/B (medians) {c / statistics.median(r[0] for r in results['B']):5.2f}x   (before)   C/A "
              f"{c / statistics.median(r[0] for r in results['A']):5.2f}x   C peak {max(r[1] for r in results['C']):.0f} MB")
    csv_path.unlink()
    if target != csv_path:
        target.unlink()
    return max(r[1] for r in results["A"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large export (5000000 for the "
                                                                    "memory check)")
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unzipped", action="store_true", help="scan the CSV itself, not a ZIP of it")
    parser.add_argument("--before", metavar="DIR", help="also run the scan with PYTHONPATH=DIR (C), alternating")
    args = parser.parse_args()
    rounds = max(3, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench_intune_") as tmp:
        small = compare(Path(tmp), 1_000_000, args.devices, rounds, args.unzipped, args.before)
        if args.rows != 1_000_000:
            large = compare(Path(tmp), args.rows, args.devices, rounds, args.unzipped, args.before)
            growth = large / small - 1
            print(f"peak RSS {small:.0f} MB at 1M rows, {large:.0f} MB at {args.rows:,}: {growth:+.0%}   goal within "
                  f"{RSS_GOAL:.0%}: {'meets' if abs(growth) <= RSS_GOAL else 'MISSES'}")


if __name__ == "__main__":
    main()
