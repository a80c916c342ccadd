"""``sbpca generate DESIGN [--param value ...] [-o DIR]``: a design's Verilog and parameters.

Writes ``DIR/DESIGN.v``, ``DIR/DESIGN.json`` (parameters, derived facts, ports) and the FuseSoC
core ``DIR/DESIGN.core`` with the lint waiver file it names, ``DIR/lint_waivers.vlt``
(:mod:`synth.fusesoc`); ``DIR`` defaults to ``build/DESIGN``. Exit code 0; invalid parameters are one-line usage errors.
"""

from __future__ import annotations

from pathlib import Path

from .common import add_design_subparsers, build_design, design_params, option_default

__all__ = ["HELP", "add_arguments", "run", "write"]

HELP = "write the Verilog of a design, a JSON file of its parameters and a FuseSoC core"


def _common(p, suppress):
    p.add_argument("-o", "--out", default=option_default(suppress)(None),
                   help="output folder (default: build/DESIGN)")


def add_arguments(parser) -> None:
    """Add the design sub-parsers, each with its parameters and ``-o/--out``."""
    add_design_subparsers(parser, required=True, common=_common)


def write(args) -> dict:
    """Build the design named in ``args`` and write its files; return ``write_design``'s doc."""
    from hdl.generate import write_design
    from synth.fusesoc import write_core

    component, params = build_design(args.design, design_params(args))
    out = Path(args.out or Path("build") / args.design)
    return write_design(component, args.design, params, out, writers=(write_core,))


def run(args) -> int:
    """Write the design's files and name them; return 0."""
    from synth.fusesoc import vlnv

    doc = write(args)
    print(f"wrote {doc['verilog']}, {doc['json']} and {doc['core']} (FuseSoC core "
          f"{vlnv(doc['design'])})")
    return 0
