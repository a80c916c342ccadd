"""Every hardware option of SBPCA, alone and combined, with accuracy and cost counts.

The reference is ``sbpca`` as in Algorithm 1 of the AAAI paper: sequential order, harmonic
schedule ``c_i = i/(i+1)``, QR, division by sigma, block ``b = B/4``. Each other variant changes
one option (or a named combination) and is trained at ranks 1 and 4 over ``--seeds`` seeds; the
table gives mean ± std test accuracy, the cost counts of ``rule.cost()`` summed over the layers
(MACs per sample with the block work spread over the samples; state + buffer words against the
dense ``n_in * n_out`` of MBGD), and the distance to MBGD.

The default settings (MNIST subset, 784-100-10, batch 64, 10 epochs, 3 seeds) are the issue's
acceptance measurement: SBPCA rank 4 (sequential, QR) and the best division-free variant
(``norm="ns"`` with pre-scale and ``recip="newton"``) should each be within 2 points of MBGD;
``results.acceptance`` records the figures and whether each holds.
"""

from __future__ import annotations

from ..sbpca_unit import DEFAULT_NS_STEPS
from .runner import fmt, markdown_table, spread, train_run

NAME = "variants"
HELP = "every hardware-oriented SBPCA option alone and combined, accuracy and cost counts"
DEFAULTS = {"epochs": 10, "seeds": 3, "batch": 64, "hidden": (100,)}
RANKS = (1, 4)
ACCEPT_RANK, ACCEPT_POINTS = 4, 0.02


#: The variant the hardware unit implements by default (see golden/sbpca_unit.py).
UNIT_VARIANT = "unit: b=1, seq, ns_tri, newton"
UNIT_OPTIONS = {"block": 1, "norm": "ns_tri", "ns_steps": DEFAULT_NS_STEPS, "prescale": True,
                "recip": "newton"}


