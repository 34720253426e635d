"""Profiles: the devices an emulated fleet holds, one TOML format for both platforms.

A profile is data only. The simulators turn it into wire traffic; the tests
and benchmarks build profiles in code with the same dataclasses.

    schema = 1

    [[device]]
    platform = "android"            # or "ios"
    serial = "SIMA0001"             # Android: ro.serialno and transport serial; iOS: UDID
    model = "Pixel 7"

    [device.faults]
    reject_flags = ["-U"]           # an old Android

    [[device.user]]                 # Android; user 0 (Owner) is always there
    id = 10
    name = "Work profile"
    refused = true

    [[device.app]]
    id = "com.intsig.camscanner"
    name = "CamScanner"
    users = [0, 10]
    pm_uninstall = "device-admin"   # Android: how `pm uninstall` refuses it (removal knobs, below)

The keys are documented on the dataclasses below. Unknown keys are errors, as
in signature files, so that a typo never silently makes a device clean.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "AppProfile",
    "DeviceProfile",
    "Faults",
    "Profile",
    "ProfileError",
    "UserProfile",
    "default_profile_path",
    "filler_apps",
    "load_profile",
    "parse_profile",
]

ANDROID_STATES = ("installed", "disabled", "uninstalled-data-kept")
# Android removal knobs (`scanner remove`): how `pm uninstall` answers for one app (AppProfile.pm_uninstall).
#   device-admin    an active device administrator: Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]
#   internal-error  Failure [DELETE_FAILED_INTERNAL_ERROR] (what pm says for most refusals it does not name)
#   drop            the phone removes the app, then the connection drops before it answers
#   stays           the phone answers Success but the app stays (a ROM that puts its own apps back)
PM_UNINSTALL = ("device-admin", "internal-error", "drop", "stays")
IOS_STATES = ("installed", "offloaded")
IOS_TYPES = ("User", "System", "Hidden")
PAIRING = ("paired", "not-paired", "pending", "denied", "stale")
REJECTABLE_FLAGS = ("-U", "-i", "--show-versioncode")
MAX_DELAY = 3600.0  # seconds: the longest --timeout; a longer delay only hangs the client


class ProfileError(Exception):
    """A profile that cannot be used; `problems` lists every `where: what` at once."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AppProfile:
    """One app on an emulated device.

    Android: `build` is the versionCode, `users` the users that have it, `path`
    the base.apk (made up when absent), `uid` the app uid (10000 + index when
    absent), `state` installed | disabled | uninstalled-data-kept.
    iOS: `build` is CFBundleVersion, `type` the ApplicationType (User, System,
    Hidden; System when `system`, else User), `state` installed | offloaded
    (offloaded apps appear only to a Lookup with ShowPlaceholders), `removable` false for an app an MDM
    installed as non-removable (installation_proxy's Uninstall then fails).
    """

    id: str
    name: str | None = None
    version: str | None = None
    build: str | None = None
    users: tuple[int, ...] = (0,)
    installer: str | None = None
    uid: int | None = None
    system: bool = False
    state: str = "installed"
    path: str | None = None
    type: str | None = None
    team_id: str | None = None
    signer: str | None = None
    # iOS removal
    removable: bool = True  # false: installed by an MDM as non-removable (iOS 14+), Uninstall answers APIInternalError
    # Android removal knob: one of PM_UNINSTALL, None for the ordinary answers (Success, not installed for N,
    # and the system-app refusal without --user).
    pm_uninstall: str | None = None

    @property
    def app_type(self) -> str:
        return self.type or ("System" if self.system else "User")


@dataclass(frozen=True)
class UserProfile:
    """An Android user: 0 is the owner, 10 a work profile, 150 a Secure Folder."""

    id: int
    name: str = "Owner"
    refused: bool = False  # `pm list packages --user N` answers with the real SecurityException


