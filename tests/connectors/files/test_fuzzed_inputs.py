"""The offline readers tested as an attacker (or a careless copy) would: Hypothesis mutates real-shaped
listings of every format and three invariants must hold for every mutant.

The corpus is tests/data/fuzz: one listing per format scanner reads, each holding prohibited apps among
ordinary ones, and manifest.json saying per file its format and, per device, the app ids it lists.

Mutations, several per example, on the bytes: truncate at any byte; flip bits of any byte; insert NUL, CR,
LF, ESC, RLO (U+202E), quotes (" ' and curly ones) or a BOM anywhere; join two lines (drop a line break);
drop, duplicate and swap lines; put a line of another corpus file anywhere (mixed formats). Every byte of
the mutant remembers where it came from (an offset of the original, an inserted byte, a foreign line), so
what happened to each app's line is known exactly, without asking the reader.

Invariants, checked through the library (read_input, then the audit with the default policy, which is
what scanner.scan() runs, so that recovered findings count):

I1  Nothing raises, and no result is the audit's "internal error" (its catch-all for a reader that raised).

I2  A device reported complete never lost an original app id without trace. "Reported complete": every
    result of that device is complete and so is every result the file could not give to a device (the
    file's own result: its only device for a single-device listing, the unattributed rows of a fleet
    CSV). For such a device D and each app X it originally listed:
    K (still there)  if X's id survives byte for byte as a whole token where the listing names the app
                     (the package of a pm line, the bundle id of an ideviceinstaller line, the app_id cell,
                     the JSON key, CFBundleIdentifier, a saved report's "id" and "identifier", the last
                     three with their field's name), then D lists X. In a fleet CSV only if the row's
                     platform and device cells survived with it, from the start of a line; in a saved
                     report (one line per device) only on a line made of D's line alone, else any device
                     may list it (a line joined with another device's can move an app to it unseen).
    J (damaged)      line formats only (pm, ideviceinstaller, fleet CSV): if X is listed by none of D's
                     results although its line was not removed, then X's record must not share a line with
                     another record (both record marks, "package:", "<id> - ", "<id>,", a fleet row's cells
                     up to app_id, on one line: two records on one line, one of them lost), and one of the
                     lines now holding bytes of X's line must have been read as a record: it holds, as a
                     whole token, an id some device lists, or (fleet CSV) it has the header's number of
                     cells and names another device. That is the only way damage is invisible: the line
                     became another valid record ("com.tencent.mm" flipped to "com.tencent.mn", a flipped
                     serial, a cut line that got a line break back). A line removed by a drop, or by a
                     truncation exactly at a line end, is a legit removal: a listing cannot tell it from an
                     app that is not installed.
    T (cut)          line formats only: pm and ideviceinstaller end every line, so when the mutant's last
                     line has no line break and holds more than blanks, the file may have been cut inside
                     it: its device is not complete (fleet CSV: some result is not complete, nor is the
                     device whose row the line was, when its device cell is that device's or was cut).

I3  A prohibited id (one the default policy names on its platform) whose line is intact (its original
    bytes as a whole line: a line break, or the start of the file, before it and a line break after it)
    is found: some result has a finding for that id (exact, extension or recovered).

Deterministic and bounded: the counterexamples found so far (PINNED), then 1000 examples with
derandomize=True, in about 5 seconds. For a longer exploratory run, FUZZ_EXAMPLES=5000 sets the number
and draws random examples (derandomize off, PINNED left out).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.matcher import Matcher
from scanner.model import App, DeviceResult

CORPUS = Path(__file__).parents[2] / "data" / "fuzz"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
LINE_FORMATS = frozenset({"pm", "idevice-list", "idevice-csv", "fleet-csv"})
SINGLE_DEVICE = frozenset({"pm", "idevice-list", "idevice-csv", "pmd3-json"})

_EXAMPLES = os.environ.get("FUZZ_EXAMPLES")
FUZZ_SETTINGS = settings(
    max_examples=int(_EXAMPLES) if _EXAMPLES else 1000,
    derandomize=not _EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INSERTS = (
    b"\x00", b"\r", b"\n", b"\x1b", "\u202e".encode(), b'"', b"'", "\u201c".encode(), "\u201d".encode(),
    "\u2018".encode(), "\u2019".encode(), b"\xef\xbb\xbf",
)
INSERTED = -1  # the origin of an inserted byte; foreign lines get -2, -3, ...
_TOKEN = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")  # an app id is one whole such run
_TOKEN_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


# --- the corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """Where the listing names app `app` of device number `device`: bytes start..end of the original.
    `anchor`..end must survive with it (from the line start in a fleet CSV: the row's platform and device
    cells); mark_start..mark_end is what says a record begins there ("package:", "<id> - ", "<id>,", a
    fleet row up to its app_id cell): two of them on one line are two records."""

    device: int
    app: str
    start: int
    end: int
    anchor: int
    mark_start: int
    mark_end: int


@dataclass
class Original:
    name: str
    format: str
    data: bytes
    devices: list[dict[str, Any]]
    line_starts: list[int] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)

    def line_of(self, offset: int) -> int:
        """The number (0-based) of the line that holds byte `offset`."""
        return bisect_right(self.line_starts, offset) - 1

    def line(self, index: int) -> bytes:
        """Line `index` without its line break."""
        end = self.data.find(b"\n", self.line_starts[index])
        return self.data[self.line_starts[index]: end if end >= 0 else len(self.data)]

    def record_lines(self, device: int, app: str) -> set[int]:
        return {self.line_of(o.start) for o in self.occurrences if o.device == device and o.app == app}


def _occurrences(fmt: str, data: bytes, devices: list[dict[str, Any]]) -> list[Occurrence]:
    """Where each app is named, found with the simplest rule per format (checked against the
    manifest by test_corpus_reads_as_its_manifest_says)."""
    found: list[Occurrence] = []
    pos = 0
    lines = []
    for raw in data.splitlines(keepends=True):
        lines.append((pos, raw.rstrip(b"\r\n")))
        pos += len(raw)

    def add(device: int, at: int, m: re.Match, anchor: int, mark: tuple[int, int] | None = None) -> None:
        start, end = at + m.start(1), at + m.end(1)
        mark_start, mark_end = mark or (start, end)
        found.append(Occurrence(device, m.group(1).decode(), start, end, anchor, mark_start, mark_end))

    if fmt == "pm":
        for at, line in lines:
            m = re.match(rb"package:(?:\S+=)?([^=\s]+)", line)
            if m:
                add(0, at, m, at + m.start(1), (at, at + len(b"package:")))
    elif fmt == "idevice-list":
        for at, line in lines:
            m = re.match(rb"(\S+) - ", line)
            if m:
                add(0, at, m, at + m.start(1), (at + m.start(1), at + m.end(0)))
    elif fmt == "idevice-csv":
        for at, line in lines[1:]:
            m = re.match(rb"([^,]+),", line)
            add(0, at, m, at + m.start(1), (at + m.start(1), at + m.end(0)))
    elif fmt == "fleet-csv":
        serials = [d["device"] for d in devices]
        for at, line in lines[1:]:
            dev = serials.index(line.split(b",")[1].decode())
            m = re.match(rb"[^,]*,[^,]*,([^,]*),?", line)
            add(dev, at, m, at, (at, at + m.end(0)))
    elif fmt == "pmd3-json":  # the key, and CFBundleIdentifier with its name
        for at, line in lines:
            m = re.match(rb'    "([^"]+)": \{$', line)
            if m:
                add(0, at, m, at + m.start(1))
            m = re.match(rb'        "CFBundleIdentifier": "([^"]+)",?$', line)
            if m:
                add(0, at, m, at + line.index(b'"'))
    elif fmt == "report-json":
        names = [tuple(d["device"]) for d in devices]
        for at, line in lines:
            if not line.lstrip().startswith(b'{"device":'):
                continue
            entry = json.loads(line.rstrip(b","))
            dev = names.index((entry["device"]["source"], entry["device"]["serial"]))
            ids = {a["id"] for a in entry["inventory"]}
            for m in re.finditer(rb'"(?:id|identifier)": "([^"]+)"', line):  # with the name of its field
                if m.group(1).decode() in ids:
                    add(dev, at, m, at + m.start(0))
    return found


@lru_cache(maxsize=None)
def corpus() -> dict[str, Original]:
    files: dict[str, Original] = {}
    for name, entry in MANIFEST["files"].items():
        data = (CORPUS / name).read_bytes()
        orig = Original(name, entry["format"], data, entry["devices"])
        orig.line_starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A and i + 1 < len(data)]
        orig.occurrences = _occurrences(orig.format, data, orig.devices)
        files[name] = orig
    return files


@lru_cache(maxsize=None)
def signatures_and_matcher() -> tuple[Any, Matcher]:
    import scanner

    sigs = scanner.load_signatures()
    return sigs, Matcher(sigs, None)


def prohibited(platform: str, app_id: str) -> bool:
    return bool(signatures_and_matcher()[1].match([App(platform, app_id)]))


# --- mutations -----------------------------------------------------------------------------------


class Mutant:
    """Bytes being mutated, and where each byte came from."""

    def __init__(self, data: bytes) -> None:
        self.vals = bytearray(data)
        self.orig = list(range(len(data)))
        self.foreign = 0

    def lines(self) -> list[tuple[int, int]]:
        """(start, end) of each line, its line break included; the last may have none."""
        spans, start = [], 0
        while start < len(self.vals):
            nl = self.vals.find(b"\n", start)
            end = len(self.vals) if nl < 0 else nl + 1
            spans.append((start, end))
            start = end
        return spans

    def take(self, span: tuple[int, int]) -> tuple[bytearray, list[int]]:
        return self.vals[span[0]:span[1]], self.orig[span[0]:span[1]]

    def put(self, at: int, vals: bytes, orig: list[int]) -> None:
        self.vals[at:at] = vals
        self.orig[at:at] = orig

    def cut(self, start: int, end: int) -> None:
        del self.vals[start:end]
        del self.orig[start:end]

    def apply(self, op: tuple, files: dict[str, Original]) -> None:
        kind, *args = op
        n = len(self.vals)
        lines = self.lines()
        if kind == "truncate":
            self.cut(args[0] % (n + 1), n)
        elif kind == "flip" and n:
            self.vals[args[0] % n] ^= args[1]
        elif kind == "insert":
            token = INSERTS[args[1]]
            self.put(args[0] % (n + 1), token, [INSERTED] * len(token))
        elif kind == "join" and lines:
            start, end = lines[args[0] % len(lines)]
            if self.vals[end - 1] == 0x0A:
                self.cut(end - 1, end)
        elif kind == "drop" and lines:
            self.cut(*lines[args[0] % len(lines)])
        elif kind == "dup" and lines:
            vals, orig = self.take(lines[args[0] % len(lines)])
            self.put(lines[args[1] % len(lines)][0], vals, orig)
        elif kind == "swap" and len(lines) > 1:
            a, b = sorted((args[0] % len(lines), args[1] % len(lines)))
            if a != b:
                (sa, ea), (sb, eb) = lines[a], lines[b]
                va, oa = self.take(lines[a])
                vb, ob = self.take(lines[b])
                self.vals[sa:eb] = vb + self.vals[ea:sb] + va
                self.orig[sa:eb] = ob + self.orig[ea:sb] + oa
        elif kind == "mix":
            other = files[sorted(files)[args[0] % len(files)]]
            line = other.line(args[1] % len(other.line_starts)) + b"\n"
            self.foreign += 1
            at = lines[args[2] % len(lines)][0] if lines else 0
            self.put(at, line, [INSERTED - self.foreign] * len(line))


_pos = st.integers(min_value=0, max_value=1 << 16)
MUTATION = st.one_of(
    st.tuples(st.just("truncate"), _pos),
    st.tuples(st.just("flip"), _pos, st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("insert"), _pos, st.integers(min_value=0, max_value=len(INSERTS) - 1)),
    st.tuples(st.just("join"), _pos),
    st.tuples(st.just("drop"), _pos),
    st.tuples(st.just("dup"), _pos, _pos),
    st.tuples(st.just("swap"), _pos, _pos),
    st.tuples(st.just("mix"), _pos, _pos, _pos),
)
CASES = st.tuples(st.sampled_from(sorted(MANIFEST["files"])), st.lists(MUTATION, min_size=1, max_size=6))


def mutate(name: str, ops: list[tuple]) -> Mutant:
    files = corpus()
    mutant = Mutant(files[name].data)
    for op in ops:
        mutant.apply(op, files)
    return mutant


# --- the invariants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    invariant: str  # "I1", "I2-K", "I2-J", "I2-T", "I3"
    what: str


def read_through_library(name: str, data: bytes) -> tuple[list[Any], list[DeviceResult]]:
    """read_input's inventories (exceptions propagate: I1) and the audit's results for the same bytes."""
    invs = list(read_input(name, io.BytesIO(data)))
    sigs, matcher = signatures_and_matcher()
    report = run([FileConnector(name, io.BytesIO(data))], matcher, inventory=True, inputs=(name,))
    return invs, list(report.results)


def _whole_token(vals: bytes, start: int, end: int) -> bool:
    """bytes start..end are a whole id token of vals (not part of a longer run of id characters)."""
    if start > 0:
        before = vals[start - 1]
        if before in _TOKEN_CHARS or (before == 0x2E and start > 1 and vals[start - 2] in _TOKEN_CHARS):
            return False
    if end < len(vals):
        after = vals[end]
        if after in _TOKEN_CHARS or (after == 0x2E and end + 1 < len(vals) and vals[end + 1] in _TOKEN_CHARS):
            return False
    return True


def _span_at(mutant: Mutant, original: Original, start: int, end: int, lo: int = 0,
             hi: int | None = None) -> list[int]:
    """Where in mutant[lo:hi] bytes start..end of the original are, in order, unchanged and from there."""
    want_vals = original.data[start:end]
    want_orig = list(range(start, end))
    size = end - start
    hi = len(mutant.vals) if hi is None else hi
    return [
        p for p in range(lo, hi - size + 1)
        if mutant.orig[p] == start and mutant.vals[p:p + size] == want_vals and mutant.orig[p:p + size] == want_orig
    ]


def _survivors(mutant: Mutant, original: Original, occ: Occurrence, from_line_start: bool) -> list[int]:
    """Where the app's id is still where the listing names it, as a whole token (rule K)."""
    found = []
    for p in _span_at(mutant, original, occ.anchor, occ.end):
        if from_line_start and p > 0 and mutant.vals[p - 1] != 0x0A:
            continue
        x = p + (occ.start - occ.anchor)
        if _whole_token(mutant.vals, x, x + occ.end - occ.start):
            found.append(p)
    return found


