"""Safety and hygiene: pair records, the CSV report, option values, and which policy may be the default.

Pairing runs `scanner pair` as its own process against emulated iPhones
(scanner.simulator.ios, reached through the real pymobiledevice3) with HOME
pointing at a temporary folder; the user's real pair-record folders are
compared before and after every test of this module, so a write into them
fails it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import plistlib
import pwd
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.formats.csv_report import HEADER, write_csv
from scanner.model import App, DeviceInfo, DeviceResult, Finding, Report
from scanner.signatures import SignatureError, load_signatures
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import DeviceProfile, Faults, ProfileError, filler_apps, parse_profile

UNTRUSTED = DeviceProfile(platform="ios", serial="00008120-5CA9E5000000A001", name="Kim's iPhone",
                          apps=filler_apps("ios", 5, seed="hygiene"), faults=Faults(pairing="not-paired"))

# --- the user's real pair-record folders: never written by the tests or the simulator -----------------

REAL_HOME = Path(pwd.getpwuid(os.getuid()).pw_dir)
_xdg = os.environ.get("XDG_DATA_HOME", "")
REAL_FOLDERS = [REAL_HOME / ".pymobiledevice3", REAL_HOME / ".local" / "share" / "pymobiledevice3",
                *([Path(_xdg) / "pymobiledevice3"] if os.path.isabs(_xdg) else []),
                Path("/var/db/lockdown"), Path("/var/lib/lockdown")]


def snapshot(folder: Path) -> object:
    """What a folder holds (names, sizes, modification times, modes), or None when it does not exist."""
    if not folder.exists():
        return None
    try:
        entries = sorted(folder.rglob("*"))
        return [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
                for p in entries]
    except PermissionError:  # a root-only /var/db/lockdown: its own stat still changes with its entries
        st = folder.stat()
        return ("unreadable", st.st_mtime_ns, st.st_mode)


@pytest.fixture(scope="module", autouse=True)
def real_folders_untouched() -> Iterator[None]:
    before = {str(f): snapshot(f) for f in REAL_FOLDERS}
    yield
    assert {str(f): snapshot(f) for f in REAL_FOLDERS} == before, "a test wrote into a real pair-record folder"


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def scanner(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess:
    """`python -m scanner` with a temporary HOME (XDG_DATA_HOME and SUDO_USER removed) unless `env` says otherwise."""
    full = {k: v for k, v in os.environ.items()
            if k not in ("XDG_DATA_HOME", "SUDO_USER", "PYTHONPATH") and not k.startswith(("ADB_", "ANDROID_"))}
    full.update({"HOME": str(cwd / "home"), "USBMUXD_SOCKET_ADDRESS": free_address(), "PYTHONIOENCODING": "utf-8"})
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd, env=full, capture_output=True,
                          timeout=timeout)
    # Decoded by hand: text mode would turn the CSV's \r\n (and any raw \r) into \n.
    proc.stdout = proc.stdout.decode("utf-8", "surrogateescape")
    proc.stderr = proc.stderr.decode("utf-8", "surrogateescape")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- pair records ---------------------------------------------------------------------------------------


@pytest.fixture
def iphone(tmp_path: Path) -> Iterator[IOSSimulator]:
    (tmp_path / "home").mkdir()
    with IOSSimulator([UNTRUSTED]) as sim:
        yield sim


def test_scanner_pair_writes_the_record_for_its_owner_only(iphone, tmp_path):
    home = tmp_path / "home"
    proc = scanner("pair", "--udid", UNTRUSTED.serial, "--timeout", "10", cwd=tmp_path,
                   env={"USBMUXD_SOCKET_ADDRESS": iphone.address})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("paired: Kim's iPhone")
    folder = home / ".local" / "share" / "pymobiledevice3"  # no ~/.pymobiledevice3, no XDG_DATA_HOME
    record = folder / f"{UNTRUSTED.serial}.plist"
    assert record.is_file() and iphone.pair_record(UNTRUSTED.serial) is not None
    assert (mode(folder), mode(record)) == (0o700, 0o600)  # it holds the host private key
    assert b"PRIVATE KEY" in plistlib.loads(record.read_bytes())["HostPrivateKey"]
    assert str(folder) in proc.stderr  # "the record is saved to usbmuxd and <folder>": the folder really used
    assert [p.name for p in folder.iterdir()] == [record.name]


def test_an_existing_folder_and_record_are_narrowed(iphone, tmp_path):
    """~/.pymobiledevice3 made 0755 by an older tool, and a record left 0644: both made private."""
    legacy = tmp_path / "home" / ".pymobiledevice3"
    legacy.mkdir(mode=0o755)
    legacy.chmod(0o755)
    env = {"USBMUXD_SOCKET_ADDRESS": iphone.address, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert scanner("pair", "--udid", UNTRUSTED.serial, "--timeout", "10", cwd=tmp_path, env=env).returncode == 0
    record = legacy / f"{UNTRUSTED.serial}.plist"
    assert (mode(legacy), mode(record)) == (0o700, 0o600)
    assert not (tmp_path / "xdg").exists()  # the legacy folder wins when it exists, as in pymobiledevice3
    record.chmod(0o644)
    again = scanner("pair", "--udid", UNTRUSTED.serial, "--timeout", "10", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "Already paired" in again.stderr
    assert mode(record) == 0o600


def test_the_demo_writes_nothing_into_home(tmp_path):
    """The demo's emulated iPhones get a private pair-record folder: pymobiledevice3 would make one in HOME."""
    (tmp_path / "home").mkdir()
    proc = scanner("demo", "--quiet", "--format", "json", cwd=tmp_path,
                   env={"XDG_DATA_HOME": str(tmp_path / "xdg")}, timeout=180)
    assert proc.returncode == 5, proc.stderr
    assert list((tmp_path / "home").rglob("*")) == [] and not (tmp_path / "xdg").exists()