@dataclass(frozen=True)
class Faults:
    """What goes wrong with a device. Android and iOS keys are kept apart by validation."""

    delay: float = 0.0  # both: seconds added before every answer (a slow device)
    # Android
    unauthorized: bool = False  # AUTH is never accepted
    offline: bool = False  # the device never completes the handshake
    reject_flags: tuple[str, ...] = ()  # an old Android: pm rejects these options
    drop_after_bytes: int = 0  # cut the connection after N bytes of a `pm list packages` answer
    crlf: bool = False  # pre-Android-7 PTY output: lines end in CRLF
    # iOS
    pairing: str = "paired"  # paired | not-paired | pending (Trust dialog up) | denied | stale (InvalidHostID)
    locked: bool = False  # a passcode is set and the device is locked
    drop_after_apps: int = 0  # drop the connection after N apps of a Lookup/Browse
    no_complete: bool = False  # never send `Status: Complete`
    # iOS removal (installation_proxy Uninstall)
    uninstall_prohibited: bool = False  # a configuration profile forbids removing apps: UninstallProhibited
    uninstall_drop: bool = False  # the connection closes after the first status (the app is removed all the same)
    uninstall_garbage: bool = False  # the answer to Uninstall is not a dictionary, and nothing follows
    uninstall_stall: bool = False  # the first status comes, then nothing, the connection open (removed all the same)


ANDROID_FAULTS = {"delay", "unauthorized", "offline", "reject_flags", "drop_after_bytes", "crlf"}
IOS_FAULTS = {"delay", "pairing", "locked", "drop_after_apps", "no_complete",
              "uninstall_prohibited", "uninstall_drop", "uninstall_garbage", "uninstall_stall"}


@dataclass(frozen=True)
class DeviceProfile:
    """One emulated device and what it holds."""

    platform: str  # "android" | "ios"
    serial: str  # Android: ro.serialno; iOS: UDID
    name: str | None = None  # iOS DeviceName ("Ana's iPhone"); Android: a label only
    model: str | None = None  # Android ro.product.model; iOS: marketing name, for people
    manufacturer: str | None = None  # Android ro.product.manufacturer
    os_version: str | None = None  # ro.build.version.release / ProductVersion
    sdk: int | None = None  # Android ro.build.version.sdk
    product: str | None = None  # Android ro.product.name and ro.product.device
    fingerprint: str | None = None  # Android ro.build.fingerprint (made up when absent)
    product_type: str | None = None  # iOS ProductType ("iPhone15,2")
    hardware_serial: str | None = None  # iOS SerialNumber
    build_version: str | None = None  # iOS BuildVersion ("21A329")
    props: tuple[tuple[str, str], ...] = ()  # extra Android getprop values
    users: tuple[UserProfile, ...] = (UserProfile(0),)
    apps: tuple[AppProfile, ...] = ()
    faults: Faults = field(default_factory=Faults)

    def apps_for_user(self, user: int) -> tuple[AppProfile, ...]:
        return tuple(a for a in self.apps if user in a.users)


@dataclass(frozen=True)
class Profile:
    devices: tuple[DeviceProfile, ...]
    source: str = "<code>"

    @property
    def android(self) -> tuple[DeviceProfile, ...]:
        return tuple(d for d in self.devices if d.platform == "android")

    @property
    def ios(self) -> tuple[DeviceProfile, ...]:
        return tuple(d for d in self.devices if d.platform == "ios")


def default_profile_path() -> Path:
    """The bundled fleet `scanner demo` and `scanner simulate` use."""
    return Path(str(resources.files("scanner.simulator") / "profiles" / "default.toml"))


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProfileError([f"{path}: cannot be read: {err.strerror or err}"]) from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ProfileError([f"{path}: not valid TOML: {err}"]) from err
    return parse_profile(data, str(path))


def _names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def _check_type(value: Any, kind: type | tuple, where: str, problems: list[str]) -> bool:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    if isinstance(value, bool) and kind in (int, float):
        problems.append(f"{where}: expected a number, got {value!r}")
        return False
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        problems.append(f"{where}: expected {name}, got {type(value).__name__}")
        return False
    return True