def _still_named(mutant: Mutant, original: Original, number: int, app: str, lines: list[Line],
                 elsewhere: bool) -> bool:
    """Rule K: the listing still names `app` where it named it for device `number` (`elsewhere`: some
    other device lists it). A saved report holds each device on one line: an id still on a line made of
    that device's line alone is still that device's, one on a line joined with another device's may
    have moved to it without a trace."""
    for occ in (o for o in original.occurrences if o.device == number and o.app == app):
        for p in _survivors(mutant, original, occ, original.format == "fleet-csv"):
            if original.format != "report-json" or not elsewhere:
                return True
            line = next(x for x in lines if x.start <= p <= x.end)
            if line.sources == {original.line_of(occ.start)}:
                return True
    return False


@dataclass
class Line:
    start: int
    end: int  # without the line break
    terminated: bool
    sources: frozenset[int]  # original line numbers, and foreign lines (negative), of its bytes


def _mutant_lines(mutant: Mutant, original: Original) -> list[Line]:
    out = []
    for start, end in mutant.lines():
        terminated = mutant.vals[end - 1] == 0x0A
        sources = frozenset(
            original.line_of(o) if o >= 0 else o for o in mutant.orig[start:end] if o != INSERTED
        )
        out.append(Line(start, end - 1 if terminated else end, terminated, sources))
    return out


