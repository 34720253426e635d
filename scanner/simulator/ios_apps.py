"""installation_proxy for the emulated iOS devices: app records, Lookup, Browse and Uninstall.

An app record carries the keys installd serves (bundle keys, ApplicationType,
Path, Container, SignerIdentity, Entitlements with the team id, and a realistic
tail of Info.plist keys), so that asking for every attribute costs visibly more
than asking for a few, as on a real device. Offloaded apps are placeholders
(`IsPlaceholder`, `IsDemotedApp`) that only a request with `ShowPlaceholders`
sees: that is the trap a naive scanner falls into.

The serving side applies the device's faults: `delay` before every message,
`drop_after_apps` (the connection dies after N apps), `no_complete` (the data
arrives but `Status: Complete` never does, and the socket stays open).

Uninstall answers as the real service does (UNINSTALL_* below says where each
answer was found); a removed app is gone from every later Lookup and Browse,
for the simulator's lifetime (the set of removed ids outlives an unplug, as
trust does). Its faults: `uninstall_prohibited`, `uninstall_drop`,
`uninstall_garbage`, `uninstall_stall` (only Uninstall never completes), and
`no_complete` and `delay` as above.
"""

from __future__ import annotations

import hashlib
import plistlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

from scanner.simulator.ios_wire import Link, read_plist, write_plist
from scanner.simulator.profile import AppProfile, DeviceProfile

__all__ = ["BROWSE_CHUNK", "SERVICE_NAME", "UNINSTALL_PROGRESS", "AppCatalog", "serve_installation_proxy"]

SERVICE_NAME = "com.apple.mobile.installation_proxy"
BROWSE_CHUNK = 20  # apps per Browse message (emulator choice)
APP_STORE_SIGNER = "Apple iPhone OS Application Signing"
SIZE_KEYS = ("StaticDiskUsage", "DynamicDiskUsage")
APP_TYPES = ("User", "System", "Hidden")

# Uninstall, as the real installation_proxy answers it:
# - the status stream: {"Status": "RemovingApplication", "PercentComplete": 50}, then {"Status": "Complete"}
#   (the libimobiledevice debug log of `ideviceinstaller -U` on iOS 10.3.3 in libimobiledevice/ideviceinstaller
#   issue #82);
# - an id nothing is installed under completes like a removal: installd logs "not found in user apps, ignoring"
#   (ideviceinstaller issue #21, iOS 8), so only a Lookup tells "not installed" from "removed";
# - a refusal is one {"Error": NAME} and nothing after it. The names are those libimobiledevice's
#   instproxy_strtoerr knows (src/installation_proxy.c). A decompiled mobile_installation_proxy checks, in this
#   order: the managed-configuration setting that forbids removing apps (allowAppRemoval false, from a
#   configuration profile or an MDM) -> UninstallProhibited; no ApplicationIdentifier ->
#   MissingApplicationIdentifier; a ClientOptions key other than WaitForStorageDeletion -> APIInternalError; the
#   removal itself failing -> APIInternalError, with no ErrorDescription. Which apps make the removal fail is
#   inferred (emulator choice): Apple's own apps (System, Hidden) and an app an MDM installed as non-removable.
UNINSTALL_PROGRESS = {"Status": "RemovingApplication", "PercentComplete": 50}
UNINSTALL_OPTIONS = ("WaitForStorageDeletion",)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def _uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=_digest(*parts)[:16], version=4)).upper()


