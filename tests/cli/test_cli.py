"""The command line as an audit script sees it: exit codes, stdout, stderr, files written.

Every test runs `python -m scanner` as a separate process from a directory
outside the source tree, so what is tested is the installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PM_CLEAN = (
    "package:/system/framework/framework-res.apk=android versionCode:34  installer=null uid:1000\n"
    "package:/data/app/~~a==/com.google.android.gm-b==/base.apk=com.google.android.gm versionCode:64  installer=com.android.vending uid:10101\n"
    "package:/data/app/~~c==/com.tencent.wework-d==/base.apk=com.tencent.wework versionCode:9  installer=com.android.vending uid:10102\n"
)
PM_WECHAT = PM_CLEAN + (
    "package:/data/app/~~wPsmersxdVPHCSsZyCiQxQ==/com.tencent.mm-UrZAfkGI7uXTMX9NiVFxUQ==/base.apk=com.tencent.mm"
    " versionCode:2280  installer=com.android.vending uid:1010234\n"
)
PM_TIM = PM_CLEAN + "package:/data/app/x/base.apk=com.tencent.tim versionCode:1  installer=null uid:10300\n"
PM_TIKTOK = PM_CLEAN + "package:/data/app/x/base.apk=com.zhiliaoapp.musically versionCode:1  installer=null uid:10301\n"


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", *args], cwd=cwd, input=stdin, capture_output=True, env=env, timeout=120
    )
    proc.out = proc.stdout.decode("utf-8")  # type: ignore[attr-defined]
    proc.err = proc.stderr.decode("utf-8")  # type: ignore[attr-defined]
    assert "Traceback" not in proc.err, proc.err
    return proc


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, text in {"clean.txt": PM_CLEAN, "wechat.txt": PM_WECHAT, "tim.txt": PM_TIM, "tiktok.txt": PM_TIKTOK}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def scan_json(*args: str, cwd: Path) -> tuple[int, dict]:
    proc = run("scan", "--format", "json", *args, cwd=cwd)
    return proc.returncode, json.loads(proc.out)


# --- the exit-code table -------------------------------------------------------


def test_exit_0_clean_device_fully_read(files):
    rc, doc = scan_json("--input", "clean.txt", cwd=files)
    assert rc == 0
    assert doc["verdict"] == "clean" and doc["exit_code"] == 0
    (device,) = doc["devices"]
    assert device["status"] == "complete" and device["app_count"] == 3 and device["findings"] == []


def test_exit_1_findings_every_target_read(files):
    rc, doc = scan_json("--input", "wechat.txt", "--input", "clean.txt", cwd=files)
    assert rc == 1
    findings = [f for d in doc["devices"] for f in d["findings"]]
    assert [(f["listed"], f["relation"], f["app"]["id"], f["app"]["user"]) for f in findings] == [
        ("WeChat Pay", "feature-of", "com.tencent.mm", 10)
    ]
    assert findings[0]["policy"] == "us-eo-13971" and findings[0]["policy_status"] == "revoked"


def test_exit_4_unreadable_input_no_findings(files):
    proc = run("scan", "--input", "clean.txt", "--input", "missing.txt", cwd=files)
    assert proc.returncode == 4
    assert "missing.txt" in proc.out


def test_exit_5_findings_and_an_unreadable_input(files):
    (files / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    rc, doc = scan_json("--input", "wechat.txt", "--input", "garbage.bin", cwd=files)
    assert rc == 5 and doc["verdict"] == "findings-incomplete"
    statuses = {d["device"]["source"]: d["status"] for d in doc["devices"]}
    assert statuses == {"wechat.txt": "complete", "garbage.bin": "failed"}


def test_exit_2_usage_errors_scan_nothing(files, tmp_path):
    proc = run("scan", "--input", "wechat.txt", "--serial", "X", "--timeout", "5", cwd=files)
    assert proc.returncode == 2 and "--serial, --timeout select attached devices" in proc.err
    proc = run("scan", "--platform", "ios", "--serial", "X", "--adb-server", "nohost", cwd=files)
    assert proc.returncode == 2 and "--adb-server 'nohost': expected HOST:PORT" in proc.err
    proc = run("scan", "--platform", "ios", "--serial", "X", cwd=files)
    assert proc.returncode == 2 and "--serial selects Android devices" in proc.err
    proc = run("scan", "--udid", " ", cwd=files)
    assert proc.returncode == 2 and "--serial and --udid need a value" in proc.err
    proc = run("devices", "--platform", "android", "--udid", "X", cwd=files)
    assert proc.returncode == 2 and "--udid selects iPhones" in proc.err
    proc = run("scan", "--input", "wechat.txt", "--policy", "nope", cwd=files)
    assert proc.returncode == 2 and "unknown policy 'nope'" in proc.err and proc.out == ""
    proc = run("scan", "--input", "wechat.txt", "--output", "xml=out.xml", cwd=files)
    assert proc.returncode == 2 and "FORMAT=PATH" in proc.err
    proc = run("scan", "--input", "wechat.txt", "--output", f"json={files}/no/such/dir/r.json", cwd=files)
    assert proc.returncode == 2 and "cannot write" in proc.err
    proc = run("scan", "--input", "-", "--input", "-", cwd=files)
    assert proc.returncode == 2


def test_exit_2_broken_signature_file_before_any_input_is_read(files):
    (files / "mine.toml").write_text('kind = "policy"\nschema = 1\nid = "x"\n', encoding="utf-8")
    proc = run("scan", "--input", "wechat.txt", "--signatures", "mine.toml", cwd=files)
    assert proc.returncode == 2 and proc.out == ""
    assert "mine.toml: title: missing" in proc.err
    assert "mine.toml: entries: missing" in proc.err


@pytest.mark.parametrize(
    "fail_on, expected", [("prohibited", 0), ("review", 1), ("never", 0)]
)
def test_fail_on_threshold_with_review_finding(files, fail_on, expected):
    rc, doc = scan_json("--input", "tim.txt", "--fail-on", fail_on, cwd=files)
    assert rc == expected
    (finding,) = doc["devices"][0]["findings"]
    assert (finding["listed"], finding["severity"], finding["relation"]) == ("Tencent QQ", "review", "related")


def test_fail_on_never_still_reports_incomplete(files):
    assert run("scan", "--input", "wechat.txt", "--fail-on", "never", cwd=files).returncode == 0
    assert run("scan", "--input", "wechat.txt", "--input", "nope.txt", "--fail-on", "never", cwd=files).returncode == 4


# --- policies and signatures ---------------------------------------------------


def test_policy_selection(files):
    assert scan_json("--input", "tiktok.txt", cwd=files)[0] == 1  # default: the federal set, TikTok included
    assert scan_json("--input", "tiktok.txt", "--policy", "us-eo-13971", cwd=files)[0] == 0
    rc, doc = scan_json("--input", "tiktok.txt", "--policy", "us-no-tiktok-gov-devices", cwd=files)
    assert rc == 1 and [p["id"] for p in doc["policies"]] == ["us-no-tiktok-gov-devices"]
    assert doc["policies"][0]["status"] == "in-force" and len(doc["policies"][0]["sha256"]) == 64
    rc, doc = scan_json("--input", "tiktok.txt", "--input", "wechat.txt", "--policy", "all", cwd=files)
    found = {f["policy"] for d in doc["devices"] for f in d["findings"]}
    assert rc == 1 and {"us-eo-13971", "us-no-tiktok-gov-devices", "us-tx-prohibited-technologies-2023"} <= found
    # a jurisdiction: every Texas policy, and only those
    rc, doc = scan_json("--input", "wechat.txt", "--policy", "us-tx", cwd=files)
    assert rc == 1 and {p["id"] for p in doc["policies"]} == {
        "us-tx-prohibited-technologies-2023", "us-tx-prohibited-technologies-2025",
        "us-tx-prohibited-technologies-2026", "us-tx-sb-1893"}


def test_signatures_list_show_validate(files):
    proc = run("signatures", "list", cwd=files)
    assert proc.returncode == 0
    assert "us-eo-13971" in proc.out and "revoked" in proc.out
    assert "us-no-tiktok-gov-devices" in proc.out and "in-force" in proc.out
    assert "EO 14034" in proc.out

    proc = run("signatures", "show", "us-eo-13971", cwd=files)
    assert proc.returncode == 0
    for text in ("WeChat Pay", "com.tencent.xin", "com.intsig.camscanner", "confirmed", "a feature of WeChat"):
        assert text in proc.out
    assert run("signatures", "show", "nope", cwd=files).returncode == 2

    (files / "good").mkdir()
    (files / "good" / "p.toml").write_text(
        'kind = "policy"\nschema = 1\nid = "acme"\ntitle = "ACME"\nauthority = "ACME IT"\ncitation = "SEC-1"\n'
        'signed = 2025-01-01\nstatus = "internal"\nurl = "https://acme.example/sec-1"\n\n'
        '[[entries]]\nkey = "cs"\nlisted = "CamScanner"\napp = "camscanner"\nrelation = "app"\nseverity = "prohibited"\n',
        encoding="utf-8",
    )
    proc = run("signatures", "validate", "good", cwd=files)
    assert proc.returncode == 0 and "1 file(s) valid" in proc.out
    rc, doc = scan_json("--input", "clean.txt", "--signatures", "good", "--policy", "acme", cwd=files)
    assert rc == 0 and doc["policies"][0]["id"] == "acme"

    (files / "good" / "p.toml").write_text('kind = "policy"\n', encoding="utf-8")
    proc = run("signatures", "validate", "good", cwd=files)
    assert proc.returncode == 2 and "p.toml: id: missing" in proc.err


# --- outputs -------------------------------------------------------------------


def test_several_outputs_at_once_and_table_on_stdout(files):
    proc = run(
        "scan", "--input", "wechat.txt", "--output", "json=r.json", "--output", "csv=r.csv", "--output", "sarif=r.sarif",
        "--policy", "us-eo-13971", cwd=files,
    )
    assert proc.returncode == 1
    assert "WeChat Pay" in proc.out and "com.tencent.mm" in proc.out
    doc = json.loads((files / "r.json").read_text(encoding="utf-8"))
    assert doc["schema_version"].startswith("1.") and doc["exit_code"] == 1
    csv_lines = (files / "r.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == 2 and "com.tencent.mm" in csv_lines[1]
    sarif = json.loads((files / "r.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0" and len(sarif["runs"][0]["results"]) == 1
    # one rule per entry of the policy used, whether or not it matched
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == doc["policies"][0]["entries"] == 14
    (result,) = sarif["runs"][0]["results"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "us-eo-13971/wechat-pay"
    assert result["level"] == "error" and sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_inventory_is_opt_in_and_a_saved_scan_can_be_rematched(files):
    rc, doc = scan_json("--input", "tiktok.txt", "--policy", "us-eo-13971", cwd=files)
    assert "inventory" not in doc["devices"][0] and doc["inventory_included"] is False
    proc = run("scan", "--input", "tiktok.txt", "--inventory", "--output", "json=saved.json", "--policy", "us-eo-13971",
               cwd=files)
    assert proc.returncode == 0
    saved = json.loads((files / "saved.json").read_text(encoding="utf-8"))
    assert len(saved["devices"][0]["inventory"]) == 4
    # Later, a new policy: the saved scan is matched again without the device.
    rc, doc = scan_json("--input", "saved.json", "--policy", "us-no-tiktok-gov-devices", cwd=files)
    assert rc == 1
    assert doc["devices"][0]["findings"][0]["app"]["id"] == "com.zhiliaoapp.musically"
    # A report written without --inventory cannot be re-matched, and says so.
    run("scan", "--input", "tiktok.txt", "--output", "json=thin.json", "--policy", "us-eo-13971", cwd=files)
    proc = run("scan", "--input", "thin.json", "--policy", "us-eo-13971", cwd=files)
    assert proc.returncode == 4 and "--inventory" in proc.out


def test_finding_ids_survive_a_rematch_of_a_saved_scan(files, tmp_path):
    fleet = files / "fleet.csv"
    fleet.write_text(
        "platform,device,app_id\nandroid,R58M1,com.tencent.mm\nios,UDID-2,com.tencent.xin.share\nios,UDID-2,com.apple.mobilesafari\n",
        encoding="utf-8",
    )
    run("scan", "--input", "fleet.csv", "--inventory", "--output", "json=first.json", cwd=files)
    first = json.loads((files / "first.json").read_text(encoding="utf-8"))
    rc, again = scan_json("--input", "first.json", cwd=files)
    assert rc == 1
    ids = lambda doc: sorted((f["app"]["id"], f["id"]) for d in doc["devices"] for f in d["findings"])  # noqa: E731
    assert ids(again) == ids(first) and len(ids(first)) == 2
    assert [d["device"]["source"] for d in again["devices"]] == ["first.json: fleet.csv"] * 2


def test_stdin_input(files):
    proc = run("scan", "--input", "-", "--format", "json", cwd=files, stdin=PM_WECHAT.encode())
    assert proc.returncode == 1
    assert json.loads(proc.out)["devices"][0]["device"]["source"] == "-"


def test_hostile_input_never_tracebacks(files):
    hostile = files / "hostile.csv"
    hostile.write_bytes(
        b"platform,device,app_id,name\n"
        b"android,\x1b[2Jphone,com.tencent.mm,\"We\x1b]0;owned\x07Chat\"\n"
        b"ios,\xe2\x80\xaeevil,com.tencent.xin," + b"A" * 10_000 + b"\n"
        b"android,p3,\xff\xfe\n"
    )
    proc = run("scan", "--input", "hostile.csv", cwd=files)
    assert proc.returncode == 5
    assert "\x1b" not in proc.out and "\u202e" not in proc.out
    assert "A" * 200 not in proc.out
    rc, doc = scan_json("--input", "hostile.csv", cwd=files)
    serials = {d["device"]["serial"] for d in doc["devices"]}
    assert "\x1b[2Jphone" in serials and "\u202eevil" in serials


def test_version_and_help(files):
    assert run("--version", cwd=files).out.startswith("scanner, version ")
    proc = run("scan", "--help", cwd=files)
    assert "Exit codes" in proc.out and "--fail-on" in proc.out


def test_a_reader_that_goes_away_is_not_an_error(files):
    rows = "".join(f"android,SN{d},com.intsig.camscanner\n" for d in range(3000))
    (files / "big.csv").write_text("platform,device,app_id\n" + rows, encoding="utf-8")
    proc = subprocess.run(
        f"'{sys.executable}' -m scanner scan -i big.csv | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", cwd=files, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("[1/3000] SN0")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_outputs_that_would_destroy_or_collide_are_refused_before_scanning(files):
    saved = files / "saved.json"
    run("scan", "--input", "tiktok.txt", "--inventory", "--output", "json=saved.json", cwd=files)
    before = saved.read_bytes()
    proc = run("scan", "--input", "saved.json", "--output", "json=saved.json", cwd=files)
    assert proc.returncode == 2 and "also an --input" in proc.err
    assert saved.read_bytes() == before
    proc = run("scan", "--input", "wechat.txt", "-o", "json=a.out", "-o", "csv=./a.out", cwd=files)
    assert proc.returncode == 2 and "the same file as --output json=a.out" in proc.err
    proc = run("scan", "--input", "wechat.txt", "-o", f"json={files}", cwd=files)
    assert proc.returncode == 2 and "is a folder" in proc.err


def test_report_files_are_owner_only_and_replace_the_old_one_whole(files):
    (files / "r.json").write_text("old", encoding="utf-8")
    assert run("scan", "--input", "wechat.txt", "-o", "json=r.json", cwd=files).returncode == 1
    assert json.loads((files / "r.json").read_text(encoding="utf-8"))["exit_code"] == 1
    assert (files / "r.json").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in files.iterdir() if p.name.startswith(".scanner-")] == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_report_that_cannot_be_written_is_exit_2_not_a_verdict(files):
    proc = run("scan", "--input", "wechat.txt", "-o", "json=/dev/full", cwd=files)
    assert proc.returncode == 2 and "No space left on device" in proc.err
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", "wechat.txt", "--format", "json"],
                              cwd=files, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 2 and "could not write the report to stdout" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(f"'{sys.executable}' -m scanner scan -i wechat.txt >&-", shell=True, cwd=files,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "stdout is closed" in proc.stderr and "Traceback" not in proc.stderr


def test_a_console_that_cannot_encode_gets_escapes_not_a_crash(files):
    (files / "cjk.csv").write_text("platform,device,app_id,name\nandroid,d1,com.tencent.mm,\u5fae\u4fe1\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for fmt in ("table", "csv"):
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", "cjk.csv", "--inventory", "--format", fmt],
                              cwd=files, capture_output=True, env=env, timeout=120)
        assert proc.returncode == 1 and b"Traceback" not in proc.stderr
        assert b"\\u5fae\\u4fe1" in proc.stdout


def test_signature_text_is_escaped_when_shown(files):
    (files / "mine").mkdir()
    (files / "mine" / "p.toml").write_text(
        'kind = "policy"\nschema = 1\nid = "p1"\ntitle = "T\\u001b]0;owned\\u0007\\nZ"\nauthority = "A"\n'
        'citation = "C"\nsigned = 2025-01-01\nstatus = "internal"\nurl = "https://x.example/"\n\n'
        '[[entries]]\nkey = "cs"\nlisted = "CamScanner"\napp = "camscanner"\nrelation = "app"\nseverity = "prohibited"\n',
        encoding="utf-8",
    )
    for args in (("signatures", "show", "p1"), ("signatures", "list")):
        proc = run(*args, "--signatures", "mine", cwd=files)
        assert proc.returncode == 0 and "\x1b" not in proc.out and "\x07" not in proc.out
    assert "T\\x1b]0;owned\\x07\\nZ" in run("signatures", "show", "p1", "--signatures", "mine", cwd=files).out


def test_the_same_input_twice_and_output_to_dash_are_refused(files):
    proc = run("scan", "-i", "wechat.txt", "-i", "./wechat.txt", cwd=files)
    assert proc.returncode == 2 and "the same file as --input wechat.txt" in proc.err
    proc = run("scan", "-i", "wechat.txt", "-o", "json=-", cwd=files)
    assert proc.returncode == 2 and "give --output a file name" in proc.err and not (files / "-").exists()
