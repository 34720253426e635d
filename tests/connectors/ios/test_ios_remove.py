"""IOSConnector.remove: installation_proxy Uninstall through the real pymobiledevice3 (usbmux -> lockdown ->
installation_proxy) against the emulated iPhone, for every answer and fault, and the mapping of answers to
Removal outcomes under hostile input (Hypothesis).

Every test plugs in a phone of its own (a new UDID): a removal changes it. The emulator keeps what was
removed per UDID across an unplug, which lets a test re-plug a locked or faulty phone without its fault and
look at what is really left on it.
"""

from __future__ import annotations

import inspect
import itertools
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.connectors.interface import REMOVAL_OUTCOMES, Removal, Removing
from scanner.connectors.ios.connector import IOSConnector
from scanner.connectors.ios.remove import ANSWER_LIMIT, uninstall_command, verdict
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps

WECHAT = "com.tencent.xin"
SAFARI = "com.apple.mobilesafari"
MANAGED = "com.example.corp.mdm"
OFFLOADED = "com.intsig.CamScannerLite"
HOSTILE = "com.evil.\u009b2J\u202eppa"  # a C1 CSI and a bidi override, both legal in an XML plist
APPS = (
    AppProfile(id=WECHAT, name="WeChat", version="8.0.50", team_id="88L2Q4487U"),
    AppProfile(id=SAFARI, name="Safari", system=True),
    AppProfile(id=MANAGED, name="Corp", removable=False),
    AppProfile(id=OFFLOADED, name="CamScanner", state="offloaded"),
) + filler_apps("ios", 4, seed="remove")
_serials = itertools.count(1)
UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}  # what scanner.terminal.text.safe never lets through


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IOSSimulator]:
    home = tmp_path_factory.mktemp("remove-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_DATA_HOME", str(home / "xdg"))
        mp.delenv("USBMUXD_SOCKET_ADDRESS", raising=False)
        with IOSSimulator([]) as simulator:
            yield simulator


def phone(sim: IOSSimulator, apps: tuple[AppProfile, ...] = APPS, **faults: Any) -> DeviceProfile:
    profile = DeviceProfile(platform="ios", serial=f"00008120-5CA7DE1E{next(_serials):08X}", apps=apps,
                            faults=Faults(**faults))
    assert not Path(f"/var/lib/lockdown/{profile.serial}.plist").exists(), "a real pair record would interfere"
    sim.attach(profile)
    return profile


def remove(sim: IOSSimulator, device: DeviceProfile, app_id: str, timeout: float = 30.0) -> Removal:
    removal = IOSConnector(sim.address, timeout=timeout).remove(device.serial, app_id)
    assert removal.outcome in REMOVAL_OUTCOMES and removal.app_id == app_id and removal.user is None
    assert removal.message and not any(unicodedata.category(ch) in UNSAFE for ch in removal.message)
    return removal


def installed(sim: IOSSimulator, device: DeviceProfile) -> set[str]:
    """The rescan: what a scan of the phone (without its faults) lists now."""
    if device.faults != Faults():
        sim.detach(device.serial)
        device = replace(device, faults=Faults())
        sim.attach(device)
    [inventory] = list(IOSConnector(sim.address, udids=[device.serial]).inventories())
    assert inventory.status == "complete", inventory.message
    return {app.id for app in inventory.apps}


def test_the_connector_has_the_contracts_remove():
    assert inspect.signature(IOSConnector.remove) == inspect.signature(Removing.remove)


# --- answers --------------------------------------------------------------------------------------


def test_removed_and_gone_from_the_rescan(sim):
    device = phone(sim)
    removal = remove(sim, device, WECHAT)
    assert (removal.outcome, removal.answer) == ("removed", "Complete")
    assert removal.message == f"Removed {WECHAT} from the iPhone"
    left = installed(sim, device)
    assert WECHAT not in left and SAFARI in left and MANAGED in left


def test_an_offloaded_app_is_removed_the_same_way(sim):
    device = phone(sim)
    removal = remove(sim, device, OFFLOADED)
    assert (removal.outcome, removal.answer) == ("removed", "Complete")
    assert "offloaded" in removal.message
    assert OFFLOADED not in installed(sim, device)