def _records_on(mutant: Mutant, original: Original, line: Line) -> set[int]:
    """The original lines whose record mark ("package:", "<id> - ", ...) is on `line`."""
    return {
        original.line_of(o.start) for o in original.occurrences
        if original.line_of(o.start) in line.sources and _span_at(mutant, original, o.mark_start, o.mark_end,
                                                                  line.start, line.end + 1)
    }


def _lost(mutant: Mutant, original: Original, number: int, app: str, lines: list[Line],
          listed_anywhere: set[str]) -> str | None:
    """Why app `app` of device `number`, listed by none of its results, was lost visibly; None when its
    line was removed or became another valid record (rule J)."""
    data = bytes(mutant.vals)
    width = original.line(0).count(b",") + 1
    serial = original.devices[number]["device"]
    why = None
    invisible = False
    for li in original.record_lines(number, app):
        for line in lines:
            if li not in line.sources or not line.terminated:
                continue  # an unterminated last line is rule T's
            text = data[line.start:line.end]
            records = _records_on(mutant, original, line)
            if li in records and len(records) > 1:
                return f"its line and another record are on one line: {text!r}"
            if any(t.decode() in listed_anywhere for t in _TOKEN.findall(text)) or (
                original.format == "fleet-csv" and _names_another_device(text, serial, width)
            ):
                invisible = True  # it became another valid record
            else:
                why = why or f"its line became {text!r}, which no device lists as an app"
    return None if invisible else why


