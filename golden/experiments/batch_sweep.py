"""Epochs and matrix updates to reach a training loss, against batch size (SBE paper Fig. 5).

For each rule and batch size a run trains until the training loss (over the whole training set,
evaluated ``EVALS_PER_EPOCH`` times per epoch) is at or below ``0.01``, or until ``--epochs``
epochs; the first evaluation at or below each target (``0.1`` and ``0.01``) gives the epochs and
the matrix updates per crossbar to reach it (``null``: not reached within the budget).

Rules: ``mbgd`` (``count="device"``: one matrix update per batch, the paper's convention),
``svd`` (rank 1) and ``sbe`` (each warm-start reading); ``sgd`` is the batch-1 reference (one
update per sample; at batch 1 ``mbgd`` and ``svd`` are the same update, so they start at 4). One
learning rate for every batch size and rule (``--lr``); the paper tuned the rate per run with a
5-epoch optimizer, so large batches are at a disadvantage here.
"""

from __future__ import annotations

from .runner import markdown_table, samples_for, sbe_configs, train_run

NAME = "batch-sweep"
HELP = "epochs and matrix updates to reach train loss 0.1 and 0.01 vs batch size (SBE Fig. 5)"
DEFAULTS = {"epochs": 30, "seeds": 1, "batch": None, "hidden": (100,)}  # own batch sizes
BATCHES = (4, 16, 64, 256, 1024)
QUICK_BATCHES = (4, 64)
TARGETS = (0.1, 0.01)
RULES = (("MBGD", "mbgd", {"count": "device"}), ("SVD", "svd", {"k": 1}))
EVALS_PER_EPOCH = 4


def configs(settings):
    """``(label, rule, options, batch)`` of each run."""
    batches = QUICK_BATCHES if settings.quick else BATCHES
    out = [("SGD", "sgd", {}, 1)]
    rules = [*RULES, *((label, "sbe", options) for label, options in sbe_configs())]
    for label, rule, options in rules:
        out += [(label, rule, options, b) for b in batches]
    return out


def total_samples(settings):
    return samples_for(settings, configs(settings))


def run(settings, progress):
    runs = []
    for label, rule, options, batch in configs(settings):
        for seed in range(settings.seeds):
            res = train_run(settings, rule, options, seed=seed, batch=batch, progress=progress,
                            evals_per_epoch=EVALS_PER_EPOCH, stop_loss=min(TARGETS))
            n = len(settings.dataset().y_train)
            progress((settings.epochs - res["final"]["samples"] / n) * n)  # budget not used
            reach = {}
            for target in TARGETS:
                rec = next((r for r in res["records"] if r["train_loss"] is not None
                            and r["train_loss"] <= target), None)
                reach[str(target)] = {
                    "epochs": None if rec is None else rec["epoch"],
                    "matrix_updates": None if rec is None else max(rec["matrix_updates_per_layer"])}
            runs.append({"label": label, "rule": rule, "options": options, "batch": batch,
                         "seed": seed, "reached": reach, "diverged": res["diverged"],
                         "final_train_loss": res["final"]["train_loss"],
                         "final_epoch": res["final"]["epoch"],
                         "test_accuracy": res["final"]["test_accuracy"]})
    return {"targets": list(TARGETS), "evals_per_epoch": EVALS_PER_EPOCH, "runs": runs}


def _cell(v, fmt):
    return "not reached" if v is None else format(v, fmt)


def table(doc):
    rows = []
    for r in doc["results"]["runs"]:
        cells = []
        for t in doc["results"]["targets"]:
            reach = r["reached"][str(t)]
            cells += [_cell(reach["epochs"], ".2f"), _cell(reach["matrix_updates"], ",")]
        rows.append([r["label"], r["batch"], r["seed"], *cells,
                     _cell(r["final_train_loss"], ".4f"), f"{r['test_accuracy']:.3f}"])
    head = (f"Epochs and matrix updates per crossbar to reach training loss "
            f"{' and '.join(map(str, doc['results']['targets']))} "
            f"({doc['data']['name']}, lr {doc['settings']['lr']}, at most "
            f"{doc['settings']['epochs']} epochs).\n\n")
    header = ["rule", "batch", "seed"]
    for t in doc["results"]["targets"]:
        header += [f"epochs to {t}", f"updates to {t}"]
    return head + markdown_table(header + ["last train loss", "test acc"], rows)


def plot(doc):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    runs = [r for r in doc["results"]["runs"] if r["seed"] == 0]
    colors = {}
    for label in dict.fromkeys(r["label"] for r in runs):
        colors[label] = f"C{len(colors)}"
        mine = sorted((r for r in runs if r["label"] == label), key=lambda r: r["batch"])
        for t, style in zip(doc["results"]["targets"], ("--", "-")):
            for ax, key in zip(axes, ("epochs", "matrix_updates")):
                pts = [(r["batch"], r["reached"][str(t)][key]) for r in mine]
                pts = [(b, v) for b, v in pts if v is not None]
                if pts:
                    b, v = zip(*pts)
                    ax.plot(b, v, style, marker="o", color=colors[label],
                            label=f"{label} loss {t}")
    for ax, what in zip(axes, ("epochs", "matrix updates per crossbar")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(f"{what} to reach the loss")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"SBE Fig. 5: {doc['data']['name']} (missing points: not reached in "
                 f"{doc['settings']['epochs']} epochs)")
    fig.tight_layout()
    return fig