def test_not_installed_before_and_after_a_removal(sim):
    device = phone(sim)
    never = remove(sim, device, "com.example.never")
    assert (never.outcome, never.answer) == ("not-installed", "")
    assert remove(sim, device, WECHAT).outcome == "removed"
    again = remove(sim, device, WECHAT)
    assert again.outcome == "not-installed" and "not installed" in again.message


@pytest.mark.parametrize(("app_id", "says"), [
    (SAFARI, ("came with iOS", "restrict it with the MDM")),  # a system app
    (MANAGED, ("remove it from the MDM", "Remove App")),  # an app an MDM installed as non-removable
])
def test_an_app_the_iphone_cannot_remove_is_refused_with_what_to_do(sim, app_id, says):
    device = phone(sim)
    removal = remove(sim, device, app_id)
    assert (removal.outcome, removal.answer) == ("refused", "APIInternalError")
    assert all(words in removal.message for words in says), removal.message
    assert app_id in installed(sim, device)


def test_a_profile_that_forbids_removing_apps_is_managed(sim):
    device = phone(sim, uninstall_prohibited=True)
    removal = remove(sim, device, WECHAT)
    assert (removal.outcome, removal.answer) == ("managed", "UninstallProhibited")
    assert "MDM" in removal.message and "run again" in removal.message
    assert WECHAT in installed(sim, device)


def test_an_app_with_a_hostile_bundle_id_is_removed_and_named_inertly(sim):
    # A scan reports such an id as unreadable (the scan is then partial); once it is removed, the scan is whole.
    device = phone(sim, APPS + (AppProfile(id=HOSTILE, name="Evil"),))
    removal = remove(sim, device, HOSTILE)
    assert removal.outcome == "removed"
    assert "\\x9b2J" in removal.message and "\\u202e" in removal.message
    assert HOSTILE not in installed(sim, device)


# --- faults ---------------------------------------------------------------------------------------


def test_locked_says_unlock_and_removes_nothing(sim):
    device = phone(sim, locked=True)
    removal = remove(sim, device, WECHAT)
    assert removal.outcome == "locked"
    assert "locked" in removal.message and "unlock it" in removal.message and "was not removed" in removal.message
    assert WECHAT in installed(sim, device)


def test_disconnected_mid_removal_is_unknown_and_the_rescan_decides(sim):
    device = phone(sim, uninstall_drop=True)
    removal = remove(sim, device, WECHAT)
    assert (removal.outcome, removal.answer) == ("disconnected", "RemovingApplication (50%)")
    assert "unknown" in removal.message and "rescan" in removal.message
    assert WECHAT not in installed(sim, device)  # this emulated phone finished the removal on its own


def test_garbage_status_is_failed_never_removed(sim):
    device = phone(sim, uninstall_garbage=True)
    removal = remove(sim, device, WECHAT)
    assert removal.outcome == "failed"
    assert "cannot read" in removal.message and "unknown" in removal.message
    assert "RemovingApplication" in removal.answer


def test_a_removal_that_never_completes_ends_at_the_deadline_as_unknown(sim):
    device = phone(sim, uninstall_stall=True)
    removal = remove(sim, device, WECHAT, timeout=1.5)
    assert (removal.outcome, removal.answer) == ("failed", "RemovingApplication (50%)")
    assert "unknown" in removal.message and "did not answer within 1.5 s" in removal.message
    assert WECHAT not in installed(sim, device)  # this emulated phone finished the removal on its own


def test_a_phone_that_never_finishes_its_app_list_is_not_asked_to_remove(sim):
    device = phone(sim, no_complete=True)
    # The Lookup before the Uninstall never completes: the deadline ends it, and as the Uninstall was never
    # sent, nothing was removed.
    removal = remove(sim, device, WECHAT, timeout=1.5)
    assert (removal.outcome, removal.answer) == ("failed", "")
    assert "was not removed" in removal.message and "did not answer within 1.5 s" in removal.message
    assert WECHAT in installed(sim, device)


def test_not_paired_says_pair_first(sim):
    device = phone(sim, pairing="not-paired")
    removal = remove(sim, device, WECHAT)
    assert removal.outcome == "failed" and f"scanner pair --udid {device.serial}" in removal.message


def test_a_phone_that_is_not_attached(sim):
    removal = IOSConnector(sim.address).remove("00008120-0000000000000BAD", WECHAT)
    assert removal.outcome == "failed" and "No iPhone with UDID 00008120-0000000000000BAD" in removal.message


