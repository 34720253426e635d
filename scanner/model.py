"""The data that flows from connectors through the matcher to the report.

No I/O here. Everything is immutable, so a result can be handed to several
output formats without one of them changing what another sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

# The words and exit codes the signatures and the CLI share live in scanner.vocabulary (light at import: no
# dataclass of this module is built by `scanner signatures list`); they are this module's names as well.
from scanner.vocabulary import (  # noqa: F401 - re-exported
    CONFIDENCES,
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_FINDINGS_INCOMPLETE,
    EXIT_INCOMPLETE,
    EXIT_USAGE,
    FAIL_ON,
    PLATFORMS,
    RELATIONS,
    SEVERITIES,
    SignatureFile,
    signature_digest,
)

APP_STATES = ("installed", "disabled", "hidden", "uninstalled-data-kept", "offloaded")
STATUSES = ("complete", "partial", "failed")
MATCH_KINDS = ("exact", "extension", "team-id", "other-platform", "recovered", "name")
# What a finding rests on: the app's id as parsed ("exact", "extension"), its developer team, a whole
# catalog id found in text that could not be parsed ("recovered"), or only its display name ("name": an
# inventory that gives no ids, such as Intune's).
EVIDENCE_OF_MATCH = {"exact": "identifier", "extension": "identifier", "team-id": "team-id",
                     "other-platform": "identifier", "recovered": "recovered", "name": "name"}
# What an app record of a source can prove: "identifier" (a bundle or package id), "name" (a display name
# only), "count" (an aggregate: "on N devices", no device list).
EVIDENCE_LEVELS = ("identifier", "name", "count")
# The scope an MDM inventory cannot see (personal devices' unmanaged apps, the personal profile, system
# apps...): a device read from an MDM export is partial with reason "mdm-scope" and this scope unread, unless
# the source says its inventory covers every app, or the admin accepts the MDM's view (--accept-scope mdm).
MDM_SCOPE = "apps outside the MDM's view"
# How the reason of an MDM_SCOPE scope that --accept-scope mdm accepted begins (then the blind spot).
ACCEPTED_MDM_SCOPE = "accepted with --accept-scope mdm: "
# Devices an export lists that scanner does not check (Windows and macOS computers in an Intune export): an
# Inventory of such a device carries this reason, and the report lists it as not checked.
NOT_CHECKED = "not-checked"

MAX_PROBLEMS = 20  # problem details kept per inventory or result; all are counted


class App(NamedTuple):
    """One app as a device or a file reported it.

    A NamedTuple rather than a frozen dataclass: a fleet export holds a
    million of these, and a frozen dataclass costs five times as much to
    build. It is just as immutable.
    """

    platform: str  # "android" | "ios"
    id: str  # exactly as reported; matching lower-cases it, reports never do
    name: str | None = None
    version: str | None = None  # versionName / CFBundleShortVersionString
    build: str | None = None  # versionCode / CFBundleVersion
    installer: str | None = None
    user: int | None = None  # Android user id (0 owner, 10 work profile, 150 ...)
    state: str = "installed"  # one of APP_STATES
    system: bool | None = None
    path: str | None = None
    team_id: str | None = None  # iOS developer team
    signer: str | None = None  # iOS SignerIdentity
    uid: int | None = None  # Android uid
    # "identifier" (id is a bundle or package id) or "name" (the source gives only a display name: id holds
    # it, as given, and matching compares it with the catalog's names).
    evidence: str = "identifier"
    devices: int | None = None  # an aggregate row: the number of devices the source says hold it (no list)


@dataclass(frozen=True)
class DeviceInfo:
    """Who a result is about. `platform` is None when an input could not be
    read far enough to know."""

    platform: str | None
    serial: str | None  # ro.serialno, UDID, or the device column of an export
    model: str | None = None
    os_version: str | None = None
    name: str | None = None
    source: str = ""  # "adb", "usbmux", or the input file ("-" is stdin)
    # What tells two attached devices apart when their hardware serials are the same (cheap clones ship
    # ro.serialno 0123456789ABCDEF): the adb transport serial or USB path. None for files and iOS (the
    # UDID is unique).
    transport: str | None = None
    # What else names the device in its source, as (what, value) pairs in the source's order: an MDM's device
    # id, serial, UDID, user ("serial", "C39XK0ABCDEF"). Shown in reports; never part of the key.
    identity: tuple[tuple[str, str], ...] = ()
    # When the source's inventory of the device was taken (its last check-in or inventory report), when the
    # source says; timezone-aware. `--max-age` makes an older one partial.
    inventoried: datetime | None = None

    @property
    def label(self) -> str:
        """The shortest name a person recognises the device by."""
        return self.serial or self.name or self.source or "unknown"

    @property
    def key(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.source, self.platform, self.serial, self.transport)


@dataclass(frozen=True)
class Scope:
    """One part of a device that was, or could not be, read.

    An Android user (owner, work profile, Secure Folder), the app list of an
    iPhone, or the records of a file. A scope with read=False makes its device
    `partial`: what was not read is never reported clean.
    """

    name: str  # "user 0", "user 10 (Work profile)", "apps", "records"
    read: bool
    reason: str | None = None
    apps: int | None = None


@dataclass(frozen=True)
class Inventory:
    """What a connector read from one device or one device's part of a file."""

    device: DeviceInfo
    apps: tuple[App, ...]
    coverage: tuple[Scope, ...] = ()
    status: str = "complete"  # one of STATUSES
    reason: str | None = None  # machine code when not complete: "unauthorized", "bad-lines", ...
    message: str | None = None  # one line for a person: what happened and what to do
    problems: tuple[str, ...] = ()  # details, e.g. "line 7: not valid UTF-8" (capped)
    problem_count: int = 0  # all problems, including those not kept in `problems`
    # Id-like tokens of the text that could not be parsed (damaged lines, a file of unknown format). The
    # matcher searches them for whole catalog ids: evidence is never dropped with the line that held it.
    residue: tuple[str, ...] = ()
    # A lean read (scan --input without --inventory, which reports no app but those found): the apps read, when
    # `apps` holds only those a finding may rest on (Matcher.may_find), and always the first app read, so that
    # `apps` is empty only when no app was read. None: `apps` is every app read.
    app_count: int | None = None


