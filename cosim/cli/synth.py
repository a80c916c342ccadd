"""``sbpca synth [DESIGN ...] --target T [--freq MHz] [--seed N] [--breakdown] [-o DIR]``: FPGA
synthesis.

Runs :func:`synth.flow.run_synth` (Yosys, and nextpnr for iCE40/ECP5) and prints the Markdown
report; ``--breakdown`` adds the resources of each submodule (:mod:`synth.breakdown`); ``DESIGN`` defaults to ``mac_lane``, ``DIR`` to ``build/synth/DESIGN-TARGET``. Exit code 0;
1 when the flow fails (the message names the log); a missing target or a bad frequency is a
one-line usage error. A missed timing constraint is reported, not an error.
"""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, add_design_subparsers, build_design, design_params, option_default

__all__ = ["HELP", "DEFAULT_DESIGN", "add_arguments", "run"]

HELP = "synthesize a design for an FPGA: resources and Fmax (report.json, report.md)"

#: The design synthesized when none is named.
DEFAULT_DESIGN = "mac_lane"


def _common(p, suppress):
    from synth.targets import TARGETS

    default = option_default(suppress)
    p.add_argument("--target", choices=list(TARGETS), default=default(None),
                   help="FPGA target (required)")
    p.add_argument("--freq", type=float, default=default(None),
                   help="clock constraint in MHz (default: the target's)")
    p.add_argument("--seed", type=int, default=default(1), help="nextpnr placement seed")
    p.add_argument("-o", "--out", default=default(None),
                   help="output folder (default: build/synth/DESIGN-TARGET)")
    p.add_argument("--breakdown", action="store_true", default=default(False),
                   help="also count each submodule (one hierarchical Yosys run): `modules` in "
                        "report.json, a table in report.md")


def add_arguments(parser) -> None:
    """Add the synthesis options and the (optional) design sub-parsers."""
    add_design_subparsers(parser, required=False, common=_common)


def run(args) -> int:
    """Synthesize and print the report; return 1 if the flow failed, else 0."""
    from synth.flow import SynthError, run_synth

    if args.target is None:
        raise UsageError("--target: required; choose one of ice40-up5k, ecp5-25k, xilinx7")
    design = args.design or DEFAULT_DESIGN
    component, params = build_design(design, design_params(args))
    if args.freq is not None and not args.freq > 0:
        raise UsageError(f"freq={args.freq}: must be a positive frequency in MHz")
    out = Path(args.out or Path("build") / "synth" / f"{design}-{args.target}")
    try:
        run_synth(design, params, args.target, out, freq_mhz=args.freq, seed=args.seed,
                  component=component, breakdown=args.breakdown)
    except SynthError as exc:
        print(f"sbpca synth: {exc}")
        return 1
    print((out / "report.md").read_text(), end="")
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0