def derived_team_id(bundle_id: str) -> str:
    """A stable made-up team id for apps whose profile gives none (real App Store apps always have one)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(alphabet[b % len(alphabet)] for b in _digest("team", bundle_id)[:10])


def _executable(app: AppProfile) -> str:
    base = (app.name or app.id.rsplit(".", 1)[-1]).replace(" ", "")
    return "".join(c for c in base if c.isalnum()) or "App"


def app_record(app: AppProfile, udid: str, sequence: int) -> dict[str, Any]:
    """Every attribute installd would return for `app` (sizes excepted: those are asked for)."""
    app_type = app.app_type
    exe = _executable(app)
    name = app.name or exe
    is_system = app_type in ("System", "Hidden")
    bundle_uuid, data_uuid, group_uuid = (_uuid(udid, app.id, k) for k in ("bundle", "data", "group"))
    path = (f"/Applications/{exe}.app" if is_system
            else f"/private/var/containers/Bundle/Application/{bundle_uuid}/{exe}.app")
    container = f"/private/var/mobile/Containers/Data/Application/{data_uuid}"
    group = f"group.{app.id}"
    record: dict[str, Any] = {
        "ApplicationType": app_type,
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": name,
        "CFBundleExecutable": exe,
        "CFBundleIdentifier": app.id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundleNumericVersion": 0,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": app.version or "1.0",
        "CFBundleSupportedPlatforms": ["iPhoneOS"],
        "CFBundleVersion": app.build or app.version or "1",
        "CFBundleURLTypes": [{"CFBundleURLName": app.id, "CFBundleURLSchemes": [exe.lower(), f"{exe.lower()}-auth"]}],
        "CFBundleIcons": {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60", "AppIcon76x76"],
                                                  "CFBundleIconName": "AppIcon"}},
        "Container": container,
        "DTCompiler": "com.apple.compilers.llvm.clang.1_0",
        "DTPlatformBuild": "21A325",
        "DTPlatformName": "iphoneos",
        "DTPlatformVersion": "17.0",
        "DTSDKBuild": "21A325",
        "DTSDKName": "iphoneos17.0",
        "DTXcode": "1500",
        "DTXcodeBuild": "15A240d",
        "EnvironmentVariables": {"CFFIXED_USER_HOME": container, "HOME": container, "TMPDIR": f"{container}/tmp"},
        "IsAppClip": False,
        "IsUpgradeable": not is_system,
        "LSRequiresIPhoneOS": True,
        "MinimumOSVersion": "15.0",
        "NSCameraUsageDescription": f"{name} uses the camera to scan and share.",
        "NSLocationWhenInUseUsageDescription": f"{name} uses your location to show nearby content.",
        "NSPhotoLibraryUsageDescription": f"{name} saves and shares photos.",
        "Path": path,
        "SBAppTags": ["hidden"] if app_type == "Hidden" else [],
        "SequenceNumber": sequence,
        "UIBackgroundModes": ["audio", "fetch", "remote-notification"],
        "UIDeviceFamily": [1, 2],
        "UILaunchStoryboardName": "LaunchScreen",
        "UIRequiredDeviceCapabilities": ["arm64"],
        "UISupportedInterfaceOrientations": ["UIInterfaceOrientationPortrait",
                                             "UIInterfaceOrientationLandscapeLeft",
                                             "UIInterfaceOrientationLandscapeRight"],
    }
    if is_system:
        # Apple's own apps: platform binaries, no team, no signer (emulator choice, as in the research).
        record["Entitlements"] = {"application-identifier": app.id, "platform-application": True,
                                  "com.apple.private.security.container-required": True}
    else:
        team = app.team_id or derived_team_id(app.id)
        signer = app.signer or APP_STORE_SIGNER
        record["SignerIdentity"] = signer
        if signer != APP_STORE_SIGNER:
            record["ProfileValidated"] = True
        record["Entitlements"] = {
            "application-identifier": f"{team}.{app.id}",
            "com.apple.developer.team-identifier": team,
            "keychain-access-groups": [f"{team}.{app.id}", f"{team}.com.example.shared"],
            "aps-environment": "production",
            "get-task-allow": signer.startswith(("Apple Development", "iPhone Developer")),
            "com.apple.security.application-groups": [group],
            "com.apple.developer.associated-domains": [f"applinks:{exe.lower()}.example.com"],
        }
        record["GroupContainers"] = {group: f"/private/var/mobile/Containers/Shared/AppGroup/{group_uuid}"}
    if app.state == "offloaded":
        record["IsPlaceholder"] = True
        record["IsDemotedApp"] = True
    return record


def _sizes(app_id: str) -> dict[str, int]:
    d = _digest("size", app_id)
    return {"StaticDiskUsage": 4_000_000 + int.from_bytes(d[:3], "big") * 8,
            "DynamicDiskUsage": int.from_bytes(d[3:6], "big") * 4}


class AppCatalog:
    """A device's apps as installd answers for them; records are built once, on first use.

    `removed`: the ids uninstalled so far, shared with the simulator so that they stay gone after an unplug.
    """

    def __init__(self, device: DeviceProfile, removed: set[str] | None = None) -> None:
        self._apps = device.apps
        self._udid = device.serial
        self._records: list[tuple[AppProfile, dict[str, Any]]] | None = None
        self._removed = removed if removed is not None else set()
        self._lock = threading.Lock()
        # Serialised replies, by (command, the options' repr, the ids removed so far): a scan asks the same
        # Lookup every time, and plistlib.dumps of a few hundred apps is most of this emulated device's CPU
        # (which shares the machine with the scan). The bytes sent are the same either way.
        self._replies: dict[tuple[str, str, frozenset[str]], Any] = {}

    def _all(self) -> list[tuple[AppProfile, dict[str, Any]]]:
        with self._lock:
            if self._records is None:
                self._records = [(a, app_record(a, self._udid, i + 1)) for i, a in enumerate(self._apps)]
            return [(a, r) for a, r in self._records if a.id not in self._removed]

    def find(self, app_id: str) -> AppProfile | None:
        """The installed (or offloaded) app of that bundle id, if any."""
        with self._lock:
            return next((a for a in self._apps if a.id == app_id and a.id not in self._removed), None)

    def remove(self, app_id: str) -> None:
        with self._lock:
            self._removed.add(app_id)

    def replies(self, command: str, options: dict[str, Any],
                make: Callable[[list[tuple[str, dict[str, Any]]]], Any]) -> Any:
        """make(self.select(options)), kept while the same apps are installed (a removal starts afresh)."""
        with self._lock:
            key = (command, repr(options), frozenset(self._removed))
            cached = self._replies.get(key)
        if cached is None:
            cached = make(self.select(options))
            with self._lock:
                if len(self._replies) >= 32:  # a client trying many options: keep the memory bounded
                    self._replies.clear()
                self._replies[key] = cached
        return cached

    def select(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(bundle id, attributes) for the apps a Lookup/Browse with these ClientOptions returns."""
        app_type = options.get("ApplicationType", "Any")
        wanted = options.get("BundleIDs")
        wanted_ids = set(wanted) if isinstance(wanted, list) else None
        placeholders = bool(options.get("ShowPlaceholders", False))
        attributes = options.get("ReturnAttributes")
        out = []
        for app, record in self._all():
            if app_type != "Any" and app.app_type != app_type:
                continue
            if wanted_ids is not None and app.id not in wanted_ids:
                continue
            if app.state == "offloaded" and not placeholders:
                continue
            if isinstance(attributes, list):
                full = {**record, **_sizes(app.id)}
                entry = {k: full[k] for k in attributes if isinstance(k, str) and k in full}
            else:
                entry = record
            out.append((app.id, entry))
        return out


