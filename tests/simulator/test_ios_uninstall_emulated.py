"""The emulated iPhone's installation_proxy Uninstall, driven by the real pymobiledevice3.

Two real client layers: pymobiledevice3's InstallationProxyService (uninstall,
get_apps, browse), and its ServiceConnection for the exact status stream
(send_plist / recv_plist on the service the real lockdown client started).
Every test plugs in a phone of its own (a new UDID), since a removal changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymobiledevice3.exceptions import AppInstallError, ConnectionTerminatedError, PasswordRequiredError
from pymobiledevice3.lockdown import create_using_usbmux
from pymobiledevice3.services.installation_proxy import InstallationProxyService

from scanner.simulator.ios import IOSSimulator
from scanner.simulator.ios_apps import SERVICE_NAME, UNINSTALL_PROGRESS
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, ProfileError, filler_apps, parse_profile

WECHAT = "com.tencent.xin"
SAFARI = "com.apple.mobilesafari"
MANAGED = "com.example.corp.mdm"
OFFLOADED = "com.intsig.CamScannerLite"
APPS = (
    AppProfile(id=WECHAT, name="WeChat", version="8.0.50", team_id="88L2Q4487U"),
    AppProfile(id=SAFARI, name="Safari", system=True),
    AppProfile(id="com.apple.webapp", name="Web", type="Hidden"),
    AppProfile(id=MANAGED, name="Corp", removable=False),
    AppProfile(id=OFFLOADED, name="CamScanner", state="offloaded"),
) + filler_apps("ios", 3, seed="uninstall")
_serials = itertools.count(1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IOSSimulator]:
    home = tmp_path_factory.mktemp("uninstall-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_DATA_HOME", str(home / "data"))
        with IOSSimulator([]) as simulator:
            mp.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
            yield simulator


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "records"
    path.mkdir()
    return path


def phone(sim: IOSSimulator, **faults: Any) -> DeviceProfile:
    profile = DeviceProfile(platform="ios", serial=f"00008110-5CA7DE1E{next(_serials):08X}", apps=APPS,
                            faults=Faults(**faults))
    sim.attach(profile)
    return profile


@contextlib.asynccontextmanager
async def proxy_service(sim: IOSSimulator, serial: str, records: Path) -> AsyncIterator[Any]:
    """pymobiledevice3's connection to installation_proxy, started by its real lockdown client."""
    lockdown = await create_using_usbmux(serial=serial, usbmux_address=sim.address, autopair=False,
                                         pairing_records_cache_folder=records)
    try:
        service = await lockdown.start_lockdown_service(SERVICE_NAME)
        try:
            yield service
        finally:
            await service.close()
    finally:
        await lockdown.close()


async def _exchange(sim: IOSSimulator, serial: str, records: Path, requests: list[dict[str, Any]],
                    replies: int) -> list[Any]:
    """Send `requests` on one installation_proxy connection, then read `replies` answers."""
    async with proxy_service(sim, serial, records) as service:
        for request in requests:
            await service.send_plist(request)
        return [await service.recv_plist() for _ in range(replies)]


def exchange(sim: IOSSimulator, serial: str, records: Path, request: dict[str, Any], replies: int) -> list[Any]:
    return asyncio.run(asyncio.wait_for(_exchange(sim, serial, records, [request], replies), 30))


def uninstall(app_id: str, **options: Any) -> dict[str, Any]:
    return {"Command": "Uninstall", "ApplicationIdentifier": app_id, "ClientOptions": options}


async def _apps(sim: IOSSimulator, serial: str, records: Path) -> tuple[set[str], set[str]]:
    """(Lookup ids with placeholders, Browse ids), through pymobiledevice3's own calls."""
    lockdown = await create_using_usbmux(serial=serial, usbmux_address=sim.address, autopair=False,
                                         pairing_records_cache_folder=records)
    try:
        async with InstallationProxyService(lockdown=lockdown) as proxy:
            looked = await proxy.lookup({"ApplicationType": "Any", "ShowPlaceholders": True,
                                         "ReturnAttributes": ["CFBundleIdentifier"]})
        async with InstallationProxyService(lockdown=lockdown) as proxy:
            browsed = await proxy.browse({"ApplicationType": "Any"}, ["CFBundleIdentifier"])
        return set(looked), {entry["CFBundleIdentifier"] for entry in browsed}
    finally:
        await lockdown.close()


