"""Emulated Android phones behind a private, real adb server.

Usage::

    import adbutils
    from scanner.simulator.android import AndroidSimulator
    from scanner.simulator.profile import DeviceProfile, AppProfile

    phone = DeviceProfile("android", "SIMA0001", model="Pixel 7",
                          apps=(AppProfile("com.intsig.camscanner", build="6420"),))
    with AndroidSimulator([phone]) as sim:
        # sim.env == {"ANDROID_ADB_SERVER_PORT": "<port>"}: point adbutils / `adb -P` / the scanner there
        client = adbutils.AdbClient(port=sim.adb_port)
        d = client.device(sim.transport_serial("SIMA0001"))      # "127.0.0.1:<adbd port>"
        d.shell2("pm list packages -f -U", v2=True).stdout
        sim.attach(other_profile); sim.detach("SIMA0001")  # plug in / unplug at run time

Extras beyond the shared interface: `workdir` (temporary HOME/TMPDIR/server
log), `history(serial)` (commands a phone received), `shell_count(serial)`
(shell services it served: a reader's round trips, counted where the phone
sees them), `adbd(serial)` (its FakeAdbd), and `host_request(port,
"host:...")`, a smart-socket call that can never make adbutils start a stray
adb server.

Each device is a fake adbd (adbd.py) on its own free 127.0.0.1 port, served by
threads of this process. One real adb server (the binary in the adbutils wheel,
`adb -P <free port> server nodaemon`, HOME and TMPDIR in a temporary directory,
ADB_EMU=0 / ADB_USB=0 / ADB_MDNS=0 so it sees no emulator ports, USB phones or
mDNS devices) is told `host:connect:127.0.0.1:<port>` for each. `stop()` sends
`host:kill`, waits for the PID to exit and kills it by PID if it does not.
On Linux the server is also forked with a parent-death signal (`_Spawner`), so
it dies with this process even when that is SIGKILLed and no clean-up runs.

Why this shape: the real server supplies what a scanner meets in the field
(states, AUTH, reconnects, error strings); only the phone is made up. What the
phone prints follows AOSP's formats (see /work/shared/research/android-adb.md):

- `pm list packages` lines: `package:[PATH=]NAME[ versionCode:N][  installer=X][ uid:N]`
  (two spaces before `installer=`, `installer=null` when there is none).
  Order: by Java `String.hashCode()` of the package name, signed, ascending,
  which is the iteration order of the ArrayMap PackageManagerService keeps
  packages in, i.e. the "random looking" order real pm prints.
- Options parse like AOSP ShellCommand: options end at the first word without
  `-` (or at `--`); `-fU` is not `-f -U` (real pm throws "No argument expected
  after "-fU""); the first remaining word is a substring filter.
  `--user all` lists user 0, as real pm does (translateUserId maps USER_ALL to
  USER_SYSTEM); `current`/`cur` is user 0; an unknown user lists nothing.
- Unknown option: stdout `Error: Unknown option: -x`, exit 255. A refused user
  (profile `refused = true`, e.g. a Secure Folder with DISALLOW_DEBUGGING_FEATURES):
  the SecurityException "Shell does not have permission to access user N" with a
  stack trace on stderr, exit 255 (Android 11+ wording "Exception occurred while
  executing 'list':"; Android 10 and older "Security exception: ...").
- `uninstalled-data-kept` apps are listed only with `-u`, for the users the
  profile gives them; `disabled` apps are listed by `-d`, hidden by `-e`.
- `pm uninstall [-k] [--user N] <pkg>` (`scanner remove`) answers as AOSP's
  runUninstall does: `Success`, `Failure [not installed for N]`, and for a
  system app without `--user` `Failure [DELETE_FAILED_INTERNAL_ERROR]`; with
  `--user N` a system app is uninstalled for that user only (still listed by
  `-u`, restored by `cmd package install-existing --user N <pkg>`). An
  ordinary app removed for its last user is gone. The app knob `pm_uninstall`
  gives the refusals: `device-admin` (`Failure
  [DELETE_FAILED_DEVICE_POLICY_MANAGER]`), `internal-error`, `drop`
  (removed, then the connection drops before the answer) and `stays`
  (`Success`, yet the app is still there). Sources are in the
  comment above `_pm_uninstall`.

Faults (profile `[device.faults]`) and what the real server then shows:

- unauthorized: AUTH TOKEN, a new TOKEN after each signature, and no answer to
  the public key: `adb connect` says "failed to authenticate to ...", the
  device is listed `unauthorized`.
- offline: TCP accepted, CNXN never answered: listed `offline` (the server's
  own connect gives up after 10 s but keeps the transport while TCP is open;
  start() does not wait for that).
- reject_flags: pm answers those options with the real "Unknown option" error.
- drop_after_bytes: the TCP connection is closed after N bytes of each
  `pm list packages` answer longer than N (v2: the packet header promised more).
  The server then reconnects on its own (about 0.5 s).
- delay: seconds before each shell answer.
- crlf: a pre-Android-7 device: shell output through a PTY (LF -> CRLF), and
  no `features=` in the banner (shell_v2 and cmd arrived with Android 7), so
  clients fall back to shell v1; a `shell,v2:` request is refused.

The emulated sh (adbd.py) runs `;`, `&&`, `||`, newlines, quotes, `$?`, `2>&1`,
`>/dev/null`, and echo/true/false/exit/getprop/pm/cmd package/dumpsys package/
id/whoami/am get-current-user. Pipes, background jobs, interactive shells,
sync (push/pull), forwarding and abb are not emulated. Every command a device
receives is recorded in `history(serial)`, so tests can show a scan is read-only.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Self

from scanner.simulator.adbd import (
    FORBIDDEN_PORTS,
    FakeAdbd,
    Output,
    ShellOutput,
    free_port,
    run_script,
)
from scanner.simulator.profile import AppProfile, DeviceProfile

__all__ = ["AndroidSimulator", "EmulatedAndroid", "SimulatorError", "adb_binary"]

#: Generous: a loaded 2-core CI machine, 20+ devices connecting at once.
START_TIMEOUT = 60.0

FEATURES = "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir,apex,fixed_push_symlink_timestamp,remount_shell"

_SDK_OF_RELEASE = {
    "4.4": 19, "5.0": 21, "5.1": 22, "6.0": 23, "7.0": 24, "7.1": 25, "8.0": 26, "8.1": 27,
    "9": 28, "10": 29, "11": 30, "12": 31, "13": 33, "14": 34, "15": 35, "16": 36,
}
_RELEASE_OF_SDK = {sdk: release for release, sdk in _SDK_OF_RELEASE.items()} | {32: "12"}


class SimulatorError(RuntimeError):
    """The emulated fleet could not be started (the message says why)."""


# ---------------------------------------------------------------------------------------------
# The phone: props, users, packages, and the shell that prints them
# ---------------------------------------------------------------------------------------------


def java_hash(text: str) -> int:
    """Java's String.hashCode() as a signed 32-bit int (UTF-16 code units)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