def variants(batch):
    """``{label: sbpca options}``; the first entry is the reference, all share rank ``k``."""
    b = max(1, batch // 4)
    ref = {"block": b}
    division_free = {"block": b, "norm": "ns", "prescale": True, "recip": "newton"}
    return {
        "reference (seq, harmonic, qr, div)": ref,
        "block=1": {"block": 1},
        "order=parallel": ref | {"order": "parallel"},
        "schedule=sbpcav (blocks 1,2,4..)": {"block": 1, "schedule": "sbpcav"},
        "schedule=shift s=1": ref | {"schedule": "shift", "shift_s": 1},
        "norm=ns prescale": ref | {"norm": "ns", "prescale": True},
        "norm=ns no prescale": ref | {"norm": "ns", "prescale": False},
        "recip=newton": ref | {"recip": "newton"},
        "ns+prescale+newton (division-free)": division_free,
        "division-free + shift s=1": division_free | {"schedule": "shift", "shift_s": 1},
        "division-free + parallel": division_free | {"order": "parallel"},
        "mode=xbtorch (block 32)": {"mode": "xbtorch"},
        "norm=ns_tri prescale": ref | {"norm": "ns_tri", "prescale": True},
        # The streaming-PCA unit's algorithm (golden/sbpca_unit.py): one sample per block,
        # sequential (one pass, no block buffer), triangular Newton-Schulz, Newton reciprocal.
        UNIT_VARIANT: UNIT_OPTIONS,
        "unit + shift s=1 (c = 1/2)": UNIT_OPTIONS | {"schedule": "shift", "shift_s": 1},
    }


QUICK_VARIANTS = ("reference (seq, harmonic, qr, div)", "order=parallel",
                  "ns+prescale+newton (division-free)", "norm=ns no prescale", UNIT_VARIANT)


def _selected(settings):
    all_ = variants(settings.batch)
    if settings.quick:
        return {k: all_[k] for k in QUICK_VARIANTS}
    return all_


def _ranks(settings):
    return (ACCEPT_RANK,) if settings.quick else RANKS


def total_samples(settings):
    n = len(settings.dataset().y_train)
    runs = len(_selected(settings)) * len(_ranks(settings)) + 1
    return runs * settings.seeds * settings.epochs * n


def _measure(settings, rule, options, progress):
    runs = [train_run(settings, rule, options, seed=s, progress=progress)
            for s in range(settings.seeds)]
    costs = runs[0]["costs"]
    return {"options": options, "test_accuracy": spread(r["final"]["test_accuracy"] for r in runs),
            "per_seed": [r["final"]["test_accuracy"] for r in runs],
            "diverged": sum(r["diverged"] for r in runs),
            "macs_per_sample": sum(c["macs_per_sample_total"] for c in costs),
            "memory_words": sum(c["memory_words"] for c in costs),
            "dense_words": sum(c["dense_words"] for c in costs),
            "costs": costs}


def _is_division_free(options):
    return options.get("norm") in ("ns", "ns_tri") and options.get("recip") == "newton" \
        and options.get("prescale", True)


def unit_memory(n_in: int, n_out: int, k: int) -> dict:
    """State + buffer words of the hardware unit's model for one layer (no block accumulators:
    with one sample per block the update is applied directly)."""
    from golden.sbpca_unit import SBPCAUnitModel

    cost = SBPCAUnitModel(n_in, n_out, k=k, mode="float").cost()
    words = cost.state_words + cost.buffer_words
    return {"n_in": n_in, "n_out": n_out, "k": k, "words": words,
            "share": words / (n_in * n_out)}


def acceptance(rows, mbgd):
    """Compare the rank-4 reference and the best division-free variant with MBGD."""
    m = mbgd["test_accuracy"]["mean"]
    at = [r for r in rows if r["k"] == ACCEPT_RANK]
    if m is None or not at:
        return {}
    ref = at[0]
    free = [r for r in at if _is_division_free(r["options"])
            and r["test_accuracy"]["mean"] is not None]
    out = {"rank": ACCEPT_RANK, "points": ACCEPT_POINTS, "mbgd": m}
    for key, row in (("reference", ref), ("best_division_free", max(
            free, key=lambda r: r["test_accuracy"]["mean"], default=None))):
        if row is None or row["test_accuracy"]["mean"] is None:
            out[key] = None
            continue
        gap = m - row["test_accuracy"]["mean"]
        out[key] = {"variant": row["variant"], "accuracy": row["test_accuracy"]["mean"],
                    "gap": gap, "within": bool(gap <= ACCEPT_POINTS)}
    unit = [r for r in at if r["variant"] == UNIT_VARIANT and r["test_accuracy"]["mean"]]
    if unit:
        gap = m - unit[0]["test_accuracy"]["mean"]
        out["unit"] = {"variant": UNIT_VARIANT, "accuracy": unit[0]["test_accuracy"]["mean"],
                       "gap": gap, "within": bool(gap <= ACCEPT_POINTS),
                       "hidden_layer_memory": unit_memory(784, 100, ACCEPT_RANK)}
    return out


def run(settings, progress):
    rows = []
    for k in _ranks(settings):
        for label, options in _selected(settings).items():
            row = _measure(settings, "sbpca", {"k": k} | options, progress)
            rows.append({"variant": label, "k": k} | row)
    mbgd = _measure(settings, "mbgd", {}, progress)
    return {"rows": rows, "mbgd": mbgd, "acceptance": acceptance(rows, mbgd)}


def table(doc):
    res = doc["results"]
    m = res["mbgd"]["test_accuracy"]["mean"]
    rows = []
    for r in res["rows"] + [dict(res["mbgd"], variant="MBGD", k="full")]:
        acc = r["test_accuracy"]
        gap = "" if m is None or acc["mean"] is None else f"{100 * (acc['mean'] - m):+.1f}"
        rows.append([r["variant"], r["k"], fmt(acc), gap, r["diverged"],
                     f"{r['macs_per_sample']:,.0f}",
                     f"{r['memory_words']:,} ({r['memory_words'] / r['dense_words']:.1%})"])
    s = doc["settings"]
    head = (f"SBPCA variants ({doc['data']['name']}, hidden {s['hidden']}, batch {s['batch']}, "
            f"{s['epochs']} epochs, lr {s['lr']}, mean ± std over {s['seeds']} seeds). Costs are "
            f"summed over the layers; memory is state + buffer words (share of the dense "
            f"n_in*n_out).\n\n")
    text = head + markdown_table(["variant", "rank", "test accuracy", "vs MBGD (points)",
                                  "diverged runs", "MACs/sample", "memory words"], rows)
    acc = res.get("acceptance") or {}
    for key in ("reference", "best_division_free", "unit"):
        a = acc.get(key)
        if a:
            text += (f"\n- rank {acc['rank']} {key.replace('_', ' ')} ({a['variant']}): "
                     f"{a['accuracy']:.3f} vs MBGD {acc['mbgd']:.3f}, gap "
                     f"{100 * a['gap']:.1f} points: "
                     f"{'within' if a['within'] else 'NOT within'} {100 * acc['points']:.0f}")
            if "hidden_layer_memory" in a:
                mem = a["hidden_layer_memory"]
                text += (f"; the unit keeps {mem['words']:,} words for the 784 x 100 layer "
                         f"({mem['share']:.1%} of n_in*n_out)")
    return text + "\n"


def plot(doc):
    import matplotlib.pyplot as plt

    res = doc["results"]
    labels = list(dict.fromkeys(r["variant"] for r in res["rows"]))
    ks = sorted({r["k"] for r in res["rows"]})
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.5))
    height = 0.8 / len(ks)
    for i, k in enumerate(ks):
        rows = {r["variant"]: r for r in res["rows"] if r["k"] == k}
        y = [j + i * height for j in range(len(labels))]
        mean = [rows[v]["test_accuracy"]["mean"] or 0.0 for v in labels]
        std = [rows[v]["test_accuracy"]["std"] or 0.0 for v in labels]
        ax.barh(y, mean, height, xerr=std, capsize=2, label=f"rank {k}")
    m = res["mbgd"]["test_accuracy"]["mean"]
    if m is not None:
        ax.axvline(m, color="k", ls="--", label="MBGD")
        ax.axvline(m - ACCEPT_POINTS, color="k", ls=":", label="MBGD - 2 points")
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"SBPCA hardware variants, {doc['data']['name']}, batch "
                 f"{doc['settings']['batch']}")
    fig.tight_layout()
    return fig
