"""``sbpca train [options]``: train the MLP through a backend of the hardware models.

Backends (:mod:`golden.train_backends`)::

    sbpca train --backend float                       # the unit's algorithm in float, dense update
    sbpca train --backend float --rule sbpca          # any golden rule
    sbpca train --backend float --device Idealized    # float pulse trains into a crossbar array
    sbpca train --backend fixed --device EcRam        # fixed-point unit -> driver -> array
    sbpca train --backend fixed --scheme deterministic --bl 15 --epochs 5 -o build/train/x
    sbpca train --backend rtl --sim verilator --check-against fixed   # through the network top

Writes ``results.json`` (configuration, per-epoch accuracy and loss, array update events, pulses,
coincidences, update time in slots, per-layer array and driver statistics), ``table.md`` and
three PNGs (``accuracy.png``: accuracy vs epoch; ``accuracy_updates.png``: accuracy vs array
update events; ``coincidences.png``: histogram of coincidences per device) into ``-o DIR``
(default ``build/train/BACKEND-DEVICE``), with a progress line on stderr. Ctrl-C stops the run
after writing what was done (exit code 130). A bad option or unreadable data is one line naming
the parameter and value, exit code 2.

``--backend rtl`` generates the network top (one unit, FACTOR stage and crossbar driver per
layer) into ``OUT/rtl``, co-simulates it with cocotb on ``--sim`` and applies the pulses captured
from its lines to the crossbar arrays (:mod:`cosim.rtl_train`). ``--check-against fixed``
compares every batch's pulses and the arrays' states with the fixed backend's and stops at the
first difference (printed in one line, exit code 1; the results up to it are written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import UsageError

__all__ = ["HELP", "add_arguments", "run", "write_outputs", "EXIT_INTERRUPTED", "EXIT_MISMATCH"]

HELP = ("train the MLP through the hardware: golden models (float, fixed) or the co-simulated "
        "RTL (rtl)")

#: Exit code of a run stopped by --check-against at its first difference.
EXIT_MISMATCH = 1

#: Exit code of a run cut short with Ctrl-C (results written).
EXIT_INTERRUPTED = 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options to ``parser``."""
    from golden.crossbar import PRESETS
    from golden.train_backends import BACKENDS, DEFAULT_LR, DEFAULT_RULE

    parser.add_argument("--backend", default="float", choices=BACKENDS,
                        help="float: golden float rule; fixed: the unit's fixed-point model, "
                             "the driver model and a crossbar array; rtl: the network top "
                             "co-simulated, its pulses into the crossbar array (default: float)")
    parser.add_argument("--sim", default="verilator", choices=("verilator", "icarus"),
                        help="rtl: the simulator (default: verilator)")
    parser.add_argument("--check-against", default=None, choices=("fixed",),
                        help="rtl: compare the pulses and the crossbar states with the fixed "
                             "backend after every batch; stop at the first difference")
    parser.add_argument("--lanes", type=int, default=8,
                        help="rtl: MAC lanes per unit, at most the layer's smaller side "
                             "(default: 8)")
    parser.add_argument("--data", default="digits", metavar="SET",
                        help="digits (scikit-learn 8x8), mnist (the 5,000-sample subset) or "
                             "idx:FOLDER (MNIST IDX files) (default: digits)")
    parser.add_argument("--sizes", default=None, metavar="W,W,...",
                        help="layer widths, input first (default: the data's inputs, 100, its "
                             "classes)")
    parser.add_argument("--rule", default=DEFAULT_RULE,
                        help=f"float backend: {DEFAULT_RULE} (the unit's algorithm in float) or "
                             f"a golden rule name (sbpca, sbe, mbgd, ...) (default: "
                             f"{DEFAULT_RULE})")
    parser.add_argument("--device", default=None, metavar="PRESET",
                        help=f"crossbar device preset: {', '.join(PRESETS)} (default: none for "
                             f"float, a dense update; ideal for fixed)")
    parser.add_argument("--k", type=int, default=4, help="rank (default: 4)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--epochs", type=int, default=3, metavar="N",
                        help="training epochs (default: 3)")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR,
                        help=f"learning rate; fixed: m * 2**-s with m odd below 16 (default: "
                             f"{DEFAULT_LR})")
    parser.add_argument("--bl", type=int, default=31,
                        help="pulse train length in slots, 1 to 1023 (default: 31)")
    parser.add_argument("--scheme", default="stochastic",
                        choices=("stochastic", "deterministic"),
                        help="driver pulse scheme (fixed); float crossbar: stochastic only "
                             "(default: stochastic)")
    parser.add_argument("--seed", type=int, default=0,
                        help="initial weights, sample order, rules, arrays, LFSRs (default: 0)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="train on the first N training samples only (quick runs)")
    parser.add_argument("-o", "--out", default=None, metavar="DIR",
                        help="output folder (default: build/train/BACKEND-DEVICE)")


def _config(args):
    from golden.train_backends import TrainConfig, parse_sizes

    sizes = None if args.sizes is None else parse_sizes(args.sizes)
    return TrainConfig(backend=args.backend, data=args.data, sizes=sizes, rule=args.rule,
                       k=args.k, batch=args.batch, epochs=args.epochs, lr=args.lr, bl=args.bl,
                       scheme=args.scheme, device=args.device, seed=args.seed,
                       limit=args.limit, sim=args.sim, check_against=args.check_against,
                       lanes=args.lanes).check()


def run(args: argparse.Namespace, *, progress_hook=None) -> int:
    """Train as ``args`` says and write the outputs; return 0 (130 after Ctrl-C).

    ``progress_hook(n)``, if given, is called after every batch (tests raise
    ``KeyboardInterrupt`` from it). Raises :class:`UsageError` for a bad option, unreadable
    data or a configuration the backend cannot build (their ``ValueError``, one line).
    """
    from golden.experiments.runner import Progress
    from golden.train_backends import load_data, run_training

    try:
        cfg = _config(args)
        data = load_data(cfg)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out or Path("build") / "train" / f"{cfg.backend}-{cfg.device or 'dense'}")
    bar = Progress(f"train {cfg.backend} {cfg.device or 'dense'}",
                   len(data.y_train) * cfg.epochs)

    def progress(n):
        bar(n)
        if progress_hook is not None:
            progress_hook(n)

    try:
        if cfg.backend == "rtl":
            from cosim.rtl_train import run_rtl_training

            doc = run_rtl_training(cfg, data=data, build_dir=out / "rtl", progress=progress)
        else:
            doc = run_training(cfg, progress=progress, data=data)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    bar.close()                      # (after an error the one line is the error's)
    write_outputs(doc, out)
    fin = doc["final"]
    state = "interrupted" if doc["interrupted"] else "done"
    if doc.get("mismatch"):
        state = "stopped at the first difference"
    print(f"{state}: {fin['samples']} samples, epoch {fin['epoch']:.2f}, test accuracy "
          f"{fin['test_accuracy']:.3f}, {fin['update_events']} array update events; wrote "
          f"{out / 'results.json'}, {out / 'table.md'}, PNGs")
    if "rtl" in doc:
        r = doc["rtl"]
        sec = r.get("seconds") or {}
        print(f"rtl: network top {r['verilog']} on {r['sim']}, build {sec.get('build', 0):.0f} s, "
              f"simulation {sec.get('simulate', 0):.0f} s"
              + (", checked against fixed after every batch" if cfg.check_against else ""))
    if doc.get("mismatch"):
        print(doc["mismatch"]["message"])
        return EXIT_MISMATCH
    return EXIT_INTERRUPTED if doc["interrupted"] else 0


