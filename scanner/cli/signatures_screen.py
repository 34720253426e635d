"""Text for `scanner signatures list` and `scanner signatures show`.

Signature files may come from anyone (`--signatures`), so their text goes
through `safe()` like anything read from a device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from scanner.signatures import Policy, PolicyEntry, Signatures
from scanner.terminal.text import safe


def _t(value: object, limit: int = 1000) -> str:
    return safe(None if value is None else str(value), limit=limit)


def write_policy_list(signatures: Signatures, out: TextIO, *, defaults: Sequence[str] | None = None,
                      origin: str = "built in") -> None:
    """The policies, each marked "(default)" when a scan without --policy checks it; `defaults` are those
    policies (None: the bundled defaults) and `origin` where that choice came from (a config file)."""
    from tabulate import tabulate

    chosen = set(defaults) if defaults is not None else {p.id for p in signatures.policies.values() if p.default}
    rows = [
        (
            _t(p.id) + (" (default)" if p.id in chosen else ""),
            _t(p.status),
            p.signed.isoformat(),
            len(p.entries),
            sum(e.severity == "prohibited" for e in p.entries),
            sum(e.severity == "review" for e in p.entries),
            _t(p.title, limit=60),
        )
        for p in signatures.policies.values()
    ]
    headers = ["policy", "status", "signed", "entries", "prohibited", "review", "title"]
    out.write(tabulate(rows, headers=headers, disable_numparse=True))
    out.write("\n\n")
    for p in signatures.policies.values():
        if p.status_note:
            out.write(f"{_t(p.id)}: {_t(p.status)}: {_t(p.status_note)}\n")
    if chosen:
        out.write(f"\nWithout --policy a scan checks: {', '.join(_t(i) for i in sorted(chosen))} "
                  f"(defaults: {_t(origin)})\n")
    identifiers = sum(len(a.identifiers) for a in signatures.apps.values())
    out.write(
        f"\nCatalog: {len(signatures.apps)} apps, {identifiers} identifiers, "
        f"{len(signatures.files)} files. Details: scanner signatures show ID\n"
    )


def write_policy(signatures: Signatures, policy: Policy, out: TextIO) -> None:
    from tabulate import tabulate

    out.write(f"{_t(policy.id)}: {_t(policy.title)}\n")
    out.write(f"  authority: {_t(policy.authority)}\n  citation:  {_t(policy.citation)}\n")
    out.write(f"  signed:    {policy.signed.isoformat()}\n  status:    {_t(policy.status)}")
    if policy.status_date:
        out.write(f" since {policy.status_date.isoformat()}")
    out.write("\n")
    if policy.status_note:
        out.write(f"  note:      {_t(policy.status_note)}\n")
    out.write(f"  url:       {_t(policy.url)}\n")
    out.write(f"  file:      {_t(policy.source)} (sha256 {policy.sha256[:16]}…)\n\n")
    for entry in policy.entries:
        if entry.maker is not None:
            _write_maker_entry(signatures, policy, entry, out)
            continue
        app = signatures.apps[entry.app]
        name = _t(app.name)
        relation = {
            "app": "the app itself",
            "feature-of": f"a feature of {name}",
            "related": f"{name}, related (same maker, not named)",
        }[entry.relation]
        out.write(f"[{_t(entry.key)}] {_t(entry.listed)}: {relation}; severity {entry.severity}\n")
        if entry.note:
            out.write(f"  {_t(entry.note)}\n")
        rows = [
            (i.platform, _t(i.id), _t(i.edition), i.confidence, _t("; ".join(i.sources)))
            for i in app.identifiers
        ]
        rows += [
            ("ios", f"team {t.id}", f"{_t(t.holder)} (review only)", t.confidence, _t("; ".join(t.sources)))
            for t in signatures.team_ids_of(app)
        ]
        table = tabulate(
            rows,
            headers=["platform", "identifier", "edition", "confidence", "sources"],
            maxcolwidths=[None, None, 40, None, 60],
            disable_numparse=True,
        )
        out.write("  " + table.replace("\n", "\n  ") + "\n\n")


def _write_maker_entry(signatures: Signatures, policy: Policy, entry: PolicyEntry, out: TextIO) -> None:
    """An entry that names a maker: the apps and team ids it reaches (apps another entry names are that entry's)."""
    from tabulate import tabulate

    maker = signatures.makers[entry.maker]
    reach = "the companies it owns or is tied to" if entry.affiliates else "the companies it owns"
    out.write(f"[{_t(entry.key)}] {_t(entry.listed)}: every app of {_t(maker.name)} and {reach}; "
              f"severity {entry.severity}\n")
    if entry.note:
        out.write(f"  {_t(entry.note)}\n")
    named = {e.app for e in policy.entries if e.app is not None}
    covered = signatures.reach(maker.id, entry.affiliates)
    rows = [
        (i.platform, _t(i.id), _t(f"{app.name}: {i.edition}"), i.confidence, _t("; ".join(i.sources)))
        for app in signatures.apps_of(covered) if app.id not in named
        for i in app.identifiers
    ]
    rows += [
        ("ios", f"team {t.id}", f"{_t(t.holder)} ({_t(signatures.makers[m].name)})", t.confidence,
         _t("; ".join(t.sources)))
        for m in covered for t in signatures.makers[m].team_ids
    ]
    table = tabulate(
        rows,
        headers=["platform", "identifier", "edition", "confidence", "sources"],
        maxcolwidths=[None, None, 40, None, 60],
        disable_numparse=True,
    )
    out.write("  " + table.replace("\n", "\n  ") + "\n\n")
