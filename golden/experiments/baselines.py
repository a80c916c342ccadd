"""All registered update rules side by side: accuracy, matrix updates and memory.

Every rule of :data:`golden.rules.RULES` is trained with its default options, at rank ``RANK``
when it has a rank option (``k``, ``rank``, or ``d`` directions for ``rbd``/``fpd``), at batch
``--batch`` (``sbe`` once per warm-start reading); ``sgd`` runs at
batch 1 (one outer product per sample, real SGD). ``matrix_updates`` is what each rule reports
(its own counting convention: see its docstring; ``mbgd`` counts ``min(n_in, n_out)``
column-wise writes per batch by default) per crossbar over the whole run. Memory is state +
buffer words summed over the layers, against the dense ``n_in * n_out``.
"""

from __future__ import annotations

from .runner import (fmt, markdown_table, rank_option, samples_for, sbe_configs, spread,
                     train_run)

NAME = "baselines"
HELP = "all rules side by side: accuracy, matrix updates, memory"
DEFAULTS = {"epochs": 10, "seeds": 3, "batch": 64, "hidden": (100,)}
RANK = 4
#: Preferred order; any other registered rule follows in name order.
ORDER = ("sgd", "mbgd", "svd", "sbe", "sbpca", "fd", "powersgd", "gc", "rbd", "fpd")


def configs(settings):
    """``(rule, options, batch)`` of each registered rule."""
    from ..rules import RULES

    names = [n for n in ORDER if n in RULES] + sorted(set(RULES) - set(ORDER))
    out = []
    for name in names:
        opt = rank_option(name)
        batch = 1 if name == "sgd" else settings.batch
        if name == "sbe":
            out += [(name, options, batch) for _, options in sbe_configs()]
        else:
            out.append((name, {opt: RANK} if opt else {}, batch))
    return out


def total_samples(settings):
    return samples_for(settings, configs(settings))


def run(settings, progress):
    rows = []
    for rule, options, batch in configs(settings):
        runs = [train_run(settings, rule, options, seed=s, batch=batch, progress=progress)
                for s in range(settings.seeds)]
        costs = runs[0]["costs"]
        rows.append({
            "rule": rule, "options": options, "batch": batch,
            "test_accuracy": spread(r["final"]["test_accuracy"] for r in runs),
            "train_loss": spread(r["final"]["train_loss"] for r in runs),
            "per_seed": [r["final"]["test_accuracy"] for r in runs],
            "diverged": sum(r["diverged"] for r in runs),
            "matrix_updates": max(runs[0]["final"]["matrix_updates_per_layer"]),
            "macs_per_sample": sum(c["macs_per_sample_total"] for c in costs),
            "memory_words": sum(c["memory_words"] for c in costs),
            "dense_words": sum(c["dense_words"] for c in costs), "costs": costs})
    return {"rank": RANK, "rows": rows}


def table(doc):
    rows = []
    for r in doc["results"]["rows"]:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "defaults"
        rows.append([r["rule"], opts, r["batch"], fmt(r["test_accuracy"]),
                     fmt(r["train_loss"], 4), r["diverged"], f"{r['matrix_updates']:,}",
                     f"{r['macs_per_sample']:,.0f}",
                     f"{r['memory_words']:,} ({r['memory_words'] / r['dense_words']:.1%})"])
    s = doc["settings"]
    head = (f"All rules ({doc['data']['name']}, hidden {s['hidden']}, {s['epochs']} epochs, "
            f"lr {s['lr']}, mean ± std over {s['seeds']} seeds). Matrix updates per crossbar "
            f"over the run, each rule's own convention; MACs per sample and memory (state + "
            f"buffer words, share of dense n_in*n_out) summed over the layers.\n\n")
    return head + markdown_table(["rule", "options", "batch", "test accuracy", "train loss",
                                  "diverged runs", "matrix updates", "MACs/sample",
                                  "memory words"], rows)


def _label(row):
    return " ".join([row["rule"], *(f"{k}={v}" for k, v in row["options"].items())])


def plot(doc):
    import matplotlib.pyplot as plt

    rows = doc["results"]["rows"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(rows):
        acc = r["test_accuracy"]
        if acc["mean"] is None:
            continue
        ax1.errorbar(max(r["matrix_updates"], 1), acc["mean"], yerr=acc["std"], marker="o",
                     capsize=3, color=plt.cm.tab20(i % 20), label=_label(r))
        ax2.errorbar(max(r["memory_words"], 1), acc["mean"], yerr=acc["std"], marker="o",
                     capsize=3, color=plt.cm.tab20(i % 20), label=_label(r))
    for ax, what in ((ax1, "matrix updates per crossbar"), (ax2, "memory words (all layers)")):
        ax.set_xscale("log")
        ax.set_xlabel(what)
        ax.set_ylabel("test accuracy")
    dense = rows[0]["dense_words"] if rows else 0
    if dense:
        ax2.axvline(dense, color="k", ls=":", label="dense n_in*n_out")
    ax2.legend(fontsize=7)
    fig.suptitle(f"Update rules side by side, {doc['data']['name']}")
    fig.tight_layout()
    return fig
