"""Test accuracy against rank, SBPCA with fixed vs variable blocks (SBPCA AAAI paper, Table 1).

The AAAI paper trains AlexNet's fully connected layers on CIFAR/ImageNet; here the same table is
measured on the MLP. "Fixed" is ``sbpca`` with the harmonic schedule ``c_i = i/(i+1)`` and block
``b = B/4`` (the paper's CIFAR setting); "varied" is SBPCAV: ``schedule="sbpcav"``, ``c = 1/2`` and
blocks ``1, 2, 4, ...``. Both use sequential order and QR. A rank larger than a layer allows is
capped at ``min(n_in, n_out)`` for that layer (rank 30 on 784-100-10: 30 on the hidden layer, 10
on the output layer). MBGD at the same batch size is the reference row.
"""

from __future__ import annotations

from ..rules import make_rule
from .runner import fmt, markdown_table, spread, train_run

NAME = "rank-table"
HELP = "test accuracy for ranks 1, 3, 10, 30: SBPCA fixed vs variable block (AAAI Table 1)"
DEFAULTS = {"epochs": 10, "seeds": 3, "batch": 64, "hidden": (100,)}
RANKS = (1, 3, 10, 30)
QUICK_RANKS = (1, 3)


def kinds(batch):
    """``{kind: sbpca options}`` of the two columns."""
    return {"fixed": {"schedule": "harmonic", "block": max(1, batch // 4)},
            "varied": {"schedule": "sbpcav", "block": 1}}


def capped_sbpca(rank, options):
    """A rule factory: ``sbpca`` with rank ``min(rank, n_in, n_out)`` on each layer."""
    def factory(n_in, n_out, *, rng):
        return make_rule("sbpca", n_in, n_out, rng=rng, k=min(rank, n_in, n_out), **options)
    return factory


def _ranks(settings):
    widest = max(min(a, b) for a, b in zip(settings.sizes()[:-1], settings.sizes()[1:]))
    return [r for r in (QUICK_RANKS if settings.quick else RANKS) if r <= widest]


def total_samples(settings):
    n = len(settings.dataset().y_train)
    return (2 * len(_ranks(settings)) + 1) * settings.seeds * settings.epochs * n


def _accuracies(settings, rule, options, progress):
    runs = [train_run(settings, rule, options, seed=s, progress=progress)
            for s in range(settings.seeds)]
    return {"test_accuracy": spread(r["final"]["test_accuracy"] for r in runs),
            "per_seed": [r["final"]["test_accuracy"] for r in runs],
            "diverged": sum(r["diverged"] for r in runs)}


def run(settings, progress):
    sizes = settings.sizes()
    rows = []
    for rank in _ranks(settings):
        row = {"rank": rank, "layer_ranks": [min(rank, a, b) for a, b in zip(sizes, sizes[1:])]}
        for kind, options in kinds(settings.batch).items():
            row[kind] = _accuracies(settings, capped_sbpca(rank, options), {}, progress)
            row[kind]["options"] = options
        rows.append(row)
    mbgd = _accuracies(settings, "mbgd", {}, progress)
    return {"rows": rows, "mbgd": mbgd}


def table(doc):
    res = doc["results"]
    rows = [[r["rank"], "/".join(map(str, r["layer_ranks"])), fmt(r["fixed"]["test_accuracy"]),
             fmt(r["varied"]["test_accuracy"])] for r in res["rows"]]
    rows.append(["MBGD", "full", fmt(res["mbgd"]["test_accuracy"]), ""])
    s = doc["settings"]
    head = (f"Test accuracy ({doc['data']['name']}, hidden {s['hidden']}, batch {s['batch']}, "
            f"fixed block {max(1, s['batch'] // 4)}, {s['epochs']} epochs, lr {s['lr']}, "
            f"mean ± std over {s['seeds']} seeds).\n\n")
    return head + markdown_table(["rank", "rank per layer", "fixed (SBPCA)", "varied (SBPCAV)"],
                                 rows)


def plot(doc):
    import matplotlib.pyplot as plt

    res = doc["results"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ranks = [r["rank"] for r in res["rows"]]
    for kind in ("fixed", "varied"):
        mean = [r[kind]["test_accuracy"]["mean"] for r in res["rows"]]
        std = [r[kind]["test_accuracy"]["std"] for r in res["rows"]]
        ax.errorbar(ranks, mean, yerr=std, marker="o", capsize=3, label=f"SBPCA {kind}")
    m = res["mbgd"]["test_accuracy"]
    if m["mean"] is not None:
        ax.axhline(m["mean"], color="k", ls="--", label="MBGD")
    ax.set_xscale("log")
    ax.set_xticks(ranks, [str(r) for r in ranks])
    ax.set_xlabel("rank k")
    ax.set_ylabel("test accuracy")
    ax.legend()
    ax.set_title(f"AAAI Table 1 on the MLP: {doc['data']['name']}")
    fig.tight_layout()
    return fig
