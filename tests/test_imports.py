"""Every module imports on its own, module-level imports have no cycle, and the layers hold.

Allowed directions: ``golden`` -> NumPy and the like only; ``hdl`` -> ``golden``; ``synth`` ->
``hdl``, ``golden``; ``cosim`` -> ``hdl``, ``golden``, ``synth``. The static checks read every
``.py`` file with :mod:`ast` (imports at module level and inside functions, relative imports
resolved); a failure names the cycle or the offending import as ``file:line``.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("golden", "hdl", "synth", "cosim")

#: Package -> top-level names it must never import, at module level or inside a function.
FORBIDDEN = {
    "golden": ("hdl", "cosim", "synth", "amaranth", "cocotb", "cocotb_tools"),
    "hdl": ("cosim", "synth"),
    "synth": ("cosim",),
    "cosim": (),
}


def project_modules(root: Path, packages=PACKAGES) -> dict:
    """Dotted module name -> path, for every ``.py`` file of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imports(tree, module: str, is_package: bool):
    """Yield ``(imported module, line, at module level)`` for every import in ``tree``."""
    def visit(node, top_level):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, False)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from visit(child, False)       # not run when the module is imported
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, (), child.lineno, top_level
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[:len(package) - child.level + 1]
                    base = ".".join(package + ([child.module] if child.module else []))
                yield base, tuple(a.name for a in child.names), child.lineno, top_level
            else:
                yield from visit(child, top_level)
    yield from visit(tree, True)


def import_graph(root: Path, packages=PACKAGES) -> dict:
    """Module -> list of ``(target, file:line, at module level)``; a target is a project module,
    or the top-level name of an outside one. ``from pkg import name`` points at ``pkg.name`` when
    that is a module of the project, else at ``pkg``."""
    modules = project_modules(root, packages)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = graph.setdefault(module, [])
        for base, names, line, top_level in _imports(tree, module, path.name == "__init__.py"):
            where = f"{path.relative_to(root)}:{line}"
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if len(targets) < len(names) or not names:
                targets.append(base)
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != module:
                    edges.append((target, where, top_level))
    return graph


def _groups(succ: dict) -> list:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(succ[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while not group or member != node:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
            if len(group) > 1:
                groups.append(group)

    for node in sorted(succ):
        if node not in index:
            visit(node)
    return groups


def find_cycles(graph: dict, *, module_level_only: bool) -> list:
    """The shortest cycle through each group of modules that import each other, as
    ``a (file:line) -> b (file:line) -> a``, each import named where it is written."""
    succ = {m: {} for m in graph}
    for module, edges in graph.items():
        for target, where, top_level in edges:
            if target in graph and (top_level or not module_level_only):
                succ[module].setdefault(target, where)
    cycles = []
    for group in _groups(succ):
        start = min(group)
        paths, queue = {start: [start]}, [start]     # breadth first, inside the group
        for node in queue:
            if start in succ[node]:
                path = paths[node] + [start]
                break
            for nxt in sorted(succ[node]):
                if nxt in group and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    queue.append(nxt)
        cycles.append(" -> ".join([f"{a} ({succ[a][b]})" for a, b in zip(path, path[1:])]
                                  + [start]))
    return sorted(cycles)


def layering_violations(graph: dict, forbidden=FORBIDDEN) -> list:
    """``file:line: package imports target`` for every import against :data:`FORBIDDEN`."""
    bad = []
    for module, edges in graph.items():
        package = module.split(".")[0]
        for target, where, _ in edges:
            if target.split(".")[0] in forbidden.get(package, ()):
                bad.append(f"{where}: {package} must not import {target}")
    return bad


# -- the project ---------------------------------------------------------------------------------

@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports(package):
    names = [m for m in project_modules(ROOT, (package,)) if not m.endswith("__main__")]
    script = ("import importlib, sys\n"
              "bad = []\n"
              "for name in sys.argv[1:]:\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except BaseException as exc:\n"
              "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
              "print('\\n'.join(bad))\n"
              "sys.exit(1 if bad else 0)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run([sys.executable, "-c", script, *names], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        pytest.fail(f"modules of {package} that fail to import:\n{proc.stdout}{proc.stderr}")


def test_no_cycle_among_module_level_imports():
    cycles = find_cycles(import_graph(ROOT), module_level_only=True)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_cycle_even_through_imports_inside_functions():
    cycles = find_cycles(import_graph(ROOT), module_level_only=False)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_layers():
    bad = layering_violations(import_graph(ROOT))
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


# -- the checks themselves -----------------------------------------------------------------------

def test_checks_find_a_cycle_and_a_layering_violation(tmp_path):
    files = {
        "golden/__init__.py": "",
        "golden/a.py": "from . import b\n",
        "golden/b.py": "import numpy\n\ndef f():\n    from cosim.c import g\n",
        "cosim/__init__.py": "",
        "cosim/c.py": "from golden.a import x\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("golden", "cosim"))
    assert find_cycles(graph, module_level_only=True) == []
    assert find_cycles(graph, module_level_only=False) == [
        "cosim.c (cosim/c.py:1) -> golden.a (golden/a.py:1) -> golden.b (golden/b.py:4) -> "
        "cosim.c"]
    assert layering_violations(graph) == ["golden/b.py:4: golden must not import cosim.c"]
    (tmp_path / "golden/b.py").write_text("from .a import y\n")
    graph = import_graph(tmp_path, ("golden", "cosim"))
    assert find_cycles(graph, module_level_only=True) == [
        "golden.a (golden/a.py:1) -> golden.b (golden/b.py:1) -> golden.a"]