@dataclass(frozen=True)
class _Package:
    """One app as PackageManagerService knows it."""

    name: str
    path: str
    version_code: str
    version_name: str
    installer: str | None
    app_id: int
    system: bool
    disabled: bool
    uninstalled: bool  # removed for its users, data kept: only `-u` shows it
    users: tuple[int, ...]
    first_install: datetime
    last_update: datetime
    signature: str
    uninstall: str | None = None  # the profile's pm_uninstall knob
    #: Users a system app was uninstalled for (`pm uninstall --user N`): still on the system image, so listed
    #: by `-u` for them, and restorable with `cmd package install-existing --user N`.
    kept: tuple[int, ...] = ()

    def uid(self, user: int) -> int:
        return user * 100000 + self.app_id

    def listed(self, user: int, uninstalled: bool) -> bool:
        """Whether `pm list packages [-u] --user N` shows it."""
        if user in self.users:
            return uninstalled or not self.uninstalled
        return uninstalled and user in self.kept

    def installed_for(self, user: int) -> bool:
        return user in self.users and not self.uninstalled


def _made_up_path(serial: str, app: AppProfile, sdk: int) -> str:
    """A base.apk path of the shape the device's Android version uses."""
    if app.system:
        if app.id == "android":
            return "/system/framework/framework-res.apk"
        leaf = app.id.rsplit(".", 1)[-1].capitalize() or "App"
        return f"/system/app/{leaf}/{leaf}.apk"
    d = _digest(serial, app.id)
    a = base64.urlsafe_b64encode(d[:16]).decode()  # 22 chars + "=="
    b = base64.urlsafe_b64encode(d[16:32]).decode()
    if sdk >= 30:
        return f"/data/app/~~{a}/{app.id}-{b}/base.apk"
    if sdk >= 26:
        return f"/data/app/{app.id}-{b}/base.apk"
    return f"/data/app/{app.id}-1/base.apk"


def _package(serial: str, index: int, app: AppProfile, sdk: int) -> _Package:
    d = _digest(serial, app.id, "meta")
    if app.build and app.build.isdigit():
        code = str(int(app.build))
    else:
        code = str(1 + int.from_bytes(d[:3], "big") % 100000)
    first = datetime(2021, 1, 1) + timedelta(seconds=int.from_bytes(d[3:7], "big") % (3 * 365 * 86400))
    if app.uid is not None:
        app_id = app.uid % 100000
    elif app.system and app.id == "android":
        app_id = 1000
    else:
        app_id = 10000 + index
    return _Package(
        name=app.id,
        path=app.path or _made_up_path(serial, app, sdk),
        version_code=code,
        version_name=app.version or "1.0",
        installer=app.installer,
        app_id=app_id,
        system=app.system,
        disabled=app.state == "disabled",
        uninstalled=app.state == "uninstalled-data-kept",
        users=app.users,
        first_install=first,
        last_update=first + timedelta(days=d[7] % 200),
        signature=d[8:12].hex(),
        uninstall=app.pm_uninstall,
    )


def _props(p: DeviceProfile) -> dict[str, str]:
    """getprop values: the profile's, then believable ones for the rest."""
    release = p.os_version or (_RELEASE_OF_SDK.get(p.sdk, "14") if p.sdk else ("6.0" if p.faults.crlf else "14"))
    sdk = p.sdk or _SDK_OF_RELEASE.get(release) or _SDK_OF_RELEASE.get(release.split(".")[0], 34)
    model = p.model or "Pixel 7"
    manufacturer = p.manufacturer or "Google"
    product = p.product or re.sub(r"[^a-z0-9]", "", model.lower()) or "generic"
    build_id = "UQ1A.240105.004" if sdk >= 34 else f"SIM{sdk}.{hashlib.sha256(p.serial.encode()).hexdigest()[:6]}"
    incremental = str(int.from_bytes(_digest(p.serial)[:3], "big"))
    brand = manufacturer.lower()
    fingerprint = p.fingerprint or f"{brand}/{product}/{product}:{release}/{build_id}/{incremental}:user/release-keys"
    props = {
        "ro.product.model": model,
        "ro.product.manufacturer": manufacturer,
        "ro.product.brand": brand,
        "ro.product.name": product,
        "ro.product.device": product,
        "ro.build.version.release": release,
        "ro.build.version.sdk": str(sdk),
        "ro.build.id": build_id,
        "ro.build.version.incremental": incremental,
        "ro.build.type": "user",
        "ro.build.tags": "release-keys",
        "ro.build.fingerprint": fingerprint,
        "ro.serialno": p.serial,
        "ro.boot.serialno": p.serial,
        "ro.product.cpu.abi": "arm64-v8a",
        "ro.debuggable": "0",
        "ro.secure": "1",
        "persist.sys.timezone": "Etc/UTC",
        "sys.boot_completed": "1",
    }
    props.update(dict(p.props))
    return props


