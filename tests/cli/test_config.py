"""The config file (scanner.config): an admin's default policies and signature folders, used and shown.

The CLI tests run `python -m scanner` in a separate process with a private HOME and XDG_CONFIG_HOME, so
no real config file of the person running the tests is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.config import Config, ConfigError, default_path, load_config

PM_WECHAT = "package:/data/app/x/base.apk=com.tencent.mm versionCode:2280  installer=null uid:1010234\n"
PM_TIKTOK = "package:/data/app/y/base.apk=com.zhiliaoapp.musically versionCode:1  installer=null uid:10301\n"
ACME = """\
kind = "policy"
schema = 1
id = "acme-byod"
title = "ACME BYOD policy"
authority = "ACME IT"
citation = "ACME-SEC-12 rev 3"
signed = 2025-03-01
status = "in-force"
url = "https://intranet.example/acme-sec-12"

[[entries]]
key = "wechat"
listed = "WeChat"
app = "wechat"
relation = "app"
severity = "prohibited"
"""


@pytest.mark.parametrize(("platform", "environ", "expected"), [
    ("linux", {"HOME": "/home/a"}, "/home/a/.config/scanner/config.toml"),
    ("linux", {"HOME": "/home/a", "XDG_CONFIG_HOME": "/xdg"}, "/xdg/scanner/config.toml"),
    ("linux", {"HOME": "/home/a", "XDG_CONFIG_HOME": "relative"}, "/home/a/.config/scanner/config.toml"),
    ("darwin", {"HOME": "/Users/a"}, "/Users/a/Library/Application Support/scanner/config.toml"),
    ("win32", {"HOME": "C:/Users/a", "APPDATA": "C:/Users/a/AppData/Roaming"},
     "C:/Users/a/AppData/Roaming/scanner/config.toml"),
])
def test_the_per_user_location_of_each_os(platform, environ, expected):
    assert default_path(platform, environ).as_posix() == expected


def test_which_file_wins_and_relative_folders_are_the_config_files(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('policies = ["us-tx"]\nsignatures = ["sigs", "/etc/scanner"]\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('policies = ["all"]\n')
    xdg = tmp_path / "xdg"
    (xdg / "scanner").mkdir(parents=True)
    (xdg / "scanner" / "config.toml").write_text('policies = ["us-va"]\n')
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(xdg), "SCANNER_CONFIG": str(env_file)}
    assert load_config(str(mine), env) == Config(str(mine), "--config", ("us-tx",),
                                                 (str(tmp_path / "sigs"), "/etc/scanner"))
    assert load_config(None, env).policies == ("all",) and load_config(None, env).origin == "$SCANNER_CONFIG"
    del env["SCANNER_CONFIG"]
    assert load_config(None, env).policies == ("us-va",) and load_config(None, env).origin == "the default location"
    (xdg / "scanner" / "config.toml").unlink()
    assert load_config(None, env) == Config(None, "none")  # no file at the default location: built-in defaults


@pytest.mark.parametrize(("text", "message"), [
    ("policy = ['us-tx']\n", "unknown key 'policy'; a config file may set only policies and signatures"),
    ("policies = 'us-tx'\n", "policies must be a list of non-empty strings"),
    ("policies = ['']\n", "policies must be a list of non-empty strings"),
    ("signatures = [3]\n", "signatures must be a list of non-empty strings"),
    ("policies = [\n", "is not valid TOML"),
    (b"\xff\xfe", "is not valid TOML"),
])
def test_a_config_that_cannot_be_used_says_which_file_and_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {})
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_config_named_but_missing_is_an_error_not_the_defaults(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.toml"), {})
    with pytest.raises(ConfigError, match=r"\$SCANNER_CONFIG"):
        load_config(None, {"SCANNER_CONFIG": str(tmp_path / "nope.toml")})


# --- through the command line ----------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "wechat.txt").write_text(PM_WECHAT)
    (tmp_path / "tiktok.txt").write_text(PM_TIKTOK)
    return tmp_path


def cli(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCANNER_CONFIG")}
    full.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")}, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], cwd=home, capture_output=True, env=full,
                          check=False, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def policies_checked(proc: subprocess.CompletedProcess) -> list[str]:
    return [p["id"] for p in json.loads(proc.stdout)["policies"]]


def test_the_per_user_config_sets_what_a_plain_scan_checks(home):
    (home / "xdg" / "scanner").mkdir(parents=True)
    (home / "xdg" / "scanner" / "config.toml").write_text('policies = ["us-no-tiktok-gov-devices"]\n')
    proc = cli("scan", "--input", "tiktok.txt", "--format", "json", home=home)
    assert proc.returncode == 1 and policies_checked(proc) == ["us-no-tiktok-gov-devices"]
    # --policy still wins over the config.
    proc = cli("scan", "--input", "tiktok.txt", "--format", "json", "--policy", "us-eo-13971", home=home)
    assert policies_checked(proc) == ["us-eo-13971"]


def test_a_config_brings_its_own_signature_folder_and_signatures_list_shows_where_defaults_came_from(home):
    (home / "acme").mkdir()
    (home / "acme" / "acme-byod.toml").write_text(ACME)
    config = home / "audit.toml"
    config.write_text('policies = ["acme-byod"]\nsignatures = ["acme"]\n')
    proc = cli("scan", "--config", str(config), "--input", "wechat.txt", "--format", "json", home=home)
    assert proc.returncode == 1 and policies_checked(proc) == ["acme-byod"]
    listing = cli("signatures", "list", home=home, env={"SCANNER_CONFIG": str(config)}).stdout.decode()
    assert "acme-byod (default)" in listing
    assert f"Without --policy a scan checks: acme-byod (defaults: {config} ($SCANNER_CONFIG))" in listing
    plain = cli("signatures", "list", home=home).stdout.decode()
    assert "acme-byod" not in plain and "(defaults: built in)" in plain


def test_a_broken_config_stops_the_scan_with_exit_2(home):
    bad = home / "bad.toml"
    bad.write_text("polices = []\n")
    proc = cli("scan", "--input", "wechat.txt", home=home, env={"SCANNER_CONFIG": str(bad)})
    assert proc.returncode == 2 and f"scanner: error: {bad}: unknown key 'polices'" in proc.stderr.decode()
    proc = cli("scan", "--config", str(home / "missing.toml"), "--input", "wechat.txt", home=home)
    assert proc.returncode == 2 and "does not exist" in proc.stderr.decode()


def test_a_config_naming_an_unknown_policy_is_a_usage_error(home):
    config = home / "c.toml"
    config.write_text('policies = ["us-zz-nothing"]\n')
    proc = cli("scan", "--config", str(config), "--input", "wechat.txt", home=home)
    assert proc.returncode == 2 and "us-zz-nothing" in proc.stderr.decode()
    proc = cli("signatures", "list", "--config", str(config), home=home)
    assert proc.returncode == 2 and "names policies that are not loaded" in proc.stderr.decode()


def test_a_config_s_unknown_policy_is_said_to_be_the_config_s_not_policy(home):
    config = home / "c.toml"
    config.write_text('policies = ["us-zz-nothing"]\n')
    proc = cli("scan", "--config", str(config), "--input", "wechat.txt", home=home)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and f"the config file {config} names policies that are not loaded" in err


def test_an_empty_policy_option_leaves_the_config_s_defaults_in_force(home):
    config = home / "c.toml"
    config.write_text('policies = ["us-no-tiktok-gov-devices"]\n')
    proc = cli("scan", "--config", str(config), "--input", "tiktok.txt", "--format", "json", "--policy", "",
               home=home)
    assert policies_checked(proc) == ["us-no-tiktok-gov-devices"]


def test_relative_signature_paths_of_a_linked_config_are_from_the_file_it_links_to(tmp_path):
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    (repo / "config.toml").write_text('signatures = ["sigs"]\n')
    (home / "config.toml").symlink_to(repo / "config.toml")
    assert load_config(str(home / "config.toml"), {}).signatures == (str(repo / "sigs"),)
