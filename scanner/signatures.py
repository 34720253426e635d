"""Load and validate the signature catalog, makers and policies (TOML) into objects.

Signature files are configuration an admin may have written by hand, so the
loader is strict: wrong types and unknown keys are errors, every problem is
reported as `file: key: what is wrong`, and all problems of all files are
collected before giving up, so one run shows everything to fix.
The format is documented in docs/signatures.md. Schema 1 files (an admin's
own, written before makers existed) load exactly as they always did; a file
that uses anything new in schema 2 says `schema = 2`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from scanner.vocabulary import CONFIDENCES, PLATFORMS, RELATIONS, SEVERITIES, SignatureFile

SCHEMA = 2  # the newest schema this scanner reads
SCHEMAS = (1, 2)
KINDS = ("app", "policy", "maker")
POLICY_STATUSES = ("in-force", "revoked", "rescinded", "enjoined", "superseded", "proposed", "expired", "internal")
# The research note's words for how well an instrument's text is known. "uncertain" is not one of them on
# purpose: an instrument nobody could confirm is not something to audit a device against.
POLICY_CONFIDENCES = ("verified", "secondary")
MAKER_RELATIONS = ("affiliate", "former-parent", "spun-off")
CERT_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
CERT_OF = ("signer-certificate",)
# TrollStore signs every app it installs with this team id (its CoreTrust bypass): on a device it says that
# TrollStore installed the app, never who made it (research note B.1).
TROLLSTORE_TEAM_ID = "T8ALTGMVXN"
# "us-" + a USPS state, district or territory code: the jurisdictions of policies, besides "us-fed".
US_POSTAL = frozenset((
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky", "la", "me",
    "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd", "oh", "ok", "or", "pa",
    "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "dc", "pr", "gu", "vi", "as", "mp",
))

# \Z, not $: "$" also matches before a final newline.
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")
# Two or more dot-separated labels: a one-label id ("com") would make every
# "com.*" iOS app an extension of it.
_APP_ID_RE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+\Z")
_TEAM_RE = re.compile(r"^[A-Z0-9]{10}\Z")
_HEX_RE = re.compile(r"^[0-9a-f]+\Z")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")


class SignatureError(Exception):
    """Signature files that cannot be used. `problems` holds one line each."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Identifier:
    platform: str
    id: str
    edition: str
    confidence: str
    sources: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class AppName:
    """A name the app is shown under on a platform (its store or home-screen name, or a localized one), for
    inventories that give only a display name (Intune): compared after normalisation, exactly."""

    name: str
    platforms: tuple[str, ...]
    confidence: str
    sources: tuple[str, ...]
    language: str | None = None  # BCP 47: "en", "zh-Hans"
    note: str | None = None


def normalized_name(name: str) -> str:
    """How display names are compared: Unicode NFKC, case-folded, surrounding space removed and each run of
    white space one space. Never a substring: two names meet only when these are equal."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True)
class TeamId:
    id: str
    holder: str
    confidence: str
    sources: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class Certificate:
    algorithm: str
    digest: str
    confidence: str
    sources: tuple[str, ...]
    note: str | None = None
    of: str | None = None  # what was hashed: "signer-certificate" (schema 2; None: not said)


@dataclass(frozen=True)
class CatalogApp:
    id: str
    name: str
    maker: str  # schema 2: a maker id (Signatures.makers); schema 1: free text
    identifiers: tuple[Identifier, ...]
    features: tuple[str, ...] = ()
    notes: str | None = None
    app_store_id: str | None = None
    google_play: str | None = None
    team_ids: tuple[TeamId, ...] = ()  # schema 1 only: in schema 2 team ids belong to the maker
    certificates: tuple[Certificate, ...] = ()
    source: str = ""
    schema: int = SCHEMA
    names: tuple[AppName, ...] = ()  # schema 2: display names, for name-only inventories

    @property
    def maker_id(self) -> str | None:
        """The maker id this app belongs to; None for a schema-1 app, whose maker is only a name."""
        return self.maker if self.schema >= 2 else None


@dataclass(frozen=True)
class RelatedMaker:
    """A company tied to a maker that does not own it and that it does not own."""

    maker: str
    relation: str  # affiliate | former-parent | spun-off: what `maker` is to the maker that lists it
    sources: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class Maker:
    """A company that makes apps: who owns it (`parent`), who it is tied to, and its Apple team ids."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    country: str | None = None
    parent: str | None = None
    related: tuple[RelatedMaker, ...] = ()
    team_ids: tuple[TeamId, ...] = ()
    notes: str | None = None
    sources: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class PolicyEntry:
    key: str
    listed: str
    app: str | None  # the catalog app an app entry names; None for a maker entry
    relation: str
    severity: str
    note: str | None = None
    maker: str | None = None  # the maker a maker entry names; None for an app entry
    affiliates: bool = False  # maker entries: also the maker's related companies ("and any affiliate")


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    authority: str
    citation: str
    signed: date
    status: str
    url: str
    entries: tuple[PolicyEntry, ...]
    status_note: str | None = None
    status_date: date | None = None
    default: bool = False
    notes: str | None = None
    source: str = ""
    sha256: str = ""
    jurisdiction: str | None = None  # "us-fed", "us-tx"; required in schema 2, None in schema 1
    instrument: str | None = None
    effective: date | None = None
    binds: str | None = None
    names: tuple[str, ...] = ()
    confidence: str | None = None
    checked: date | None = None