_STACK_TAIL = (
    "\tat android.os.Binder.shellCommand(Binder.java:1092)\n"
    "\tat android.os.Binder.onTransact(Binder.java:912)\n"
    "\tat android.content.pm.IPackageManager$Stub.onTransact(IPackageManager.java:4352)\n"
    "\tat com.android.server.pm.PackageManagerService$IPackageManagerImpl.onTransact(PackageManagerService.java:6520)\n"
    "\tat android.os.Binder.execTransactInternal(Binder.java:1339)\n"
    "\tat android.os.Binder.execTransact(Binder.java:1275)\n"
)


class _PmError(Exception):
    """A Java exception thrown inside `pm`; ShellCommand prints it with a trace, exit 255."""

    def __init__(self, java_class: str, message: str, frames: str):
        super().__init__(message)
        self.java_class = java_class
        self.frames = frames


def _pm_frames(method: str) -> str:
    return (
        f"\tat com.android.server.pm.PackageManagerShellCommand.{method}(PackageManagerShellCommand.java:869)\n"
        "\tat com.android.server.pm.PackageManagerShellCommand.runList(PackageManagerShellCommand.java:745)\n"
        "\tat com.android.server.pm.PackageManagerShellCommand.onCommand(PackageManagerShellCommand.java:193)\n"
        "\tat com.android.modules.utils.BasicShellCommandHandler.exec(BasicShellCommandHandler.java:97)\n"
        "\tat android.os.ShellCommand.exec(ShellCommand.java:38)\n"
        "\tat com.android.server.pm.PackageManagerService$IPackageManagerImpl.onShellCommand"
        "(PackageManagerService.java:6536)\n" + _STACK_TAIL
    )


class _Args:
    """AOSP ShellCommand's argument cursor: getNextOption / getNextArg / getNextArgRequired."""

    def __init__(self, args: list[str]):
        self.args = args
        self.pos = 0
        self.cur: str | None = None  # the rest of "-fU" after "-f"

    def next_option(self) -> str | None:
        if self.cur is not None:
            prev = self.args[self.pos - 1]
            raise _PmError(
                "java.lang.IllegalArgumentException", f'No argument expected after "{prev}"', _pm_frames("getNextOption")
            )
        if self.pos >= len(self.args):
            return None
        arg = self.args[self.pos]
        if not arg.startswith("-"):
            return None
        self.pos += 1
        if arg == "--":
            return None
        if len(arg) > 2 and arg[1] != "-":
            self.cur = arg[2:]
            return arg[:2]
        return arg

    def next_arg(self) -> str | None:
        if self.cur is not None:
            arg, self.cur = self.cur, None
            return arg
        if self.pos < len(self.args):
            self.pos += 1
            return self.args[self.pos - 1]
        return None

    def next_arg_required(self) -> str:
        arg = self.next_arg()
        if arg is None:
            prev = self.args[self.pos - 1] if self.pos else ""
            raise _PmError(
                "java.lang.IllegalArgumentException", f'Argument expected after "{prev}"', _pm_frames("getNextArgRequired")
            )
        return arg


def _parse_user(arg: str) -> int:
    if arg == "all":
        return -1
    if arg in ("current", "cur"):
        return -2
    try:
        return int(arg)
    except ValueError:
        raise _PmError(
            "java.lang.IllegalArgumentException", f"Bad user number: {arg}", _pm_frames("runListPackages")
        ) from None