@dataclass(frozen=True)
class Finding:
    """One app on one device that one policy entry names."""

    app: App
    policy: str
    policy_status: str  # "in-force", "revoked", ...
    rule: str  # "<policy>/<entry key>": stable, used as the SARIF rule id
    listed: str  # the name as the policy lists it: "WeChat Pay"
    relation: str  # "app" | "feature-of" | "related" | "maker"
    catalog_app: str  # catalog key of the app that matched: "wechat" (a maker's team id: the maker's id)
    catalog_name: str  # its name: "WeChat" (a maker's team id: the maker's name)
    match: str  # "exact" | "extension" | "team-id" | "other-platform" | "recovered"
    identifier: str  # the catalog identifier (or team id) that matched
    confidence: str  # "confirmed" | "reported"
    severity: str  # "prohibited" | "review"
    edition: str | None = None

    @property
    def matched_by(self) -> str:
        """How it matched: "identifier", "team-id", "recovered" or "name"."""
        return EVIDENCE_OF_MATCH[self.match]

    @property
    def evidence(self) -> str:
        """What the source's record can prove (EVIDENCE_LEVELS): "count" for an aggregate row (on N devices,
        none named), "name" when only a display name matched, else "identifier"."""
        if self.app.devices is not None:
            return "count"
        return "name" if self.match == "name" else "identifier"

    @property
    def explanation(self) -> str:
        """One phrase that says why this app meets the listed name."""
        if self.match == "recovered":
            what = self.listed if self.relation == "app" else replace(self, match="exact").explanation
            return f"{what} (recovered: {self.identifier} is in text that could not be read as a list)"
        if self.match == "name":
            what = self.listed if self.relation == "app" else replace(self, match="exact").explanation
            return f"{what} (by its display name {self.app.id!r} only: the source gives no app id)"
        if self.match == "other-platform":
            what = self.listed if self.relation == "app" else replace(self, match="exact").explanation
            other = "iOS" if self.app.platform == "android" else "Android"
            return f"{what} (the {other} app's id, on a device listed as {self.app.platform})"
        return self._why
    @property
    def _why(self) -> str:
        if self.match == "team-id":
            if self.relation == "maker":
                return f"signed by team {self.identifier} of {self.catalog_name}"
            return f"same developer ({self.identifier}) as {self.catalog_name}"
        if self.relation == "maker":
            return f"{self.catalog_name} comes under {self.listed} (a company rule)"
        if self.relation == "feature-of":
            return f"{self.listed} is a feature of {self.catalog_name}"
        if self.relation == "related":
            return f"{self.catalog_name} is related to {self.listed} (same maker, not named)"
        if self.match == "extension":
            return f"app extension of {self.catalog_name} ({self.identifier})"
        return self.listed


