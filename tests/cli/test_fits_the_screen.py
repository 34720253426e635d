"""What a person reads at a terminal fits it, stands out in colour there, and stays wide and plain in a pipe.

The CLI runs in a subprocess; "a terminal" is a pseudo-terminal sized with TIOCSWINSZ (stdout and stderr on
one each), so the program decides width and colour exactly as it does at a real one. Widths are counted here
independently of the code under test: an East Asian wide character takes two columns.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import unicodedata

import pytest

_CSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colours, and the progress display's cursor movement
_SGR_RED = "\x1b[31m"


def columns(line: str) -> int:
    line = _CSI.sub("", line)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in line)


def too_wide(text: str, width: int) -> list[tuple[int, str]]:
    return [(columns(line), line) for line in text.replace("\r", "").split("\n") if columns(line) > width]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end closed
            return
        if not chunk:
            return
        into.append(chunk)


def on_terminal(*args: str, width: int, env: dict[str, str] | None = None, timeout: float = 120
                ) -> tuple[int, str, str]:
    """Run `scanner ARGS` with stdout and stderr on two pseudo-terminals `width` columns wide."""
    ends = []
    for _ in range(2):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
        ends.append((master, slave))
    (out_m, out_s), (err_m, err_s) = ends
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *args], stdin=subprocess.DEVNULL, stdout=out_s,
                            stderr=err_s, env=env or _env(), close_fds=True)
    os.close(out_s)
    os.close(err_s)
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(out_m, out)), threading.Thread(target=_drain, args=(err_m, err))]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(30)
        os.close(out_m)
        os.close(err_m)
    text = b"".join(out).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, text, b"".join(err).decode("utf-8", "replace").replace("\r\n", "\n")


def in_pipe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, check=False,
                          env=env or _env(), timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def demo_80() -> tuple[int, str, str]:
    return on_terminal("demo", width=80)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    """The demo in a pipe, its JSON report saved beside it: a report to match again without devices."""
    path = str(tmp_path_factory.mktemp("saved") / "demo.json")
    return in_pipe("demo", "--inventory", "-o", f"json={path}"), path


def test_the_demo_fits_an_80_column_terminal_with_its_notes_and_progress(demo_80):
    code, out, err = demo_80
    assert code == 5, err
    assert not too_wide(out, 80) and not too_wide(err, 80)
    assert "scanner: demo: scanning 4 emulated devices" in err  # the note, wrapped, not lost
    # The progress lines named the phones as the report does, the adb transport beside.
    assert re.search(r"SM-S911B SIMGALAXYS23B \(via 127\.0\.0\.1:\d+\)", err), err
    words = " ".join(out.split())
    # The instruction is wrapped at words and never cut.
    assert "the work profile's apps are not in this report (the phone or its admin refuses adb access to it: " \
           "check it from the MDM console or on the phone)" in words
    assert "…(+" not in out


def test_the_demo_is_coloured_at_a_terminal_only_in_our_own_words(demo_80):
    _, out, _ = demo_80
    assert f"{_SGR_RED}prohibited\x1b[0m" in out and f"{_SGR_RED}failed\x1b[0m" in out
    assert "\x1b[32mclean\x1b[0m" in out  # the clean Pixel's verdict
    # Colour is on words, never wrapped around device text.
    assert f"{_SGR_RED}com." not in out and f"{_SGR_RED}SIM" not in out


def test_findings_are_one_row_per_installed_app(demo_80, saved):
    _, out, _ = demo_80
    # QQ Wallet's host and Tencent QQ are one app to remove: named once, with both entries.
    assert out.count("com.tencent.mqq") == 1
    iphone = out[out.index("[4/4]"):out.index("Summary")]
    assert "QQ Wallet" in iphone and "Tencent QQ" in iphone
    assert "4 apps to remove (5 findings: 5 prohibited)" in " ".join(iphone.split())
    summary = " ".join(out[out.index("Summary"):].split())
    assert "7 apps to remove (8 findings: 8 prohibited) on 2 devices" in summary
    # The JSON keeps one record per finding.
    with open(saved[1], encoding="utf-8") as f:
        report = json.load(f)
    assert sum(len(d["findings"]) for d in report["devices"]) == 8


def test_a_problem_is_said_once(demo_80):
    _, out, _ = demo_80
    galaxy = out[:out.index("[2/4]")]
    assert galaxy.count("Shell does not have permission") == 1
    assert "not read:" not in galaxy and "problems:" not in galaxy
    locked = out[out.index("[3/4]"):out.index("[4/4]")]
    assert "not read: apps: locked" not in locked and "(locked)" in locked


def test_the_demo_at_200_columns_uses_them():
    code, out, err = on_terminal("demo", width=200)
    assert code == 5, err
    assert not too_wide(out, 200) and not too_wide(err, 200)
    assert too_wide(out, 80)  # a wide terminal gets wide rows, not an 80-column layout


def test_the_demo_in_a_pipe_is_plain_and_one_row_a_line(saved):
    done, _ = saved
    assert done.returncode == 5, done.stderr
    assert "\x1b" not in done.stdout and "\x1b" not in done.stderr
    row = next(line for line in done.stdout.splitlines() if "com.tencent.mqq" in line)
    assert "QQ Wallet" in row and "prohibited" in row and "us-eo-13971 (revoked)" in row
    assert "com.lenovo.anyshare.gps" in next(line for line in done.stdout.splitlines() if "SHAREit" in line)


def test_columns_is_obeyed_in_a_pipe_too(saved):
    done = in_pipe("scan", "--input", saved[1], env=_env(COLUMNS="80"))
    assert done.returncode == 5, done.stderr
    assert not too_wide(done.stdout, 80) and not too_wide(done.stderr, 80)
    assert "\x1b" not in done.stdout


def test_no_color_and_NO_COLOR_turn_colour_off_at_a_terminal(saved):
    coloured = on_terminal("scan", "--input", saved[1], width=100)
    assert _SGR_RED in coloured[1]
    for args, env in ((("scan", "--input", saved[1], "--no-color"), None),
                      (("--no-color", "scan", "--input", saved[1]), None),
                      (("scan", "--input", saved[1]), _env(NO_COLOR="1"))):
        code, out, err = on_terminal(*args, width=100, env=env)
        assert code == 5, err
        assert "\x1b[" not in out, args
        assert not too_wide(out, 100)


def test_a_saved_report_matched_again_never_says_run_again(saved):
    done = in_pipe("scan", "--input", saved[1])
    locked = done.stdout[done.stdout.index("[3/4]"):done.stdout.index("[4/4]")]
    assert "locked" in locked
    assert "run again" not in done.stdout
    assert "scan it again" in locked


@pytest.mark.parametrize("width", [80, 200])
def test_signatures_screens_fit_the_terminal(width):
    for args in (("signatures", "list"), ("signatures", "show", "us-eo-13971"),
                 ("signatures", "show", "us-tx-covered-applications")):
        code, out, err = on_terminal(*args, width=width)
        if code == 2 and "unknown policy" in err:
            continue  # a policy id of another data version
        assert code == 0, err
        assert out.strip() and not too_wide(out, width)
        assert "\x1b" not in out
