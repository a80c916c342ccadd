"""``sbpca lint DESIGN [--param value ...] [-o DIR]``: generate a design and lint its Verilog.

Runs ``verilator --lint-only -Wall`` with ``synth/lint_waivers.vlt`` and looks for division and
modulo operators; prints each problem and a count. Exit code 0 when clean, 1 otherwise. Takes the
same options as ``sbpca generate``.
"""

from __future__ import annotations

from pathlib import Path

from . import generate

__all__ = ["HELP", "add_arguments", "run"]

HELP = "generate a design and lint it (verilator -Wall with the waiver file; no / or %)"


def add_arguments(parser) -> None:
    """The options of ``sbpca generate``."""
    generate.add_arguments(parser)


def run(args) -> int:
    """Generate, lint and report; return 1 if there is any problem, else 0."""
    from synth.lint import WAIVERS, forbidden_operators, lint_verilog

    doc = generate.write(args)
    problems = lint_verilog(doc["verilog"], doc["top"])
    problems += [f"division/modulo operator at line {line}"
                 for line in forbidden_operators(Path(doc["verilog"]).read_text())]
    for line in problems:
        print(line)
    print(f"{doc['verilog']}: {len(problems)} problems (verilator -Wall, waivers {WAIVERS})")
    return 1 if problems else 0
