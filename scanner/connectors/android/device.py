"""Reading one phone: its props and users, then every user's apps, in at most three shell round trips.

Round trips (each is one `shell,v2:` stream through the adb server; a few
host requests such as `features` come on top, but are answered by the
server, not the phone):

1. identity: `getprop`, `pm list users`, and one probe per optional
   `pm list packages` flag (`-i`, `-U`, `--show-versioncode`) with a filter
   that matches nothing, so an old Android's "Unknown option" is learnt
   before the real listing rather than after it.
2. apps: for every user U, `pm list packages -f -u [-i] [-U]
   [--show-versioncode] --user U` (everything, with uninstalled-but-kept
   packages), `pm list packages --user U` (installed ones: a package only in
   the first is `uninstalled-data-kept`), `-d --user U` (disabled) and
   `-s -u --user U` (system packages; the flag, unlike the path, stays right
   for updated system apps).
3. only when a listing still rejected an option the probe accepted: the
   failed users' main listings again, without any optional flag.

Each command's exit status comes back in its own sentinel line (see
adb_script), so a refused work profile, a rejected flag and a cut answer
are told apart, and a short list can never pass for a complete one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adbutils import AdbDevice
from adbutils.errors import AdbError

from scanner.connectors.android.errors import explain_error
from scanner.connectors.android.parse import (
    Entry,
    User,
    parse_listing,
    parse_names,
    parse_props,
    parse_users,
    refusal,
    rejected_option,
)
from scanner.connectors.android.script import BadAnswer, Script, Section
from scanner.connectors.android.server import Client, ServerAddress
from scanner.connectors.grammars.pm import pm_evidence
from scanner.connectors.records import MAX_PROBLEMS, Problems, residue_of, snippet
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["OPTIONAL_FLAGS", "READ_ERRORS", "DeviceReader", "Identity"]

#: Optional `pm list packages` flags and the field each adds; an old Android may reject any of them.
OPTIONAL_FLAGS = {"-i": "installer", "-U": "uid", "--show-versioncode": "versionCode"}

#: Scope reason of a user whose listing had no package at all (never complete: see _InventoryBuilder.user).
EMPTY_LISTING = "the listing was empty"

#: Errors that mean the phone or the server stopped answering (adbutils raises EOFError, outside AdbError,
#: when a v2 shell stream is cut).
READ_ERRORS = (AdbError, EOFError, OSError, BadAnswer)


@dataclass
class Identity:
    """What the first round trip learns: who the phone is (its props), its users, and which optional flags its
    pm takes; with what of that could not be learnt."""

    props: dict[str, str]
    users: list[User]
    flags: list[str]  # optional flags this pm accepts
    problems: list[str] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)  # parts known not to be read (users unknown)
    issues: list[tuple[str, str]] = field(default_factory=list)  # (reason, message) making the device partial

    def serialno(self, transport: str) -> str:
        return self.props.get("ro.serialno", "").strip() or transport


class DeviceReader:
    """One phone's reading, bounded by the client's deadline."""

    def __init__(self, address: ServerAddress, transport: str, transport_id: int | None, *,
                 deadline: float | None, timeout: float, source: str, label: str | None = None) -> None:
        self.client = Client(address, deadline)
        self.transport = transport  # the transport serial adb lists
        self.label = label or transport  # what tells this phone apart from every other attached (clones)
        self.timeout = timeout
        self.source = source
        self.device = (AdbDevice(self.client, transport_id=transport_id) if transport_id
                       else AdbDevice(self.client, serial=transport))
        self._v2: bool | None = None
        self.identity: Identity | None = None

    # --- the wire -----------------------------------------------------------------------------------

    def run(self, script: Script) -> dict[str, Section]:
        """One shell round trip; the sections of its answer, or BadAnswer / an adb error."""
        if self._v2 is None:
            # Asked here rather than left to shell2, which logs a warning and falls back itself.
            self._v2 = "shell_v2" in self.device.get_features().split(",")
        result = self.device.shell2(script.command_line(), timeout=self.timeout, encoding=None, v2=self._v2)
        return script.split(result.stdout if self._v2 else result.output)

    def abort(self) -> None:
        self.client.abort()

    def read_props(self) -> dict[str, str]:
        """Only the props (one round trip), for `scanner devices`."""
        return parse_props(self.run(Script([("props", "getprop")]))["props"].lines)[0]

    # --- round trip 1: who the phone is ---------------------------------------------------------

    def read_identity(self) -> Identity:
        probe = f"scanner-probe-{Script([]).nonce}"  # a filter no package name contains
        script = Script(
            [("props", "getprop"), ("users", "pm list users")]
            + [(f"probe {flag}", f"pm list packages {flag} {probe}") for flag in OPTIONAL_FLAGS]
        )
        sections = self.run(script)
        props, prop_problems = parse_props(sections["props"].lines)
        identity = Identity(props=props, users=[], flags=[], problems=list(prop_problems))
        users_section = sections["users"]
        users, user_problems = parse_users(users_section.lines) if users_section.rc == 0 else ([], [])
        identity.problems += user_problems
        if users_section.rc != 0 or not users or user_problems:
            why = (f"pm list users failed ({snippet(users_section.text(), 100)})" if users_section.rc != 0
                   else f"{len(user_problems)} lines of pm list users were not understood" if user_problems
                   else "pm list users listed no user")
            identity.scopes.append(Scope("other users", read=False, reason=why))
            identity.issues.append(("users-unknown", (
                f"The phone's list of users could not be read ({why}), so apps of a work profile or another user "
                f"may be missing from this report; run again, and report this if it persists")))
        identity.users = users or [User(0, "")]
        if not any(u.id == 0 for u in identity.users):
            identity.users.insert(0, User(0, ""))
        for flag, what in OPTIONAL_FLAGS.items():
            probe_section = sections[f"probe {flag}"]
            answer = probe_section.text()
            if probe_section.rc == 0 and not answer:
                identity.flags.append(flag)
            else:
                identity.problems.append(_unavailable(what, flag, answer or f"exit status {probe_section.rc}"))
        self.identity = identity
        return identity

    # --- round trips 2 and 3 ------------------------------------------------------------------------

    def read_inventory(self, identity: Identity) -> Inventory:
        users = identity.users
        commands: list[tuple[str, str]] = []
        for user in users:
            commands += [
                (f"list {user.id}", _list_command(identity.flags, user.id)),
                (f"installed {user.id}", f"pm list packages --user {user.id}"),
                (f"disabled {user.id}", f"pm list packages -d --user {user.id}"),
                (f"system {user.id}", f"pm list packages -s -u --user {user.id}"),
            ]
        sections = self.run(Script(commands))
        builder = _InventoryBuilder(identity)
        retry: list[User] = []
        for user in users:
            main = sections[f"list {user.id}"]
            option = rejected_option(main.text()) if main.rc != 0 else None
            if option in OPTIONAL_FLAGS:
                note = _unavailable(OPTIONAL_FLAGS[option], option, main.text())
                if note not in identity.problems:
                    identity.problems.append(note)
                retry.append(user)
                continue
            builder.user(user, main, sections)
        if retry:
            try:
                again = self.run(Script([(f"list {u.id}", _list_command([], u.id)) for u in retry]))
            except READ_ERRORS as err:
                reason, message = explain_error(err, timeout=self.timeout, server=str(self.client.address),
                                                timed_out=self.client.aborted)
                for user in retry:
                    builder.scopes.append(Scope(user.label, read=False, reason=reason))
                builder.issues.append((reason, message))
            else:
                for user in retry:
                    builder.user(user, again[f"list {user.id}"], sections)
        return builder.inventory(self.device_info(), self.transport)

    def device_info(self) -> DeviceInfo:
        props = self.identity.props if self.identity else {}
        return DeviceInfo(
            platform="android",
            serial=self.identity.serialno(self.transport) if self.identity else self.transport,
            model=props.get("ro.product.model") or None,
            os_version=props.get("ro.build.version.release") or None,
            name=props.get("persist.sys.device_name") or None,
            source=self.source,
            transport=self.label,
        )


def _list_command(flags: list[str], user: int) -> str:
    optional = "".join(f" {f}" for f in OPTIONAL_FLAGS if f in flags)
    return f"pm list packages -f{optional} -u --user {user}"


def _unavailable(what: str, flag: str, answer: str) -> str:
    return (f"{what} not available: this Android's pm does not take {flag} ({snippet(answer, 80)}); "
            f"the apps were listed without it")


class _InventoryBuilder:
    """Apps, scopes and problems of one device, gathered user by user."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.apps: list[App] = []
        self.scopes: list[Scope] = list(identity.scopes)
        self.issues: list[tuple[str, str]] = list(identity.issues)
        self.problems: list[str] = identity.problems  # shared: the identity's notes come first
        self._bad: list[str] = []  # lines not understood in the current user's names-only listings
        self.evidence = Problems()  # the id-like words of every line not understood, for the matcher

    def user(self, user: User, main: Section, sections: dict[str, Section]) -> None:
        if main.rc != 0:
            text = main.text() or f"exit status {main.rc}"
            refused = refusal(text)
            if refused:
                self.scopes.append(Scope(user.label, read=False, reason="refused"))
                self.problems.append(f"{user.label}: refused: {snippet(refused, 200)}")
                self.issues.append(("user-refused", (
                    f"User {user.id}{f' ({user.name})' if user.name else ''} could not be read: {refused[:200]}; "
                    f"{_whose(user)} apps are not in this report (the phone or its admin refuses adb access to "
                    f"it: check it from the MDM console or on the phone)")))
            else:
                self.scopes.append(Scope(user.label, read=False, reason=f"error: {snippet(text, 80)}"))
                self.issues.append(("error", (
                    f"Listing the apps of {user.label} failed ({snippet(text, 100)}); they are not in this report: "
                    f"run again, and report this if it persists")))
            return
        listing = parse_listing(main.lines, f"{user.label}: pm list packages")
        self._search(listing.evidence)
        extra = {kind: self._names(user, sections[f"{kind} {user.id}"], kind) for kind in ("installed", "disabled", "system")}
        installed, disabled, system = extra["installed"], extra["disabled"], extra["system"]
        if installed is not None:
            for pkg in sorted(installed - listing.entries.keys()):
                # Installed between the two listings (or a pm that hides it from -u): keep it, say so.
                listing.entries[pkg] = Entry(None, None, None, None)
                self.problems.append(f"{user.label}: {pkg} appeared only in the second listing")
        bad = listing.problems + self._bad
        self._bad = []
        for pkg, e in listing.entries.items():
            if installed is not None and pkg not in installed:
                state = "uninstalled-data-kept"
            elif disabled is not None and pkg in disabled:
                state = "disabled"
            else:
                state = "installed"
            self.apps.append(App(
                "android", pkg, None, None, e.code, e.installer, user.id, state,
                None if system is None else pkg in system, e.path, None, None, e.uid,
            ))
        if listing.entries or bad:
            self.scopes.append(Scope(user.label, read=True, apps=len(listing.entries)))
        else:
            # Every real user has at least the system packages: an empty listing is a profile not really read
            # (switched off, being set up, or a pm that answered for nobody), never a user with no apps.
            self.scopes.append(Scope(user.label, read=False, reason=EMPTY_LISTING, apps=0))
            self.issues.append(("user-empty", (
                f"The app list of {user.label} came back empty, which a real user's never is (every user has the "
                f"system apps): {_whose(user)} apps may be missing from this report; unlock the phone (and turn a "
                f"paused work profile on), then run again")))
        if bad:
            self.problems.extend(bad)
            self.scopes.append(Scope(user.label, read=False, reason=f"{len(bad)} lines not understood"))
            self.issues.append(("bad-lines", (
                f"{len(bad)} lines of the app list of {user.label} were not understood ({bad[0]}); the apps on "
                f"them were not checked: run again, and report this if it persists")))

    def _search(self, lines: list[bytes]) -> None:
        """Keep the id-like words of lines not understood, read as the file reader reads them (pm_evidence)."""
        for raw in lines:
            self.evidence.search(pm_evidence(raw))

    def _names(self, user: User, section: Section, kind: str) -> set[str] | None:
        """A names-only listing, or None (noted) when pm did not give it: the state it tells stays unknown."""
        if section.rc != 0:
            self.problems.append(
                f"{user.label}: {kind} packages unknown: {section.command!r} failed ({snippet(section.text(), 80)})")
            return None
        names, problems, evidence = parse_names(section.lines, f"{user.label}: {section.command}")
        self._bad += problems
        self._search(evidence)
        return names

    def inventory(self, device: DeviceInfo, transport: str) -> Inventory:
        empty = not self.apps and all(s.read or s.reason == EMPTY_LISTING for s in self.scopes)
        if empty:
            self.issues = [issue for issue in self.issues if issue[0] != "user-empty"]  # said once, for the phone
            self.scopes.append(Scope("apps", read=False, reason="no apps listed"))
            self.issues.insert(0, ("empty", (
                "The phone listed no apps at all, which a working phone never does: reconnect it and run again")))
        complete = all(s.read for s in self.scopes)
        read_any = not empty and any(s.read for s in self.scopes)
        reason, message = (None, None)
        if not complete:
            reason, message = self.issues[0] if self.issues else ("error", "Part of the phone could not be read")
            if len(self.issues) > 1:
                message += f" (and {len(self.issues) - 1} more: see coverage)"
        return Inventory(
            device=device,
            apps=tuple(self.apps),
            coverage=tuple(self.scopes),
            status="complete" if complete else ("partial" if read_any else "failed"),
            reason=reason,
            message=message,
            problems=tuple(self.problems[:MAX_PROBLEMS]),
            problem_count=len(self.problems),
            residue=residue_of(self.evidence),
        )


def _whose(user: User) -> str:
    name = user.name.lower()
    if "work" in name:
        return "the work profile's"
    if "secure" in name:
        return "the Secure Folder's"
    return f"{user.label}'s"
