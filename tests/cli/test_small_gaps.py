"""The small things a CLI is expected to do: -V, a --version that names the signature data, a bare `scanner`
that shows its help, -o inferring the format from the file's extension, shell completion, and `help` among
simulate's commands. Each runs the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


def scanner(*args: str, cwd=None, stdin: str | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    # As the installed `scanner` script runs it: the program's name is what completion and usage go by.
    code = "import sys; from scanner.cli import main; main(sys.argv[1:], prog_name='scanner')"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
                          cwd=cwd, input=stdin, timeout=120, env=env)


@pytest.fixture
def listing(tmp_path):
    path = tmp_path / "apps.txt"
    path.write_text("com.tencent.mm\ncom.android.chrome\n", encoding="utf-8")
    return path


def test_version_and_V_name_the_tool_and_the_signature_data():
    long, short = scanner("--version"), scanner("-V")
    assert long.returncode == 0 and short.returncode == 0
    assert long.stdout == short.stdout
    first, second = long.stdout.splitlines()
    assert re.fullmatch(r"scanner, version \d+\.\d+\.\d+\S*", first)
    assert re.fullmatch(r"signatures: \d+ bundled files \(\d+ apps, \d+ policies, checked up to \d{4}-\d\d-\d\d\), "
                        r"sha256 [0-9a-f]{64}", second)


def test_version_gives_the_same_signature_hash_as_the_html_report(tmp_path):
    """One definition of the signature data's hash: what --version prints is what the audit file shows."""
    from scanner.model import signature_digest
    from scanner.signatures import load_signatures

    digest = signature_digest(load_signatures().files)
    assert scanner("--version").stdout.splitlines()[1].endswith(f"sha256 {digest}")
    listing = tmp_path / "apps.txt"
    listing.write_text("com.tencent.mm\n", encoding="utf-8")
    page = scanner("scan", "--input", str(listing), "--format", "html").stdout
    assert f"sha256 {digest}" in page


def test_a_bare_scanner_prints_its_help_and_succeeds():
    done = scanner()
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: scanner") and "scan" in done.stdout and done.stderr == ""
    assert "_SCANNER_COMPLETE=bash_source scanner" in done.stdout  # completion documented in the help


def test_shell_completion_script_is_served():
    env = {**os.environ, "_SCANNER_COMPLETE": "bash_source"}
    done = scanner(env=env)
    assert done.returncode == 0 and "_scanner_completion" in done.stdout


def test_output_infers_the_format_from_the_extension(tmp_path, listing):
    done = scanner("scan", "--input", str(listing), "-o", "report.json", "-o", "report.SARIF", "-o", "rows.csv",
                   cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # WeChat found, everything read
    assert json.loads((tmp_path / "report.json").read_text())["devices"][0]["findings"]
    assert json.loads((tmp_path / "report.SARIF").read_text())["version"] == "2.1.0"
    assert (tmp_path / "rows.csv").read_text().splitlines()[0].count(",") > 3
    # FORMAT= still wins over the extension.
    done = scanner("scan", "--input", str(listing), "-o", "json=report.csv", cwd=tmp_path)
    assert json.loads((tmp_path / "report.csv").read_text())["schema_version"]


@pytest.mark.parametrize("value", ["report.txt", "report", "xml=report.xml"])
def test_an_output_of_no_known_format_is_refused_with_what_to_write(tmp_path, listing, value):
    done = scanner("scan", "--input", str(listing), "-o", value, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "FORMAT=PATH" in done.stderr and "e.g. json=" in done.stderr
    assert not any(tmp_path.glob("report*"))


def test_simulate_commands_answer_help():
    done = scanner("simulate", "--commands", "--quiet", stdin="help\nstop\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("ready") + 1
    answer = lines[start:lines.index("ok", start)]
    assert all(line.startswith("ok ") for line in answer)
    for verb in ("attach SERIAL", "detach SERIAL", "authorize SERIAL", "list", "help", "stop"):
        assert any(line.startswith(f"ok {verb} ") for line in answer), verb
    assert lines[-1] == "ok stopping"
