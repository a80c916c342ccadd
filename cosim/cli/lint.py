"""``sbpca lint DESIGN [--param value ...] [-o DIR]``: generate a design and lint its Verilog.

Runs ``verilator --lint-only -Wall`` with ``synth/lint_waivers.vlt``, looks for division and
modulo operators and for ``always @*`` blocks that only a Verilog-2005 time-0 event would run
(:func:`synth.lint.time0_dependent_blocks`: under SystemVerilog semantics they would stay X
after reset); prints each problem and a count. Exit code 0 when clean, 1 otherwise. Takes the
same options as ``sbpca generate``.
"""

from __future__ import annotations

from pathlib import Path

from .generate import add_arguments as _generate_arguments, write as _write_design

__all__ = ["HELP", "add_arguments", "run"]

HELP = ("generate a design and lint it (verilator -Wall with the waiver file; no always @* block "
        "that needs the Verilog-2005 time-0 event; no / or %)")


def add_arguments(parser) -> None:
    """The options of ``sbpca generate``."""
    _generate_arguments(parser)


def run(args) -> int:
    """Generate, lint and report; return 1 if there is any problem, else 0."""
    from synth.lint import WAIVERS, forbidden_operators, lint_verilog, time0_dependent_blocks

    doc = _write_design(args)
    text = Path(doc["verilog"]).read_text()
    problems = lint_verilog(doc["verilog"], doc["top"])
    problems += [f"division/modulo operator at line {line}" for line in forbidden_operators(text)]
    problems += [f"time-0 dependent block: {block}" for block in time0_dependent_blocks(text)]
    for line in problems:
        print(line)
    print(f"{doc['verilog']}: {len(problems)} problems (verilator -Wall, waivers {WAIVERS})")
    return 1 if problems else 0
