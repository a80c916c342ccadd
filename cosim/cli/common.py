"""What the ``sbpca`` commands share: the one-line-error parser, the usage error, design options.

A command module (:mod:`cosim.cli.generate` and its siblings) imports from here, never from
:mod:`cosim.cli` itself, so the package has no import circle.
"""

from __future__ import annotations

import argparse

__all__ = ["UsageError", "Parser", "add_design_subparsers", "design_params", "option_default",
           "build_design", "escape_help"]


class UsageError(Exception):
    """An invalid parameter or input: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: MESSAGE``), exit code 2."""

    def error(self, message):
        # argparse prints the usage block first; our contract is one line.
        self.exit(2, f"{self.prog}: error: {message}\n")


def escape_help(text: str) -> str:
    """``text`` as an argparse ``help=`` string: argparse formats those with ``%``."""
    return text.replace("%", "%%")


def option_default(suppress: bool):
    """Option defaults for :func:`add_design_subparsers`' ``common``: on a design sub-parser
    (``suppress``) an option not given must not overwrite the value parsed before the design."""
    return (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)


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
                                parser_class=Parser)
    for design in DESIGNS.values():
        p = sub.add_parser(design.name, help=escape_help(design.help), description=design.help)
        if common is not None:
            common(p, True)
        for param in design.params:
            kwargs = dict(type=param.type, default=param.default, dest=f"param_{param.name}",
                          help=escape_help(f"{param.help} (default: {param.default})"))
            if param.choices:
                kwargs["choices"] = param.choices
            p.add_argument("--" + param.name.replace("_", "-"), **kwargs)
    return sub


def design_params(args) -> dict:
    """The design parameters parsed by :func:`add_design_subparsers` (empty if none given)."""
    return {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_")}


def build_design(design: str, params: dict):
    """Build registered design ``design``: ``(component, params)``; its validation errors
    (``TypeError``, ``ValueError``) become a one-line :class:`UsageError`."""
    from hdl.designs import get_design

    try:
        return get_design(design).build(**params)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