# --- CSV ------------------------------------------------------------------------------------------------

PM_CLEAN = ("package:/data/app/~~a==/com.google.android.gm-b==/base.apk=com.google.android.gm versionCode:64"
            "  installer=com.android.vending uid:10101\n"
            "package:/system/framework/framework-res.apk=android versionCode:34  installer=null uid:1000\n")
PM_WECHAT = PM_CLEAN + ("package:/data/app/~~c==/com.tencent.mm-d==/base.apk=com.tencent.mm versionCode:2280"
                        "  installer=com.android.vending uid:10234\n")
HOSTILE_NAME = "phone\x1b]0;pwned\x07\u202e.txt"
# Anything a terminal acts on: C0 (but the row ends), DEL, C1, bidi and other invisible format characters.
RAW_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def read_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == HEADER and all(len(r) == len(HEADER) for r in rows)
    return [dict(zip(HEADER, r)) for r in rows[1:]]


def test_csv_lists_every_device_not_only_those_with_findings(tmp_path):
    (tmp_path / "clean.txt").write_text(PM_CLEAN)
    (tmp_path / "wechat.txt").write_text(PM_WECHAT)
    (tmp_path / "home").mkdir()
    proc = scanner("scan", "-i", "clean.txt", "-i", "wechat.txt", "-i", "missing.txt", "--format", "csv",
                   cwd=tmp_path)
    assert proc.returncode == 5, proc.stderr
    rows = read_rows(proc.stdout)
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(row["device_source"], []).append(row)
    assert set(by_source) == {"clean.txt", "wechat.txt", "missing.txt"}
    (clean,) = by_source["clean.txt"]
    assert (clean["device_status"], clean["device_reason"], clean["app_count"], clean["policy"], clean["app_id"]) \
        == ("complete", "", "2", "", "")
    (missing,) = by_source["missing.txt"]
    assert missing["device_status"] == "failed" and missing["device_reason"] and missing["app_count"] == "0"
    assert missing["device_message"]  # what to do
    wechat = by_source["wechat.txt"]
    assert wechat and all(r["policy"] and r["app_id"] == "com.tencent.mm" for r in wechat)
    assert all((r["device_status"], r["app_count"]) == ("complete", "3") for r in wechat)


