"""Subcommands of ``sbpca``: each is ``(help, add_arguments(parser), run(args) -> exit code)``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli import UsageError, add_design_subparsers, design_params

__all__ = ["COMMANDS"]


def _defaults(suppress: bool):
    """Option defaults for :func:`add_design_subparsers`' ``common``: on a design sub-parser
    (``suppress``) an option not given must not overwrite the value parsed before the design."""
    return (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)


def _build_checked(design: str, params: dict):
    """Build a registered design, turning its validation errors into one-line usage errors."""
    from hdl.designs import get_design

    try:
        return get_design(design).build(**params)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


# -- generate ------------------------------------------------------------------------------------

def _generate_common(p, suppress):
    p.add_argument("-o", "--out", default=_defaults(suppress)(None),
                   help="output folder (default: build/DESIGN)")


def _generate_args(p):
    add_design_subparsers(p, required=True, common=_generate_common)


def _generate_run(args):
    from hdl.generate import write_design

    component, params = _build_checked(args.design, design_params(args))
    out = Path(args.out or Path("build") / args.design)
    doc = write_design(component, args.design, params, out)
    print(f"wrote {doc['verilog']} and {doc['json']}")
    return 0


# -- lint --------------------------------------------------------------------------------------

def _lint_args(p):
    _generate_args(p)


def _lint_run(args):
    from hdl.generate import write_design
    from synth.lint import WAIVERS, forbidden_operators, lint_verilog

    component, params = _build_checked(args.design, design_params(args))
    out = Path(args.out or Path("build") / args.design)
    doc = write_design(component, args.design, params, out)
    problems = lint_verilog(doc["verilog"], doc["top"])
    problems += [f"division/modulo operator at line {line}"
                 for line in forbidden_operators(Path(doc["verilog"]).read_text())]
    for line in problems:
        print(line)
    print(f"{doc['verilog']}: {len(problems)} problems (verilator -Wall, waivers {WAIVERS})")
    return 1 if problems else 0


# -- synth -------------------------------------------------------------------------------------

DEFAULT_SYNTH_DESIGN = "mac_lane"


def _synth_common(p, suppress):
    from synth.targets import TARGETS

    default = _defaults(suppress)
    p.add_argument("--target", choices=list(TARGETS), default=default(None),
                   help="FPGA target (required)")
    p.add_argument("--freq", type=float, default=default(None),
                   help="clock constraint in MHz (default: the target's)")
    p.add_argument("--seed", type=int, default=default(1), help="nextpnr placement seed")
    p.add_argument("-o", "--out", default=default(None),
                   help="output folder (default: build/synth/DESIGN-TARGET)")


def _synth_args(p):
    add_design_subparsers(p, required=False, common=_synth_common)


def _synth_run(args):
    from synth.flow import SynthError, run_synth

    if args.target is None:
        raise UsageError("--target: required; choose one of ice40-up5k, ecp5-25k, xilinx7")
    design = args.design or DEFAULT_SYNTH_DESIGN
    component, params = _build_checked(design, design_params(args))
    if args.freq is not None and not args.freq > 0:
        raise UsageError(f"freq={args.freq}: must be a positive frequency in MHz")
    out = Path(args.out or Path("build") / "synth" / f"{design}-{args.target}")
    try:
        run_synth(design, params, args.target, out, freq_mhz=args.freq, seed=args.seed,
                  component=component)
    except SynthError as exc:
        print(f"sbpca synth: {exc}")
        return 1
    print((out / "report.md").read_text(), end="")
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0


# -- bench -------------------------------------------------------------------------------------

def _bench_common(p, suppress):
    default = _defaults(suppress)
    p.add_argument("--passes", type=int, default=default(3),
                   help="row_pass: UPDATE passes per simulator (then PROJECT and NORM on every "
                        "bank)")
    p.add_argument("--batches", default=default("4"),
                   help="unit: comma-separated batch sizes, each <= b_max (default: 4)")
    p.add_argument("--stream", default=default(None),
                   choices=("random", "digits", "mnist", "saturate"),
                   help="unit: sample stream (default: mnist where the layer shape fits, "
                        "else random)")
    p.add_argument("-o", "--out", default=default(None),
                   help="output folder (default: build/bench/DESIGN)")


def _bench_args(p):
    add_design_subparsers(p, required=True, common=_bench_common)


def _bench_run(args):
    from hdl.designs import unused
    from .bench import run_bench
    from .toolchain import selected_simulators

    component, params = _build_checked(args.design, design_params(args))
    unused(component)
    if args.passes < 1:
        raise UsageError(f"passes={args.passes}: must be at least 1")
    out = Path(args.out or Path("build") / "bench" / args.design)
    try:
        run_bench(args.design, params, out, sims=selected_simulators(), passes=args.passes,
                  batches=args.batches, stream=args.stream)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print((out / "bench.md").read_text(), end="")
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


# -- experiment (golden models; registered by golden.experiments.cli) ------------------------

def _experiment_args(p):
    from golden.experiments import cli as experiments_cli
    experiments_cli.add_arguments(p)


def _experiment_run(args):
    from golden.experiments import cli as experiments_cli
    try:
        return experiments_cli.run(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- demo --------------------------------------------------------------------------------------

def _demo_args(p):
    p.add_argument("-o", "--out", default="build/demo", help="output folder (default: build/demo)")
    p.add_argument("--beats", type=int, default=10_000,
                   help="random operand pairs per co-simulation (default: 10000)")


def _demo_run(args):
    from .demo import run_demo

    if args.beats < 1:
        raise UsageError(f"beats={args.beats}: must be at least 1")
    run_demo(args.out, beats=args.beats)
    return 0


COMMANDS = {
    "generate": ("write the Verilog of a design and a JSON file of its parameters",
                 _generate_args, _generate_run),
    "lint": ("generate a design and lint it (verilator -Wall with the waiver file; no / or %)",
             _lint_args, _lint_run),
    "synth": ("synthesize a design for an FPGA: resources and Fmax (report.json, report.md)",
              _synth_args, _synth_run),
    "bench": ("cycle counts, lane utilization and simulation speed of a design (JSON + Markdown)",
              _bench_args, _bench_run),
    "demo": ("generate, co-simulate and synthesize: the project's main job",
             _demo_args, _demo_run),
    "experiment": ("run a golden-model experiment (JSON + PNG into a results folder)",
                   _experiment_args, _experiment_run),
}