def apps(sim: IOSSimulator, serial: str, records: Path) -> tuple[set[str], set[str]]:
    return asyncio.run(asyncio.wait_for(_apps(sim, serial, records), 30))


async def _pmd3_uninstall(sim: IOSSimulator, serial: str, records: Path, app_id: str) -> list[float]:
    seen: list[float] = []
    lockdown = await create_using_usbmux(serial=serial, usbmux_address=sim.address, autopair=False,
                                         pairing_records_cache_folder=records)
    try:
        async with InstallationProxyService(lockdown=lockdown) as proxy:
            await proxy.uninstall(app_id, handler=seen.append)
    finally:
        await lockdown.close()
    return seen


def pmd3_uninstall(sim: IOSSimulator, serial: str, records: Path, app_id: str) -> list[float]:
    return asyncio.run(asyncio.wait_for(_pmd3_uninstall(sim, serial, records, app_id), 30))


# --- the status stream ----------------------------------------------------------------------------


def test_the_status_stream_of_a_removal_and_the_app_gone_from_lookup_and_browse(sim, records):
    device = phone(sim)
    assert exchange(sim, device.serial, records, uninstall(WECHAT), 2) == [UNINSTALL_PROGRESS, {"Status": "Complete"}]
    looked, browsed = apps(sim, device.serial, records)
    assert WECHAT not in looked and WECHAT not in browsed
    assert SAFARI in looked and SAFARI in browsed  # only the one app went


def test_pymobiledevice3s_own_uninstall_sees_the_progress_and_completes(sim, records):
    device = phone(sim)
    assert pmd3_uninstall(sim, device.serial, records, WECHAT) == [50]
    assert WECHAT not in apps(sim, device.serial, records)[0]


def test_an_offloaded_app_is_removed_the_same_way(sim, records):
    device = phone(sim)
    assert OFFLOADED in apps(sim, device.serial, records)[0]
    assert exchange(sim, device.serial, records, uninstall(OFFLOADED), 2) == [UNINSTALL_PROGRESS,
                                                                             {"Status": "Complete"}]
    assert OFFLOADED not in apps(sim, device.serial, records)[0]


def test_an_id_nothing_is_installed_under_completes_like_a_removal(sim, records):
    device = phone(sim)
    before = apps(sim, device.serial, records)
    assert exchange(sim, device.serial, records, uninstall("com.example.never"), 1) == [{"Status": "Complete"}]
    assert apps(sim, device.serial, records) == before


def test_a_removed_app_stays_gone_after_the_phone_is_unplugged_and_plugged_back_in(sim, records):
    device = phone(sim)
    pmd3_uninstall(sim, device.serial, records, WECHAT)
    sim.detach(device.serial)
    sim.attach(device)
    assert WECHAT not in apps(sim, device.serial, records)[0]


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_id", [SAFARI, "com.apple.webapp", MANAGED])
def test_apples_own_apps_and_an_mdm_non_removable_app_are_refused_and_stay(sim, records, app_id):
    device = phone(sim)
    assert exchange(sim, device.serial, records, uninstall(app_id), 1) == [{"Error": "APIInternalError"}]
    assert app_id in apps(sim, device.serial, records)[0]
    with pytest.raises(AppInstallError, match="APIInternalError"):
        pmd3_uninstall(sim, device.serial, records, app_id)


def test_a_profile_that_forbids_removing_apps_answers_uninstall_prohibited(sim, records):
    device = phone(sim, uninstall_prohibited=True)
    assert exchange(sim, device.serial, records, uninstall(WECHAT), 1) == [{"Error": "UninstallProhibited"}]
    assert WECHAT in apps(sim, device.serial, records)[0]


