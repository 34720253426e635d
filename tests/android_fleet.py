"""Emulated Android phones behind the real adb server (adbutils' bundled binary), and how the tests scan them.

The fleet: two cheap clones sharing one ro.serialno (one with WeChat), a plain
phone, and two with a work profile (one whose app list comes back empty). Shared
by tests/connectors/android/test_android_clones_and_partial_lists.py and
tests/test_unanswered_transports.py. A module that requests the `sim`, `sigs` or
`matcher` fixture imports `fixture_sim`, `fixture_sigs` or `fixture_matcher`,
under which it is defined so that the test's argument does not shadow it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import free_port

from scanner.live import scan as scan_live
from scanner.matcher import Matcher
from scanner.model import Report
from scanner.signatures import load_signatures
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, UserProfile, filler_apps

CLONE_SERIAL = "0123456789ABCDEF"
WECHAT = AppProfile("com.tencent.mm", build="2540", installer="com.android.vending")
SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "report-schema.json").read_text(encoding="utf-8"))


def phone(serial: str, *apps: AppProfile, users=(UserProfile(0),), props=(), system_users=None) -> DeviceProfile:
    """A phone with the framework (in `system_users`, default every user) and a few ordinary apps of the owner."""
    ids = system_users if system_users is not None else tuple(u.id for u in users)
    framework = AppProfile("android", system=True, users=ids, uid=1000)
    return DeviceProfile("android", serial, users=users, apps=(framework, *filler_apps("android", 4, serial), *apps),
                         props=props)


def clone(name: str, *apps: AppProfile) -> DeviceProfile:
    return phone(name, *apps, props=(("ro.serialno", CLONE_SERIAL),))


FLEET = [
    clone("CLONEA001", WECHAT),
    clone("CLONEB001"),
    phone("PLAIN0001"),
    phone("WORKEMPTY", users=(UserProfile(0), UserProfile(10, "Work profile")), system_users=(0,)),
    phone("WORKFULL1", AppProfile("org.example.work", users=(10,)),
          users=(UserProfile(0), UserProfile(10, "Work profile"))),
]


@pytest.fixture(scope="module", name="sigs")
def fixture_sigs():
    return load_signatures()


@pytest.fixture(scope="module", name="matcher")
def fixture_matcher(sigs):
    return Matcher(sigs)


@pytest.fixture(scope="module", name="sim")
def fixture_sim() -> Iterator[AndroidSimulator]:
    with AndroidSimulator(FLEET) as s:
        yield s


def live(matcher, sigs, *connectors) -> Report:
    return scan_live(list(connectors), matcher)


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("ANDROID_", "ADB"))}
    full["USBMUXD_SOCKET_ADDRESS"] = f"127.0.0.1:{free_port()}"  # no usbmuxd here, unless `env` gives one
    full.update(env)
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc
