"""Session-wide guard: no process the tests started outlives the test session.

Every process started during the session (the simulators' adb servers, an adb
server the connector started, `python -m scanner` runs) inherits a marker in
its environment. When the session ends, any live process other than pytest
itself that carries the marker is a leak: it is reported as a test error and
then stopped by its PID, so one leak never spills into the next run.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis: one profile for every run of the suite (HYPOTHESIS_PROFILE=dev picks Hypothesis' own defaults).
# The suite runs on a loaded 2-core machine: a per-example deadline or the too-slow health check would fail a
# property because the machine was busy, not because the code was wrong. max_examples is left to each test
# (100 unless it says more), so no property checks fewer cases than it did.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", settings.get_profile("default"))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MARKER = "SCANNER_TEST_SESSION"


def _marked_processes(token: str) -> list[tuple[int, str]]:
    needle = f"{MARKER}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            if needle not in environ.split(b"\0"):
                continue
            if (entry / "stat").read_text().split(") ")[-1].startswith("Z"):
                continue  # a zombie is already dead; its parent reaps it
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry.name), cmdline))
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    token = uuid.uuid4().hex
    os.environ[MARKER] = token
    yield
    deadline = time.monotonic() + 5  # servers being stopped right now get a moment to exit
    left = _marked_processes(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _marked_processes(token)
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"processes started by the tests were still running at the end: {left}"



@pytest.fixture(scope="session", autouse=True)
def no_config_of_the_person_running_the_tests(tmp_path_factory):
    """A real ~/.config/scanner/config.toml (or $SCANNER_CONFIG) would change what a plain scan checks:
    every test, and every `python -m scanner` they start, sees an empty config folder instead."""
    saved = {k: os.environ.get(k) for k in ("SCANNER_CONFIG", "XDG_CONFIG_HOME")}
    os.environ.pop("SCANNER_CONFIG", None)
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