def test_usbmuxd_not_there_or_a_bad_address(tmp_path):
    gone = IOSConnector(str(tmp_path / "no-usbmuxd"), timeout=5).remove("00008120-0000000000000001", WECHAT)
    assert gone.outcome == "failed" and "usbmuxd" in gone.message
    bad = IOSConnector("host:", timeout=5).remove("00008120-0000000000000001", WECHAT)
    assert bad.outcome == "failed" and "USBMUXD_SOCKET_ADDRESS" in bad.message


def test_an_android_user_is_a_caller_bug():
    with pytest.raises(ValueError, match="no Android users"):
        IOSConnector("127.0.0.1:1").remove("00008120-0000000000000001", WECHAT, user=0)


def test_a_scan_never_loads_the_removal_code(sim):
    code = ("import sys\nfrom scanner.connectors.ios.connector import IOSConnector\n"
            f"list(IOSConnector({sim.address!r}).inventories())\n"
            "print('scanner.connectors.ios.remove' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120,
                         env={**os.environ, "USBMUXD_SOCKET_ADDRESS": sim.address})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


# --- the mapping, under hostile input ----------------------------------------------------------------


def test_the_uninstall_command_is_the_real_clients_one():
    assert uninstall_command(WECHAT) == {"Command": "Uninstall", "ApplicationIdentifier": WECHAT,
                                         "ClientOptions": {}}


def test_progress_reads_on_and_every_decision_is_named():
    assert verdict(WECHAT, {"Status": "RemovingApplication", "PercentComplete": 50}) is None
    assert verdict(WECHAT, {"Status": "Complete"}).outcome == "removed"
    assert verdict(WECHAT, {"Error": "UninstallProhibited"}).outcome == "managed"
    assert verdict(WECHAT, {"Error": "APIInternalError"}, kind="System").message.startswith(f"{WECHAT} came with iOS")
    other = verdict(WECHAT, {"Error": "ContainerRemovalFailed", "ErrorDescription": "disk"})
    assert (other.outcome, other.answer) == ("refused", "ContainerRemovalFailed: disk")
    # An Error beside Complete is a refusal, and a dictionary with neither is unreadable, never a removal.
    assert verdict(WECHAT, {"Error": "APIInternalError", "Status": "Complete"}).outcome == "refused"
    assert verdict(WECHAT, {"Error": ""}).answer == "an empty Error"
    assert verdict(WECHAT, {}).outcome == "failed"
    assert verdict(WECHAT, {"Status": 7}).outcome == "failed"
    assert verdict(WECHAT, {"Status": ""}).outcome == "failed"
    assert verdict(WECHAT, b"\x00").outcome == "failed"


plist_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(),
                          st.binary(max_size=40))
plist_values = st.recursive(plist_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
replies = st.one_of(
    plist_values,
    st.fixed_dictionaries({"Error": st.one_of(st.text(), plist_values)},
                          optional={"ErrorDescription": st.one_of(st.text(), plist_values),
                                    "Status": st.one_of(st.text(), plist_values)}),
    st.fixed_dictionaries({"Status": st.one_of(st.text(), plist_values)},
                          optional={"PercentComplete": plist_values}),
)


@settings(max_examples=300, deadline=None)
@given(app_id=st.text(), reply=replies, kind=st.one_of(st.none(), st.sampled_from(["User", "System", "Hidden"]),
                                                      st.text(max_size=8)), offloaded=st.booleans())
def test_hostile_ids_and_answers_never_crash_the_mapping_nor_reach_the_message_raw(app_id, reply, kind, offloaded):
    decided = verdict(app_id, reply, kind=kind, offloaded=offloaded)
    if decided is None:  # only a progress status reads on
        assert isinstance(reply, dict) and reply.get("Error") is None
        assert isinstance(reply.get("Status"), str) and reply["Status"] not in ("", "Complete")
        return
    assert decided.outcome in REMOVAL_OUTCOMES and decided.app_id == app_id and decided.user is None
    assert decided.message and not any(unicodedata.category(ch) in UNSAFE for ch in decided.message)
    assert isinstance(decided.answer, str) and len(decided.answer) <= ANSWER_LIMIT
    if decided.outcome == "removed":
        assert isinstance(reply, dict) and reply.get("Status") == "Complete" and reply.get("Error") is None
