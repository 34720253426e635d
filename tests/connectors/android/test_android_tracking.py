"""Following the adb server's plug events (scanner.connectors.android.tracking): what a track-devices
block says about each phone."""

from __future__ import annotations

from scanner.connectors.android.tracking import parse_tracked


def test_track_devices_l_names_clones_by_usb_path():
    block = ("0123456789ABCDEF       device usb:1-1.2 product:x1 model:Clone_X1 device:x1 transport_id:3\n"
             "0123456789ABCDEF       device usb:1-1.3 product:x1 model:Clone_X1 device:x1 transport_id:4\n"
             "R5CT123                no permissions (missing udev rules? user is in the plugdev group); see "
             "[http://developer.android.com/tools/device.html] usb:2-1 transport_id:5\n"
             "127.0.0.1:40001        unauthorized transport_id:6\n")
    assert parse_tracked(block, listing_long=True) == {
        "usb:1-1.2": "device", "usb:1-1.3": "device", "R5CT123": "no permissions", "127.0.0.1:40001": "unauthorized"}
    assert parse_tracked("A1\tdevice\nB2\tno permissions (udev); see [x]\n", listing_long=False) == {
        "A1": "device", "B2": "no permissions"}
