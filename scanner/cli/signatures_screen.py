"""Text for `scanner signatures list` and `scanner signatures show`.

Signature files may come from anyone (`--signatures`), so their text goes
through `safe()` like anything read from a device. Both screens are written
for a person at a terminal, at most 80 columns wide and as narrow as the
terminal or COLUMNS (scanner/terminal/layout.py): text is wrapped at words, a word longer
than a line (a URL, a digest) is split where it has a natural break (after a
'/' or a '.', never inside an escape), and where `list` shortens something it
says so and `show` has all of it. No tabulate: the layout is blocks, not a
table, and `signatures list` stays quick to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TextIO

from scanner.signatures import CatalogApp, Identifier, Maker, Policy, PolicyEntry, Signatures, TeamId
from scanner.terminal.layout import ESCAPE as _ESCAPE
from scanner.terminal.layout import cols as _cols
from scanner.terminal.layout import fit_prefix as _prefix
from scanner.terminal.layout import width_of
from scanner.terminal.layout import wrap as _wrap
from scanner.terminal.text import safe

WIDTH = 80  # columns: the screens fit a classic terminal, and are no wider on a wide one or in a file
_NARROWEST = 40
_LIMIT = 2000  # characters kept of one string from a file; more is cut with a visible "…(+N chars)"

# The names of the jurisdictions a policy may have (scanner.signatures.US_POSTAL), for the list's headings.
STATES = {
    "al": "Alabama", "ak": "Alaska", "az": "Arizona", "ar": "Arkansas", "ca": "California", "co": "Colorado",
    "ct": "Connecticut", "de": "Delaware", "fl": "Florida", "ga": "Georgia", "hi": "Hawaii", "id": "Idaho",
    "il": "Illinois", "in": "Indiana", "ia": "Iowa", "ks": "Kansas", "ky": "Kentucky", "la": "Louisiana",
    "me": "Maine", "md": "Maryland", "ma": "Massachusetts", "mi": "Michigan", "mn": "Minnesota",
    "ms": "Mississippi", "mo": "Missouri", "mt": "Montana", "ne": "Nebraska", "nv": "Nevada",
    "nh": "New Hampshire", "nj": "New Jersey", "nm": "New Mexico", "ny": "New York", "nc": "North Carolina",
    "nd": "North Dakota", "oh": "Ohio", "ok": "Oklahoma", "or": "Oregon", "pa": "Pennsylvania",
    "ri": "Rhode Island", "sc": "South Carolina", "sd": "South Dakota", "tn": "Tennessee", "tx": "Texas",
    "ut": "Utah", "vt": "Vermont", "va": "Virginia", "wa": "Washington", "wv": "West Virginia",
    "wi": "Wisconsin", "wy": "Wyoming", "dc": "District of Columbia", "pr": "Puerto Rico", "gu": "Guam",
    "vi": "U.S. Virgin Islands", "as": "American Samoa", "mp": "Northern Mariana Islands",
}

_WIDTH: ContextVar[int] = ContextVar("signatures_screen_width", default=WIDTH)  # the screen being written


def _t(value: object, limit: int = _LIMIT) -> str:
    return safe(None if value is None else str(value), limit=limit)


def wrap(text: str, first: str = "", rest: str | None = None, width: int | None = None) -> list[str]:
    """`text` (already safe) as lines of at most `width` columns (default: the screen's), see layout.wrap."""
    return _wrap(text, first, rest, width or _WIDTH.get())


def _fit(items: Sequence[str], first: str, rest: str, lines: int) -> list[str]:
    """`items` joined with "; " in at most `lines` lines: as many as fit, then how many more there are."""
    if not items:
        return []
    for keep in range(len(items), 0, -1):
        more = len(items) - keep
        text = "; ".join(items[:keep]) + (f"; … (+{more} more)" if more else "")
        wrapped = wrap(text, first, rest)
        if len(wrapped) <= lines:
            return wrapped
    wrapped = wrap(items[0] if items else "", first, rest)
    if len(wrapped) > lines:  # one item longer than the lines it may take: cut, visibly
        wrapped = wrapped[:lines]
        last = wrapped[-1]
        at = _prefix(last, _WIDTH.get() - 2)
        at = next((e.start() for e in _ESCAPE.finditer(last) if e.start() < at < e.end()), at)  # never inside one
        wrapped[-1] = last[:at] + " …"
    return wrapped


def _write(out: TextIO, lines: Sequence[str]) -> None:
    out.write("".join(f"{line}\n" for line in lines))


def jurisdiction_name(jurisdiction: str | None) -> str:
    """ "Texas (us-tx)", "Federal (us-fed)"; schema-1 policies have none."""
    if jurisdiction is None:
        return "No jurisdiction (schema-1 policies)"
    code = _t(jurisdiction)
    if jurisdiction == "us-fed":
        return f"Federal ({code})"
    name = STATES.get(jurisdiction.removeprefix("us-"))
    return f"{name} ({code})" if name else code


def _by_jurisdiction(policies: Sequence[Policy]) -> list[tuple[str, list[Policy]]]:
    """The policies grouped: federal first, then states by name, then those without a jurisdiction; within a
    group, in load order."""
    groups: dict[str | None, list[Policy]] = {}
    for p in policies:
        groups.setdefault(p.jurisdiction, []).append(p)

    def order(j: str | None) -> tuple[int, str]:
        if j == "us-fed":
            return (0, "")
        return (2, "") if j is None else (1, jurisdiction_name(j).casefold())

    return [(jurisdiction_name(j), groups[j]) for j in sorted(groups, key=order)]


def _names(policy: Policy) -> list[str]:
    """What the policy names, in its words; a policy that does not say (schema 1) by its entries' names."""
    named = policy.names or tuple(dict.fromkeys(e.listed for e in policy.entries))
    return [_t(n) for n in named]


def _screen(width: int | None) -> int:
    """The width the screens are written at: the terminal's (or COLUMNS) when narrower than WIDTH, else WIDTH
    (prose wider than that is harder to read, and a pipe or a file has no width of its own)."""
    return WIDTH if width is None else max(_NARROWEST, min(WIDTH, width))


def write_policy_list(signatures: Signatures, out: TextIO, *, defaults: Sequence[str] | None = None,
                      origin: str = "built in", width: int | None = None) -> None:
    """The policies by jurisdiction, each marked "(default)" when a scan without --policy checks it; `defaults`
    are those policies (None: the bundled defaults) and `origin` where that choice came from (a config file)."""
    token = _WIDTH.set(_screen(width or width_of(out)))
    try:
        _write(out, _policy_list(signatures, defaults, origin))
    finally:
        _WIDTH.reset(token)


def _policy_list(signatures: Signatures, defaults: Sequence[str] | None, origin: str) -> list[str]:
    chosen = set(defaults) if defaults is not None else {p.id for p in signatures.policies.values() if p.default}
    policies = list(signatures.policies.values())
    heads = {p.id: _t(p.id) + (" (default)" if p.id in chosen else "") for p in policies}
    status_w = max([len(_t(p.status)) for p in policies] + [6])
    conf_w = max([len(_t(p.confidence or "-")) for p in policies] + [10])
    room = _WIDTH.get() - 4 - (status_w + 2 + 10 + 2 + conf_w + 2 + 7)  # for the id: an id too long breaks its own row
    id_w = max([_cols(h) for h in heads.values() if _cols(h) <= room] + [6])

    def row(head: str, status: str, signed: str, confidence: str, entries: str) -> list[str]:
        tail = f"{status:<{status_w}}  {signed:<10}  {confidence:<{conf_w}}  {entries:>7}"
        line = f"  {head}{' ' * (id_w - _cols(head))}  {tail}"
        # An id too long for the columns (a file of yours): the facts go on the next line.
        return [line] if _cols(line) <= _WIDTH.get() else [f"  {head}", f"      {tail}"]

    lines = row("policy", "status", "signed", "confidence", "entries")
    for heading, group in _by_jurisdiction(policies):
        lines += ["", heading]
        for p in group:
            lines += row(heads[p.id], _t(p.status), p.signed.isoformat(), _t(p.confidence or "-"), str(len(p.entries)))
            lines += _fit(_names(p), "      names: ", "             ", 2)
            if p.effective and p.effective != p.signed:
                lines.append(f"      effective {p.effective.isoformat()}")
            if p.status != "in-force":
                since = f" {p.status_date.isoformat()}" if p.status_date else ""
                note = f": {_t(p.status_note)}" if p.status_note else ""
                lines += _fit([f"{_t(p.status)}{since}{note}"], "      ", "      ", 3)
    if chosen:
        # Broken only between policy ids: the origin (a config file's path) stays whole, to be copied.
        ids = [_t(i) for i in sorted(chosen)]
        words = [f"{i}," for i in ids[:-1]] + [f"{ids[-1]} (defaults: {_t(origin)})"]
        lines += [""] + _glue(words, "Without --policy a scan checks: ", "  ")
    identifiers = sum(len(a.identifiers) for a in signatures.apps.values())
    lines += [""] + wrap(
        f"Catalog: {len(signatures.apps)} apps, {len(signatures.makers)} makers, {identifiers} identifiers, "
        f"{len(signatures.files)} files."
    ) + ["Details: scanner signatures show ID"]
    return lines


def _glue(words: Sequence[str], first: str, rest: str) -> list[str]:
    """Lines of whole `words` (each may hold spaces), a new line only where the next word would not fit."""
    lines, line, fresh = [], first, True
    for word in words:
        if not fresh and _cols(line) + 1 + _cols(word) > _WIDTH.get():
            lines.append(line)
            line, fresh = rest, True
        line += ("" if fresh else " ") + word
        fresh = False
    return lines + [line]


# --- signatures show ---------------------------------------------------------

_LABEL = 14  # "  status note: " and the like: facts begin in column 16


def _fact(label: str, value: str | None, indent: str = "  ") -> list[str]:
    if not value:
        return []
    first = f"{indent}{label + ':':<{_LABEL}}"
    return wrap(value, first, " " * _cols(first))


def write_policy(signatures: Signatures, policy: Policy, out: TextIO, *, width: int | None = None) -> None:
    """One policy: its facts, then every entry with the catalog apps it covers, their identifiers and sources."""
    token = _WIDTH.set(_screen(width or width_of(out)))
    try:
        _write(out, _policy(signatures, policy))
    finally:
        _WIDTH.reset(token)


def _policy(signatures: Signatures, policy: Policy) -> list[str]:
    p = policy
    lines = wrap(f"{_t(p.id)}: {_t(p.title)}", "", "  ")
    status = _t(p.status) + (f" since {p.status_date.isoformat()}" if p.status_date else "")
    lines += _fact("jurisdiction", jurisdiction_name(p.jurisdiction) if p.jurisdiction else None)
    lines += _fact("authority", _t(p.authority))
    lines += _fact("instrument", _t(p.instrument))
    lines += _fact("citation", _t(p.citation))
    lines += _fact("url", _t(p.url))
    lines += _fact("signed", p.signed.isoformat())
    lines += _fact("effective", p.effective.isoformat() if p.effective else None)
    lines += _fact("status", status)
    lines += _fact("status note", _t(p.status_note))
    lines += _fact("binds", _t(p.binds))
    lines += _fact("names", "; ".join(_t(n) for n in p.names))
    lines += _fact("confidence", _t(p.confidence))
    lines += _fact("checked", p.checked.isoformat() if p.checked else None)
    lines += _fact("notes", _t(p.notes))
    lines += _fact("file", f"{_t(p.source)} (sha256 {p.sha256[:16]}…)")
    apps = sum(e.app is not None for e in p.entries)
    lines += ["", f"Entries: {len(p.entries)} ({apps} naming an app, {len(p.entries) - apps} a company)"]
    shown: dict[str, str] = {}  # app id -> the entry whose block lists it in full
    for entry in p.entries:
        lines.append("")
        if entry.maker is not None:
            lines += _maker_entry(signatures, p, entry)
        else:
            lines += _app_entry(signatures, p, entry, shown)
            shown.setdefault(entry.app, entry.key)
    return lines


def _entry_head(entry: PolicyEntry, relation: str) -> list[str]:
    lines = wrap(f"[{_t(entry.key)}] {_t(entry.listed)}: {relation}; severity {_t(entry.severity)}", "", "  ")
    return lines + (wrap(_t(entry.note), "  ") if entry.note else [])


def _maker_name(signatures: Signatures, app: CatalogApp) -> str:
    maker = signatures.makers.get(app.maker_id) if app.maker_id else None
    return f"{_t(maker.name)} ({_t(maker.id)})" if maker else _t(app.maker)


def _app_entry(signatures: Signatures, policy: Policy, entry: PolicyEntry, shown: dict[str, str]) -> list[str]:
    """An entry that names an app: the app in full (once per policy: a second entry for it points at the first),
    and the team ids of its maker, with what an uncatalogued app signed by one of them is under this policy."""
    app = signatures.apps[entry.app]
    name = _t(app.name)
    relation = {
        "app": "the app itself",
        "feature-of": f"a feature of {name}",
        "related": f"{name}, related (same maker, not named)",
    }.get(entry.relation, _t(entry.relation))
    lines = _entry_head(entry, relation)
    if app.id in shown:
        return lines + wrap(f"app {_t(app.id)}: {_t(app.name)}: identifiers and team ids under [{_t(shown[app.id])}] "
                            "above", "  ", "    ")
    lines += _app(signatures, app)
    company = next((e for e in policy.entries if e.maker is not None and app.maker_id is not None
                    and app.maker_id in signatures.reach(e.maker, e.affiliates)), None)
    lead = "an uncatalogued iOS app it signs is a lead only (same developer), severity review"
    for team in app.team_ids:  # schema 1: on the app
        lines += _team(team, _t(app.name), lead)
    for team in signatures.team_ids_of(app)[len(app.team_ids):]:
        meaning = f"an uncatalogued iOS app it signs comes under [{_t(company.key)}]" if company else lead
        lines += _team(team, _maker_name(signatures, app), meaning)
    return lines


def _app(signatures: Signatures, app: CatalogApp) -> list[str]:
    """A catalog app: its maker, store ids, identifiers and certificate digests, each with its sources."""
    lines = wrap(f"app {_t(app.id)}: {_t(app.name)}, by {_maker_name(signatures, app)}", "  ", "    ")
    if app.features:
        lines += wrap(f"features inside it: {'; '.join(_t(f) for f in app.features)}", "    ", "      ")
    stores = ([f"App Store {_t(app.app_store_id)}"] if app.app_store_id else []) + (
        [f"Google Play {_t(app.google_play)}"] if app.google_play else [])
    if stores:
        lines += wrap(f"store: {'; '.join(stores)}", "    ", "      ")
    for ident in app.identifiers:
        lines += _identifier(ident)
    for cert in app.certificates:
        what = f" ({_t(cert.of)})" if cert.of else ""
        lines += wrap(f"android certificate {_t(cert.algorithm)}{what}: {_t(cert.digest)}, {_t(cert.confidence)}",
                      "    ", "      ")
        lines += _sources(cert.sources, cert.note)
    return lines


def _identifier(ident: Identifier) -> list[str]:
    lines = wrap(f"{_t(ident.platform)} {_t(ident.id)}, {_t(ident.confidence)}: {_t(ident.edition)}", "    ", "      ")
    return lines + _sources(ident.sources, ident.note)


def _sources(sources: Sequence[str], note: str | None, indent: int = 6) -> list[str]:
    lines = wrap("; ".join(_t(s) for s in sources), f"{' ' * indent}sources: ")
    return lines + (wrap(_t(note), f"{' ' * indent}note:    ") if note else [])


def _team(team: TeamId, whose: str, meaning: str | None = None) -> list[str]:
    lines = wrap(f"ios team {_t(team.id)} of {whose}: {_t(team.holder)}, {_t(team.confidence)}", "    ", "      ")
    lines += wrap(meaning, "      meaning: ", " " * 15) if meaning else []
    return lines + _sources(team.sources, team.note)


def _makers(signatures: Signatures, ids: Sequence[str]) -> str:
    return "; ".join(f"{_t(signatures.makers[m].name)} ({_t(m)})" for m in ids) or "none loaded"


def _maker_entry(signatures: Signatures, policy: Policy, entry: PolicyEntry) -> list[str]:
    """An entry that names a maker: the companies it covers, their team ids and every catalog app it reaches
    (an app that another entry of the policy names is that entry's finding, and said so here)."""
    maker: Maker = signatures.makers[entry.maker]
    reach = "the companies it owns or is tied to" if entry.affiliates else "the companies it owns"
    lines = _entry_head(entry, f"a company rule, every app of {_t(maker.name)} and {reach}")
    owned = signatures.subsidiaries(maker.id)
    covered = signatures.reach(maker.id, entry.affiliates)
    lines += wrap(f"maker {_t(maker.id)}: {_t(maker.name)}" + (f" ({_t(maker.country)})" if maker.country else ""),
                  "  ", "    ")
    if maker.aliases:
        lines += wrap(f"also called: {'; '.join(_t(a) for a in maker.aliases)}", "    ", "      ")
    lines += wrap(f"subsidiaries: {_makers(signatures, owned[1:])}", "    ", "      ")
    tied = [m for m in covered if m not in owned]
    if entry.affiliates:
        lines += wrap(f"affiliates and theirs: {_makers(signatures, tied)}", "    ", "      ")
    else:
        others = [m for r in signatures.related_to(maker.id) for m in signatures.subsidiaries(r)]
        if others:
            lines += wrap(f"not covered (affiliates = false): {_makers(signatures, list(dict.fromkeys(others)))}",
                          "    ", "      ")
    lines += _sources(maker.sources, None, indent=4)
    for m in covered:
        for team in signatures.makers[m].team_ids:
            lines += _team(team, _t(signatures.makers[m].name),
                           "an uncatalogued iOS app it signs is a finding of this entry")
    named: dict[str, str] = {}
    for e in policy.entries:
        if e.app is not None:
            named.setdefault(e.app, e.key)
    reached = signatures.apps_of(covered)
    lines += wrap(f"catalog apps reached: {len(reached)}", "  ")
    for app in reached:
        if app.id in named:
            lines += wrap(f"app {_t(app.id)}: {_t(app.name)}, by {_maker_name(signatures, app)}: named by entry "
                          f"[{_t(named[app.id])}], so a finding of that entry, not this one", "  ", "    ")
        else:
            lines += _app(signatures, app)
    return lines
