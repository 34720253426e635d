"""Timing commands side by side on a shared machine: A B A B ..., then medians with min and max.

A load that comes and goes (other people's tests on the same 2 cores) hits
both sides of a comparison alike when their runs alternate, so the ratio of
each round's pair is steadier than a ratio of separate best-ofs. `rounds()`
runs every command once per round, in the order given, and keeps each one's
wall seconds; `Spread` prints a list of them (or of ratios) as median, min
and max.

Used by the bench scripts beside it (python bench/bench_startup.py puts bench/
on sys.path first).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Spread", "cached_bytecode_env", "ratios", "rounds"]


@dataclass(frozen=True)
class Spread:
    """Median, min and max of some measurements."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def ms(self) -> str:
        return f"{self.median * 1000:8.1f} ms  [{self.low * 1000:7.1f} - {self.high * 1000:7.1f}]"

    def times(self) -> str:
        return f"{self.median:6.1f}x  [{self.low:5.1f} - {self.high:5.1f}]"


def rounds(runs: int, steps: Sequence[Callable[[], object]], warm: int = 1) -> list[Spread]:
    """Run every step once per round, `runs` rounds (after `warm` unmeasured ones); each step's wall seconds."""
    seconds: list[list[float]] = [[] for _ in steps]
    for n in range(warm + runs):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            step()
            took = time.perf_counter() - start
            if n >= warm:
                seconds[i].append(took)
    return [Spread(tuple(s)) for s in seconds]


def ratios(top: Spread, bottom: Spread) -> Spread:
    """Round by round: each round's `top` over the same round's `bottom`."""
    return Spread(tuple(a / b for a, b in zip(top.values, bottom.values, strict=True)))


def cached_bytecode_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for the measured processes in which Python caches bytecode, as an installed package has it.

    pip compiles an installed package's .pyc files; a source checkout run with PYTHONDONTWRITEBYTECODE (as
    this machine's sessions are) compiles every scanner module again in every process, which no user pays.
    The cache goes to a private folder (PYTHONPYCACHEPREFIX), never into the source tree; the first,
    unmeasured round fills it.
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-pycache-")
    return env