def _names_another_device(row: bytes, serial: str, width: int) -> bool:
    """A fleet CSV row of the header's width whose device cell is not `serial`: a damaged row the reader
    rightly charges to the device it names (a flipped serial cannot be told from another device)."""
    try:
        cells = next(csv.reader([row.decode("utf-8", "replace")]), [])
    except csv.Error:
        return False
    return len(cells) == width and cells[1].strip() != serial


def _cut_row_may_be(mutant: Mutant, original: Original, last: Line, number: int) -> bool:
    """The cut last line of a fleet CSV holds bytes of a row of device `number`, and its device cell is
    that device's or was cut too (no comma after it: whose row it was cannot be known). A whole device
    cell that names another device is that device's row: a damaged serial cannot be told apart."""
    if not any(original.line_of(o.start) in last.sources for o in original.occurrences if o.device == number):
        return False
    text = bytes(mutant.vals[last.start:last.end]).decode("utf-8", "replace")
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error:
        return True
    return len(cells) < 3 or cells[1].strip() == original.devices[number]["device"]


def _device_results(original: Original, number: int, name: str,
                    results: list[DeviceResult]) -> tuple[list[DeviceResult], list[DeviceResult]]:
    """(the results of device `number`, the results the file could not give to a device)."""
    fmt = original.format
    if fmt in SINGLE_DEVICE:
        return results, []
    if fmt == "fleet-csv":
        serial = original.devices[number]["device"]
        return ([r for r in results if r.device.serial == serial],
                [r for r in results if r.device.serial is None])
    source, serial = original.devices[number]["device"]
    return ([r for r in results if r.device.source == f"{name}: {source}" and r.device.serial == serial],
            [r for r in results if r.device.source == name])