_APP_TYPES: dict[str, Any] = {
    "id": str, "name": str, "version": str, "build": str, "installer": str, "uid": int,
    "system": bool, "state": str, "path": str, "type": str, "team_id": str, "signer": str, "users": list,
    "removable": bool,
    "pm_uninstall": str,
}
_DEVICE_TYPES: dict[str, Any] = {
    "platform": str, "serial": str, "name": str, "model": str, "manufacturer": str, "os_version": str,
    "sdk": int, "product": str, "fingerprint": str, "product_type": str, "hardware_serial": str,
    "build_version": str, "props": dict, "user": list, "app": list, "faults": dict,
}
_FAULT_TYPES: dict[str, Any] = {
    "delay": float, "unauthorized": bool, "offline": bool, "reject_flags": list, "drop_after_bytes": int,
    "crlf": bool, "pairing": str, "locked": bool, "drop_after_apps": int, "no_complete": bool,
    "uninstall_prohibited": bool, "uninstall_drop": bool, "uninstall_garbage": bool, "uninstall_stall": bool,
}


def _table(raw: Any, types: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return {}
    out = {}
    for key, value in raw.items():
        if key not in types:
            problems.append(f"{where}: unknown key {key!r}")
        elif _check_type(value, types[key], f"{where}.{key}", problems):
            out[key] = value
    return out


def _app(raw: Any, platform: str, where: str, problems: list[str]) -> AppProfile | None:
    values = _table(raw, _APP_TYPES, where, problems)
    if "id" not in values:
        problems.append(f"{where}: missing key 'id'")
        return None
    if "users" in values:
        users = values["users"]
        if platform != "android":
            problems.append(f"{where}.users: only Android apps belong to users")
        if not users or not all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in users):
            problems.append(f"{where}.users: expected a non-empty list of user ids")
        values["users"] = tuple(u for u in users if isinstance(u, int))
    states = ANDROID_STATES if platform == "android" else IOS_STATES
    if values.get("state", "installed") not in states:
        problems.append(f"{where}.state: {values['state']!r} is not one of {', '.join(states)}")
    if "type" in values and (platform != "ios" or values["type"] not in IOS_TYPES):
        problems.append(f"{where}.type: an iOS ApplicationType, one of {', '.join(IOS_TYPES)}")
    for key in ("team_id", "signer", "removable"):
        if key in values and platform != "ios":
            problems.append(f"{where}.{key}: iOS only")
    if "pm_uninstall" in values and (platform != "android" or values["pm_uninstall"] not in PM_UNINSTALL):
        problems.append(f"{where}.pm_uninstall: Android only, one of {', '.join(PM_UNINSTALL)}")
    for key in ("installer", "uid", "path"):
        if key in values and platform != "android":
            problems.append(f"{where}.{key}: Android only")
    return AppProfile(**values)


def _faults(raw: Any, platform: str, where: str, problems: list[str]) -> Faults:
    values = _table(raw, _FAULT_TYPES, where, problems)
    allowed = ANDROID_FAULTS if platform == "android" else IOS_FAULTS
    for key in list(values):
        if key not in allowed:
            problems.append(f"{where}.{key}: not a fault of {platform} devices")
            del values[key]
    if "reject_flags" in values:
        flags = values["reject_flags"]
        bad = [f for f in flags if f not in REJECTABLE_FLAGS]
        if bad:
            problems.append(f"{where}.reject_flags: {bad!r}; allowed are {', '.join(REJECTABLE_FLAGS)}")
        values["reject_flags"] = tuple(f for f in flags if f in REJECTABLE_FLAGS)
    if values.get("pairing", "paired") not in PAIRING:
        problems.append(f"{where}.pairing: one of {', '.join(PAIRING)}")
    for key in ("delay", "drop_after_bytes", "drop_after_apps"):
        if values.get(key, 0) < 0:
            problems.append(f"{where}.{key}: must not be negative")
    delay = values.get("delay", 0.0)
    # TOML allows nan and inf: nan passes every comparison, inf overflows a wait.
    if delay > MAX_DELAY or not math.isfinite(delay):
        problems.append(f"{where}.delay: {delay!r} is not a number of seconds from 0 to {MAX_DELAY:g}")
        values.pop("delay")
    return Faults(**values)


def _device(raw: Any, where: str, problems: list[str]) -> DeviceProfile | None:
    values = _table(raw, _DEVICE_TYPES, where, problems)
    platform = values.get("platform")
    if platform not in ("android", "ios"):
        problems.append(f"{where}.platform: 'android' or 'ios' is required")
        return None
    if not values.get("serial"):
        problems.append(f"{where}: missing key 'serial'")
        return None
    serial = values["serial"]
    if not all(c.isalnum() or c in "-_." for c in serial) or len(serial) > 64:
        problems.append(f"{where}.serial: letters, digits, '-', '_' and '.' only (at most 64)")
    android_only = {"manufacturer", "sdk", "product", "fingerprint", "props", "user"}
    ios_only = {"product_type", "hardware_serial", "build_version"}
    for key in android_only if platform == "ios" else ios_only:
        if key in values:
            problems.append(f"{where}.{key}: not a key of {platform} devices")
    apps = tuple(
        app
        for i, raw_app in enumerate(values.pop("app", []))
        if (app := _app(raw_app, platform, f"{where}.app[{i}]", problems)) is not None
    )
    users = [UserProfile(0)]
    for i, raw_user in enumerate(values.pop("user", [])):
        uw = f"{where}.user[{i}]"
        u = _table(raw_user, {"id": int, "name": str, "refused": bool}, uw, problems)
        if "id" not in u:
            problems.append(f"{uw}: missing key 'id'")
            continue
        if u["id"] == 0:
            users[0] = UserProfile(**u)
        elif any(x.id == u["id"] for x in users):
            problems.append(f"{uw}.id: user {u['id']} is given twice")
        else:
            users.append(UserProfile(**u))
    known = {u.id for u in users}
    for app in apps:
        for u in app.users:
            if platform == "android" and u not in known:
                problems.append(f"{where}: app {app.id!r} is in user {u}, which is not a [[device.user]]")
    props = values.pop("props", {})
    if not all(isinstance(v, str) for v in props.values()):
        problems.append(f"{where}.props: values must be strings")
    faults = _faults(values.pop("faults", {}), platform, f"{where}.faults", problems)
    return DeviceProfile(
        **values,
        props=tuple((k, str(v)) for k, v in props.items()),
        users=tuple(users),
        apps=apps,
        faults=faults,
    )


def parse_profile(data: dict[str, Any], source: str = "<profile>") -> Profile:
    problems: list[str] = []
    if data.get("schema", 1) != 1:
        problems.append(f"{source}: schema {data.get('schema')!r} is not supported (1 is)")
    for key in data:
        if key not in ("schema", "device"):
            problems.append(f"{source}: unknown key {key!r}")
    raw_devices = data.get("device", [])
    if not isinstance(raw_devices, list) or not raw_devices:
        problems.append(f"{source}: no [[device]] tables")
        raw_devices = []
    devices = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_devices):
        device = _device(raw, f"{source}: device[{i}]", problems)
        if device is None:
            continue
        if device.serial in seen:
            problems.append(f"{source}: device[{i}].serial: {device.serial!r} is given twice")
        seen.add(device.serial)
        devices.append(device)
    if problems:
        raise ProfileError(problems)
    return Profile(devices=tuple(devices), source=source)


_WORDS = ("notes", "weather", "maps", "radio", "tasks", "books", "photos", "music", "chess", "fitness",
          "recipes", "transit", "scanner", "budget", "podcasts", "camera", "mail", "calendar", "news", "paint")


def filler_apps(platform: str, count: int, seed: str = "") -> tuple[AppProfile, ...]:
    """`count` ordinary apps that no bundled signature names, for big devices in tests and benches.

    Deterministic: the same arguments give the same apps. Ids live under
    `org.example.filler` (the catalog must never list example.org ids).
    """
    apps = []
    for i in range(count):
        word = _WORDS[i % len(_WORDS)]
        digest = hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()
        app_id = f"org.example.filler.{word}{i}"
        if platform == "android":
            apps.append(AppProfile(
                id=app_id, name=f"{word.title()} {i}", version=f"{1 + i % 9}.{i % 13}.{i % 7}",
                build=str(100 + i), installer="com.android.vending", uid=10200 + i,
                path=f"/data/app/~~{digest[:22]}==/{app_id}-{digest[22:44]}==/base.apk",
            ))
        else:
            apps.append(AppProfile(
                id=app_id, name=f"{word.title()} {i}", version=f"{1 + i % 9}.{i % 13}",
                build=str(100 + i), team_id=digest[:10].upper(), signer="Apple iPhone OS Application Signing",
            ))
    return tuple(apps)
