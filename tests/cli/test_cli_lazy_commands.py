"""Commands imported only when looked up (scanner.cli.COMMANDS): the same help, from fewer imports.

`scanner --help` lists every command by the summary kept in COMMANDS; these
tests hold each summary to its command's own help, compare the listing of a
fresh process with the one of a process that imported every command first,
at several terminal widths, and check what each start-up imports.
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys

import click
import pytest

from scanner.cli import COMMANDS, main

RUN = """
import importlib, sys
from scanner.cli import COMMANDS, main
if sys.argv[1] == "all":
    for where, _ in COMMANDS.values():
        importlib.import_module(where.partition(":")[0])
try:
    main(sys.argv[2:])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith("scanner.cli.")), file=sys.stderr)
"""


def run(*args: str, columns: int = 80) -> tuple[str, list[str]]:
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, check=True, env=env)
    return done.stdout, ast.literal_eval(done.stderr.strip().splitlines()[-1])


def test_each_summary_is_the_first_paragraph_of_its_command_s_help():
    assert sorted(COMMANDS) == sorted(main.commands)
    for name, (where, summary) in COMMANDS.items():
        command = main.commands[name]
        module, _, attribute = where.partition(":")
        assert command is getattr(sys.modules[module], attribute) and module == f"scanner.cli.{name}"
        assert isinstance(command, click.Command) and not command.hidden and not command.deprecated
        assert command.short_help is None
        assert inspect.cleandoc(command.help).split("\n\n")[0] == summary


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_the_help_lists_the_same_lines_without_importing_a_command(columns):
    lazy, imported = run("none", "--help", columns=columns)
    eager, _ = run("all", "--help", columns=columns)
    assert lazy == eager and "Commands:" in lazy
    assert all(f"  {name}" in lazy for name in COMMANDS)
    assert [m for m in imported if m.removeprefix("scanner.cli.") in COMMANDS] == []


def test_a_command_imports_its_own_module_only():
    out, imported = run("none", "signatures", "list")
    assert "us-no-tiktok-gov-devices" in out
    assert [m for m in imported if m.removeprefix("scanner.cli.") in COMMANDS] == ["scanner.cli.signatures"]


def test_a_command_looked_up_is_kept_and_an_unknown_one_is_refused():
    assert main.commands["scan"] is main.commands.get("scan") is dict(main.commands.items())["scan"]
    assert main.commands.get("nosuch") is None
    with pytest.raises(KeyError):
        main.commands["nosuch"]
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["nosuch"])
    assert result.exit_code == 2 and "No such command 'nosuch'" in result.output