def test_no_application_identifier_and_unknown_client_options_are_refused(sim, records):
    device = phone(sim)
    assert exchange(sim, device.serial, records, {"Command": "Uninstall"}, 1) == [
        {"Error": "MissingApplicationIdentifier"}]
    assert exchange(sim, device.serial, records, uninstall(WECHAT, Bogus=True), 1) == [{"Error": "APIInternalError"}]
    assert exchange(sim, device.serial, records, uninstall(WECHAT, WaitForStorageDeletion="yes"), 1) == [
        {"Error": "APIInternalError"}]
    assert WECHAT in apps(sim, device.serial, records)[0]
    # The one option the device knows is accepted.
    assert exchange(sim, device.serial, records, uninstall(WECHAT, WaitForStorageDeletion=True), 2)[-1] == {
        "Status": "Complete"}


def test_a_locked_phone_refuses_to_start_the_service(sim, records):
    device = phone(sim, locked=True)
    with pytest.raises(PasswordRequiredError):
        exchange(sim, device.serial, records, uninstall(WECHAT), 1)


# --- faults -------------------------------------------------------------------------------------------


def test_a_connection_dropped_after_the_first_status_still_removes_the_app(sim, records):
    device = phone(sim, uninstall_drop=True)
    seen: list[Any] = []

    async def go() -> None:
        async with proxy_service(sim, device.serial, records) as service:
            await service.send_plist(uninstall(WECHAT))
            while True:
                seen.append(await asyncio.wait_for(service.recv_plist(), 30))

    with pytest.raises(ConnectionTerminatedError):
        asyncio.run(go())
    assert seen == [UNINSTALL_PROGRESS]
    assert WECHAT not in apps(sim, device.serial, records)[0]


def test_garbage_is_an_answer_that_is_not_a_dictionary(sim, records):
    device = phone(sim, uninstall_garbage=True)
    assert exchange(sim, device.serial, records, uninstall(WECHAT), 1) == [["RemovingApplication", 50]]


@pytest.mark.parametrize("fault", ["no_complete", "uninstall_stall"])
def test_no_complete_sends_the_progress_and_then_stays_silent(sim, records, fault):
    device = phone(sim, **{fault: True})

    async def go() -> None:
        async with proxy_service(sim, device.serial, records) as service:
            await service.send_plist(uninstall(WECHAT))
            assert await asyncio.wait_for(service.recv_plist(), 30) == UNINSTALL_PROGRESS
            with pytest.raises(TimeoutError):  # still open, and silent
                await asyncio.wait_for(service.recv_plist(), 0.5)

    asyncio.run(go())


# --- profiles -----------------------------------------------------------------------------------------


def test_profile_keys_of_removal_are_ios_only():
    ios = parse_profile({"device": [{"platform": "ios", "serial": "U1", "app": [{"id": "a", "removable": False}],
                                     "faults": {"uninstall_prohibited": True, "uninstall_drop": True,
                                                "uninstall_garbage": True, "uninstall_stall": True}}]})
    device = ios.devices[0]
    assert device.apps[0].removable is False
    faults = device.faults
    assert (faults.uninstall_prohibited, faults.uninstall_drop, faults.uninstall_garbage, faults.uninstall_stall) == (
        True, True, True, True)
    with pytest.raises(ProfileError) as err:
        parse_profile({"device": [{"platform": "android", "serial": "A1", "app": [{"id": "a", "removable": False}],
                                   "faults": {"uninstall_drop": True}}]})
    assert "removable: iOS only" in str(err.value)
    assert "uninstall_drop: not a fault of android devices" in str(err.value)
    with pytest.raises(ProfileError, match="expected bool"):
        parse_profile({"device": [{"platform": "ios", "serial": "U2", "faults": {"uninstall_prohibited": "yes"}}]})