def serve_installation_proxy(link: Link, catalog: AppCatalog, device: DeviceProfile,
                             pause: Callable[[], None]) -> None:
    """Answer installation_proxy commands on `link` until the client closes it.

    `pause` waits the device's `delay` before each message (and returns early
    when the simulator stops).
    """
    faults = device.faults
    while True:
        request = read_plist(link.sock)
        if request is None:
            return
        command = request.get("Command")
        options = request.get("ClientOptions") or {}
        if not isinstance(options, dict):
            options = {}
        if command == "Lookup":
            payload, count = catalog.replies(command, options, lambda apps: _lookup_reply(apps, faults.no_complete))
            if not _lookup(link, payload, count, faults.drop_after_apps, faults.no_complete, pause):
                return
        elif command == "Browse":
            payloads = catalog.replies(command, options, lambda apps: _browse_replies(apps, faults.drop_after_apps))
            if not _browse(link, payloads, faults.drop_after_apps, faults.no_complete, pause):
                return
        elif command == "Uninstall":
            if not _uninstall(link, request, catalog, device, pause):
                return
        elif command == "CheckCapabilitiesMatch":
            pause()
            write_plist(link.sock, {"LookupResult": True, "Status": "Complete"})
        else:
            pause()
            write_plist(link.sock, {"Error": "UnknownCommand",
                                    "ErrorDescription": f"Unknown command {command!r} (this device is read-only)"})