def _table(doc) -> str:
    c = doc["config"]
    lines = [f"# sbpca train: backend {c['backend']}, device {c['device'] or 'dense'}, "
             f"rule {c['rule']}",
             "",
             f"data {doc['data']['name']} ({doc['data']['train']} train, {doc['data']['test']} "
             f"test), sizes {','.join(map(str, c['sizes']))}, k {c['k']}, batch {c['batch']}, "
             f"lr {c['lr']}, BL {c['bl']}, scheme {c['scheme']}, seed {c['seed']}"
             + (" (interrupted)" if doc["interrupted"] else ""),
             "",
             "| epoch | samples | train loss | test accuracy | matrix updates | array update "
             "events | pulses | coincidences | update slots | driver cycles |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["records"]:
        loss = "-" if r["train_loss"] is None else f"{r['train_loss']:.4f}"
        lines.append(f"| {r['epoch']:.2f} | {r['samples']} | {loss} | {r['test_accuracy']:.4f} "
                     f"| {r['matrix_updates']} | {r['update_events']} | {r['pulses']} | "
                     f"{r['coincidences']} | {r['slots']} | {r['driver_cycles']} |")
    if doc["layers"]:
        lines += ["", "| layer | shape | device | update events | coincidences | steps max | "
                  "steps mean | never stepped | at bound | clipped lines |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for i, st in enumerate(doc["layers"]):
            clipped = st.get("driver", {}).get("clipped_lines", st.get("clipped_lines", "-"))
            lines.append(f"| {i} | {st['shape'][0]}x{st['shape'][1]} | {st['device']} | "
                         f"{st['update_events']} | {st['coincidences']} | "
                         f"{st['device_steps_max']} | {st['device_steps_mean']:.1f} | "
                         f"{st['devices_never_stepped']} | {st['at_bound']} | {clipped} |")
    return "\n".join(lines) + "\n"


def _plots(doc, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = doc["records"]
    c = doc["config"]
    label = f"{c['backend']}, {c['device'] or 'dense'}"
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r["epoch"] for r in recs], [r["test_accuracy"] for r in recs], "o-", label=label)
    ax.set(xlabel="epoch", ylabel="test accuracy", title="accuracy vs epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "accuracy.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    arrays = bool(doc["layers"])
    key = "update_events" if arrays else "matrix_updates"
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r[key] for r in recs], [r["test_accuracy"] for r in recs], "o-", label=label)
    ax.set(xlabel="array update events" if arrays else "matrix updates (no array: dense)",
           ylabel="test accuracy", title="accuracy vs update events")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "accuracy_updates.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, h in enumerate(doc["coincidence_histograms"]):
        ax.stairs(h["counts"], h["edges"], label=f"layer {i}")
    if not doc["coincidence_histograms"]:
        ax.text(0.5, 0.5, "no crossbar array (dense float update)", ha="center",
                transform=ax.transAxes)
    ax.set(xlabel="coincidences per device (steps taken)", ylabel="devices",
           title="coincidences per device")
    ax.grid(alpha=0.3)
    if doc["coincidence_histograms"]:
        ax.legend()
    fig.savefig(out / "coincidences.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_outputs(doc: dict, out) -> None:
    """Write ``results.json``, ``table.md`` and the PNGs of ``doc`` into folder ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "table.md").write_text(_table(doc))
    _plots(doc, out)