class EmulatedAndroid:
    """One emulated phone: what its adbd advertises and what its shell prints."""

    def __init__(self, profile: DeviceProfile):
        self.profile = profile
        faults = profile.faults
        self.offline = faults.offline
        self.unauthorized = faults.unauthorized
        self.delay = faults.delay
        self.drop_after_bytes = faults.drop_after_bytes
        self.crlf = faults.crlf
        self.rejected = set(faults.reject_flags)
        self.props = _props(profile)
        self.sdk = int(self.props["ro.build.version.sdk"]) if self.props["ro.build.version.sdk"].isdigit() else 34
        self.users = {u.id: u for u in profile.users}
        packages = [_package(profile.serial, i, app, self.sdk) for i, app in enumerate(profile.apps)]
        # PackageManagerService keeps packages in an ArrayMap: iteration is by key hash.
        self.packages = sorted(packages, key=lambda p: java_hash(p.name))
        self.by_name = {p.name: p for p in self.packages}
        #: Every shell command received, in order (shell text as the host sent it).
        self.history: list[str] = []
        self._history_lock = threading.Lock()
        self._packages_lock = threading.Lock()  # `pm uninstall` changes them while another stream lists them

    # -- what the wire asks for ------------------------------------------------------------

    def banner(self) -> bytes:
        props = self.props
        parts = [
            f"ro.product.name={props['ro.product.name']}",
            f"ro.product.model={props['ro.product.model']}",
            f"ro.product.device={props['ro.product.device']}",
        ]
        if not self.crlf:
            parts.append(f"features={FEATURES}")
        return ("device::" + ";".join(parts)).encode()

    def shell(self, command: str) -> ShellOutput:
        with self._history_lock:
            self.history.append(command)
        with self._packages_lock:
            return run_script(command, self._command)

    # -- commands ----------------------------------------------------------------------------

    def _command(self, argv: list[str], out: Output) -> int:
        name = argv[0]
        name = name.removeprefix("/system/bin/")
        handler: Callable[[list[str], Output], int] | None = {
            "getprop": self._getprop,
            "pm": self._pm,
            "cmd": self._cmd,
            "dumpsys": self._dumpsys,
            "id": lambda a, o: (o.out("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log)\n"), 0)[1],
            "whoami": lambda a, o: (o.out("shell\n"), 0)[1],
            "am": self._am,
        }.get(name)
        if handler is None:
            out.err(f"/system/bin/sh: {argv[0]}: inaccessible or not found\n")
            return 127
        return handler(argv[1:], out)

    def _getprop(self, args: list[str], out: Output) -> int:
        if not args:
            out.out("".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items())))
        else:
            default = args[1] if len(args) > 1 else ""
            out.out(self.props.get(args[0], default) + "\n")
        return 0

    def _am(self, args: list[str], out: Output) -> int:
        if args[:1] == ["get-current-user"]:
            out.out("0\n")
            return 0
        out.err(f"Unknown command: {args[0] if args else ''}\n")
        return 255

    def _cmd(self, args: list[str], out: Output) -> int:
        if not args:
            out.err("cmd: No service specified; use -l to list all running services. Use -w to start and wait for a service.\n")
            return 20
        if args[0] == "package":
            return self._pm(args[1:], out)
        out.err(f"cmd: Can't find service: {args[0]}\n")
        return 20

    def _pm(self, args: list[str], out: Output) -> int:
        cur = _Args(args)
        try:
            sub = cur.next_arg()
            if sub is None:
                out.out("Package manager (package) commands:\n  help\n    Print this help text.\n")
                return 0
            if sub == "list":
                kind = cur.next_arg_required()
                if kind in ("packages", "package"):
                    return self._pm_list_packages(cur, out)
                if kind == "users":
                    return self._pm_list_users(out)
                out.out(f"Error: unknown list type '{kind}'\n")
                return 255
            if sub == "path":
                return self._pm_path(cur, out)
            if sub == "uninstall":
                return self._pm_uninstall(cur, out)
            if sub == "install-existing":
                return self._pm_install_existing(cur, out)
            out.err(f"Unknown command: {sub}\n")
            return 255
        except _PmError as err:
            self._print_exception(err, sub or "", out)
            return 255

    def _print_exception(self, err: _PmError, cmd: str, out: Output) -> None:
        text = f"{err.java_class}: {err}\n{err.frames}"
        if self.sdk >= 30:
            out.err(f"\nException occurred while executing '{cmd}':\n{text}")
        elif err.java_class == "java.lang.SecurityException":
            out.err(f"Security exception: {err}\n\n{text}")
        else:
            out.err(f"\nException occurred while executing:\n{text}")

    def _check_user(self, user: int) -> int:
        """translateUserId: all/current -> 0; a refused user throws the real SecurityException."""
        if user in (-1, -2):
            user = 0
        profile = self.users.get(user)
        if profile is not None and profile.refused:
            callers = (
                " com.android.server.am.ActivityManagerService.handleIncomingUser:14791"
                " android.app.ActivityManager.handleIncomingUser:4773"
                " com.android.server.pm.PackageManagerShellCommand.translateUserId:3590 "
            )
            frames = (
                "\tat com.android.server.am.UserController.handleIncomingUser(UserController.java:2711)\n"
                "\tat com.android.server.am.ActivityManagerService.handleIncomingUser(ActivityManagerService.java:14791)\n"
                "\tat android.app.ActivityManager.handleIncomingUser(ActivityManager.java:4773)\n"
                "\tat com.android.server.pm.PackageManagerShellCommand.translateUserId"
                "(PackageManagerShellCommand.java:3590)\n" + _pm_frames("runListPackages")
            )
            raise _PmError(
                "java.lang.SecurityException",
                f"Shell does not have permission to access user {user}\n{callers}",
                frames,
            )
        return user

    def _pm_list_packages(self, cur: _Args, out: Output) -> int:
        show_path = show_installer = show_uid = show_code = False
        uninstalled = system = third = disabled = enabled = False
        user, uid_filter = 0, -1
        while (opt := cur.next_option()) is not None:
            if opt in self.rejected:
                out.out(f"Error: Unknown option: {opt}\n")
                return 255
            if opt == "-l":
                pass
            elif opt == "-s":
                system = True
            elif opt == "-3":
                third = True
            elif opt == "-d":
                disabled = True
            elif opt == "-e":
                enabled = True
            elif opt == "-f":
                show_path = True
            elif opt == "-i":
                show_installer = True
            elif opt == "-U":
                show_uid = True
            elif opt in ("-u", "-a"):
                uninstalled = True
            elif opt == "--show-versioncode":
                show_code = True
            elif opt == "--user":
                user = _parse_user(cur.next_arg_required())
            elif opt == "--uid":
                show_uid = True
                uid_filter = int(cur.next_arg_required())
            else:
                out.out(f"Error: Unknown option: {opt}\n")
                return 255
        name_filter = cur.next_arg()
        user = self._check_user(user)
        lines = []
        for pkg in self.packages:
            if not pkg.listed(user, uninstalled):
                continue
            is_enabled = not pkg.disabled
            if (disabled and is_enabled) or (enabled and not is_enabled):
                continue
            if (system and not pkg.system) or (third and pkg.system):
                continue
            if name_filter is not None and name_filter not in pkg.name:
                continue
            if uid_filter != -1 and pkg.uid(user) != uid_filter:
                continue
            line = "package:"
            if show_path:
                line += pkg.path + "="
            line += pkg.name
            if show_code:
                line += f" versionCode:{pkg.version_code}"
            if show_installer:
                line += f"  installer={pkg.installer or 'null'}"
            if show_uid:
                line += f" uid:{pkg.uid(user)}"
            lines.append(line + "\n")
        out.out("".join(lines), droppable=True)
        return 0

    def _pm_list_users(self, out: Output) -> int:
        lines = ["Users:\n"]
        for uid in sorted(self.users):
            u = self.users[uid]
            flags = "c13" if uid == 0 else "1030"
            lines.append(f"\tUserInfo{{{uid}:{u.name}:{flags}}} running\n")
        out.out("".join(lines))
        return 0

    def _pm_path(self, cur: _Args, out: Output) -> int:
        user = 0
        while (opt := cur.next_option()) is not None:
            if opt == "--user":
                user = _parse_user(cur.next_arg_required())
            else:
                out.out(f"Error: Unknown option: {opt}\n")
                return 255
        name = cur.next_arg_required()
        user = self._check_user(user)
        pkg = self.by_name.get(name)
        if pkg is None or not pkg.installed_for(user):
            return 1
        out.out(f"package:{pkg.path}\n")
        return 0

    # -- removal (`scanner remove`) ----------------------------------------------------------------
    #
    # What AOSP's PackageManagerShellCommand.runUninstall prints (frameworks/base, Android 10-15), all on
    # stdout, exit 0 for Success and 1 for every Failure:
    #   - no --user: DELETE_ALL_USERS. A system app cannot leave the system image: "Failure
    #     [DELETE_FAILED_INTERNAL_ERROR]" (the answer debloat tools report for preinstalled apps, e.g.
    #     github.com/Universal-Debloater-Alliance/universal-android-debloater-next-generation/issues/251,
    #     github.com/yapplications/ADB-GUI/issues/8); so does a package the phone does not know.
    #   - --user N: "Failure [not installed for N]" when getPackageInfo finds nothing for that user (never
    #     installed there, or already removed); a system app gets DELETE_SYSTEM_APP and is only uninstalled
    #     for that user: "Success", and it stays in the image (listed by `pm list packages -u --user N`,
    #     restored by `cmd package install-existing --user N <pkg>`).
    #   - an active device administrator: "Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]", with or without
    #     --user (github.com/DeviceFarmer/adbkit/pull/513; universal-android-debloater-next-generation/issues/142,
    #     Android Device Policy); `dpm remove-active-admin` from adb refuses a non-test admin with a
    #     SecurityException (github.com/flxapps/DetoxDroid/issues/90), so it is deactivated on the phone or by
    #     its MDM.
    #   - any other failure: "Failure [<the installer's status message>]".
    # Without -k the data goes too, so an ordinary app removed for its last user is gone from every listing.

    def _pm_uninstall(self, cur: _Args, out: Output) -> int:
        user, keep = -1, False
        while (opt := cur.next_option()) is not None:
            if opt == "-k":
                keep = True
            elif opt == "--user":
                user = _parse_user(cur.next_arg_required())
            elif opt == "--versionCode":
                cur.next_arg_required()
            else:
                out.out(f"Error: Unknown option: {opt}\n")
                return 1
        name = cur.next_arg()
        if name is None:
            out.out("Error: package name not specified\n")
            return 1
        pkg = self.by_name.get(name)
        if user != -1:
            user = self._check_user(user)
            if pkg is None or not pkg.installed_for(user):
                out.out(f"Failure [not installed for {user}]\n")
                return 1
        elif pkg is None or pkg.system:
            out.out("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
            return 1
        if pkg.uninstall == "device-admin":
            out.out("Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]\n")
            return 1
        if pkg.uninstall == "internal-error":
            out.out("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
            return 1
        if pkg.uninstall == "stays":
            out.out("Success\n")  # and nothing changes
            return 0
        users = set(pkg.users) if user == -1 else {user}
        left = tuple(u for u in pkg.users if u not in users)
        if pkg.system or keep:
            self._replace(pkg, users=left, kept=tuple(sorted(set(pkg.kept) | users)))
        elif left:
            self._replace(pkg, users=left)
        else:
            self.packages = [p for p in self.packages if p.name != name]
            del self.by_name[name]
        if pkg.uninstall == "drop":
            out.hangup = True  # removed, and the connection drops before the phone says so
            return 0
        out.out("Success\n")
        return 0

    def _pm_install_existing(self, cur: _Args, out: Output) -> int:
        """`cmd package install-existing [--user N] <pkg>`: a system app uninstalled for one user comes back."""
        user = -2
        while (opt := cur.next_option()) is not None:
            if opt == "--user":
                user = _parse_user(cur.next_arg_required())
            elif opt in ("--ephemeral", "--instant", "--full", "--wait", "--restrict-permissions"):
                pass
            else:
                out.out(f"Error: Unknown option: {opt}\n")
                return 1
        name = cur.next_arg_required()
        user = self._check_user(user)
        pkg = self.by_name.get(name)
        if pkg is None:
            out.out(f"android.content.pm.PackageManager$NameNotFoundException: Package {name} doesn't exist\n")
            return 1
        if user not in pkg.users:
            self._replace(pkg, users=tuple(sorted((*pkg.users, user))), kept=tuple(u for u in pkg.kept if u != user))
        out.out(f"Package {name} installed for user: {user}\n")
        return 0

    def _replace(self, pkg: _Package, **changes) -> None:
        new = replace(pkg, **changes)
        self.packages = [new if p.name == pkg.name else p for p in self.packages]  # the same order: by name hash
        self.by_name[pkg.name] = new

    def _dumpsys(self, args: list[str], out: Output) -> int:
        if not args or args[0] != "package":
            out.err(f"Can't find service: {args[0] if args else ''}\n")
            return 0
        names = [a for a in args[1:] if not a.startswith("-")]
        pkg = self.by_name.get(names[0]) if names else None
        out.out(self._dump_package(pkg) if pkg else "Dexopt state:\n\nCompiler stats:\n")
        return 0

    def _dump_package(self, pkg: _Package) -> str:
        h = _digest(self.profile.serial, pkg.name, "dump").hex()
        code_path = pkg.path.rsplit("/", 1)[0] if pkg.path.endswith("/base.apk") else pkg.path
        flags = "SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA" if pkg.system else "HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP"
        stamp = "%Y-%m-%d %H:%M:%S"
        lines = [
            "Activity Resolver Table:",
            "  Non-Data Actions:",
            "      android.intent.action.MAIN:",
            f"        {h[:7]} {pkg.name}/.MainActivity filter {h[7:14]}",
            "",
            "Key Set Manager:",
            f"  [{pkg.name}]",
            f"      Signing KeySets: {int(h[14:16], 16)}",
            "",
            "Packages:",
            f"  Package [{pkg.name}] ({h[16:23]}):",
            f"    userId={pkg.app_id}",
            f"    pkg=Package{{{h[23:30]} {pkg.name}}}",
            f"    codePath={code_path}",
            f"    resourcePath={code_path}",
            "    primaryCpuAbi=arm64-v8a",
            "    secondaryCpuAbi=null",
            f"    versionCode={pkg.version_code} minSdk=21 targetSdk={self.sdk}",
            f"    versionName={pkg.version_name}",
            "    splits=[base]",
            "    apkSigningVersion=2",
            f"    flags=[ {flags} ]",
            f"    dataDir=/data/user/0/{pkg.name}",
            f"    timeStamp={pkg.last_update.strftime(stamp)}",
            f"    firstInstallTime={pkg.first_install.strftime(stamp)}",
            f"    lastUpdateTime={pkg.last_update.strftime(stamp)}",
        ]
        if pkg.installer:
            lines.append(f"    installerPackageName={pkg.installer}")
        lines += [
            f"    signatures=PackageSignatures{{{h[30:37]} version:2, signatures:[{pkg.signature}], past signatures:[]}}",
            "    installPermissionsFixed=true",
            f"    pkgFlags=[ {flags} ]",
            "    install permissions:",
            "      android.permission.INTERNET: granted=true",
        ]
        for uid in sorted(self.users):
            installed = pkg.installed_for(uid)
            enabled = 3 if pkg.disabled and uid in pkg.users else 0
            lines.append(
                f"    User {uid}: ceDataInode={int(h[37:43], 16)} installed={str(installed).lower()} hidden=false"
                f" suspended=false distractionFlags=0 stopped=false notLaunched=false enabled={enabled}"
                " instant=false virtual=false"
            )
            if uid in pkg.users:
                lines.append(f"      firstInstallTime={pkg.first_install.strftime(stamp)}")
        lines += ["", "Dexopt state:", f"  [{pkg.name}]", f"    path: {pkg.path}",
                  "      arm64: [status=speed-profile] [reason=bg-dexopt]", ""]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The private adb server and the fleet
# ---------------------------------------------------------------------------------------------


def adb_binary() -> str:
    """The adb shipped in the adbutils wheel (the project's only adb)."""
    import adbutils  # lazily: `scanner --help` must not pay for it

    return adbutils.adb_path()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise EOFError("adb server closed the connection")
        buf += part
    return bytes(buf)


def host_request(port: int, request: str, *, timeout: float = 10.0, reply: bool = True) -> str:
    """One smart-socket request to the adb server at 127.0.0.1:port.

    Our own few lines rather than adbutils: adbutils runs `adb start-server`
    (on port 5037 or $ANDROID_ADB_SERVER_PORT) when a connection fails, which
    must never happen here.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = request.encode()
        sock.sendall(b"%04x" % len(data) + data)
        status = _recv_exact(sock, 4)
        if status == b"OKAY":
            if not reply:
                return ""
            return _recv_exact(sock, int(_recv_exact(sock, 4), 16)).decode("utf-8", "replace")
        if status == b"FAIL":
            message = _recv_exact(sock, int(_recv_exact(sock, 4), 16)).decode("utf-8", "replace")
            raise SimulatorError(f"adb server refused {request!r}: {message}")
        raise SimulatorError(f"adb server sent {status!r} to {request!r}")


def _expected_state(profile: DeviceProfile) -> str:
    if profile.faults.offline:
        return "offline"
    if profile.faults.unauthorized:
        return "unauthorized"
    return "device"


class _Spawner:
    """Starts the private adb servers so that they die with this process, even when it is SIGKILLed.

    Linux: each server gets PR_SET_PDEATHSIG = SIGKILL (prctl through ctypes) between fork and exec. The
    kernel sends it when the *thread* that forked the child ends, not the process, so every server is forked
    by this one daemon thread, which lives as long as the process (a Fleet starts its adb server from a
    short-lived worker thread). The child checks that its parent is still the one that forked it, closing
    the window in which the parent could die before prctl. Elsewhere (no prctl) a plain Popen: stop() and the
    atexit hook stop the server on any ending Python sees; a SIGKILL there leaves it, as it would any child.
    """

    PR_SET_PDEATHSIG = 1

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._prctl = self._find_prctl()

    @staticmethod
    def _find_prctl():
        if not sys.platform.startswith("linux"):
            return None
        try:
            import ctypes

            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError, ImportError):
            return None
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        return prctl

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        if self._prctl is None:
            return subprocess.Popen(argv, **kwargs)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="adb-server-spawner", daemon=True)
                self._thread.start()
        done: Future = Future()
        self._jobs.put((argv, kwargs, done))
        return done.result()

    def _serve(self) -> None:
        prctl, parent = self._prctl, os.getpid()

        def die_with_parent() -> None:  # in the child, before exec: no locks, no allocation worth a name
            prctl(self.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)  # the parent died before prctl took effect

        while True:
            argv, kwargs, done = self._jobs.get()
            try:
                done.set_result(subprocess.Popen(argv, preexec_fn=die_with_parent, **kwargs))
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                done.set_exception(err)


_SPAWNER = _Spawner()


def _spawn_with_parent(argv: list[str], **kwargs) -> subprocess.Popen:
    """Popen for a server that must not outlive this process (see _Spawner)."""
    return _SPAWNER.popen(argv, **kwargs)


_RUNNING: set[AndroidSimulator] = set()  # strong refs: a forgotten simulator is still stopped at exit


@atexit.register
def _stop_all() -> None:
    """A safety net: no adb server outlives the Python process that started it."""
    for sim in list(_RUNNING):
        sim.stop()


class AndroidSimulator:
    """A fleet of emulated Android phones behind one private, real adb server."""

    def __init__(self, devices: Iterable[DeviceProfile], *, adb_port: int | None = None) -> None:
        self.profiles = [d for d in devices if d.platform == "android"]
        if adb_port is not None and adb_port in FORBIDDEN_PORTS:
            raise ValueError(f"port {adb_port} is reserved for adb (5037, 5554-5585); pick another or None")
        self._wanted_port = adb_port
        self.adb_port: int = 0
        self.env: dict[str, str] = {}
        self.pids: list[int] = []
        self._proc: subprocess.Popen | None = None
        self.workdir: str | None = None  # temporary HOME, TMPDIR and server log; removed by stop()
        self._lock = threading.Lock()
        self._phones: dict[str, tuple[EmulatedAndroid, FakeAdbd]] = {}  # by hardware serial
        self._sockets: set[socket.socket] = set()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> AndroidSimulator:
        if self._started:
            return self
        self._started = True
        _RUNNING.add(self)
        try:
            self._start_server()
            self._attach_all(self.profiles)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix="scanner-adb-")
        home = Path(self.workdir, "home")
        tmp = Path(self.workdir, "tmp")
        home.mkdir()
        tmp.mkdir()
        self.adb_port = self._wanted_port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_"))}
        env.update({
            "HOME": str(home),  # adbkey goes to $HOME/.android
            "TMPDIR": str(tmp),
            "ANDROID_ADB_SERVER_PORT": str(self.adb_port),
            "ADB_EMU": "0",  # do not scan 127.0.0.1:5555-5585 for emulators
            "ADB_USB": "0",  # do not pick up real phones on USB
            "ADB_MDNS": "0",  # nor wireless-debugging phones on the network
        })
        with open(Path(self.workdir, "adb-server.log"), "wb") as log:  # the child keeps its own copy
            self._proc = _spawn_with_parent(
                [adb_binary(), "-P", str(self.adb_port), "server", "nodaemon"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            )
        self.pids.append(self._proc.pid)
        self.env = {"ANDROID_ADB_SERVER_PORT": str(self.adb_port)}
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise SimulatorError(f"the adb server exited with {self._proc.returncode}: {self._log_tail()}")
            try:
                host_request(self.adb_port, "host:version", timeout=2)
                return
            except (OSError, EOFError, SimulatorError):
                if time.monotonic() > deadline:
                    raise SimulatorError(f"the adb server did not answer on port {self.adb_port}: {self._log_tail()}")
                time.sleep(0.02)

    def check(self) -> None:
        """Raise SimulatorError unless the adb server runs and answers (before telling anyone it is ready)."""
        proc = self._proc
        if proc is None:
            raise SimulatorError("the simulator is not running")
        if proc.poll() is not None:
            raise SimulatorError(f"the adb server (pid {proc.pid}) exited with {proc.returncode}: {self._log_tail()}")
        try:
            host_request(self.adb_port, "host:version", timeout=5)
        except (OSError, EOFError, SimulatorError) as err:
            raise SimulatorError(f"the adb server (pid {proc.pid}) does not answer on port {self.adb_port}: "
                                 f"{err}") from err

    def exited(self) -> str | None:
        """Why the adb server is gone (it died, or was killed), or None while it runs. Cheap: no request."""
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            return f"the adb server (pid {proc.pid}) exited with {proc.returncode}"
        return None

    def _log_tail(self) -> str:
        try:
            return Path(self.workdir or "", "adb-server.log").read_text(errors="replace")[-500:].strip() or "(no log)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the adb server (by PID), the fake adbds and remove the temporary HOME; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                host_request(self.adb_port, "host:kill", timeout=5, reply=False)
            except (OSError, EOFError, SimulatorError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()  # by PID: this Popen's own process
                proc.wait(timeout=10)
        with self._lock:
            phones = list(self._phones.values())
            self._phones.clear()
            sockets = list(self._sockets)
            self._sockets.clear()
        for _, adbd in phones:
            adbd.close()
        for sock in sockets:
            sock.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self._started = False
        _RUNNING.discard(self)

    # -- devices -----------------------------------------------------------------------------

    def _attach_all(self, profiles: list[DeviceProfile]) -> list[str]:
        serials = [p.serial for p in profiles]
        with self._lock:
            for serial in serials:
                if serial in self._phones or serials.count(serial) > 1:
                    raise ValueError(f"device {serial!r} is already attached")
            started: list[tuple[DeviceProfile, FakeAdbd]] = []
            for profile in profiles:
                phone = EmulatedAndroid(profile)
                adbd = FakeAdbd(phone)
                self._phones[profile.serial] = (phone, adbd)
                started.append((profile, adbd))
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(16, len(started)))) as pool:  # none: a server alone
                list(pool.map(lambda pa: self._connect(pa[1].port, _expected_state(pa[0])), started))
            expected = {f"127.0.0.1:{adbd.port}": _expected_state(p) for p, adbd in started}
            self._wait_states(expected)
        except BaseException:
            # leave no half-attached phone behind (start() also stops the server)
            with self._lock:
                for profile, _ in started:
                    self._phones.pop(profile.serial, None)
            for _, adbd in started:
                adbd.close()
            raise
        return list(expected)

    def _connect(self, port: int, expected: str) -> None:
        """host:connect. An offline device holds the answer 10 s: do not wait for it."""
        if expected == "offline":
            sock = socket.create_connection(("127.0.0.1", self.adb_port), timeout=START_TIMEOUT)
            data = f"host:connect:127.0.0.1:{port}".encode()
            sock.sendall(b"%04x" % len(data) + data)
            with self._lock:
                self._sockets.add(sock)  # closed by stop(); the server keeps its own side
            return
        answer = host_request(self.adb_port, f"host:connect:127.0.0.1:{port}", timeout=START_TIMEOUT)
        if not answer.startswith(("connected to", "already connected", "failed to authenticate")):
            raise SimulatorError(f"adb connect 127.0.0.1:{port}: {answer}")

    def _states(self) -> dict[str, str]:
        listing = host_request(self.adb_port, "host:devices", timeout=10)
        return dict(line.split("\t", 1) for line in listing.splitlines() if "\t" in line)

    def _wait_states(self, expected: dict[str, str], *, gone: Iterable[str] = ()) -> None:
        """Poll `host:devices` until every transport shows its state (and `gone` ones are gone)."""
        gone = set(gone)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = self._states()
            if all(states.get(s) == st for s, st in expected.items()) and not gone & states.keys():
                return
            if time.monotonic() > deadline:
                wrong = {s: states.get(s, "absent") for s, st in expected.items() if states.get(s) != st}
                wrong.update({s: states[s] for s in gone & states.keys()})
                raise SimulatorError(f"devices did not reach their states in {START_TIMEOUT:.0f} s: {wrong}")
            time.sleep(0.02)

    def transport_serial(self, serial: str) -> str:
        """The serial adb lists for the device whose ro.serialno is `serial`."""
        with self._lock:
            if serial not in self._phones:
                raise KeyError(f"no emulated device {serial!r}")
            return f"127.0.0.1:{self._phones[serial][1].port}"

    def history(self, serial: str) -> list[str]:
        """The shell commands device `serial` has received so far (a copy)."""
        with self._lock:
            phone = self._phones[self._hardware_serial(serial)][0]
        with phone._history_lock:
            return list(phone.history)

    def shell_count(self, serial: str) -> int:
        """How many shell services device `serial` (hardware or transport serial) has served so far: one per
        shell round trip a reader made to it. Host requests such as `features` are answered by the adb server
        and never reach the phone, so they are not counted."""
        return len(self.history(serial))

    def adbd(self, serial: str) -> FakeAdbd:
        """The fake adbd of device `serial` (hardware or transport serial)."""
        with self._lock:
            return self._phones[self._hardware_serial(serial)][1]

    def _hardware_serial(self, serial: str) -> str:
        if serial in self._phones:
            return serial
        for hw, (_, adbd) in self._phones.items():
            if serial == f"127.0.0.1:{adbd.port}":
                return hw
        raise KeyError(f"no emulated device {serial!r}")

    def attach(self, device: DeviceProfile) -> str:
        """Plug a phone in at run time; returns its transport serial once adb shows its state."""
        if not self._started or self._proc is None:
            raise SimulatorError("the simulator is not running")
        return self._attach_all([device])[0]

    def authorize(self, serial: str) -> None:
        """Accept the "Allow USB debugging?" prompt of an unauthorized phone; returns once adb lists it `device`."""
        with self._lock:
            hw = self._hardware_serial(serial)
            _, adbd = self._phones[hw]
        adbd.authorize()
        self._wait_states({f"127.0.0.1:{adbd.port}": "device"})

    def detach(self, serial: str) -> None:
        """Unplug a phone (hardware or transport serial): adb disconnect, then close its adbd."""
        with self._lock:
            hw = self._hardware_serial(serial)
            _, adbd = self._phones.pop(hw)
        transport = f"127.0.0.1:{adbd.port}"
        try:
            host_request(self.adb_port, f"host:disconnect:{transport}", timeout=START_TIMEOUT)
        finally:
            adbd.close()
        self._wait_states({}, gone=[transport])
