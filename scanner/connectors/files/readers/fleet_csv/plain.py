"""A plain block of a lean read taken whole (groups): what the rows of each
device's group of rows come to, computed with C-level steps per row (csv,
zip, groupby, set operations) and a Python step only per group. It is the
same as reading the rows one at a time (rows.py), or it is None and the
block is read so: a block the row loop would say anything about (a problem,
a new or unusual device cell, a platform that is not android or ios, an id
that is not an id as it stands) is never taken here.
"""

from __future__ import annotations

import csv
import gc
from itertools import groupby
from typing import Any

from scanner.connectors.files.common import KNOWN_PLATFORMS
from scanner.connectors.records import clean_id
from scanner.model import App

KNOWN_IDS = 1 << 16  # app_id cells known to be clean ids, remembered (fleets repeat the same apps)

#: What a group of rows comes to: (platform cell, device cell, rows, the first row's (id, name, version),
#: whether the first row is kept, the (id, name, version) of the rows after it that are kept).
Group = tuple[str, str, int, tuple[str, str, str], bool, tuple[tuple[str, str, str], ...]]


class Known:
    """What the reader remembers of app_id cells: those that are ids as they stand (`clean`), and of those
    (`hot`) whether a lean read keeps an app of that id on android (1) and on ios (2), also as the sets of
    the ids it keeps on each platform (`keeps`)."""

    __slots__ = ("clean", "hot", "keeps", "wants")

    def __init__(self, wants: Any) -> None:
        self.wants = wants
        self.clean: set[str] = set()
        self.hot: dict[str, int] = {}
        self.keeps: dict[str, set[str]] = {"android": set(), "ios": set()}

    def kept(self, app_id: str) -> int:
        """Whether a lean read keeps an app of this (clean) id: on android (1), on ios (2); remembered."""
        kept = self.hot.get(app_id)
        if kept is None:
            wants = self.wants
            kept = (1 if wants(App("android", app_id)) else 0) | (2 if wants(App("ios", app_id)) else 0)
            if len(self.hot) < KNOWN_IDS:
                self.hot[app_id] = kept
                if kept & 1:
                    self.keeps["android"].add(app_id)
                if kept & 2:
                    self.keeps["ios"].add(app_id)
        return kept

    def learn(self, ids: set[str]) -> bool:
        """Remember `ids`, the distinct app_id cells of a block; False when one is not an id as it stands or
        there is no more room to remember them (the block is then read row by row)."""
        clean, hot = self.clean, self.hot  # the ids in hot are clean ids, as they stand or once cleaned
        for app_id in ids.difference(hot):
            if app_id not in clean:
                if clean_id(app_id, "app_id") != (app_id, None) or len(clean) >= KNOWN_IDS:
                    return False
                clean.add(app_id)
            if len(hot) >= KNOWN_IDS:
                return False
            self.kept(app_id)
        return True


def groups(lines: list[str], width: int, col: tuple[int, int, int, int, int], known: Known) -> list[Group] | None:
    """The groups of `lines` (a plain block: see blocks.plain_lines), each a run of rows with the same platform
    and device cells, or None when the block must be read row by row. `col`: the columns of platform, device,
    app_id, name and version. A block with quotes is taken only when each of its lines is one record that csv
    reads (a quote that opens a record of several lines, or that csv rejects, is the row loop's), as the row
    loop then takes each such line (Fleet.examine: quotes on one whole line are fine).

    The garbage collector is paused meanwhile: the block's rows are lists that live together until it
    returns and hold no cycle, and the collections their number sets off would scan them, and every object
    of the process, again and again for nothing (most of the time of a block, measured)."""
    if not gc.isenabled():
        return _groups(lines, width, col, known)
    gc.disable()
    try:
        return _groups(lines, width, col, known)
    finally:
        gc.enable()


def _groups(lines: list[str], width: int, col: tuple[int, int, int, int, int], known: Known) -> list[Group] | None:
    try:
        rows = list(csv.reader(lines, strict=True, skipinitialspace=True))
    except csv.Error:
        return None
    if len(rows) != len(lines) or set(map(len, rows)) != {width}:
        return None
    i_plat, i_dev, i_id, i_name, i_version = col
    cols = list(zip(*rows))
    ids = cols[i_id]
    if not all(map(known.hot.__contains__, ids)) and not known.learn(set(ids)):
        return None
    names, versions = cols[i_name], cols[i_version]
    keeps = known.keeps
    out: list[Group] = []
    pos = 0
    for (plat, dev), same in groupby(zip(cols[i_plat], cols[i_dev])):
        k = len(list(same))
        new = KNOWN_PLATFORMS.get(plat.strip().lstrip("\ufeff").lower())
        serial = dev.strip()
        if new is None or not serial or not serial.isprintable():
            return None  # the row loop has something to say about it
        keep = keeps[new]
        end = pos + k
        first = (ids[pos], names[pos], versions[pos])
        rest: tuple[tuple[str, str, str], ...] = ()
        if not keep.isdisjoint(ids[pos + 1:end]):
            rest = tuple((ids[i], names[i], versions[i]) for i in range(pos + 1, end) if ids[i] in keep)
        out.append((plat, dev, k, first, ids[pos] in keep, rest))
        pos = end
    return out
