"""The ``sbpca`` command line.

Commands, one module each in this package::

    sbpca generate DESIGN [--param value ...] [-o DIR]   Verilog, FuseSoC core, JSON of parameters
    sbpca lint DESIGN [...]                              verilator -Wall with the waiver file
    sbpca synth [DESIGN ...] --target T [-o DIR]         Yosys/nextpnr resources and Fmax report
    sbpca bench DESIGN [...] [-o DIR]                    cocotb bench: cycles, utilization, speed
    sbpca report [--layer ...] [--synth DIR ...]         cycles, memory, samples/s, updates/s
    sbpca experiment NAME [...]                          golden-model experiments (JSON + PNG)
    sbpca train [--backend float|fixed ...] [-o DIR]     MLP training through the hardware models
    sbpca demo                                           generate, co-simulate, synthesize

A command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> exit
code``; it imports from :mod:`cosim.cli.common` and never from this package, and it imports
Amaranth, cocotb or the experiments only inside those functions, so ``sbpca --help`` is quick.
Only the command named on the command line gets its options added.

Errors in parameters or inputs print one line naming the parameter and the value and exit with
code 2; no traceback.
"""

from __future__ import annotations

import sys

from . import bench, demo, experiment, generate, lint, report, synth, train
from .common import Parser, UsageError, escape_help

__all__ = ["COMMANDS", "UsageError", "main"]

#: Command name -> its module (the order of ``sbpca --help``).
COMMANDS = {
    "generate": generate,
    "lint": lint,
    "synth": synth,
    "bench": bench,
    "report": report,
    "demo": demo,
    "experiment": experiment,
    "train": train,
}


def _build_parser(argv) -> Parser:
    """The parser; only the command named in ``argv`` gets its options (and imports)."""
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = Parser(prog="sbpca", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=Parser)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=escape_help(command.HELP), description=command.HELP)
        if name == selected:
            command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv=None) -> int:
    """Run ``sbpca`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"sbpca {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:      # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        print(f"sbpca {args.command}: interrupted", file=sys.stderr)
        return 130
