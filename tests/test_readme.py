"""The README's commands and scripts, run as written.

A new user copies these; an MDM admin adapts the audit script. If one of them
stops working, this fails before a user finds out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent  # the virtualenv's bin: `scanner` is there


def blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def block_with(text: str) -> str:
    found = [b for b in blocks() if text in b]
    assert len(found) == 1, f"one README sh block with {text!r}, found {len(found)}"
    return found[0]


def shell_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_", "USBMUXD_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    return env


def test_the_two_commands_of_the_quick_start():
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Try it (two commands)"):text.index("## Scanning attached devices")]
    commands = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/scanner demo",
        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest",
    ]
    assert "exits with code 5" in quick


@pytest.mark.skipif(not (BIN / "scanner").exists(), reason="the scanner console script is not installed here")
def test_the_simulate_script_runs_as_written(tmp_path):
    script = block_with("scanner simulate --quiet > sim.env &")
    (tmp_path / "my-audit.sh").write_text("#!/bin/sh\nscanner scan --quiet --format json > audit.json\n")
    (tmp_path / "my-audit.sh").chmod(0o755)
    result = subprocess.run(["sh", "-c", script], cwd=tmp_path, env=shell_env(tmp_path), capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr  # `wait` gave simulate's exit status: stopped cleanly
    assert "my audit exited 5" in result.stdout
    assert '"exit_code": 5' in (tmp_path / "audit.json").read_text()


@pytest.mark.skipif(shutil.which("jq") is None or not (BIN / "scanner").exists(),
                    reason="the README's audit script uses jq (apt install jq)")
def test_the_mdm_audit_script_acts_on_a_scan_of_the_demo_fleet(tmp_path):
    audit = block_with("#!/bin/sh\n# Scan whatever is attached").replace("/var/log/scanner", f"{tmp_path}/log")
    (tmp_path / "audit.sh").write_text(audit)
    serve = block_with("scanner simulate --quiet > sim.env &").replace("./my-audit.sh", "sh audit.sh")
    result = subprocess.run(["sh", "-c", serve], cwd=tmp_path, env=shell_env(tmp_path), capture_output=True,
                            text=True, timeout=180)
    out = result.stdout
    assert "my audit exited 5" in out, (out, result.stderr)
    assert "FINDING SIMGALAXYS23B com.intsig.camscanner (CamScanner, us-eo-13971)" in out
    assert "FINDING 00008110-00125C963A91801E com.tencent.xin (WeChat Pay, us-eo-13971)" in out
    assert "NOT READ 00008030-001A35E11E05802E failed locked: The iPhone is locked: unlock it, then run again" in out
    assert "NOT READ SIMGALAXYS23B partial user-refused:" in out
    assert "SIMPIXEL7A" not in out  # the clean phone needs no action
    log = tmp_path / "log"
    assert log.is_dir() and (log.stat().st_mode & 0o777) == 0o700  # the script made its folder
    reports = list(log.glob("*.json"))
    assert len(reports) == 1 and len(list(log.glob("*.sarif"))) == 1
    assert (reports[0].stat().st_mode & 0o777) == 0o600  # the JSON is the owner's only, as the -o files are


@pytest.mark.skipif(shutil.which("jq") is None or not (BIN / "scanner").exists(),
                    reason="the README's export audit script uses jq (apt install jq)")
def test_the_export_audit_script_reads_an_intune_zip_and_jamf_pages(tmp_path):
    import json
    import zipfile

    head = ("ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceId,"
            "DeviceName,OSDescription,OSVersion,Platform,UserId,EmailAddress,UserName\n")
    rows = ("k1,TikTok,TikTok Ltd.,38.1.0,38.1.0,d-1111,IPHONE-JDOE,iPhone 14,18.5,iOS,u1,jdoe@agency.gov,Jane Doe\n"
            "k2,com.tencent.mm,,8.0.50,8.0.50,d-2222,PIXEL-ASMITH,Pixel 8,15,Android,u2,asmith@agency.gov,A Smith\n"
            "k3,WPS Office,Kingsoft,12.2,12.2,d-3333,LT-0042,Windows 11,10.0,Windows,u3,bob@agency.gov,Bob\n")
    with zipfile.ZipFile(tmp_path / "intune-apps.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("AppInvRawData_3f1c.csv", head + rows)
    page = {"totalCount": 1, "results": [{"mobileDeviceId": "42", "applications": [
        {"identifier": "com.tencent.xin", "name": "WeChat", "version": "1", "shortVersion": "8.0"}]}]}
    (tmp_path / "jamf-pages.json").write_text(json.dumps(page))
    script = block_with("# Nightly: check the MDM's inventory").replace("/var/log/scanner", f"{tmp_path}/log")
    result = subprocess.run(["sh", "-c", script], cwd=tmp_path, env=shell_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 1, (out, result.stderr)  # the MDM's view accepted: findings, all proven
    assert "FINDING IPHONE-JDOE TikTok (TikTok, evidence: name)" in out
    assert "FINDING PIXEL-ASMITH com.tencent.mm (WeChat Pay, evidence: identifier)" in out
    assert "FINDING Jamf id 42 com.tencent.xin (WeChat Pay, evidence: identifier)" in out
    assert "NOT PROVEN" not in out
    assert "NOT CHECKED LT-0042:" in out and "Windows computer" in out
    [report] = (tmp_path / "log").glob("mdm-*.json")
    assert report.stat().st_mode & 0o077 == 0 and json.loads(report.read_text())["accepted_scopes"] == ["mdm"]
