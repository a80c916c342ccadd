"""The ``sbpca`` command line.

Subcommands::

    sbpca generate DESIGN [--param value ...] [-o DIR]   Verilog + JSON of the parameters used
    sbpca synth [DESIGN ...] --target T [-o DIR]         Yosys/nextpnr resources and Fmax report
    sbpca experiment NAME [...]                          golden-model experiments (JSON + PNG)
    sbpca demo                                           generate, co-simulate, synthesize

Errors in parameters or inputs print one line naming the parameter and the value and exit with
code 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """An invalid parameter or input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the usage block first; our contract is one line.
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_design_subparsers(parser: argparse.ArgumentParser, *, required: bool, common=None):
    """Add one sub-parser per registered design, each with that design's parameter options.

    ``common(p, suppress)`` adds the command's own options; it is called for ``parser`` and again
    for each design sub-parser (with ``suppress=True``: defaults come from ``parser`` only), so
    those options may come before or after the design name.
    """
    from hdl.designs import DESIGNS

    if common is not None:
        common(parser, False)
    sub = parser.add_subparsers(dest="design", metavar="DESIGN", required=required,
                                parser_class=_Parser)
    for design in DESIGNS.values():
        p = sub.add_parser(design.name, help=design.help, description=design.help)
        if common is not None:
            common(p, True)
        for param in design.params:
            kwargs = dict(type=param.type, default=param.default, dest=f"param_{param.name}",
                          help=f"{param.help} (default: {param.default})")
            if param.choices:
                kwargs["choices"] = param.choices
            p.add_argument("--" + param.name.replace("_", "-"), **kwargs)
    return sub


def design_params(args) -> dict:
    """The design parameters parsed by :func:`add_design_subparsers` (empty if none given)."""
    return {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_")}


def _build_parser(argv) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its options (and imports)."""
    from . import commands

    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = _Parser(prog="sbpca", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)
    for name, (help_text, add_arguments, run) in commands.COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv=None) -> int:
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
