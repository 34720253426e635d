"""The scan path cannot reach the removal code.

Removal code: scanner.removal and every transport's removal module (scanner.connectors.<x>.remove).
From `scan`, `devices`, `watch`, the audit, live set-up and the library API, every import (module level
and lazy) is followed; the only doors into removal code are the ones the design allows, each a lazy
import: a transport's own `remove` method (Removing), the `remove` command, and watch's --remove hook.
Then the same is shown at run time: a real scan of an emulated phone loads no removal module.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from test_import_rules import module_name

import scanner
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile

PACKAGE = Path(scanner.__file__).parent
SCAN_PATH = ("scanner", "scanner.cli.scan", "scanner.cli.devices", "scanner.cli.watch", "scanner.audit",
             "scanner.live", "scanner.intake", "scanner.connectors", "scanner.connectors.android.connector")


def is_removal_code(module: str) -> bool:
    parts = module.split(".")
    return module == "scanner.removal" or (module.startswith("scanner.connectors.") and parts[-1] == "remove")


def _module(path: Path) -> str:
    return module_name(path, PACKAGE)


def _doors(module: str, node: ast.AST, parents: dict) -> bool:
    """Whether this import is one of the allowed lazy doors into removal code."""
    chain = []
    while node in parents:
        node = parents[node]
        chain.append(node)
    functions = [n.name for n in chain if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        return False  # a module-level import is never a door
    if module.startswith("scanner.connectors.") and functions[0] == "remove":
        return True  # Removing.remove of a transport
    if module == "scanner.cli.remove":
        return True  # the command whose name says it
    if module in ("scanner.cli.watch", "scanner.intake"):
        guarded = any(isinstance(n, ast.If) and "remove" in ast.unparse(n.test) for n in chain)
        return guarded or any("remov" in name for name in functions)  # watch --remove only
    return False


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}" if base else package
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                if t.startswith("scanner") and not (is_removal_code(t) and _doors(name, node, parents)):
                    out.add(t)
        edges[name] = out
    return edges


def reachable(edges: dict[str, set[str]], roots) -> dict[str, str]:
    """Every module reachable from roots, with the module it was reached from."""
    seen = {r: "" for r in roots}
    todo = list(roots)
    while todo:
        m = todo.pop()
        # importing a.b.c runs a and a.b first
        parts = m.split(".")
        for nxt in {*edges.get(m, ()), *(".".join(parts[:i]) for i in range(1, len(parts)))}:
            if nxt not in seen:
                seen[nxt] = m
                todo.append(nxt)
    return seen


def test_the_scan_path_cannot_reach_removal_code():
    seen = reachable(graph(), SCAN_PATH)
    assert {m: via for m, via in seen.items() if is_removal_code(m)} == {}


def test_the_rule_sees_a_door_that_is_not_allowed():
    edges = graph()
    edges["scanner.audit"] = {*edges["scanner.audit"], "scanner.removal"}
    assert "scanner.removal" in reachable(edges, SCAN_PATH)


def test_the_remove_command_does_reach_it():
    files = {_module(p) for p in PACKAGE.rglob("*.py")}
    assert "scanner.removal" in files and "scanner.connectors.android.remove" in files
    source = (PACKAGE / "cli" / "remove.py").read_text(encoding="utf-8")
    assert "from scanner import live, removal" in source


PROBE = """
import json, sys
from scanner.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("scanner"))), file=sys.stderr)
"""


def test_a_real_scan_loads_no_removal_code(tmp_path):
    phone = DeviceProfile("android", "RMIMP001", apps=(AppProfile("android", system=True), AppProfile("com.tencent.mm")))
    with AndroidSimulator([phone]) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANDROID_", "ADB"))} | sim.env
        for args in (["scan", "--platform", "android", "--format", "json"], ["devices", "--platform", "android"]):
            proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                                  cwd=tmp_path, timeout=120, check=False)
            loaded = json.loads(proc.stderr.strip().splitlines()[-1])
            assert "scanner.connectors.android.connector" in loaded, proc.stderr  # it did read the phone
            assert [m for m in loaded if is_removal_code(m)] == []
        assert not any("pm uninstall" in c for c in sim.history("RMIMP001"))
