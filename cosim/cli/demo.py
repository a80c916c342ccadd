"""``sbpca demo [-o DIR] [--beats N]``: the project's main job (:func:`cosim.demo.run_demo`).

Generates, co-simulates on both simulators, trains through the unit's model and synthesizes;
writes ``DIR/demo.json`` and ``DIR/demo.md`` (``DIR`` defaults to ``build/demo``). Exit code 0;
``--beats`` below 1 is a one-line usage error.
"""

from __future__ import annotations

from .common import UsageError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "generate, co-simulate and synthesize: the project's main job"


def add_arguments(parser) -> None:
    """Add ``-o/--out`` and ``--beats``."""
    parser.add_argument("-o", "--out", default="build/demo",
                        help="output folder (default: build/demo)")
    parser.add_argument("--beats", type=int, default=10_000,
                        help="random operand pairs per co-simulation (default: 10000)")


def run(args) -> int:
    """Run the demo; return 0."""
    from cosim.demo import run_demo

    if args.beats < 1:
        raise UsageError(f"beats={args.beats}: must be at least 1")
    run_demo(args.out, beats=args.beats)
    return 0
