"""AndroidConnector.remove against emulated phones, through the real adb server and real adbutils.

Every answer of `pm uninstall` the simulator gives (and the ways of getting none) becomes the right
Removal; nothing is sent that is not a package name; never `-k`.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from watching import wait_for

from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.android.remove import PACKAGE_NAME, interpret, uninstall_command
from scanner.connectors.android.script import Section
from scanner.connectors.interface import REMOVAL_OUTCOMES
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, UserProfile

PHONE = DeviceProfile(
    "android", "SIMR0001", model="Pixel 8",
    users=(UserProfile(0), UserProfile(10, "Work profile"), UserProfile(150, "Secure Folder", refused=True)),
    apps=(
        AppProfile("com.tencent.mm", build="2280", users=(0, 10)),
        AppProfile("com.android.chrome", build="6099", system=True),
        AppProfile("com.example.mdm.agent", build="7", pm_uninstall="device-admin"),
        AppProfile("com.example.broken", build="8", pm_uninstall="internal-error"),
        AppProfile("com.example.flaky", build="9", pm_uninstall="drop"),
        AppProfile("android", build="34", system=True),
    ),
)
GONE = DeviceProfile("android", "SIMR0002", apps=(AppProfile("com.tencent.mm"), AppProfile("android", system=True)))


@pytest.fixture(scope="module")
def sim():
    with AndroidSimulator([PHONE, GONE]) as s:
        yield s


@pytest.fixture(scope="module")
def adb(sim):
    return AndroidConnector(f"127.0.0.1:{sim.adb_port}", timeout=20)


def remove(sim, adb, app: str, user: int | None = 0, serial: str = "SIMR0001"):
    return adb.remove(sim.transport_serial(serial), app, user=user, timeout=20)


def test_removed_for_one_user_then_not_installed_there(sim, adb):
    r = remove(sim, adb, "com.tencent.mm", 10)
    assert (r.outcome, r.answer, r.user) == ("removed", "Success", 10)
    again = remove(sim, adb, "com.tencent.mm", 10)
    assert (again.outcome, again.answer) == ("not-installed", "Failure [not installed for 10]")
    assert remove(sim, adb, "com.tencent.mm", 0).outcome == "removed"
    assert "pm uninstall --user 10 com.tencent.mm" in " ".join(sim.history("SIMR0001"))


def test_a_device_admin_says_what_to_do(sim, adb):
    r = remove(sim, adb, "com.example.mdm.agent")
    assert r.outcome == "device-admin"
    assert r.answer == "Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]"
    assert "deactivate it" in r.message


def test_an_internal_error_is_a_refusal_with_its_answer(sim, adb):
    r = remove(sim, adb, "com.example.broken")
    assert (r.outcome, r.answer) == ("refused", "Failure [DELETE_FAILED_INTERNAL_ERROR]")


def test_a_system_app_for_every_user_and_for_one(sim, adb):
    r = remove(sim, adb, "com.android.chrome", None)
    assert (r.outcome, r.answer) == ("system-app", "Failure [DELETE_FAILED_INTERNAL_ERROR]")
    assert remove(sim, adb, "com.android.chrome", 0).outcome == "removed"


def test_a_refused_user(sim, adb):
    r = remove(sim, adb, "com.tencent.mm", 150)
    assert r.outcome == "refused" and "SecurityException" in r.answer


def test_a_connection_dropped_before_the_answer_is_unknown_not_removed(sim, adb):
    r = remove(sim, adb, "com.example.flaky")
    assert r.outcome == "disconnected"
    assert "before it said whether it did" in r.message
    # The dropped connection takes the phone offline while adb reconnects it (about 0.3 s): the tests after
    # this one need it back.
    from adbutils import AdbClient

    serial = sim.transport_serial("SIMR0001")
    wait_for(lambda: any(i.serial == serial and i.state == "device" for i in AdbClient(port=sim.adb_port).list()),
             timeout=30, what="SIMR0001 back online after the dropped connection")


def test_an_unplugged_phone(sim, adb):
    serial = sim.transport_serial("SIMR0002")
    sim.detach("SIMR0002")
    r = adb.remove(serial, "com.tencent.mm", user=0, timeout=10)
    assert r.outcome == "disconnected" and "not found" in r.answer


@pytest.mark.parametrize("name", ["com.x;reboot", "com.x && rm -rf /", "$(id)", "com.x\nreboot", "-k",
                                  "com..x", "x", "", "com.x'", "com.ünï"])
def test_hostile_names_never_reach_the_phone(sim, adb, name):
    before = len(sim.history("SIMR0001"))
    r = remove(sim, adb, name)
    assert r.outcome == "failed" and "Not sent" in r.message
    assert len(sim.history("SIMR0001")) == before


def test_never_keeps_data(sim):
    assert not any(re.search(r"pm uninstall.* -k\b", c) for c in sim.history("SIMR0001"))


# --- the answer parser ------------------------------------------------------------------------------------------


def section(text: str, rc: int) -> Section:
    return Section("uninstall", "pm uninstall x.y", rc, tuple(text.encode().split(b"\n")) if text else ())


@given(st.text(max_size=200), st.integers(min_value=0, max_value=255), st.one_of(st.none(), st.integers(0, 200)))
def test_every_answer_is_one_outcome_and_only_success_is_removed(text, rc, user):
    r = interpret("x.y", user, section(text, rc))
    assert r.outcome in REMOVAL_OUTCOMES
    if r.outcome == "removed":
        assert rc == 0 and [line.strip() for line in text.split("\n") if line.strip()] == ["Success"]


@given(st.text(max_size=80))
def test_only_package_names_make_a_command(name):
    try:
        command = uninstall_command(name, 0)
    except ValueError:
        assert not PACKAGE_NAME.fullmatch(name) or len(name) > 255
    else:
        assert command == f"pm uninstall --user 0 {name}"
        assert re.fullmatch(r"[A-Za-z0-9_. -]+", command)


@pytest.mark.parametrize("user", [-1, True, 1 << 30, "0"])
def test_bad_users_make_no_command(user):
    with pytest.raises(ValueError):
        uninstall_command("com.x", user)


def test_a_phone_named_by_its_transport_id(sim, adb):
    from adbutils import AdbClient

    serial = sim.transport_serial("SIMR0001")
    (info,) = [i for i in AdbClient(port=sim.adb_port).list(extended=True) if i.serial == serial]
    r = adb.remove(f"transport_id:{info.transport_id}", "com.example.broken", user=0, timeout=20)
    assert r.answer == "Failure [DELETE_FAILED_INTERNAL_ERROR]"  # it reached the phone


def test_a_usb_path_no_longer_attached_is_disconnected(sim, adb):
    r = adb.remove("usb:9-9.9", "com.tencent.mm", user=0, timeout=10)
    assert r.outcome == "disconnected" and "not found" in r.answer