def _found(results: list[DeviceResult], app_id: str) -> bool:
    key = app_id.lower()
    return any(
        f.app.id.lower() == key or f.app.id.lower().startswith(key + ".") or f.identifier.lower() == key
        for r in results for f in r.findings
    )


def violations(name: str, mutant: Mutant, results: list[DeviceResult]) -> list[Violation]:
    """What the results of reading `mutant` (of corpus file `name`) break of I1-I3."""
    original = corpus()[name]
    lines = _mutant_lines(mutant, original)
    found = [Violation("I1", f"the audit caught a crash: {r.message}") for r in results if r.reason == "error"]
    found += _incomplete_losses(original, name, mutant, lines, results)
    found += _prohibited_lost(original, mutant, lines, results)
    return found


def _incomplete_losses(original: Original, name: str, mutant: Mutant, lines: list[Line],
                       results: list[DeviceResult]) -> list[Violation]:
    """I2: devices reported complete that lost an app without trace (rules K, J and T)."""
    fmt = original.format
    data = bytes(mutant.vals)
    found: list[Violation] = []
    listed_anywhere = {a.id for r in results for a in (r.apps or ())}
    last = lines[-1] if lines else None
    cut = bool(fmt in LINE_FORMATS and last and not last.terminated and data[last.start:].strip(b" \t\r"))
    if cut and fmt == "fleet-csv" and all(r.status == "complete" for r in results):
        found.append(Violation("I2-T", "the last line has no line break (the file may be cut) but every "
                                       "result is complete"))
    for number, device in enumerate(original.devices):
        own, unattributed = _device_results(original, number, name, results)
        if not own or any(r.status != "complete" for r in own + unattributed):
            continue
        label = "the device" if fmt in SINGLE_DEVICE else f"device {device['device']!r}"
        listed = {a.id for r in own for a in (r.apps or ())}
        if cut and (fmt in SINGLE_DEVICE or _cut_row_may_be(mutant, original, last, number)):
            found.append(Violation("I2-T", f"{label} is complete although the last line "
                                           f"{data[last.start:]!r} has no line break (the file may be cut)"))
        for app in device["apps"]:
            if app in listed:
                continue
            if _still_named(mutant, original, number, app, lines, app in listed_anywhere):
                found.append(Violation("I2-K", f"{label} is complete but does not list {app}, whose id is "
                                               f"still there as a whole token"))
            elif fmt in LINE_FORMATS:
                problem = _lost(mutant, original, number, app, lines, listed_anywhere)
                if problem:
                    found.append(Violation("I2-J", f"{label} is complete but lost {app}: {problem}"))
    return found


def _prohibited_lost(original: Original, mutant: Mutant, lines: list[Line],
                     results: list[DeviceResult]) -> list[Violation]:
    """I3: prohibited apps on intact lines without a finding."""
    whole_lines = {bytes(mutant.vals[line.start:line.end]) for line in lines if line.terminated}
    found = []
    for number, device in enumerate(original.devices):
        for app in device["apps"]:
            if not prohibited(device["platform"], app):
                continue
            intact = [original.line(li) for li in original.record_lines(number, app)]
            if any(line in whole_lines for line in intact) and not _found(results, app):
                found.append(Violation("I3", f"prohibited {app} is on an intact line but no result has a "
                                             f"finding for it"))
    return found


def describe(name: str, ops: list[tuple], data: bytes, results: list[DeviceResult],
             problems: list[Violation]) -> str:
    """The failing example for a person: the mutations, the bytes, what broke and what was read."""
    shown = data if len(data) <= 1500 else data[:1500] + b"..."
    out = [f"corpus file {name}, mutations {ops!r}", f"mutated bytes ({len(data)}): {shown!r}", "violations:"]
    out += [f"  {v.invariant}: {v.what}" for v in problems]
    out.append("results:")
    for r in results:
        out.append(f"  {r.device.platform} {r.device.serial!r} {r.status} {r.reason} apps="
                   f"{[a.id for a in (r.apps or ())]} findings={sorted({(f.app.id, f.match) for f in r.findings})}"
                   f" problems={list(r.problems[:3])}")
    return "\n".join(out)


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_corpus_reads_as_its_manifest_says(name):
    """The unmutated listings: every device with the status and apps the manifest gives, every prohibited
    app found, and the harness finds each app where the listing names it."""
    original = corpus()[name]
    invs, results = read_through_library(name, original.data)
    assert invs
    for number, device in enumerate(original.devices):
        own, _ = _device_results(original, number, name, results)
        assert own, (name, device["device"])
        assert {r.status for r in own} == {device["status"]}, (name, device["device"], own)
        assert [a.id for r in own for a in r.apps] == device["apps"]
        for app in device["apps"]:
            assert original.record_lines(number, app), (name, app)
            if prohibited(device["platform"], app):
                assert _found(own, app), (name, app)
    named = {(o.device, o.app) for o in original.occurrences}
    assert named == {(n, a) for n, d in enumerate(original.devices) for a in d["apps"]}, name
    assert any(prohibited(d["platform"], a) for d in original.devices for a in d["apps"]), name
    assert not violations(name, Mutant(original.data), results)


