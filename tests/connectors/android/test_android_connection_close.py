"""The connector's adb connections (scanner.connectors.android.server._Connection) against the real adb server.

adbutils' AdbConnection.close() sleeps 10 ms after shutting its write side
down; ours owns its socket and closes it at once. These tests watch
time.sleep in the threads that read the phone (never in the emulator's), show
that the watch sees adbutils' own sleep (so it can fail), and check what a
closed or cut connection does afterwards.
"""

from __future__ import annotations

import threading
import time

import adbutils
import pytest
from adbutils.errors import AdbError, AdbTimeout

from android_fleet import phone
from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.android.server import Client, parse_server
from scanner.simulator.android import AndroidSimulator


@pytest.fixture(scope="module")
def sim():
    with AndroidSimulator([phone("CLOSE0001")]) as simulator:
        yield simulator


@pytest.fixture
def sleeps(monkeypatch) -> list[tuple[str, float]]:
    """Every time.sleep of the test's own thread and of the connector's device threads: (thread, seconds)."""
    seen: list[tuple[str, float]] = []
    real = time.sleep
    mine = threading.current_thread()

    def watched(seconds: float) -> None:
        here = threading.current_thread()
        if here is mine or here.name == "scan-adb-device":
            seen.append((here.name, seconds))
        real(seconds)

    monkeypatch.setattr(time, "sleep", watched)
    return seen


def client(sim: AndroidSimulator) -> Client:
    return Client(parse_server(f"127.0.0.1:{sim.adb_port}"))


def version(conn) -> int:
    conn.send_command("host:version")
    conn.check_okay()
    return int(conn.read_string_block(), 16)


def test_adbutils_own_close_sleeps_so_the_watch_can_see_it(sim, sleeps):
    conn = adbutils.AdbClient(port=sim.adb_port).make_connection()
    assert version(conn) > 0
    conn.close()
    assert sleeps == [("MainThread", 0.01)]


def test_a_connection_closes_at_once_and_then_refuses_use(sim, sleeps):
    owner = client(sim)
    conn = owner.make_connection()
    assert version(conn) > 0 and not conn.closed
    conn.close()
    assert sleeps == []
    assert conn.closed
    with pytest.raises(AdbError, match="closed"):
        conn.conn  # noqa: B018 - the property is what is tested
    conn.close()  # twice: nothing more happens
    owner.abort()  # and cutting the client's open connections finds none left
    assert sleeps == []


def test_a_shell_round_trip_gives_its_output_and_status_without_a_sleep(sim, sleeps):
    device = adbutils.AdbDevice(client(sim), serial=sim.transport_serial("CLOSE0001"))
    result = device.shell2("echo one; echo two >&2; exit 3", v2=True, encoding=None)
    assert (result.stdout, result.stderr, result.returncode) == (b"one\n", b"two\n", 3)
    assert device.shell2("getprop ro.serialno", v2=True).stdout.strip() == "CLOSE0001"
    assert sleeps == []


def test_a_cut_connection_fails_its_reader_and_closes_quietly(sim, sleeps):
    owner = client(sim)
    conn = owner.make_connection()
    conn.send_command("host:track-devices")  # an answer that never ends: only a cut stops the read
    conn.check_okay()
    conn.conn.settimeout(60)  # a guard: a cut that did not cut fails the test instead of hanging it
    owner.abort()
    try:
        conn.read(1 << 20)  # returns at the cut (what had arrived, then the end of the stream), or fails
    except AdbTimeout:
        pytest.fail("the read went on after the connection was cut")
    except (OSError, AdbError):
        pass
    conn.close()
    assert conn.closed and sleeps == []
    with pytest.raises(AdbTimeout):
        owner.make_connection()


def test_a_whole_scan_of_a_phone_sleeps_nowhere(sim, sleeps):
    [inventory] = AndroidConnector(f"127.0.0.1:{sim.adb_port}").inventories()
    assert inventory.status == "complete" and inventory.device.serial == "CLOSE0001" and inventory.apps
    assert sleeps == []
