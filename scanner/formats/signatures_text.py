"""Text for `scanner signatures list` and `scanner signatures show`."""

from __future__ import annotations

from typing import TextIO

from scanner.signatures import Policy, Signatures


def write_policy_list(signatures: Signatures, out: TextIO) -> None:
    from tabulate import tabulate

    rows = [
        (
            p.id + (" (default)" if p.default else ""),
            p.status,
            p.signed.isoformat(),
            len(p.entries),
            sum(e.severity == "prohibited" for e in p.entries),
            sum(e.severity == "review" for e in p.entries),
            p.title if len(p.title) <= 60 else p.title[:59] + "…",
        )
        for p in signatures.policies.values()
    ]
    out.write(tabulate(rows, headers=["policy", "status", "signed", "entries", "prohibited", "review", "title"]))
    out.write("\n\n")
    for p in signatures.policies.values():
        if p.status_note:
            out.write(f"{p.id}: {p.status}: {p.status_note}\n")
    identifiers = sum(len(a.identifiers) for a in signatures.apps.values())
    out.write(
        f"\nCatalog: {len(signatures.apps)} apps, {identifiers} identifiers, "
        f"{len(signatures.files)} files. Details: scanner signatures show ID\n"
    )


def write_policy(signatures: Signatures, policy: Policy, out: TextIO) -> None:
    from tabulate import tabulate

    out.write(f"{policy.id}: {policy.title}\n")
    out.write(f"  authority: {policy.authority}\n  citation:  {policy.citation}\n")
    out.write(f"  signed:    {policy.signed.isoformat()}\n  status:    {policy.status}")
    if policy.status_date:
        out.write(f" since {policy.status_date.isoformat()}")
    out.write("\n")
    if policy.status_note:
        out.write(f"  note:      {policy.status_note}\n")
    out.write(f"  url:       {policy.url}\n  file:      {policy.source} (sha256 {policy.sha256[:16]}…)\n\n")
    for entry in policy.entries:
        app = signatures.apps[entry.app]
        relation = {
            "app": "the app itself",
            "feature-of": f"a feature of {app.name}",
            "related": f"{app.name}, related (same maker, not named)",
        }[entry.relation]
        out.write(f"[{entry.key}] {entry.listed}: {relation}; severity {entry.severity}\n")
        if entry.note:
            out.write(f"  {entry.note}\n")
        rows = [
            (i.platform, i.id, i.edition, i.confidence, "; ".join(i.sources))
            for i in app.identifiers
        ]
        rows += [("ios", f"team {t.id}", f"{t.holder} (review only)", t.confidence, "; ".join(t.sources)) for t in app.team_ids]
        table = tabulate(rows, headers=["platform", "identifier", "edition", "confidence", "sources"], maxcolwidths=[None, None, 40, None, 60])
        out.write("  " + table.replace("\n", "\n  ") + "\n\n")
