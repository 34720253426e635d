"""The CLI package's joins: commands registered on `main`, a Terminal per invocation, exit codes and errors
handled once at the top, formats reached through the registry, and a start-up that imports nothing heavy."""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import scanner.cli
from scanner.cli import main
from scanner.cli.output import CommandError, deliver, parse_outputs
from scanner.cli.terminal import Terminal, pass_terminal
from scanner.formats import FORMATS, Format
from scanner.model import Report

CLI = Path(scanner.cli.__file__).parent
COMMANDS = ("demo", "devices", "pair", "remove", "scan", "signatures", "simulate", "watch")


@pytest.fixture
def probe(monkeypatch):
    """A command registered on `main` for one test: it notes, then returns --code or raises --fail."""
    seen: list[Terminal] = []

    @click.command()
    @click.option("--code", type=int, default=0)
    @click.option("--fail")
    @click.option("--quiet", is_flag=True)
    @pass_terminal
    def probe(terminal: Terminal, code: int, fail: str | None, quiet: bool) -> int:
        seen.append(terminal)
        terminal.quiet = terminal.quiet or quiet
        terminal.notify("a note")
        if fail:
            raise CommandError(fail, details=["first\x1b[2J", "second"], exit_code=4 if code == 4 else 2)
        return code

    monkeypatch.setitem(main.commands, "probe", probe)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield seen
    for s, handler in handlers.items():  # main installs its own; the test process keeps pytest's
        signal.signal(s, handler)


def test_every_command_is_registered_from_a_module_of_its_name():
    assert sorted(main.commands) == sorted(COMMANDS)
    for name in COMMANDS:
        assert main.commands[name].callback.__module__ == f"scanner.cli.{name}"


@pytest.mark.parametrize("code", [0, 1, 4, 5])
def test_the_code_a_command_returns_is_the_exit_code(probe, code):
    result = CliRunner().invoke(main, ["probe", "--code", str(code)])
    assert result.exit_code == code, result.output
    assert result.output == "scanner: a note\n"  # (output: stdout and stderr, in every click from 8.1)


def test_a_command_error_is_printed_as_scanner_error_with_its_details_escaped(probe):
    result = CliRunner().invoke(main, ["probe", "--fail", "--thing 'x': expected y"])
    assert result.exit_code == 2
    assert result.output == "scanner: a note\nscanner: error: --thing 'x': expected y\n  first\\x1b[2J\n  second\n"
    assert CliRunner().invoke(main, ["probe", "--fail", "refused", "--code", "4"]).exit_code == 4


def test_each_invocation_gets_a_terminal_of_its_own(probe):
    runner = CliRunner()
    assert runner.invoke(main, ["probe", "--quiet"]).output == ""
    assert runner.invoke(main, ["probe"]).output == "scanner: a note\n"  # --quiet did not outlive its run
    assert len(probe) == 2 and probe[0] is not probe[1]


def test_no_module_below_main_exits_the_process():
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        raised = {ast.unparse(node.exc) for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc}
        exits = {c for c in calls if c in ("sys.exit", "exit", "os._exit") or c.endswith("ctx.exit")}
        exits |= {r for r in raised if r.startswith("SystemExit")}
        if path.name == "__init__.py":  # main's result callback and its signal handler: the top
            assert exits == {"ctx.exit", "SystemExit(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)"}
        else:
            assert exits == set(), f"{path.name} exits the process: {exits}"


def test_commands_import_the_shared_modules_never_each_other_or_the_package():
    shared = {"scanner.cli.options", "scanner.cli.output", "scanner.cli.terminal", "scanner.cli.fleet",
              "scanner.cli.devices_screen", "scanner.cli.signatures_screen"}
    for path in sorted(CLI.glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        cli = {m for m in imported if m == "scanner.cli" or m.startswith("scanner.cli.")}
        assert cli <= shared, f"{path.name} imports {sorted(cli - shared)}"


def test_the_choices_and_messages_name_the_registry_s_formats(probe):
    help_text = CliRunner().invoke(main, ["scan", "--help"]).output
    assert "[table|json|csv|sarif|html]" in help_text and list(FORMATS) == ["table", "json", "csv", "sarif", "html"]
    with pytest.raises(CommandError, match="with FORMAT one of table, json, csv, sarif"):
        parse_outputs(["xml=r.xml"])


def test_a_new_format_is_one_module_and_one_registry_line(monkeypatch, tmp_path, capsys):
    module = types.ModuleType("scanner_test_upper_format")
    module.FORMAT = Format("upper", "the verdict, loud", lambda report, out, options: out.write(report.verdict.upper()))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(FORMATS, "upper", f"{module.__name__}:FORMAT")
    moment = datetime(2025, 3, 1, tzinfo=UTC)
    report = Report(tool="scanner", version="0", started=moment, finished=moment, policies=(), signature_files=(),
                    results=())
    outputs = parse_outputs([f"upper={tmp_path / 'r.txt'}"])
    assert deliver(report, "upper", outputs) == 4  # the report's exit code, returned, not exited with
    assert (tmp_path / "r.txt").read_text() == capsys.readouterr().out == "INCOMPLETE"


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["signatures", "list"]])
def test_start_up_imports_no_device_library(args):
    code = (f"import sys\nfrom scanner.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('adbutils', 'pymobiledevice3', 'tabulate', "
            "'scanner.connectors.', 'scanner.simulator', 'scanner.live', 'scanner.audit', 'scanner.formats.t'))),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    if args == ["--help"]:
        assert loaded == []
    else:  # what it shows needs the file readers (the --input help): no more (the policy list is no table)
        assert not [m for m in loaded if m.startswith(("adbutils", "pymobiledevice3", "scanner.simulator",
                                                       "scanner.live", "scanner.audit", "scanner.formats"))]
        assert "tabulate" not in loaded
