"""``sbpca bench DESIGN [--param value ...] [options] [-o DIR]``: a design's cocotb bench.

Calls :func:`cosim.bench.run_bench` on the simulators ``SIM`` selects and prints its Markdown
report; ``DIR`` defaults to ``build/bench/DESIGN``. Exit code 0; invalid parameters or options
(a ``ValueError`` from the bench) are one-line usage errors.
"""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, add_design_subparsers, build_design, design_params, option_default

__all__ = ["HELP", "add_arguments", "run"]

HELP = "cycle counts, lane utilization and simulation speed of a design (JSON + Markdown)"


def _common(p, suppress):
    from cosim.unit_cases import STREAMS

    default = option_default(suppress)
    p.add_argument("--passes", type=int, default=default(3),
                   help="row_pass: UPDATE passes per simulator (then PROJECT and NORM on every "
                        "bank)")
    p.add_argument("--batches", default=default(None),
                   help="unit: comma-separated batch sizes, each <= b_max, run without idle "
                        "cycles (default: three of b_max on Verilator, one of min(b_max, 8) on "
                        "Icarus)")
    p.add_argument("--stream", default=default(None), choices=STREAMS,
                   help="unit: sample stream (default: mnist where the layer shape fits, "
                        "else random)")
    p.add_argument("--no-native", dest="native", action="store_false",
                   default=default(True),
                   help="unit: skip the native Verilator harness (the speed ceiling, built "
                        "and run when Verilator is selected)")
    p.add_argument("-o", "--out", default=default(None),
                   help="output folder (default: build/bench/DESIGN)")


def add_arguments(parser) -> None:
    """Add the design sub-parsers with the bench options."""
    add_design_subparsers(parser, required=True, common=_common)


def run(args) -> int:
    """Run the bench and print its report; return 0."""
    from cosim.bench import run_bench
    from cosim.toolchain import selected_simulators
    from hdl.designs import unused

    component, params = build_design(args.design, design_params(args))
    unused(component)
    if args.passes < 1:
        raise UsageError(f"passes={args.passes}: must be at least 1")
    out = Path(args.out or Path("build") / "bench" / args.design)
    try:
        run_bench(args.design, params, out, sims=selected_simulators(), passes=args.passes,
                  batches=args.batches, stream=args.stream, native=args.native)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print((out / "bench.md").read_text(), end="")
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0
