"""Load and validate the signature catalog and policies (TOML) into objects.

Signature files are configuration an admin may have written by hand, so the
loader is strict: wrong types and unknown keys are errors, every problem is
reported as `file: key: what is wrong`, and all problems of all files are
collected before giving up, so one run shows everything to fix.
The format is documented in docs/signatures.md.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from scanner.model import CONFIDENCES, PLATFORMS, RELATIONS, SEVERITIES, SignatureFile

SCHEMA = 1
POLICY_STATUSES = ("in-force", "revoked", "superseded", "proposed", "expired", "internal")
CERT_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}

# \Z, not $: "$" also matches before a final newline.
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")
# Two or more dot-separated labels: a one-label id ("com") would make every
# "com.*" iOS app an extension of it.
_APP_ID_RE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+\Z")
_TEAM_RE = re.compile(r"^[A-Z0-9]{10}\Z")
_HEX_RE = re.compile(r"^[0-9a-f]+\Z")


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


@dataclass(frozen=True)
class CatalogApp:
    id: str
    name: str
    maker: str
    identifiers: tuple[Identifier, ...]
    features: tuple[str, ...] = ()
    notes: str | None = None
    app_store_id: str | None = None
    google_play: str | None = None
    team_ids: tuple[TeamId, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class PolicyEntry:
    key: str
    listed: str
    app: str
    relation: str
    severity: str
    note: str | None = None


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


@dataclass(frozen=True)
class Signatures:
    apps: dict[str, CatalogApp]
    policies: dict[str, Policy]
    files: tuple[SignatureFile, ...]

    def select(self, ids: Iterable[str] | None = None) -> list[Policy]:
        """The policies a scan uses: the defaults, the ones named, or `all`."""
        wanted = [i for i in (ids or ()) if i]
        if not wanted:
            chosen = [p for p in self.policies.values() if p.default]
            if not chosen:
                raise SignatureError(["--policy: no default policy is loaded; name one with --policy ID"])
            return chosen
        unknown = [i for i in wanted if i != "all" and i not in self.policies]
        if unknown:
            known = ", ".join(sorted(self.policies)) or "none"
            raise SignatureError(
                [f"--policy: unknown policy {i!r}; loaded policies: {known} (or 'all')" for i in unknown]
            )
        if "all" in wanted:
            return list(self.policies.values())
        return [self.policies[i] for i in dict.fromkeys(wanted)]


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


_IDENTIFIER = {
    "platform": (_one_of(PLATFORMS), True),
    "id": (_matching(_APP_ID_RE, "a package name or bundle id (two or more labels: com.example.app)"), True),
    "edition": (_str, True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_TEAM = {
    "id": (_matching(_TEAM_RE, "an Apple team id (10 upper-case letters or digits)"), True),
    "holder": (_str, True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_CERT = {
    "algorithm": (_one_of(tuple(CERT_LENGTHS)), True),
    "digest": (_matching(_HEX_RE, "lower-case hex"), True),
    "confidence": (_one_of(CONFIDENCES), True),
    "sources": (_nonempty_list, True),
    "note": (_str, False),
}
_STORE = {
    "app_store_id": (_matching(re.compile(r"^[0-9]+\Z"), "an App Store id (digits)"), False),
    "google_play": (_matching(_APP_ID_RE, "a package name"), False),
}
_ENTRY = {
    "key": (_matching(_ID_RE, "a key (lower-case letters, digits, '-')"), True),
    "listed": (_str, True),
    "app": (_str, True),
    "relation": (_one_of(RELATIONS), True),
    "severity": (_one_of(SEVERITIES), True),
    "note": (_str, False),
}
_COMMON = {
    "kind": (_one_of(("app", "policy")), True),
    "schema": (_int, True),
    "id": (_matching(_ID_RE, "an id (lower-case letters, digits, '-')"), True),
}
_APP = {
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
_POLICY = {
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


class _FileCheck:
    """Validates one parsed file and collects its problems."""

    def __init__(self, path: str):
        self.path = path
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
    top = check.table(raw, _APP, "")
    idents = check.array(raw.get("identifiers"), _IDENTIFIER, "identifiers", required=True)
    teams = check.array(raw.get("team_ids"), _TEAM, "team_ids", required=False)
    certs = check.array(raw.get("certificates"), _CERT, "certificates", required=False)
    store = check.table(raw["store"], _STORE, "store") if "store" in raw else {}
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
    )


def _build_policy(raw: dict, check: _FileCheck, digest: str) -> Policy | None:
    top = check.table(raw, _POLICY, "")
    entries = check.array(raw.get("entries"), _ENTRY, "entries", required=True)
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry["key"] in seen:
            check.fail(f"entries[{i}].key", f"{entry['key']!r} is used twice in this policy")
        seen.add(entry["key"])
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
        entries=tuple(PolicyEntry(**e) for e in entries),
        status_note=top.get("status_note"),
        status_date=top.get("status_date"),
        default=top.get("default", False),
        notes=top.get("notes"),
        source=check.path,
        sha256=digest,
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


def _display(path: Path, bundled: Path) -> str:
    """`signatures/...` for a bundled file; the path as given for a user's file,
    with `./` in front when its text would pass for a bundled one."""
    if is_bundled(path, bundled):
        return "signatures/" + path.resolve().relative_to(bundled.resolve()).as_posix()
    text = str(path)
    return "./" + text if text.startswith("signatures/") else text


def load_signatures(extra: Iterable[str | Path] = (), *, bundled: bool = True) -> Signatures:
    """The bundled signatures plus the user's files or folders in `extra`.

    Raises SignatureError listing every problem found, so nothing is scanned
    with signatures that were only half understood.
    """
    base = bundled_dir()
    paths: list[Path] = []
    problems: list[str] = []
    if bundled:
        if not base.is_dir():
            raise SignatureError([f"{base}: the bundled signatures are missing; reinstall scanner"])
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

    apps: dict[str, CatalogApp] = {}
    policies: dict[str, Policy] = {}
    files: list[SignatureFile] = []
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:  # the same file named twice (`validate signatures/`) loads once
            continue
        seen.add(path.resolve())
        name = _display(path, base)
        bundled_file = is_bundled(path, base)
        try:
            data = path.read_bytes()
        except OSError as err:
            problems.append(f"{name}: (file): cannot be read: {err.strerror or err}")
            continue
        digest = hashlib.sha256(data).hexdigest()
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
        check = _FileCheck(name)
        kind = raw.get("kind")
        if raw.get("schema", SCHEMA) != SCHEMA and isinstance(raw.get("schema"), int):
            check.fail("schema", f"this scanner reads schema {SCHEMA}; this file is schema {raw['schema']}")
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
        elif "kind" not in raw:
            check.fail("kind", 'missing (expected "app" or "policy"; is this a signature file?)')
        else:
            check.fail("kind", f"expected \"app\" or \"policy\", got {raw.get('kind')!r}")
        problems += check.problems
        if kind in ("app", "policy"):
            files.append(SignatureFile(path=name, sha256=digest, kind=kind))

    problems += _cross_check(apps, policies)
    if problems:
        raise SignatureError(problems)
    return Signatures(apps=apps, policies=policies, files=tuple(files))


def _cross_check(apps: dict[str, CatalogApp], policies: dict[str, Policy]) -> list[str]:
    """What no single file can know: references and identifiers claimed twice."""
    problems = []
    owner: dict[tuple[str, str], str] = {}
    for app in apps.values():
        for i, ident in enumerate(app.identifiers):
            key = (ident.platform, ident.id.lower())
            if key in owner:
                where = "is already listed in this app" if owner[key] == app.id else f"already belongs to app {owner[key]!r}"
                problems.append(f"{app.source}: identifiers[{i}].id: {ident.platform} {ident.id!r} {where}")
            owner.setdefault(key, app.id)
    for policy in policies.values():
        for i, entry in enumerate(policy.entries):
            if entry.app not in apps:
                problems.append(
                    f"{policy.source}: entries[{i}].app: no catalog app {entry.app!r} is loaded"
                    " (add its catalog file with --signatures)"
                )
    return problems