@dataclass(frozen=True)
class Signatures:
    apps: dict[str, CatalogApp]
    policies: dict[str, Policy]
    files: tuple[SignatureFile, ...]
    makers: dict[str, Maker] = field(default_factory=dict)

    def select(self, ids: Iterable[str] | None = None) -> list[Policy]:
        """The policies a scan uses: the defaults, or those named by id, by jurisdiction (`us-tx`: every
        loaded policy of Texas) or `all`. A value that is both a policy id and a jurisdiction (a file of yours
        with id = "us-tx") chooses both: a policy of that name must not hide the jurisdiction's policies."""
        wanted = [i for i in (ids or ()) if i]
        if not wanted:
            chosen = [p for p in self.policies.values() if p.default]
            if not chosen:
                raise SignatureError(["--policy: no default policy is loaded; name one with --policy ID"])
            return chosen
        jurisdictions: dict[str, list[Policy]] = {}
        for p in self.policies.values():
            if p.jurisdiction:
                jurisdictions.setdefault(p.jurisdiction, []).append(p)
        unknown = [i for i in wanted if i != "all" and i not in self.policies and i not in jurisdictions]
        if unknown:
            # Every id fits a message only while there are few; past that, the list command names them.
            known = (", ".join(sorted(self.policies)) or "none") if len(self.policies) <= 12 else \
                f"{len(self.policies)} (scanner signatures list names them)"
            places = f"; jurisdictions: {', '.join(sorted(jurisdictions))}" if jurisdictions else ""
            import difflib

            def close(value: str) -> str:
                near = difflib.get_close_matches(value, [*self.policies, *jurisdictions], n=3, cutoff=0.75)
                return f" (did you mean {' or '.join(near)}?)" if near else ""

            raise SignatureError(
                [f"--policy: unknown policy {i!r}{close(i)}; loaded policies: {known}{places} (or 'all')"
                 for i in unknown]
            )
        if "all" in wanted:
            return list(self.policies.values())
        chosen = []
        for i in wanted:
            chosen += ([self.policies[i]] if i in self.policies else []) + jurisdictions.get(i, [])
        return list(dict.fromkeys(chosen))

    def subsidiaries(self, maker: str) -> list[str]:
        """`maker` and every loaded maker its parent chain reaches (they are owned by it), nearest first."""
        children: dict[str, list[str]] = {}
        for m in self.makers.values():
            if m.parent:
                children.setdefault(m.parent, []).append(m.id)
        found, seen = [maker], {maker}
        for here in found:  # breadth first; the loader refused loops (a set: a big tree stays linear)
            for c in children.get(here, ()):
                if c not in seen:
                    seen.add(c)
                    found.append(c)
        return found

    def related_to(self, maker: str) -> list[str]:
        """The makers tied to `maker` by a [[related]] table, whichever of the two lists it."""
        out = [r.maker for r in self.makers[maker].related] if maker in self.makers else []
        out += [m.id for m in self.makers.values() if any(r.maker == maker for r in m.related)]
        return [m for m in dict.fromkeys(out) if m != maker]

    def reach(self, maker: str, affiliates: bool = False) -> list[str]:
        """The makers a maker entry covers: the maker and its subsidiaries; with `affiliates`, also its
        related makers and their subsidiaries."""
        covered = self.subsidiaries(maker)
        if affiliates:
            for other in self.related_to(maker):
                covered += self.subsidiaries(other)
        return list(dict.fromkeys(covered))

    def apps_of(self, makers: Iterable[str]) -> list[CatalogApp]:
        """The catalog apps (schema 2: their maker is an id) made by any of `makers`, in catalog order."""
        wanted = set(makers)
        return [a for a in self.apps.values() if a.maker_id in wanted]

    def team_ids_of(self, app: CatalogApp) -> tuple[TeamId, ...]:
        """The Apple team ids that sign `app`: its own (schema 1) or its maker's (schema 2)."""
        maker = self.makers.get(app.maker_id) if app.maker_id else None
        return app.team_ids + (maker.team_ids if maker else ())


