"""Issue 15: an iPhone's progress line names it as its report does, its model beside the UDID, once lockdown has
said what it is; real pymobiledevice3 against emulated iPhones, a real ProgressDisplay."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.connectors.ios.connector import IOSConnector
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import DeviceProfile, Faults, filler_apps
from scanner.terminal.progress import ProgressDisplay

TRUSTED = DeviceProfile(platform="ios", serial="00008120-5CA9E5A000000001", product_type="iPhone15,2",
                        apps=filler_apps("ios", 5, seed="named"))
UNTRUSTED = DeviceProfile(platform="ios", serial="00008120-5CA9E5A000000002", product_type="iPad13,4",
                          apps=filler_apps("ios", 5, seed="named2"), faults=Faults(pairing="not-paired"))
HOSTILE = DeviceProfile(platform="ios", serial="00008120-5CA9E5A000000003", product_type="\u202eiPhone99,9\u200f\u0085",
                        apps=filler_apps("ios", 5, seed="named3"))
DEVICES = (TRUSTED, UNTRUSTED, HOSTILE)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProgressDisplay, dict, list]]:
    for device in DEVICES:
        assert not Path(f"/var/lib/lockdown/{device.serial}.plist").exists(), "a real pair record would interfere"
    base = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(base))
        mp.setenv("XDG_DATA_HOME", str(base / "xdg"))
        for name in ("SUDO_USER", "PYMOBILEDEVICE3_USBMUX", "USBMUXD_SOCKET_ADDRESS"):
            mp.delenv(name, raising=False)
        with IOSSimulator(DEVICES) as sim:
            display = ProgressDisplay(io.StringIO(), clock=lambda: 0.0, size=lambda: os.terminal_size((120, 24)),
                                      tick=3600)
            names: list[tuple[str, str, str]] = []
            shown = display.name

            def name(platform: str, serial: str, label: str) -> None:
                names.append((platform, serial, label))
                shown(platform, serial, label)

            display.name = name  # type: ignore[method-assign] - records what the connector said, then shows it
            invs = {inv.device.serial: inv for inv in IOSConnector(sim.address, timeout=20, progress=display)
                    .inventories()}
            yield display, invs, names
            display.close()


def line_of(display: ProgressDisplay, words: str) -> str:
    lines = [line for line in display.lines() if words in line]
    assert len(lines) == 1, display.lines()
    return lines[0]


def test_a_trusted_iphones_line_shows_its_model_beside_the_udid_as_the_report(scanned):
    display, invs, names = scanned
    inv = invs[TRUSTED.serial]
    assert inv.status == "complete" and inv.device.model == "iPhone15,2"
    assert ("ios", TRUSTED.serial, f"iPhone15,2 {TRUSTED.serial}") in names
    line = line_of(display, TRUSTED.serial)
    assert f"iPhone15,2 {TRUSTED.serial}" in line and "(via" not in line  # the UDID is the serial: said once


def test_an_untrusted_iphone_is_named_too_and_still_fails(scanned):
    display, invs, names = scanned
    inv = invs[UNTRUSTED.serial]
    assert inv.status == "failed" and inv.reason == "not-paired"
    # lockdown tells an untrusted host what the device is; the report shows it, and so does the line.
    assert inv.device.model == "iPad13,4"
    assert ("ios", UNTRUSTED.serial, f"iPad13,4 {UNTRUSTED.serial}") in names
    assert f"iPad13,4 {UNTRUSTED.serial}" in line_of(display, UNTRUSTED.serial)


def test_a_hostile_model_is_escaped_on_the_line(scanned):
    display, invs, names = scanned
    assert invs[HOSTILE.serial].status == "complete"
    assert ("ios", HOSTILE.serial, f"{HOSTILE.product_type} {HOSTILE.serial}") in names
    line = line_of(display, "iPhone99,9")  # a long label is cut short on the line, so found by its model
    assert not any(c in line for c in "\u202e\u200f\u0085"), line  # no bidi override or line break reaches the tty


def test_each_device_is_named_once_and_only_by_its_own_udid(scanned):
    _, _, names = scanned
    serials = [serial for _, serial, _ in names]
    assert len(serials) == len(set(serials))
    assert set(serials) <= {d.serial for d in DEVICES}
