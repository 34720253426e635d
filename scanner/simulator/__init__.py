"""Emulated Android and iOS devices that speak the real protocols.

For the demo, for the tests, and for admins who want to try their own audit
scripts without phones. Devices are described by a profile (profile.py); the
Android side runs a fake adbd behind a private real adb server (android.py),
the iOS side runs usbmuxd, lockdownd and installation_proxy (ios.py).
Everything binds to 127.0.0.1 only.
"""
