"""Compile policies into lookup tables once; match an app with dictionary lookups.

Pure: no I/O. The rules are those of DESIGN.md: exact identifiers
(case-insensitive, same platform); on iOS an app extension `<id>.<suffix>`;
on iOS an uncatalogued app signed by a catalog maker's team is a `review`
finding. Never a vendor prefix, a substring or a display name.

An entry that names a maker (docs/signatures.md) is expanded here, once,
into the identifiers of every catalog app it reaches, so the per-app loop
is the same dictionary lookup whatever the policies name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from scanner.model import App, Finding, PolicyRef, RuleRef
from scanner.signatures import CatalogApp, Maker, Policy, PolicyEntry, Signatures, TeamId, normalized_name

# A display name with the shape of a package or bundle id (Intune shows an Android app's package name as its
# name): matched as an identifier.
_ID_SHAPED = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+")


@dataclass(frozen=True, slots=True)
class _Rule:
    """Everything a Finding needs except the app and how it matched."""

    policy: str
    policy_status: str
    rule: str
    listed: str
    relation: str
    catalog_app: str
    catalog_name: str
    identifier: str
    confidence: str
    severity: str
    edition: str | None

    def finding(self, app: App, match: str) -> Finding:
        return Finding(
            app=app,
            policy=self.policy,
            policy_status=self.policy_status,
            rule=self.rule,
            listed=self.listed,
            relation=self.relation,
            catalog_app=self.catalog_app,
            catalog_name=self.catalog_name,
            match=match,
            identifier=self.identifier,
            confidence=self.confidence,
            severity=self.severity,
            edition=self.edition,
        )


class Matcher:
    """The selected policies of a signature set, compiled for lookups."""

    def __init__(self, signatures: Signatures, policies: Iterable[str] | None = None):
        self.signatures = signatures  # what the policies were compiled from: the report names its files
        self.policies: list[Policy] = signatures.select(policies)
        # platform -> lower-cased identifier -> rules, in policy order
        self._exact: dict[str, dict[str, list[_Rule]]] = {"android": {}, "ios": {}}
        # upper-cased team id -> one rule per policy
        self._team: dict[str, list[_Rule]] = {}
        # platform -> normalized display name -> rules: for sources that give only names
        self._names: dict[str, dict[str, list[_Rule]]] = {"android": {}, "ios": {}}
        self._name_keys: dict[str, str] = {}  # display name as given -> normalized ("" when it has an id's shape)
        self._catalogued: set[tuple[str, str]] = {
            (ident.platform, ident.id.lower())
            for app in signatures.apps.values()
            for ident in app.identifiers
        }
        by_maker: dict[str, list[CatalogApp]] = {}
        for app in signatures.apps.values():
            if app.maker_id is not None:
                by_maker.setdefault(app.maker_id, []).append(app)
        for policy in self.policies:
            teams_here: dict[str, _Rule] = {}
            # Named beats reached: an app an app entry of this policy names is that entry's finding, never
            # also a maker entry's. Maker entries claim their makers' team ids first: a company rule says
            # what its team's apps are, an app entry's team id is only a lead.
            named = {e.app for e in policy.entries if e.app is not None}
            for entry in policy.entries:
                if entry.maker is None:
                    continue
                for maker_id in signatures.reach(entry.maker, entry.affiliates):
                    for app in by_maker.get(maker_id, ()):
                        if app.id not in named:
                            self._add_identifiers(policy, entry, app, relation="maker")
                    maker = signatures.makers[maker_id]
                    for team in maker.team_ids:
                        teams_here.setdefault(team.id.upper(), self._maker_team_rule(policy, entry, maker, team))
            # Named entries claim a team id before related ones do.
            ordered = sorted((e for e in policy.entries if e.app is not None), key=lambda e: e.relation == "related")
            for entry in ordered:
                app = signatures.apps[entry.app]
                self._add_identifiers(policy, entry, app)
                for team in signatures.team_ids_of(app):
                    teams_here.setdefault(team.id.upper(), self._team_rule(policy, entry, app, team.id, team.confidence))
            for team_id, rule in teams_here.items():
                self._team.setdefault(team_id, []).append(rule)
        # "<catalogued iOS id>." prefixes: str.startswith tries them all in C.
        self._extensions = tuple(f"{key}." for key in self._exact["ios"])

    def policy_refs(self) -> tuple[PolicyRef, ...]:
        """The selected policies as a report names them, each with its rules."""
        apps, makers = self.signatures.apps, self.signatures.makers
        return tuple(
            PolicyRef(
                id=p.id,
                title=p.title,
                status=p.status,
                status_note=p.status_note,
                signed=p.signed.isoformat(),
                source=p.source,
                sha256=p.sha256,
                entries=len(p.entries),
                citation=p.citation or None,
                rules=tuple(
                    RuleRef(id=f"{p.id}/{e.key}", listed=e.listed, relation=e.relation, severity=e.severity,
                            catalog_name=makers[e.maker].name if e.maker else apps[e.app].name, note=e.note,
                            affiliates=bool(e.maker and e.affiliates))
                    for e in p.entries
                ),
            )
            for p in self.policies
        )

    def _add_identifiers(self, policy: Policy, entry: PolicyEntry, app: CatalogApp, relation: str | None = None) -> None:
        for ident in app.identifiers:
            rule = _Rule(
                policy=policy.id,
                policy_status=policy.status,
                rule=f"{policy.id}/{entry.key}",
                listed=entry.listed,
                relation=relation or entry.relation,
                catalog_app=app.id,
                catalog_name=app.name,
                identifier=ident.id,
                confidence=ident.confidence,
                severity=entry.severity,
                edition=ident.edition,
            )
            self._exact[ident.platform].setdefault(ident.id.lower(), []).append(rule)
        for shown in app.names:
            rule = _Rule(
                policy=policy.id,
                policy_status=policy.status,
                rule=f"{policy.id}/{entry.key}",
                listed=entry.listed,
                relation=relation or entry.relation,
                catalog_app=app.id,
                catalog_name=app.name,
                identifier=shown.name,
                confidence=shown.confidence,
                severity=entry.severity,
                edition=None,
            )
            key = normalized_name(shown.name)
            for platform in shown.platforms:
                rules = self._names[platform].setdefault(key, [])
                if not any(r.rule == rule.rule for r in rules):  # two names of one app that normalize alike
                    rules.append(rule)

    @staticmethod
    def _team_rule(policy: Policy, entry: PolicyEntry, app: CatalogApp, team_id: str, confidence: str) -> _Rule:
        return _Rule(
            policy=policy.id,
            policy_status=policy.status,
            rule=f"{policy.id}/{entry.key}",
            listed=entry.listed,
            relation="related",
            catalog_app=app.id,
            catalog_name=app.name,
            identifier=team_id,
            confidence=confidence,
            severity="review",  # the same developer is a lead, never proof
            edition=None,
        )

    @staticmethod
    def _maker_team_rule(policy: Policy, entry: PolicyEntry, maker: Maker, team: TeamId) -> _Rule:
        """An uncatalogued iOS app signed by a team of a maker the entry reaches: a finding of the entry, at its
        severity (the policy names the company, and the team is the company's)."""
        return _Rule(
            policy=policy.id,
            policy_status=policy.status,
            rule=f"{policy.id}/{entry.key}",
            listed=entry.listed,
            relation="maker",
            catalog_app=maker.id,
            catalog_name=maker.name,
            identifier=team.id,
            confidence=team.confidence,
            severity=entry.severity,
            edition=None,
        )

    def match_app(self, app: App) -> list[Finding]:
        return self.match((app,))

    def match(self, apps: Iterable[App]) -> list[Finding]:
        """Findings for `apps`, in their order.

        The loop is the hot path of a fleet scan (a million apps): an exact
        lookup per app, and the iOS extension and team-id rules only for the
        few apps whose id could be an extension of a catalogued one or that
        carry a team id. An id the catalog knows only for the other platform
        is a finding too ("other-platform"): ids are reverse-DNS names their
        maker owns, and an export whose platform column is wrong (`ios,A1,
        com.tencent.mm`) must not hide WeChat.
        """
        findings: list[Finding] = []
        android, ios = self._exact["android"], self._exact["ios"]
        extensions = self._extensions
        for app in apps:
            if app.evidence == "name":
                findings.extend(self._by_name(app))
                continue
            key = app.id.lower()
            platform = app.platform
            if platform == "android":
                rules = android.get(key)
                if rules:
                    findings.extend(r.finding(app, "exact") for r in rules)
                elif key in ios:
                    findings.extend(r.finding(app, "other-platform") for r in ios[key])
            elif platform == "ios":
                rules = ios.get(key)
                if rules:
                    findings.extend(r.finding(app, "exact") for r in rules)
                elif app.team_id or key.startswith(extensions) or key in android:
                    findings.extend(self._ios_inexact(app, key))
        return findings

    def _by_name(self, app: App) -> list[Finding]:
        """An app a source gives only by display name: a name with the shape of an id is tried as the id first
        (Intune shows an Android app's package name as its name), then the catalog's names for its platform,
        compared normalized and whole (signatures.normalized_name), never as a substring."""
        key = self._name_keys.get(app.id)
        if key is None:
            # An export repeats one name on thousands of devices: each distinct name is looked at once (the
            # cache is bounded, so memory stays flat however many distinct names there are).
            key = "" if _ID_SHAPED.fullmatch(app.id) else normalized_name(app.id)
            if len(self._name_keys) < 100_000:
                self._name_keys[app.id] = key
        if not key:
            found = self.match((app._replace(evidence="identifier"),))
            if found:
                return [replace(f, app=app) for f in found]
            key = normalized_name(app.id)
        rules = self._names.get(app.platform, {}).get(key)
        return [r.finding(app, "name") for r in rules] if rules else []

    def may_find(self, app: App) -> bool:
        """Whether `match` may find `app` (or `recover` skip a word for it): a lean read keeps only such apps.
        True for more apps than are found (an iOS app with a team id, an id that starts like an extension)."""
        if app.platform not in self._exact:
            return False
        key = app.id.lower()
        if key in self._exact["android"] or key in self._exact["ios"] or key.startswith(self._extensions):
            return True
        if app.evidence == "name":
            return bool(self._by_name(app))
        return app.platform == "ios" and bool(app.team_id)

    def knows(self, token: str) -> bool:
        """Whether `token` is an id some selected policy names, on either platform, or an iOS extension of
        one: what is worth keeping of the text that could not be read."""
        key = token.lower()
        return key in self._exact["android"] or key in self._exact["ios"] or key.startswith(self._extensions)

    def recover(self, tokens: Iterable[str], platform: str | None,
                parsed: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()) -> list[Finding]:
        """Findings for the whole catalog ids among `tokens`, the id-like words
        of text that could not be parsed (DESIGN.md, matching rule 5).

        Each token is compared as an app id is (exact, case-insensitive; on iOS
        also as an app extension), never as a substring. On a device whose
        platform is unknown, both platforms' ids are tried. (platform, lower-
        cased id) pairs in `parsed` were read as apps already and are skipped.
        """
        findings: list[Finding] = []
        platforms = (platform,) if platform in self._exact else tuple(self._exact)
        for token in tokens:
            key = token.lower()
            for plat in platforms:
                if (plat, key) in parsed:
                    continue
                rules = self._exact[plat].get(key)
                if not rules and plat == "ios":
                    rules = self._extension_of(key)
                if rules:
                    app = App(plat, token)
                    findings.extend(r.finding(app, "recovered") for r in rules)
        return findings

    def _extension_of(self, key: str) -> list[_Rule] | None:
        """The rules of the longest catalogued iOS id that `key` extends (`<id>.<suffix>`), or None."""
        if not key.startswith(self._extensions):
            return None
        ios = self._exact["ios"]
        end = len(key)
        while (end := key.rfind(".", 0, end)) > 0:
            rules = ios.get(key[:end])
            if rules:
                return rules
        return None

    def _ios_inexact(self, app: App, key: str) -> list[Finding]:
        """App extensions (the longest catalogued prefix ending at a dot), then the Android app's own id (an
        export whose platform column is wrong), then the team id: a team id is only a lead (review), so it
        never stands in for an id that names the app."""
        rules = self._extension_of(key)
        if rules:
            return [r.finding(app, "extension") for r in rules]
        rules = self._exact["android"].get(key)
        if rules:
            return [r.finding(app, "other-platform") for r in rules]
        if app.team_id and ("ios", key) not in self._catalogued:
            rules = self._team.get(app.team_id.upper())
            if rules:
                return [r.finding(app, "team-id") for r in rules]
        return []

