"""Benchmark: start-up of `scanner --help` and `scanner signatures list`, against `python -c pass`.

Whole processes, run side by side in one run: each round runs `python -c
pass`, `scanner --help` and `scanner signatures list` once, in turn (A B C A
B C ...), and each scanner run is divided by the same round's python run.
Printed: medians with min and max, of the wall times and of those ratios.
Bytecode is cached (in a private folder) as for an installed package; see
alternating.cached_bytecode_env. Every run's output is checked (exit status 0, the same text as the first
run's), so a fast run that printed nothing does not count.

Also, for information:
- a scan's start-up floor: `scanner scan --input` of a six-app saved `pm list packages` (examples/), CSV on
  stdout, which loads the bundled signatures (their compiled form) and imports the matcher, the file
  readers and a format;
- `signatures list` with the per-user signature cache turned on (SCANNER_CACHE=1, in a private cache
  folder; its first, unmeasured run fills it), which must print the same;
- in-process, the load of the bundled signatures alone (fresh processes, which way first alternating,
  modules imported before): from their compiled form (scanner.compiled_catalog, the default) and
  parsed from the TOML (what every run did before the compiled form), the two results compared.

Target (issue 14): both at most 5x `python -c pass`, as installed (no cache).
Run:  python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from alternating import Spread, cached_bytecode_env, ratios, rounds

TARGET = 5.0


def scanner_command() -> str:
    """The `scanner` script of the Python running this (its venv), never another one found on PATH."""
    beside = Path(sys.executable).with_name("scanner")
    if not beside.exists():
        raise SystemExit(f"no scanner script beside {sys.executable}: pip install -e . into this environment")
    return str(beside)


class Checked:
    """A command run as a whole process; every run must exit 0 and print what the first run printed."""

    def __init__(self, cmd: list[str], env: dict[str, str], expect: str | None = None, cwd: Path | None = None,
                 ) -> None:
        self.cmd = cmd
        self.env = env
        self.expect = expect
        self.cwd = cwd
        self.first: bytes | None = None

    def __call__(self) -> None:
        proc = subprocess.run(self.cmd, capture_output=True, stdin=subprocess.DEVNULL, env=self.env, check=False,
                              cwd=self.cwd)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(self.cmd[-2:])} exited {proc.returncode}: {proc.stderr[-300:]!r}")
        if self.first is None:
            self.first = proc.stdout
            if self.expect is not None and self.expect.encode() not in proc.stdout:
                raise SystemExit(f"{' '.join(self.cmd[-2:])} did not print {self.expect!r}")
        elif proc.stdout != self.first:
            raise SystemExit(f"{' '.join(self.cmd[-2:])} printed something else than in its first run")


# One fresh process: the bundled signatures loaded both ways (which first alternates), the two results compared.
_LOAD = """
import sys, time, pickle, tomllib
from scanner import compiled_catalog, signature_cache, signatures
ways = ["compiled", "toml"] if sys.argv[1] == "compiled" else ["toml", "compiled"]
took, loaded = {}, []
for way in ways:
    start = time.perf_counter()
    loaded.append(signatures._load((), bundled=True, compiled=way == "compiled", cache=False))
    took[way] = time.perf_counter() - start
assert loaded[0] == loaded[1], "the compiled load differs from the TOML's"
print(took["compiled"], took["toml"])
"""


def in_process_loads(runs: int, env: dict[str, str]) -> tuple[Spread, Spread]:
    """(compiled, parsed) in-process seconds of loading the bundled signatures, one fresh process per round, with
    what either way imports imported first (pickle, tomllib: a few ms each, part of the whole-process rows)."""
    compiled, parsed = [], []
    for n in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", _LOAD, "compiled" if n % 2 else "toml"], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        if n:
            compiled.append(float(out[0]))
            parsed.append(float(out[1]))
    return Spread(tuple(compiled)), Spread(tuple(parsed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    scanner = scanner_command()
    env = cached_bytecode_env()
    env.pop("SCANNER_CONFIG", None)  # the bundled signatures only, as a first run sees them
    env.pop("SCANNER_CACHE", None)  # the default: no signature cache
    cached_env = {**env, "SCANNER_CACHE": "1", "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="bench-cache-")}
    python = Checked([sys.executable, "-c", "pass"], env)
    helps = Checked([scanner, "--help"], env, expect="Usage: scanner")
    listing = Checked([scanner, "signatures", "list"], env)
    cached = Checked([scanner, "signatures", "list"], cached_env)
    top = Path(__file__).resolve().parent.parent
    scan = Checked([scanner, "scan", "--input", "examples/pixel-7-pm-list.txt", "--format", "csv", "--quiet",
                    "--fail-on", "never"], env, expect="com.lenovo.anyshare.gps", cwd=top)
    bare, help_s, list_s, scan_s, cached_s = rounds(args.runs, [python, helps, listing, scan, cached])
    if cached.first != listing.first:
        raise SystemExit("signatures list printed something else with the signature cache on")
    rows = [("python -c pass", bare, None), ("scanner --help", help_s, ratios(help_s, bare)),
            ("scanner signatures list", list_s, ratios(list_s, bare)),
            ("scanner scan --input (6 apps)", scan_s, ratios(scan_s, bare)),
            ("  signatures list, CACHE=1", cached_s, ratios(cached_s, bare))]
    print(f"start-up, whole processes, {args.runs} alternating rounds: median [min - max]")
    for what, spread, ratio in rows:
        print(f"{what:30} {spread.ms()}   {'baseline' if ratio is None else ratio.times() + ' python'}")
    worst = max(r.median for _, _, r in rows[1:3] if r is not None)
    print(f"target   both <= {TARGET:g}x python -c pass (median of per-round ratios; no cache, the default): "
          f"{'meets' if worst <= TARGET else 'MISSES'}")
    compiled, parsed = in_process_loads(args.runs, env)
    print(f"in-process load of the bundled signatures, {args.runs} fresh processes: median [min - max]")
    print(f"  {'compiled form (default)':28} {compiled.ms()}")
    print(f"  {'parsed from the TOML':28} {parsed.ms()}   "
          f"{statistics.median(p / c for p, c in zip(parsed.values, compiled.values, strict=True)):.1f}x the compiled")


if __name__ == "__main__":
    main()