# Counterexamples this test found, one per class, kept so that every run tries them first (the mutations
# are on the corpus file named; tests/data/fuzz/README.md has each one's bytes and what it showed).
PINNED = (
    ("fleet.csv", [("flip", 0, 1)]),  # I3: a file of unknown format was not searched for catalog ids
    ("fleet.csv", [("join", 0)]),  # I3: rows of the wrong width (header joined to a row) not searched
    ("fleet.csv", [("mix", 2, 0, 0)]),  # I3: an ideviceinstaller header on top: Android rows searched as iOS
    ("ideviceinstaller-l-no-total.txt", [("mix", 5, 0, 0)]),  # I3: a pm line on top: iOS lines searched as Android
    ("scanner-report-inventory.json", [("mix", 5, 0, 0)]),  # I3: a pm line on top of a saved report
    ("fleet-3-columns.csv", [("mix", 2, 0, 0)]),  # I3: an ideviceinstaller header on top: rows read as iOS apps
    ("fleet.csv", [("join", 4)]),  # I2-J: two devices' rows joined: the second device complete (item 9)
    ("fleet.csv", [("flip", 448, 7)]),  # I2-J: the same with a CR instead of the line break (item 9)
    ("fleet.csv", [("flip", 149, 1)]),  # I2-J: a comma lost: the row charged to a device named after an app
    ("fleet.csv", [("truncate", 754)]),  # I2-T: cut inside the device cell of the last row
    ("fleet.csv", [("truncate", 755), ("swap", 1223, 755)]),  # I2-J: a cut row glued to another device's row
    ("fleet-3-columns.csv", [("insert", 317, 1), ("join", 7)]),  # I2-J: a row glued on, a CR in its serial
    ("pm-list-packages.txt", [("truncate", 78)]),  # I2-T: cut mid-line: package:com.tencent.m (item 1)
    ("ideviceinstaller-l-no-total.txt", [("truncate", 60)]),  # I2-T: cut mid-line without Total (item 1)
    ("pm-list-packages-f.txt", [("join", 2)]),  # I2-J: two -f lines joined (item 2)
    ("ideviceinstaller-l-no-total.txt", [("join", 3)]),  # I2-J: two old-form lines joined (item 3)
    ("scanner-report-inventory.json", [("flip", 6452, 1)]),  # I2-K: inventory id edited, findings name it (item 5)
    ("pymobiledevice3-apps-list.json", [("swap", 197, 18381)]),  # I2-K, I3: apps nested in Entitlements
    ("pymobiledevice3-apps-list.json", [("swap", 12423, 1207)]),  # I2-K, I3: the same, another line
)


def _pinned(test: Any) -> Any:
    """@example(...) for each PINNED case; not in a FUZZ_EXAMPLES run, which is for finding new ones
    (a pinned case that fails would end it before the first random example)."""
    for case in () if _EXAMPLES else reversed(PINNED):
        test = example(case)(test)
    return test


@FUZZ_SETTINGS
@given(CASES)
@_pinned
def test_mutated_listings_keep_the_three_invariants(case):
    """Several mutations of one corpus listing; I1-I3 of the module docstring hold for what is read."""
    name, ops = case
    mutant = mutate(name, ops)
    data = bytes(mutant.vals)
    _, results = read_through_library(name, data)  # I1: an exception fails the test here
    problems = violations(name, mutant, results)
    assert not problems, describe(name, ops, data, results, problems)
