"""The session guard in conftest.py can fail: it sees a child process left running."""

from __future__ import annotations

import os

from conftest import MARKER, _marked_processes


def test_guard_sees_a_leaked_child():
    """The guard must be able to fail: a child left running is found by its marker."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child.pid in {pid for pid, _ in _marked_processes(os.environ[MARKER])}
    finally:
        child.kill()
        child.wait()
    assert child.pid not in {pid for pid, _ in _marked_processes(os.environ[MARKER])}