def test_csv_never_sends_a_raw_control_character_to_the_terminal(tmp_path):
    (tmp_path / HOSTILE_NAME).write_text(PM_WECHAT)
    (tmp_path / "home").mkdir()
    proc = scanner("scan", "-i", HOSTILE_NAME, "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.endswith("\r\n")
    lines = proc.stdout[:-2].split("\r\n")  # csv's row terminator, and the only line breaks there are
    assert not any(RAW_CONTROL.search(line) or "\n" in line or "\r" in line for line in lines), lines
    assert read_rows(proc.stdout)[0]["device_source"] == "phone\\x1b]0;pwned\\x07\\u202e.txt"


def report_of(*results: DeviceResult) -> Report:
    when = datetime(2025, 3, 1, tzinfo=timezone.utc)
    return Report(tool="scanner", version="0", started=when, finished=when, policies=(), signature_files=(),
                  results=results)


def finding(app: App, match: str = "exact") -> Finding:
    return Finding(app=app, policy="us-eo-13971", policy_status="revoked", rule="us-eo-13971/wechat-pay",
                   listed="WeChat Pay", relation="app", catalog_app="wechat", catalog_name="WeChat", match=match,
                   identifier="com.tencent.mm", confidence="confirmed", severity="prohibited")


def render(report: Report) -> str:
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


@pytest.mark.parametrize("value, written", [
    ("a;=cmd|' /C calc'!A0", "a;'=cmd|' /C calc'!A0"),
    ("WeChat; +1", "WeChat; '+1"),
    ("x;-2;@SUM(A1)", "x;'-2;'@SUM(A1)"),
    ("\t=1", "'\\t=1"),
    ("\r=1", "'\\r=1"),
    ("\t", "'\\t"),
    ("x;\t=1", "x;\\t=1"),  # a tab is written as \t: after the `;` the cell starts with a backslash
    ("a;b", "a;b"),
    ("8.0.47", "8.0.47"),
])
def test_csv_neutralises_formulas_after_a_semicolon_and_tab_or_cr_starts(value, written):
    app = App("android", "com.tencent.mm", name=value, version=value)
    device = DeviceResult(DeviceInfo("android", value, model=value, source="adb"), "complete", None, None, (),
                          (finding(app),), 1)
    (row,) = read_rows(render(report_of(device)))
    assert (row["app_name"], row["app_version"], row["serial"], row["model"]) == (written,) * 4


def test_a_recovered_finding_is_one_row_with_its_match():
    app = App("android", "com.tencent.mm")
    device = DeviceResult(DeviceInfo(None, None, source="notes.txt"), "partial", "bad-lines",
                          "2 lines could not be read", (), (finding(app, "recovered"),), 0)
    (row,) = read_rows(render(report_of(device)))
    assert (row["match"], row["app_id"], row["device_status"], row["device_reason"]) == (
        "recovered", "com.tencent.mm", "partial", "bad-lines")


# --- option values --------------------------------------------------------------------------------------

# After --timeout, an argument that stops the command before it touches anything, had --timeout passed.
HARMLESS = {
    "scan": ("--adb-server", "nohost"),
    "watch": ("--adb-server", "nohost"),
    "devices": ("--adb-server", "nohost"),
    "demo": ("--signatures", "no-such-file.toml"),
    "pair": (),  # $USBMUXD_SOCKET_ADDRESS is a port nothing listens on
}


@pytest.mark.parametrize("command", sorted(HARMLESS))
@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "0", "-5"])
def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_error(command, value, tmp_path):
    (tmp_path / "home").mkdir()
    proc = scanner(command, "--timeout", value, *HARMLESS[command], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "--timeout" in proc.stderr and value in proc.stderr


@pytest.mark.parametrize("delay", ["nan", "inf", "-inf", "-1.5", "1e400", "86400"])
def test_a_profile_delay_must_be_a_finite_number_of_seconds(delay, tmp_path):
    profile = tmp_path / "fleet.toml"
    profile.write_text(f'[[device]]\nplatform = "ios"\nserial = "IPH1"\n[device.faults]\ndelay = {delay}\n')
    (tmp_path / "home").mkdir()
    proc = scanner("demo", "--profile", str(profile), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "device[0].faults.delay" in proc.stderr


def test_parse_profile_names_the_bad_delay():
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ProfileError) as err:
            parse_profile({"device": [{"platform": "android", "serial": "A", "faults": {"delay": value}}]}, "p.toml")
        assert any("device[0].faults.delay" in p for p in err.value.problems), err.value.problems
    ok = parse_profile({"device": [{"platform": "android", "serial": "A", "faults": {"delay": 2}}]}, "p.toml")
    assert ok.devices[0].faults.delay == 2


# --- defaults -------------------------------------------------------------------------------------------

USER_DEFAULT_POLICY = """\
kind = "policy"
schema = 1
id = "acme-default"
title = "A user's policy that claims to be the default"
authority = "ACME IT"
citation = "ACME-1"
signed = 2025-03-01
status = "in-force"
url = "https://intranet.example/acme-1"
default = true

[[entries]]
key = "camscanner"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "prohibited"
"""


@pytest.fixture
def local_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's ./signatures/policies/ in the working folder: the same text as a bundled path."""
    policies = tmp_path / "signatures" / "policies"
    policies.mkdir(parents=True)
    (policies / "acme-default.toml").write_text(USER_DEFAULT_POLICY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("given", ["signatures/policies/acme-default.toml", "signatures", "./signatures"])
def test_a_user_policy_under_a_local_signatures_folder_cannot_be_the_default(local_signatures, given):
    with pytest.raises(SignatureError) as err:
        load_signatures([given])
    assert any("default: only a bundled policy can be the default" in p for p in err.value.problems), \
        err.value.problems
    # and its name in messages and reports does not read as a bundled file's
    assert all(not p.startswith("signatures/") for p in err.value.problems)


def test_the_same_policy_without_default_loads(local_signatures):
    path = local_signatures / "signatures" / "policies" / "acme-default.toml"
    path.write_text(USER_DEFAULT_POLICY.replace("default = true\n", ""))
    sigs = load_signatures(["signatures/policies/acme-default.toml"])
    assert sigs.policies["acme-default"].default is False
    assert sigs.policies["acme-default"].source == "./signatures/policies/acme-default.toml"
    assert [p.id for p in sigs.select()] == ["us-eo-13971", "us-no-tiktok-gov-devices"]  # still only the bundled


def test_the_cli_refuses_it_before_scanning(local_signatures):
    (local_signatures / "clean.txt").write_text(PM_CLEAN)
    (local_signatures / "home").mkdir()
    proc = scanner("scan", "-i", "clean.txt", "--signatures", "signatures", cwd=local_signatures)
    assert proc.returncode == 2
    assert "./signatures/policies/acme-default.toml: default: only a bundled policy can be the default" in proc.stderr
