"""``sbpca report [--layer N_IN,N_OUT,K,LANES[,WORDS] ...] [--synth DIR ...] [-o DIR]``: the
performance report of :mod:`cosim.performance`.

For the MNIST layer configurations (default) or the ``--layer`` ones: cycles per sample against
the MAC bound, lane utilization, memory words against ``n_in * n_out``, the unit's and the
crossbar driver's cycles per batch, and samples and crossbar updates per second per MHz and, for
each ``--synth`` folder of an ``sbpca synth unit`` run with the same parameters, at its Fmax.
Writes ``report.json`` and ``report.md`` into ``DIR`` (default ``results/report``) and prints the
table. ``--stages`` instead writes ``stages.json`` and ``stages.md``: the k x k engine's pipeline and
resource options against cycles a sample and lane utilization on one unit (the MNIST hidden layer,
or the one ``--layer``; :mod:`cosim.cycle_budget`). Exit code 0; a bad parameter, layer or
synthesis report is a one-line usage error.
"""

from __future__ import annotations

from pathlib import Path

from .common import UsageError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "performance report: cycles, MAC bound, memory, samples and crossbar updates per second"


def add_arguments(parser) -> None:
    """Add the layer, batch, driver, synthesis-report and output options."""
    from cosim.performance import DEFAULT_BATCH, DRIVER_DEFAULTS

    parser.add_argument("--layer", action="append", default=None, metavar="N_IN,N_OUT,K,LANES",
                        help="a unit configuration N_IN,N_OUT,K,LANES[,WORDS] (WORDS default: "
                             "LANES; other parameters: sbpca generate unit's defaults); "
                             "repeatable (default: the MNIST layers 784,100,4,8,8 and "
                             "100,10,4,4,4)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"samples per batch, 1..b_max (default: {DEFAULT_BATCH})")
    parser.add_argument("--bl", type=int, default=DRIVER_DEFAULTS["bl"],
                        help=f"driver: slots per term (default: {DRIVER_DEFAULTS['bl']})")
    parser.add_argument("--group", type=int, default=DRIVER_DEFAULTS["group"],
                        help=f"driver: latch lanes G (default: {DRIVER_DEFAULTS['group']})")
    parser.add_argument("--dw-min", type=float, default=DRIVER_DEFAULTS["dw_min"],
                        help=f"driver: device step (default: {DRIVER_DEFAULTS['dw_min']:g})")
    parser.add_argument("--lr", type=float, default=DRIVER_DEFAULTS["lr"],
                        help=f"driver: learning rate (default: {DRIVER_DEFAULTS['lr']:g})")
    parser.add_argument("--synth", action="append", default=[], metavar="DIR",
                        help="output folder (or report.json) of 'sbpca synth unit' for one of "
                             "the configurations: its Fmax; repeatable (default: none, Fmax "
                             "not measured)")
    parser.add_argument("--stages", action="store_true",
                        help="instead: the k x k engine's pipeline and resource options against "
                             "cycles a sample and lane utilization (cycle model only) on the "
                             "MNIST hidden layer's unit or the one --layer; stages.json and "
                             "stages.md (--batch and the driver options do not apply)")
    parser.add_argument("-o", "--out", default=None,
                        help="output folder (default: results/report)")


def run(args) -> int:
    """Build, write and print the report; return 0."""
    from cosim.performance import MNIST_LAYERS, build_report, parse_layer, write_report

    if args.stages:
        return _stages(args)
    driver = {"bl": args.bl, "group": args.group, "dw_min": args.dw_min, "lr": args.lr}
    try:
        layers = [parse_layer(t) for t in args.layer] if args.layer else list(MNIST_LAYERS)
        report = build_report(layers, batch=args.batch, driver=driver, synth=args.synth)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return _write_and_print(args, report, write_report)


def _write_and_print(args, doc, writer) -> int:
    """Write ``doc`` with ``writer(doc, folder)`` into ``-o`` (default ``results/report``), print
    the table and the paths; return 0."""
    j, m = writer(doc, Path(args.out or Path("results") / "report"))
    print(m.read_text(), end="")
    print(f"wrote {j} and {m}")
    return 0


def _stages(args) -> int:
    from cosim.cycle_budget import build_budget, write_budget
    from cosim.performance import MNIST_LAYERS, parse_layer

    try:
        if args.synth:
            raise ValueError(f"synth={args.synth[0]!r}: --stages takes no synthesis report "
                             "(it reports cycles only)")
        if args.layer and len(args.layer) > 1:
            raise ValueError(f"layer={args.layer[1]!r}: --stages takes one --layer")
        layer = parse_layer(args.layer[0]) if args.layer else MNIST_LAYERS[0]
        budget = build_budget(layer.params())
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return _write_and_print(args, budget, write_budget)
