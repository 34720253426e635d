"""The layout's import rules, read from the source (ast), so a change that breaks one fails here.

- The product never imports the simulator, except the commands that serve it (simulate, demo).
- Connectors never import the matcher, the signatures, the formats, the CLI, the audit or live set-up:
  they read devices and files, and know nothing of policies or reports.
- Formats import only the model and the terminal helpers.
- No import cycle among scanner modules (module-level imports; lazy imports inside functions are how
  the CLI stays fast, and they are allowed to point anywhere the rules above allow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scanner

PACKAGE = Path(scanner.__file__).parent

# Modules allowed to import scanner.simulator (inside their commands).
SERVES_THE_SIMULATOR = {"scanner.cli.simulate", "scanner.cli.demo", "scanner.cli.fleet"}
CONNECTORS_MAY_NOT = ("scanner.matcher", "scanner.signatures", "scanner.formats", "scanner.cli", "scanner.audit",
                      "scanner.live", "scanner.intake", "scanner.simulator")
FORMATS_MAY = ("scanner.model", "scanner.terminal", "scanner.formats")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(source: str, name: str, is_package: bool, known: set[str]) -> list[tuple[str, bool]]:
    """(imported scanner module, at module level?) for every import in `source`."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # `from scanner.connectors.ios import session` imports a module; `from scanner.model import App` does not.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        top = not _in_type_checking(node, parents) and not any(
            isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)) for p in _ancestors(node, parents))
        found.extend((t, top) for t in targets if t == "scanner" or t.startswith("scanner."))
    return found


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]):
    while node in parents:
        node = parents[node]
        yield node


def product_imports(root: Path = PACKAGE) -> dict[str, list[tuple[str, bool]]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    return {name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", known)
            for name, path in files.items()}


def within(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def rule_breaks(graph: dict[str, list[tuple[str, bool]]]) -> list[str]:
    breaks = []
    for module, imported in graph.items():
        for target, _ in imported:
            if within(target, "scanner.simulator") and not within(module, "scanner.simulator") \
                    and module not in SERVES_THE_SIMULATOR:
                breaks.append(f"{module} imports {target}: only the simulate and demo commands may")
            if within(module, "scanner.connectors") and within(target, CONNECTORS_MAY_NOT):
                breaks.append(f"{module} imports {target}: connectors know nothing of policies or reports")
            if within(module, "scanner.formats") and not within(target, FORMATS_MAY):
                breaks.append(f"{module} imports {target}: formats import only the model and terminal helpers")
    return breaks


def cycles(graph: dict[str, list[tuple[str, bool]]]) -> list[list[str]]:
    """Import cycles through module-level imports. A package's __init__ importing its own submodules (to
    re-export them) is how packages work and is not a cycle unless a submodule imports the package back."""
    edges = {m: sorted({t for t, top in imported if top and t in graph and t != m}) for m, imported in graph.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                # `import scanner.x.y` runs scanner/__init__ and scanner/x/__init__ first: a child reaching its
                # own parent package is not a cycle unless the parent imports that child at module level.
                found.append(cycle)
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if state.get(module) is None:
            visit(module)
    return found


def test_the_product_keeps_the_import_rules():
    assert rule_breaks(product_imports()) == []


def test_there_is_no_import_cycle_among_scanner_modules():
    assert cycles(product_imports()) == []


@pytest.mark.parametrize(("modules", "expected"), [
    ({"scanner/connectors/x.py": "from scanner.matcher import Matcher\n"},
     ["scanner.connectors.x imports scanner.matcher: connectors know nothing of policies or reports"]),
    ({"scanner/formats/x.py": "def f():\n    from scanner.signatures import load\n"},
     ["scanner.formats.x imports scanner.signatures: formats import only the model and terminal helpers"]),
    ({"scanner/audit.py": "import scanner.simulator.fleet\n"},
     ["scanner.audit imports scanner.simulator.fleet: only the simulate and demo commands may"]),
    ({"scanner/formats/x.py": "from scanner.model import App\nfrom scanner.terminal.text import safe\n"}, []),
])
def test_the_rules_catch_what_they_forbid(tmp_path, modules, expected):
    root = _tree(tmp_path, modules)
    assert rule_breaks(product_imports(root)) == expected


def test_a_cycle_is_caught_and_a_lazy_import_is_not_one(tmp_path):
    root = _tree(tmp_path, {
        "scanner/a.py": "from scanner.b import x\n",
        "scanner/b.py": "import scanner.c\n",
        "scanner/c.py": "from scanner import a\n",
        "scanner/d.py": "from scanner.e import y\n",
        "scanner/e.py": "def f():\n    from scanner.d import z\n",
    })
    assert cycles(product_imports(root)) == [["scanner.a", "scanner.b", "scanner.c", "scanner.a"]]


def _tree(tmp_path: Path, modules: dict[str, str]) -> Path:
    for rel, text in {"scanner/__init__.py": "", **modules}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.parents:
            if parent == tmp_path:
                break
            (parent / "__init__.py").touch()
        path.write_text(text)
    return tmp_path / "scanner"