@dataclass(frozen=True)
class DeviceResult:
    device: DeviceInfo
    status: str
    reason: str | None
    message: str | None
    coverage: tuple[Scope, ...]
    findings: tuple[Finding, ...]
    app_count: int
    problems: tuple[str, ...] = ()
    problem_count: int = 0
    apps: tuple[App, ...] | None = None  # only with --inventory

    def worst_severity(self) -> str | None:
        for severity in SEVERITIES:
            if any(f.severity == severity for f in self.findings):
                return severity
        return None


@dataclass(frozen=True)
class RuleRef:
    """One policy entry as a report names it: the SARIF rule of its findings."""

    id: str  # "<policy>/<entry key>"
    listed: str
    relation: str
    severity: str
    catalog_name: str
    note: str | None = None
    affiliates: bool = False  # a company rule that also reaches the company's affiliates


@dataclass(frozen=True)
class PolicyRef:
    """A policy as the report names it, with the hash of the file it came from."""

    id: str
    title: str
    status: str
    status_note: str | None
    signed: str | None
    source: str
    sha256: str
    entries: int
    rules: tuple[RuleRef, ...] = ()
    citation: str | None = None  # how the policy is cited: "Memorandum of Governor Ivey, 2022-12-12"


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` meets `--fail-on threshold`."""
    if threshold == "never":
        return False
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class NotChecked:
    """A device an input lists that scanner does not check (a Windows or macOS computer in an MDM export):
    counted and listed, never dropped in silence, and not part of the verdict, which is about phones and
    tablets."""

    device: DeviceInfo
    rows: int  # the app rows of it that were skipped
    why: str  # for a person: "a Windows computer: scanner checks phones and tablets"


@dataclass(frozen=True)
class Summary:
    devices: int
    complete: int
    partial: int
    failed: int
    findings: int
    prohibited: int
    review: int
    devices_with_findings: int
    apps_read: int
    not_checked: int = 0


@dataclass(frozen=True)
class Transport:
    """A device transport a live scan asked for its devices (the adb server, usbmuxd), and whether it answered.

    One that did not answer may hide attached devices: the report is then never complete, even when every
    device it does list was read (an iPhone behind a stopped usbmuxd is not "clean", it is unseen).
    """

    platform: str  # "android" | "ios"
    transport: str  # "adb" | "usbmux"
    address: str | None  # "127.0.0.1:5037", "/var/run/usbmuxd"
    answered: bool
    message: str | None = None  # when it did not answer: what happened and what to do


@dataclass(frozen=True)
class Report:
    tool: str
    version: str
    started: datetime
    finished: datetime
    policies: tuple[PolicyRef, ...]
    signature_files: tuple[SignatureFile, ...]
    results: tuple[DeviceResult, ...]
    fail_on: str = "prohibited"
    inventory_included: bool = False
    inputs: tuple[str, ...] = field(default=())
    transports: tuple[Transport, ...] = ()  # live scans: every transport asked; () for files
    not_checked: tuple[NotChecked, ...] = ()  # desktop computers and the like that inputs listed
    accepted_scopes: tuple[str, ...] = ()  # --accept-scope: the blind spots the admin accepted ("mdm")
    max_age: int | None = None  # --max-age DAYS: older inventories were made partial
    host: str | None = None  # the computer that ran the scan (its host name), when known
    user: str | None = None  # the account that ran it, when known

    @property
    def summary(self) -> Summary:
        findings = [f for r in self.results for f in r.findings]
        return Summary(
            devices=len(self.results),
            complete=sum(r.status == "complete" for r in self.results),
            partial=sum(r.status == "partial" for r in self.results),
            failed=sum(r.status == "failed" for r in self.results),
            findings=len(findings),
            prohibited=sum(f.severity == "prohibited" for f in findings),
            review=sum(f.severity == "review" for f in findings),
            devices_with_findings=sum(bool(r.findings) for r in self.results),
            apps_read=sum(r.app_count for r in self.results),
            not_checked=len(self.not_checked),
        )

    @property
    def complete(self) -> bool:
        """Every target fully read, there was at least one target, and every transport asked answered."""
        return (bool(self.results) and all(r.status == "complete" for r in self.results)
                and all(t.answered for t in self.transports))

    @property
    def failing_findings(self) -> int:
        return sum(
            severity_at_least(f.severity, self.fail_on) for r in self.results for f in r.findings
        )

    @property
    def exit_code(self) -> int:
        failing = self.failing_findings > 0
        if not self.complete:
            return EXIT_FINDINGS_INCOMPLETE if failing else EXIT_INCOMPLETE
        return EXIT_FINDINGS if failing else EXIT_CLEAN

    @property
    def verdict(self) -> str:
        """The one word an admin reads first."""
        return {
            EXIT_CLEAN: "clean",
            EXIT_FINDINGS: "findings",
            EXIT_INCOMPLETE: "incomplete",
            EXIT_FINDINGS_INCOMPLETE: "findings-incomplete",
        }[self.exit_code]


def device_verdict(result: DeviceResult, fail_on: str) -> str:
    """One word per device: clean | findings | review | incomplete | failed."""
    if result.status == "failed":
        return "failed"
    if any(severity_at_least(f.severity, fail_on) for f in result.findings):
        return "findings" if result.status == "complete" else "findings-incomplete"
    if result.status != "complete":
        return "incomplete"
    return "review" if result.findings else "clean"


# --- combining results ---------------------------------------------------------------------------------

_STATUS_RANK = {"complete": 0, "partial": 1, "failed": 2}
_MATCH_RANK = {"exact": 0, "extension": 0, "team-id": 0, "other-platform": 1, "name": 2, "recovered": 3}


def _rank(f: Finding) -> tuple[int, int]:
    """Most severe first, then the best-founded: a review lead never stands in for a prohibited finding."""
    return (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES), _MATCH_RANK.get(f.match, 0))


def one_finding_each(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    """One app found twice (a device listed twice in an export, a line repeated) is one finding; and one app
    id under one rule and user found in several ways (read whole in one part, recovered from a damaged line
    of another; an app whose platform was edited) is one finding too: the most severe, then the best-founded."""
    best: dict[tuple, Finding] = {}
    for f in findings:
        key = (f.rule, f.app.id.lower(), f.app.user)
        old = best.get(key)
        if old is None or _rank(f) < _rank(old):
            best[key] = f
    # A recovered id knows no user: it is the same app as one found whole, at least as severe, under any user.
    whole: dict[tuple, tuple[int, int]] = {}
    for f in best.values():
        if f.match != "recovered":
            k = (f.rule, f.app.id.lower())
            whole[k] = min(whole.get(k, (99, 99)), _rank(f))
    kept = {id(f) for f in best.values()
            if f.match != "recovered" or whole.get((f.rule, f.app.id.lower()), (99, 99))[0] > _rank(f)[0]}
    return tuple(f for f in dict.fromkeys(findings) if id(f) in kept)


def _merge_scopes(a: tuple[Scope, ...], b: tuple[Scope, ...]) -> tuple[Scope, ...]:
    merged: dict[tuple, Scope] = {}
    for scope in a + b:
        key = (scope.name, scope.read, scope.reason)
        old = merged.get(key)
        if old is None:
            merged[key] = scope
        elif scope.apps is not None:
            merged[key] = replace(old, apps=(old.apps or 0) + scope.apps)
    return tuple(merged.values())


def merge_results(a: DeviceResult, b: DeviceResult) -> DeviceResult:
    """Two parts of one device's result (an export that lists a device twice)."""
    worse = b if _STATUS_RANK[b.status] > _STATUS_RANK[a.status] else a
    # Failed only when no part could be read; one part read and one not is partial.
    status = "failed" if a.status == b.status == "failed" else ("complete" if worse.status == "complete" else "partial")
    return replace(
        a,
        status=status,
        reason=worse.reason if worse.status != "complete" else a.reason,
        message=worse.message if worse.status != "complete" else a.message,
        coverage=_merge_scopes(a.coverage, b.coverage),
        # Live devices never merge across transports: two clones with one ro.serialno stay two devices.
        findings=one_finding_each(a.findings + b.findings),
        app_count=a.app_count + b.app_count,
        problems=(a.problems + b.problems)[:MAX_PROBLEMS],
        problem_count=a.problem_count + b.problem_count,
        apps=(a.apps + b.apps) if a.apps is not None and b.apps is not None else a.apps,
    )


def by_device(result: DeviceResult) -> tuple[str, str, str, str]:
    """The order of live results, which finish in no particular order: platform, serial, transport, source."""
    d = result.device
    return (d.platform or "", d.serial or "", d.transport or "", d.source)