def bundled_dir() -> Path:
    """Where the bundled signatures are: inside the installed package, or at
    the top of a source checkout (editable installs)."""
    here = Path(__file__).resolve().parent
    installed = here / "_signatures"
    return installed if installed.is_dir() else here.parent / "signatures"


# --- field specifications -------------------------------------------------

# A spec maps key -> (checker, required). A checker returns the converted value
# or raises _Bad with what is wrong.


class _Bad(Exception):
    pass


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {_kind(value)}")
    if not value.strip():
        raise _Bad("must not be empty")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_kind(value)}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"expected an integer, got {_kind(value)}")
    return value


def _date(value: Any) -> date:
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise _Bad(f"expected a date like 2021-01-05 (unquoted), got {_kind(value)}")
    return value


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Bad(f"expected a list of strings, got {_kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _Bad(f"item {i}: expected a non-empty string, got {_kind(item)}")
    return tuple(value)


def _nonempty_list(value: Any) -> tuple[str, ...]:
    items = _str_list(value)
    if not items:
        raise _Bad("must list at least one source")
    return items


def _one_of(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Bad(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def _matching(regex: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _str(value)
        if not regex.match(text):
            raise _Bad(f"{value!r} is not {what}")
        return text

    return check


def _kind(value: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


_team_format = _matching(_TEAM_RE, "an Apple team id (10 upper-case letters or digits)")


def _team_id(value: Any) -> str:
    text = _team_format(value)
    if text == TROLLSTORE_TEAM_ID:
        raise _Bad(f"{text!r} is TrollStore's default team id: TrollStore signs every app it installs with it (its "
                   "CoreTrust bypass), so it says nothing about who made an app; never use it as a team id")
    return text


def _jurisdiction(value: Any) -> str:
    text = _str(value)
    if text != "us-fed" and not (text.startswith("us-") and text[3:] in US_POSTAL):
        raise _Bad(f"{text!r} is not a jurisdiction: \"us-fed\", or \"us-\" and a state's postal code in lower "
                   "case (us-tx)")
    return text


def _policy_confidence(value: Any) -> str:
    if value == "uncertain":
        raise _Bad("'uncertain' is not accepted: an instrument whose text could not be confirmed is not one to "
                   "audit against; expected verified or secondary")
    return _one_of(POLICY_CONFIDENCES)(value)


def _relation_1(value: Any) -> str:
    if value == "maker":
        raise _Bad('"maker" is new in schema 2 (an entry that names a maker); put schema = 2 at the top of the file')
    return _one_of(RELATIONS[:3])(value)


def _moved_to_maker(value: Any) -> Any:
    raise _Bad("in schema 2 team ids belong to the app's maker: move them to [[team_ids]] in its maker file "
               "(signatures/makers/<maker>.toml)")


_IDENTIFIER = {
    "platform": (_one_of(PLATFORMS), True),
    "id": (_matching(_APP_ID_RE, "a package name or bundle id (two or more labels: com.example.app)"), True),
    "edition": (_str, True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_NAME = {
    "name": (_str, True),
    "platforms": (None, True),
    "language": (_matching(re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z"), "a BCP 47 language tag (en, zh-Hans)"),
                 False),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_TEAM = {
    "id": (_team_id, True),
    "holder": (_str, True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_CERT_1 = {
    "algorithm": (_one_of(tuple(CERT_LENGTHS)), True),
    "digest": (_matching(_HEX_RE, "lower-case hex"), True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_CERT_2 = {**_CERT_1, "of": (_one_of(CERT_OF), False)}
_STORE = {
    "app_store_id": (_matching(re.compile(r"^[0-9]+\Z"), "an App Store id (digits)"), False),
    "google_play": (_matching(_APP_ID_RE, "a package name"), False),
}
_MAKER_ID = _matching(_ID_RE, "a maker id (lower-case letters, digits, '-')")
_ENTRY_1 = {
    "key": (_matching(_ID_RE, "a key (lower-case letters, digits, '-')"), True),
    "listed": (_str, True),
    "app": (_str, True),
    "relation": (_relation_1, True),
    "severity": (_one_of(SEVERITIES), True),
    "note": (_str, False),
}
_ENTRY_2 = {
    **_ENTRY_1,
    "app": (_str, False),
    "maker": (_MAKER_ID, False),
    "relation": (_one_of(RELATIONS), True),
    "affiliates": (_bool, False),
}
_COMMON = {
    "kind": (_one_of(KINDS), True),
    "schema": (_int, True),
    "id": (_matching(_ID_RE, "an id (lower-case letters, digits, '-')"), True),
}
_APP_1 = {
    **_COMMON,
    "name": (_str, True),
    "maker": (_str, True),
    "features": (_str_list, False),
    "notes": (_str, False),
    "store": (None, False),
    "team_ids": (None, False),
    "certificates": (None, False),
    "identifiers": (None, True),
}
_APP_2 = {**_APP_1, "maker": (_MAKER_ID, True), "team_ids": (_moved_to_maker, False), "names": (None, False)}
_POLICY_1 = {
    **_COMMON,
    "title": (_str, True),
    "authority": (_str, True),
    "citation": (_str, True),
    "signed": (_date, True),
    "status": (_one_of(POLICY_STATUSES), True),
    "status_note": (_str, False),
    "status_date": (_date, False),
    "url": (_matching(re.compile(r"^https?://\S+\Z"), "an http(s) URL"), True),
    "default": (_bool, False),
    "notes": (_str, False),
    "entries": (None, True),
}
_POLICY_2 = {
    **_POLICY_1,
    "jurisdiction": (_jurisdiction, True),
    "instrument": (_str, False),
    "effective": (_date, False),
    "binds": (_str, False),
    "names": (_str_list, False),
    "confidence": (_policy_confidence, False),
    "checked": (_date, False),
}
_MAKER = {
    **_COMMON,
    "name": (_str, True),
    "aliases": (_str_list, False),
    "country": (_matching(_COUNTRY_RE, "an ISO 3166-1 alpha-2 country code (two upper-case letters: CN)"), False),
    "parent": (_MAKER_ID, False),
    "notes": (_str, False),
    "sources": (_nonempty_list, True),
    "related": (None, False),
    "team_ids": (None, False),
}
_RELATED = {
    "maker": (_MAKER_ID, True),
    "relation": (_one_of(MAKER_RELATIONS), True),
    "note": (_str, False),
    "sources": (_nonempty_list, True),
}
# Keys a schema-1 file may not use, so that the problem says what to do rather than "unknown key".
_NEW_IN_2 = {key for spec2, spec1 in ((_APP_2, _APP_1), (_POLICY_2, _POLICY_1), (_ENTRY_2, _ENTRY_1),
                                      (_CERT_2, _CERT_1)) for key in spec2.keys() - spec1.keys()}


class _FileCheck:
    """Validates one parsed file and collects its problems."""

    def __init__(self, path: str, schema: int = SCHEMA):
        self.path = path
        self.schema = schema
        self.problems: list[str] = []

    def fail(self, key: str, what: str) -> None:
        self.problems.append(f"{self.path}: {key}: {what}")

    def table(self, data: Any, spec: dict, where: str) -> dict[str, Any]:
        """Check one table against its spec; return the converted values."""
        out: dict[str, Any] = {}
        if not isinstance(data, dict):
            self.fail(where or "(file)", f"expected a table, got {_kind(data)}")
            return out
        prefix = f"{where}." if where else ""
        for key in data:
            if key not in spec:
                if self.schema < 2 and key in _NEW_IN_2:
                    self.fail(f"{prefix}{key}", "new in schema 2; put schema = 2 at the top of the file")
                else:
                    allowed = ", ".join(spec)
                    self.fail(f"{prefix}{key}", f"unknown key (allowed here: {allowed})")
        for key, (check, required) in spec.items():
            if key not in data:
                if required:
                    self.fail(f"{prefix}{key}", "missing")
                continue
            if check is None:  # nested: the caller checks it
                out[key] = data[key]
                continue
            try:
                out[key] = check(data[key])
            except _Bad as bad:
                self.fail(f"{prefix}{key}", str(bad))
        return out

    def array(self, data: Any, spec: dict, where: str, *, required: bool) -> list[dict[str, Any]]:
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            self.fail(where, f"expected an array of tables ([[{where}]]), got {_kind(data)}")
            return []
        if required and not data:
            self.fail(where, "must hold at least one entry")
        rows = []
        for i, item in enumerate(data):
            before = len(self.problems)
            row = self.table(item, spec, f"{where}[{i}]")
            if len(self.problems) == before:
                rows.append(row)
        return rows


def _build_app(raw: dict, check: _FileCheck) -> CatalogApp | None:
    v2 = check.schema >= 2
    top = check.table(raw, _APP_2 if v2 else _APP_1, "")
    idents = check.array(raw.get("identifiers"), _IDENTIFIER, "identifiers", required=True)
    teams = [] if v2 else check.array(raw.get("team_ids"), _TEAM, "team_ids", required=False)
    certs = check.array(raw.get("certificates"), _CERT_2 if v2 else _CERT_1, "certificates", required=False)
    store = check.table(raw["store"], _STORE, "store") if "store" in raw else {}
    names = check.array(raw.get("names"), _NAME, "names", required=False) if v2 else []
    for i, entry in enumerate(names):
        platforms = entry["platforms"]
        if (not isinstance(platforms, list) or not platforms
                or not all(isinstance(p, str) and p in PLATFORMS for p in platforms)):
            check.fail(f"names[{i}].platforms", f"expected a non-empty list of {' or '.join(PLATFORMS)}")
        else:
            entry["platforms"] = tuple(dict.fromkeys(platforms))
        if not normalized_name(entry["name"]):
            check.fail(f"names[{i}].name", "is blank")
    for i, cert in enumerate(certs):
        want = CERT_LENGTHS[cert["algorithm"]]
        if len(cert["digest"]) != want:
            check.fail(f"certificates[{i}].digest", f"a {cert['algorithm']} digest has {want} hex digits, this has {len(cert['digest'])}")
    if check.problems:
        return None
    return CatalogApp(
        id=top["id"],
        name=top["name"],
        maker=top["maker"],
        identifiers=tuple(Identifier(**i) for i in idents),
        features=top.get("features", ()),
        notes=top.get("notes"),
        app_store_id=store.get("app_store_id"),
        google_play=store.get("google_play"),
        team_ids=tuple(TeamId(**t) for t in teams),
        certificates=tuple(Certificate(**c) for c in certs),
        source=check.path,
        schema=check.schema,
        names=tuple(AppName(**n) for n in names),
    )


def _build_maker(raw: dict, check: _FileCheck) -> Maker | None:
    top = check.table(raw, _MAKER, "")
    related = check.array(raw.get("related"), _RELATED, "related", required=False)
    teams = check.array(raw.get("team_ids"), _TEAM, "team_ids", required=False)
    seen: set[str] = set()
    for i, team in enumerate(teams):
        if team["id"] in seen:
            check.fail(f"team_ids[{i}].id", f"{team['id']!r} is listed twice in this maker")
        seen.add(team["id"])
    for i, tie in enumerate(related):
        if tie["maker"] == top.get("id"):
            check.fail(f"related[{i}].maker", "a maker is not related to itself")
    if top.get("parent") is not None and top.get("parent") == top.get("id"):
        check.fail("parent", "a maker cannot be its own parent")
    if check.problems:
        return None
    return Maker(
        id=top["id"],
        name=top["name"],
        aliases=top.get("aliases", ()),
        country=top.get("country"),
        parent=top.get("parent"),
        related=tuple(RelatedMaker(**r) for r in related),
        team_ids=tuple(TeamId(**t) for t in teams),
        notes=top.get("notes"),
        sources=top["sources"],
        source=check.path,
    )


def _build_policy(raw: dict, check: _FileCheck, digest: str) -> Policy | None:
    v2 = check.schema >= 2
    top = check.table(raw, _POLICY_2 if v2 else _POLICY_1, "")
    entries = check.array(raw.get("entries"), _ENTRY_2 if v2 else _ENTRY_1, "entries", required=True)
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry["key"] in seen:
            check.fail(f"entries[{i}].key", f"{entry['key']!r} is used twice in this policy")
        seen.add(entry["key"])
        if not v2:
            continue
        app, maker = entry.get("app"), entry.get("maker")
        if app is not None and maker is not None:
            check.fail(f"entries[{i}]", "names both an app and a maker; an entry names one of them")
        elif app is None and maker is None:
            check.fail(f"entries[{i}].app", "missing (an entry names a catalog app with app = \"...\", or a "
                                            "maker with maker = \"...\")")
        elif maker is not None and entry["relation"] != "maker":
            check.fail(f"entries[{i}].relation", f"an entry that names a maker has relation = \"maker\", "
                                                 f"not {entry['relation']!r}")
        elif app is not None and entry["relation"] == "maker":
            check.fail(f"entries[{i}].relation", "\"maker\" is for an entry that names a maker (maker = "
                                                 "\"...\"); this one names an app")
        if app is not None and "affiliates" in entry:
            check.fail(f"entries[{i}].affiliates", "only an entry that names a maker reaches its affiliates")
    if check.problems:
        return None
    return Policy(
        id=top["id"],
        title=top["title"],
        authority=top["authority"],
        citation=top["citation"],
        signed=top["signed"],
        status=top["status"],
        url=top["url"],
        entries=tuple(
            PolicyEntry(key=e["key"], listed=e["listed"], app=e.get("app"), relation=e["relation"],
                        severity=e["severity"], note=e.get("note"), maker=e.get("maker"),
                        affiliates=e.get("affiliates", False))
            for e in entries
        ),
        status_note=top.get("status_note"),
        status_date=top.get("status_date"),
        default=top.get("default", False),
        notes=top.get("notes"),
        source=check.path,
        sha256=digest,
        jurisdiction=top.get("jurisdiction"),
        instrument=top.get("instrument"),
        effective=top.get("effective"),
        binds=top.get("binds"),
        names=top.get("names", ()),
        confidence=top.get("confidence"),
        checked=top.get("checked"),
    )


def toml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.toml") if p.is_file())
    return [path]


def is_bundled(path: Path, bundled: Path) -> bool:
    """Whether `path` really is one of the bundled signature files: decided by
    where it resolves to (links followed), never by how its name reads, so a
    user's ./signatures/policies/x.toml is the user's file."""
    return path.resolve().is_relative_to(bundled.resolve())


def _display(path: Path, real: Path, bundled_real: Path) -> str:
    """`signatures/...` for a bundled file (`real`: where `path` resolves to; `bundled_real`: where the bundled
    folder does); the path as given for a user's file, with `./` in front when its text would pass for a
    bundled one."""
    if real.is_relative_to(bundled_real):
        return "signatures/" + real.relative_to(bundled_real).as_posix()
    text = str(path)
    return "./" + text if text.startswith("signatures/") else text


def _resolved(path: Path, folders: dict[Path, Path]) -> Path:
    """`path.resolve()`, each folder resolved once (`folders` remembers them): resolving costs a stat per part
    of the path, and the ~130 bundled files share a few folders. A file that is itself a link is resolved whole."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return path.resolve()
    except OSError:
        return path.resolve()
    parent = path.parent
    if parent not in folders:
        folders[parent] = parent.resolve()
    return folders[parent] / path.name


_KIND_WORDS = '"app", "policy" or "maker"'


def load_signatures(extra: Iterable[str | Path] = (), *, bundled: bool = True) -> Signatures:
    """The bundled signatures plus the user's files or folders in `extra`.

    Raises SignatureError listing every problem found, so nothing is scanned
    with signatures that were only half understood. The bundled files alone
    come from their compiled form (scanner.compiled_catalog) when it was made
    from exactly these files and this code; anything else is parsed.
    """
    return _load(extra, bundled=bundled)


def read_files(paths: Iterable[Path], base_real: Path) -> list[tuple[Path, Path, bool, bytes | OSError]]:
    """(path, where it resolves to, bundled?, its bytes or why they cannot be read) for each file, in order, each
    real file once (`validate signatures/` names the bundled files a second time)."""
    read: list[tuple[Path, Path, bool, bytes | OSError]] = []
    seen: set[Path] = set()
    folders: dict[Path, Path] = {}
    for path in paths:
        real = _resolved(path, folders)
        if real in seen:
            continue
        seen.add(real)
        try:
            data: bytes | OSError = path.read_bytes()
        except OSError as err:
            data = err
        read.append((path, real, real.is_relative_to(base_real), data))
    return read


def _compiled_bundle(base: Path, cache: bool) -> tuple[Signatures | None, bool]:
    """The compiled form of the bundled files when they are the ones it was made from, found without pathlib's
    work per file (most of what a load costs once nothing is parsed), and whether it was looked up: when it was
    not (a link or a special file in the folder), the usual load tries it; when it was and missed, nothing will
    match it, and the usual load parses."""
    from scanner import signature_cache

    if cache and signature_cache.cache_dir() is not None:  # the cache, turned on, keeps its own answers
        return None, False
    files = plain_bundle(str(base))
    if files is None:
        return None, False
    from scanner import compiled_catalog

    loaded = compiled_catalog.lookup(files)
    return (loaded if isinstance(loaded, Signatures) else None), True


def plain_bundle(root: str) -> list[tuple[str, str]] | None:
    """(name as reports give it, sha256) of each .toml file under the bundled folder `root`, in load order, as
    toml_files(), read_files() and _display() would give them; None when the folder holds anything but plain
    folders and files (a link, a special file), or cannot be read: for those, only that way decides."""
    found: list[tuple[tuple[str, ...], str]] = []
    folders: list[tuple[str, ...]] = [()]
    while folders:
        parts = folders.pop()
        try:
            with os.scandir(os.path.join(root, *parts)) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        return None
                    if entry.is_dir(follow_symlinks=False):
                        folders.append((*parts, entry.name))
                    elif not entry.is_file(follow_symlinks=False):
                        return None
                    elif entry.name.endswith(".toml"):
                        found.append(((*parts, entry.name), entry.path))
        except OSError:
            return None
    files = []
    for parts, path in sorted(found):  # toml_files() order: a path's parts compared one by one
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        files.append(("signatures/" + "/".join(parts), hashlib.sha256(data).hexdigest()))
    return files


def _load(extra: Iterable[str | Path], *, bundled: bool, compiled: bool = True, cache: bool = True) -> Signatures:
    """load_signatures; `compiled` and `cache` False: parse, whatever is kept (how the compiled form is made)."""
    base = bundled_dir()
    extra = tuple(extra)
    paths: list[Path] = []
    problems: list[str] = []
    if bundled:
        if not base.is_dir():
            raise SignatureError([f"{base}: the bundled signatures are missing; reinstall scanner"])
        if compiled and not extra:
            found, looked_up = _compiled_bundle(base, cache)
            if found is not None:
                return found
            compiled = not looked_up  # the same names and digests would miss again below
        paths += toml_files(base)
    for item in extra:
        p = Path(item)
        if not p.exists():
            problems.append(f"{p}: (file): no such file or folder")
            continue
        found = toml_files(p)
        if p.is_dir() and not found:
            problems.append(f"{p}: (folder): holds no .toml files")
        paths += found

    # Every file is read (and hashed) first: the compiled form of the bundled files (scanner.compiled_catalog)
    # and the cache (scanner.signature_cache, when SCANNER_CACHE=1 turns it on) are used only for files
    # byte-identical to those they were made from, and only when nothing so far is wrong.
    base_real = base.resolve()
    read = read_files(paths, base_real)
    digests = [hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else "" for *_, data in read]
    cached = None
    if not problems and all(isinstance(data, bytes) for *_, data in read):
        from scanner import signature_cache

        folder = signature_cache.cache_dir() if cache else None
        # The bundled files alone, and no cache asked for (which keeps its own answers for every load): the
        # compiled form, if it is of exactly these files (their names as shown, their sha256) and this code.
        if compiled and folder is None and read and all(bundled_file for _, _, bundled_file, _ in read):
            from scanner import compiled_catalog

            found = compiled_catalog.lookup(
                [(_display(path, real, base_real), digest) for (path, real, _, _), digest in zip(read, digests)])
            if found is not None:
                return found
        cache_name, key = signature_cache.cache_key(
            [(str(path), str(real), bundled_file, digest) for (path, real, bundled_file, _), digest in zip(read, digests)])
        found = signature_cache.read(folder, cache_name, key, Signatures)
        if found is not None:
            return found
        cached = (folder, cache_name, key)

    import tomllib  # only when the files are parsed: not on a cache hit

    apps: dict[str, CatalogApp] = {}
    policies: dict[str, Policy] = {}
    makers: dict[str, Maker] = {}
    files: list[SignatureFile] = []
    for (path, real, bundled_file, data), digest in zip(read, digests):
        name = _display(path, real, base_real)
        if isinstance(data, OSError):
            problems.append(f"{name}: (file): cannot be read: {data.strerror or data}")
            continue
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            problems.append(f"{name}: line {line}: not valid UTF-8")
            continue
        except tomllib.TOMLDecodeError as err:
            problems.append(f"{name}: (toml): {err}")
            continue
        except RecursionError:
            problems.append(f"{name}: (toml): nested too deeply to be a signature file")
            continue
        kind = raw.get("kind")
        schema = raw.get("schema")
        # A file of an unknown schema is checked as the newest, so its other problems are still listed.
        check = _FileCheck(name, schema if schema in SCHEMAS and not isinstance(schema, bool) else SCHEMA)
        if isinstance(schema, int) and not isinstance(schema, bool) and schema not in SCHEMAS:
            check.fail("schema", f"this scanner reads schema 1 or 2; this file is schema {schema}")
        if kind == "app":
            app = _build_app(raw, check)
            if app is not None:
                if app.id in apps:
                    check.fail("id", f"app {app.id!r} is already defined in {apps[app.id].source}")
                else:
                    apps[app.id] = app
        elif kind == "policy":
            if raw.get("default") is True and not bundled_file:
                check.fail("default", "only a bundled policy can be the default; pick yours with --policy ID")
            policy = _build_policy(raw, check, digest)
            if policy is not None:
                if policy.id in policies:
                    check.fail("id", f"policy {policy.id!r} is already defined in {policies[policy.id].source}")
                else:
                    policies[policy.id] = policy
        elif kind == "maker" and check.schema < 2:
            check.fail("kind", '"maker" is new in schema 2; put schema = 2 at the top of the file')
        elif kind == "maker":
            maker = _build_maker(raw, check)
            if maker is not None:
                if maker.id in makers:
                    check.fail("id", f"maker {maker.id!r} is already defined in {makers[maker.id].source}")
                else:
                    makers[maker.id] = maker
        elif "kind" not in raw:
            check.fail("kind", f"missing (expected {_KIND_WORDS}; is this a signature file?)")
        else:
            check.fail("kind", f"expected {_KIND_WORDS}, got {raw.get('kind')!r}")
        problems += check.problems
        if kind in KINDS:
            files.append(SignatureFile(path=name, sha256=digest, kind=kind))

    problems += _cross_check(apps, policies, makers)
    if problems:
        raise SignatureError(problems)
    loaded = Signatures(apps=apps, policies=policies, files=tuple(files), makers=makers)
    if cached is not None:
        signature_cache.write(*cached, loaded)
    return loaded


def _cross_check(apps: dict[str, CatalogApp], policies: dict[str, Policy], makers: dict[str, Maker]) -> list[str]:
    """What no single file can know: references, parent loops, and identifiers or team ids claimed twice."""
    problems = []
    owner: dict[tuple[str, str], str] = {}
    for app in apps.values():
        for i, ident in enumerate(app.identifiers):
            key = (ident.platform, ident.id.lower())
            if key in owner:
                where = "is already listed in this app" if owner[key] == app.id else f"already belongs to app {owner[key]!r}"
                problems.append(f"{app.source}: identifiers[{i}].id: {ident.platform} {ident.id!r} {where}")
            owner.setdefault(key, app.id)
        for i, shown in enumerate(app.names):
            for platform in shown.platforms:
                key = (f"name:{platform}", normalized_name(shown.name))
                if key in owner and owner[key] != app.id:
                    problems.append(f"{app.source}: names[{i}].name: {shown.name!r} on {platform} already belongs to "
                                    f"app {owner[key]!r}; a name must tell one app")
                owner.setdefault(key, app.id)
        if app.maker_id is not None and app.maker_id not in makers:
            problems.append(f"{app.source}: maker: no maker {app.maker_id!r} is loaded (add its maker file with "
                            "--signatures)")
    problems += _check_makers(makers)
    for policy in policies.values():
        for i, entry in enumerate(policy.entries):
            if entry.app is not None and entry.app not in apps:
                problems.append(
                    f"{policy.source}: entries[{i}].app: no catalog app {entry.app!r} is loaded"
                    " (add its catalog file with --signatures)"
                )
            if entry.maker is not None and entry.maker not in makers:
                problems.append(f"{policy.source}: entries[{i}].maker: no maker {entry.maker!r} is loaded"
                                " (add its maker file with --signatures)")
    return problems


def _check_makers(makers: dict[str, Maker]) -> list[str]:
    """Parents and related makers that are loaded, parent chains that end, team ids of one maker each."""
    problems = []
    teams: dict[str, str] = {}
    for maker in makers.values():
        if maker.parent is not None and maker.parent not in makers:
            problems.append(f"{maker.source}: parent: no maker {maker.parent!r} is loaded (add its maker file with "
                            "--signatures)")
        for i, tie in enumerate(maker.related):
            if tie.maker not in makers:
                problems.append(f"{maker.source}: related[{i}].maker: no maker {tie.maker!r} is loaded (add its "
                                "maker file with --signatures)")
        for i, team in enumerate(maker.team_ids):
            if team.id in teams:
                problems.append(f"{maker.source}: team_ids[{i}].id: {team.id!r} already belongs to maker "
                                f"{teams[team.id]!r} ({makers[teams[team.id]].source})")
            teams.setdefault(team.id, maker.id)
    # A loop of parents would make every maker in it own the others (and a subsidiary walk endless): report
    # each loop once, from its first maker in load order, naming every file in it.
    reported: set[str] = set()
    for maker in makers.values():
        chain = [maker.id]
        here = maker.parent
        while here in makers and here not in chain:
            chain.append(here)
            here = makers[here].parent
        if here is None or here not in chain:
            continue
        loop = chain[chain.index(here):]
        if reported & set(loop):
            continue
        reported |= set(loop)
        first = makers[loop[0]]
        files = "; ".join(f"{m}: {makers[m].source}" for m in loop)
        problems.append(f"{first.source}: parent: the parent chain {' -> '.join(loop + [loop[0]])} is a loop "
                        f"(a company cannot own itself); fix the parent in one of these files: {files}")
    return problems
