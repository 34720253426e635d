"""The emulated phones' `pm uninstall`, driven through the real adb server and real adbutils.

What each answer should be is written here from AOSP's runUninstall (see the comment above
EmulatedAndroid._pm_uninstall), not read back from the simulator.
"""

from __future__ import annotations

import time

import pytest
from adbutils import AdbClient

from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, ProfileError, UserProfile, parse_profile

PHONE = DeviceProfile(
    "android", "SIMU0001", model="Pixel 8",
    users=(UserProfile(0), UserProfile(10, "Work profile"), UserProfile(150, "Secure Folder", refused=True)),
    apps=(
        AppProfile("com.intsig.camscanner", build="6420", users=(0, 10)),
        AppProfile("com.tencent.mm", build="2280"),
        AppProfile("com.android.chrome", build="6099", system=True, users=(0, 10)),
        AppProfile("com.example.mdm.agent", build="7", pm_uninstall="device-admin"),
        AppProfile("com.example.broken", build="8", pm_uninstall="internal-error"),
        AppProfile("com.example.flaky", build="9", pm_uninstall="drop"),
        AppProfile("com.example.sticky", build="10", pm_uninstall="stays"),
        AppProfile("android", build="34", system=True),
    ),
)


@pytest.fixture(scope="module")
def sim():
    with AndroidSimulator([PHONE]) as s:
        yield s


def shell(sim, command: str) -> tuple[int, str]:
    device = AdbClient(port=sim.adb_port).device(sim.transport_serial("SIMU0001"))
    result = device.shell2(command, v2=True, timeout=20)
    return result.returncode, result.output


def listed(sim, user: int, flags: str = "") -> set[str]:
    rc, out = shell(sim, f"pm list packages {flags} --user {user}".replace("  ", " "))
    assert rc == 0, out
    return {line.removeprefix("package:") for line in out.splitlines() if line}


def test_an_app_removed_for_one_user_stays_for_the_other(sim):
    assert shell(sim, "pm uninstall --user 10 com.intsig.camscanner") == (0, "Success\n")
    assert "com.intsig.camscanner" not in listed(sim, 10, "-u")
    assert "com.intsig.camscanner" in listed(sim, 0)
    assert shell(sim, "pm uninstall --user 10 com.intsig.camscanner") == (1, "Failure [not installed for 10]\n")
    # removed for its last user: gone from every listing, -u included (no -k, so no data kept)
    assert shell(sim, "pm uninstall --user 0 com.intsig.camscanner") == (0, "Success\n")
    assert "com.intsig.camscanner" not in listed(sim, 0, "-u")
    assert shell(sim, "pm path com.intsig.camscanner")[0] == 1


def test_without_user_an_ordinary_app_goes_for_everyone(sim):
    assert shell(sim, "pm uninstall com.tencent.mm") == (0, "Success\n")
    assert "com.tencent.mm" not in listed(sim, 0, "-u")
    assert shell(sim, "pm uninstall com.tencent.mm") == (1, "Failure [DELETE_FAILED_INTERNAL_ERROR]\n")


def test_a_system_app_cannot_leave_the_image_but_can_leave_a_user(sim):
    assert shell(sim, "pm uninstall com.android.chrome") == (1, "Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
    assert "com.android.chrome" in listed(sim, 0)
    assert shell(sim, "pm uninstall --user 0 com.android.chrome") == (0, "Success\n")
    assert "com.android.chrome" not in listed(sim, 0)
    assert "com.android.chrome" in listed(sim, 0, "-u")  # still in the system image
    assert "com.android.chrome" in listed(sim, 10)  # the other user keeps it
    assert shell(sim, "pm uninstall --user 0 com.android.chrome") == (1, "Failure [not installed for 0]\n")
    rc, out = shell(sim, "cmd package install-existing --user 0 com.android.chrome")
    assert (rc, out) == (0, "Package com.android.chrome installed for user: 0\n")
    assert "com.android.chrome" in listed(sim, 0)


def test_the_refusals_the_profile_asks_for(sim):
    assert shell(sim, "pm uninstall --user 0 com.example.mdm.agent") == (
        1, "Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]\n")
    assert shell(sim, "pm uninstall com.example.mdm.agent") == (1, "Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]\n")
    assert shell(sim, "pm uninstall --user 0 com.example.broken") == (1, "Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
    assert shell(sim, "pm uninstall --user 0 com.example.sticky") == (0, "Success\n")
    assert {"com.example.mdm.agent", "com.example.broken", "com.example.sticky"} <= listed(sim, 0)


def test_a_refused_user_throws_and_an_unknown_package_is_not_installed(sim):
    rc, out = shell(sim, "pm uninstall --user 150 com.tencent.mm")
    assert rc == 255 and "SecurityException: Shell does not have permission to access user 150" in out
    assert shell(sim, "pm uninstall --user 0 org.example.nothing") == (1, "Failure [not installed for 0]\n")
    assert shell(sim, "pm uninstall") == (1, "Error: package name not specified\n")
    assert shell(sim, "pm uninstall -x com.tencent.mm") == (1, "Error: Unknown option: -x\n")


def test_the_drop_knob_removes_and_hangs_up(sim):
    with pytest.raises(Exception):  # noqa: B017 - adbutils raises EOFError or an AdbError, by version
        shell(sim, "pm uninstall --user 0 com.example.flaky")
    # the adb server reconnects on its own; the app is gone although nobody was told
    for _ in range(200):
        try:
            names = listed(sim, 0)
            break
        except Exception:  # noqa: BLE001 - the server is reconnecting
            time.sleep(0.05)
    assert "com.example.flaky" not in names
    assert all(" -k" not in c for c in sim.history("SIMU0001"))


def test_the_knob_is_checked():
    base = {"platform": "android", "serial": "S1"}
    with pytest.raises(ProfileError, match="pm_uninstall"):
        parse_profile({"device": [{**base, "app": [{"id": "a.b", "pm_uninstall": "nope"}]}]})
    with pytest.raises(ProfileError, match="pm_uninstall"):
        parse_profile({"device": [{"platform": "ios", "serial": "U1", "app": [{"id": "a.b",
                                                                              "pm_uninstall": "drop"}]}]})
    profile = parse_profile({"device": [{**base, "app": [{"id": "a.b", "pm_uninstall": "device-admin"}]}]})
    assert profile.devices[0].apps[0].pm_uninstall == "device-admin"