def _uninstall(link: Link, request: dict[str, Any], catalog: AppCatalog, device: DeviceProfile,
               pause: Callable[[], None]) -> bool:
    """Answer one Uninstall (see UNINSTALL_PROGRESS); False when the connection is over."""
    faults = device.faults
    pause()
    app_id = request.get("ApplicationIdentifier")
    options = request.get("ClientOptions", {})
    if faults.uninstall_prohibited:
        write_plist(link.sock, {"Error": "UninstallProhibited"})
        return True
    if not isinstance(app_id, str):
        write_plist(link.sock, {"Error": "MissingApplicationIdentifier"})
        return True
    if not isinstance(options, dict) or any(k not in UNINSTALL_OPTIONS or not isinstance(v, (bool, int))
                                            for k, v in options.items()):
        write_plist(link.sock, {"Error": "APIInternalError"})
        return True
    if faults.uninstall_garbage:
        payload = plistlib.dumps(["RemovingApplication", 50])
        link.sock.sendall(len(payload).to_bytes(4, "big") + payload)
        link.stall()
        return False
    app = catalog.find(app_id)
    if app is None:
        write_plist(link.sock, {"Status": "Complete"})
        return True
    if app.app_type != "User" or not app.removable:
        write_plist(link.sock, {"Error": "APIInternalError"})
        return True
    write_plist(link.sock, dict(UNINSTALL_PROGRESS))
    catalog.remove(app_id)  # the device goes on without the client: a dropped connection still removes it
    if faults.uninstall_drop:
        link.close()
        return False
    if faults.no_complete or faults.uninstall_stall:
        link.stall()
        return False
    pause()
    write_plist(link.sock, {"Status": "Complete"})
    return True


def _lookup_reply(apps: list[tuple[str, dict[str, Any]]], no_complete: bool) -> tuple[bytes, int]:
    """One Lookup's reply, serialised, and the number of apps in it."""
    reply: dict[str, Any] = {"LookupResult": dict(apps)}
    if not no_complete:
        reply["Status"] = "Complete"
    return plistlib.dumps(reply), len(apps)


def _lookup(link: Link, payload: bytes, apps: int, drop_after: int, no_complete: bool,
            pause: Callable[[], None]) -> bool:
    """Send one Lookup's reply (one message holds every app); False when the connection is over."""
    pause()
    if drop_after:
        # Cut it where the N-th app ends (roughly) and hang up.
        shown = min(drop_after, apps)
        cut = min(len(payload) - 16, len(payload) * shown // max(apps, 1))
        link.sock.sendall(len(payload).to_bytes(4, "big") + payload[:max(cut, 0)])
        link.close()
        return False
    link.sock.sendall(len(payload).to_bytes(4, "big") + payload)
    if no_complete:
        link.stall()
        return False
    return True


def _browse_replies(apps: list[tuple[str, dict[str, Any]]], drop_after: int) -> list[bytes]:
    """The BrowsingApplications messages, up to the drop_after-th app when the device drops mid-way."""
    total = len(apps)
    limit = min(drop_after, total) if drop_after else total
    out = []
    for start in range(0, limit, BROWSE_CHUNK):
        chunk = [entry for _, entry in apps[start:min(start + BROWSE_CHUNK, limit)]]
        out.append(plistlib.dumps({"Status": "BrowsingApplications", "CurrentIndex": start,
                                   "CurrentAmount": len(chunk), "Total": total, "CurrentList": chunk}))
    return out


def _browse(link: Link, payloads: list[bytes], drop_after: int, no_complete: bool,
            pause: Callable[[], None]) -> bool:
    for payload in payloads:
        pause()
        link.sock.sendall(len(payload).to_bytes(4, "big") + payload)
    if drop_after:
        link.close()
        return False
    if no_complete:
        link.stall()
        return False
    pause()
    write_plist(link.sock, {"Status": "Complete"})
    return True
