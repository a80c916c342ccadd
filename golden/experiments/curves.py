"""Training curves of SGD, MBGD, SVD and SBE (SBE paper Fig. 4).

Test error and training loss against epochs and against matrix updates, batch 32 (SGD: batch 1,
one outer product per sample). The rules and how their updates are counted:

* ``SGD``: rule ``sgd`` at batch 1, one matrix update per sample;
* ``MBGD``: rule ``mbgd`` with ``count="device"``, one matrix update per batch (the SBE paper's
  MBGD2 convention in its Figs. 4-5: every device written once per batch);
* ``SVD``: rule ``svd``, rank 1 (one outer product per batch);
* ``SBE``: rule ``sbe`` (rank 1, one outer product per batch), once per warm-start reading
  (``warm_start="raw"``: the carried vectors keep their norms, as the paper writes;
  ``"normalized"``: they are carried as unit vectors).

"Matrix updates" are counted per crossbar (every layer receives the same number here). All rules
share one learning rate (``--lr``); the paper tuned one per rule.
"""

from __future__ import annotations

import numpy as np

from .runner import fmt, markdown_table, samples_for, sbe_configs, spread, train_run

NAME = "curves"
HELP = "test error and train loss vs epochs and matrix updates, SGD/MBGD/SVD/SBE (SBE Fig. 4)"
DEFAULTS = {"epochs": 20, "seeds": 1, "batch": 32, "hidden": (100,)}
EVALS_PER_EPOCH = 4


def configs(settings):
    """``(label, rule, options, batch)`` of each curve."""
    b = settings.batch
    return [("SGD", "sgd", {}, 1), ("MBGD", "mbgd", {"count": "device"}, b),
            ("SVD", "svd", {"k": 1}, b)] + [(label, "sbe", o, b) for label, o in sbe_configs()]


def total_samples(settings):
    return samples_for(settings, configs(settings))


def run(settings, progress):
    runs = []
    for label, rule, options, batch in configs(settings):
        seeds = [train_run(settings, rule, options, seed=s, batch=batch, progress=progress,
                           evals_per_epoch=EVALS_PER_EPOCH) for s in range(settings.seeds)]
        runs.append({
            "label": label, "rule": rule, "options": options, "batch": batch,
            "seeds": [{k: r[k] for k in ("seed", "records", "diverged")} for r in seeds],
            "test_accuracy": spread(r["final"]["test_accuracy"] for r in seeds),
            "train_loss": spread(r["final"]["train_loss"] for r in seeds),
            "matrix_updates": max(seeds[0]["final"]["matrix_updates_per_layer"]),
            "diverged": sum(r["diverged"] for r in seeds),
        })
    return {"evals_per_epoch": EVALS_PER_EPOCH, "runs": runs}


def _mean_curve(run, key):
    """Mean over seeds of ``key`` at each evaluation point, with epochs and matrix updates."""
    n = min(len(s["records"]) for s in run["seeds"])
    recs = [s["records"][:n] for s in run["seeds"]]
    epochs = [r["epoch"] for r in recs[0]]
    updates = [max(r["matrix_updates_per_layer"]) for r in recs[0]]
    values = [np.mean([np.nan if rec[i][key] is None else rec[i][key] for rec in recs])
              for i in range(n)]
    return np.array(epochs), np.array(updates), np.array(values)


def table(doc):
    rows = []
    for r in doc["results"]["runs"]:
        rows.append([r["label"], r["batch"], fmt(r["test_accuracy"]), fmt(r["train_loss"], 4),
                     f"{r['matrix_updates']:,}", r["diverged"]])
    s = doc["settings"]
    head = (f"Training curves after {s['epochs']} epochs, {doc['data']['name']}, "
            f"hidden {s['hidden']}, lr {s['lr']}, seeds {s['seeds']} (mean ± std).\n\n")
    return head + markdown_table(["rule", "batch", "test accuracy", "train loss",
                                  "matrix updates per crossbar", "diverged runs"], rows)


def plot(doc):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for r in doc["results"]["runs"]:
        for row, key in enumerate(("test_error", "train_loss")):
            epochs, updates, values = _mean_curve(r, key)
            label = f"{r['label']} (B={r['batch']})"
            axes[row, 0].plot(epochs, values, label=label)
            axes[row, 1].plot(np.maximum(updates, 1), values, label=label)
    for ax in axes[:, 1]:
        ax.set_xscale("log")
        ax.set_xlabel("matrix updates per crossbar")
    for ax in axes[:, 0]:
        ax.set_xlabel("epochs")
    for ax in axes[1]:
        ax.set_yscale("log")
    axes[0, 0].set_ylabel("test error")
    axes[1, 0].set_ylabel("train loss")
    axes[0, 0].legend()
    fig.suptitle(f"SBE Fig. 4: {doc['data']['name']}, batch {doc['settings']['batch']}")
    fig.tight_layout()
    return fig
