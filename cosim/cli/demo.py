"""``sbpca demo [-o DIR] [--sim SIM]``: the project's main job (:func:`cosim.demo.run_demo`).

Generates the network top of a 64-32-10 MLP, co-simulates it and trains the MLP on digits
through it (checked against the fixed-point models after every batch), next to float MBGD;
writes ``DIR/demo.json``, ``DIR/demo.md`` and the training outputs in ``DIR/train`` (``DIR``
defaults to ``build/demo``). Exit code 0; 1 if the RTL differed from the fixed-point models.
"""

from __future__ import annotations

from .common import UsageError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "generate the network top, co-simulate it and train through it: the project's main job"


def add_arguments(parser) -> None:
    """Add ``-o/--out``, ``--sim`` and ``--epochs``."""
    parser.add_argument("-o", "--out", default="build/demo",
                        help="output folder (default: build/demo)")
    parser.add_argument("--sim", default=None, choices=("verilator", "icarus"),
                        help="simulator (default: verilator when selected, else icarus)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: 2)")


def run(args) -> int:
    """Run the demo; return 0 (1 after a difference from the fixed-point models)."""
    from cosim.demo import run_demo

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"epochs={args.epochs}: must be at least 1")
    doc = run_demo(args.out, sim=args.sim, epochs=args.epochs)
    return 1 if doc["rtl"]["mismatch"] else 0
