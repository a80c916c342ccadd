"""How few Newton-Schulz steps the streaming-PCA unit tolerates.

The unit (:mod:`golden.sbpca_unit`) normalizes its factors twice per sample with ``ns_steps``
triangular Newton-Schulz steps in ``k x k`` Gram space; that ``k x k`` work sits between the row
passes, so fewer steps mean busier lanes. For each ``ns_steps`` in ``NS_STEPS`` (``QUICK_NS_STEPS``
with ``--quick``) and ``EXTRA_STEPS`` (a converged reference), all at rank ``K``:

1. **Orthonormality on a real gradient stream.** A network is trained one epoch with MBGD (as in
   :mod:`golden.experiments.quantization`, same stream: ``STREAM_BATCHES`` batches drawn with
   seed 7); the hidden layer's ``(x, delta)`` stream goes through the float unit and the
   ``WIDTH``-bit fixed-point unit. After *every* sample the normalized factors are read out
   (:meth:`SBPCAUnitModel.readout`) and ``||X^T X - I||_F`` and ``||Delta^T Delta - I||_F``
   recorded: mean and max over the stream, and the same over the first sample of each batch
   only (``c = 1/2``: the old state and one sample's outer product weigh the same, the largest
   change a normalization has to absorb).
2. **Update quality.** Per batch, the relative Frobenius error and the cosine of each unit's
   update ``Delta diag(sigma) X^T`` against the float unit with ``REF_STEPS`` steps (the count
   the unit was first built with; its default is now ``sbpca_unit.DEFAULT_NS_STEPS``), with
   ``CONVERGED_STEPS`` steps, and against the true batch gradient.
3. **Training.** The MLP trained with the float unit rule at each ``ns_steps`` (``--epochs``,
   ``--seeds``): test accuracy mean ± std, and MBGD over the same seeds (as in
   :mod:`golden.experiments.variants`).
4. **Cost.** The ``k x k`` multiply-accumulates per sample of the hidden layer's unit
   (``SBPCAUnitModel.cost().notes["kxk_macs_per_sample"]``, dense counts) and their share of
   the unit's per-sample total.

``results.recommendation["both"]`` is the smallest ``ns_steps`` whose float accuracy is within
``ACC_POINTS`` of ``REF_STEPS`` steps and whose float orthonormality error (max over the stream
of both factors) is below ``ORTH_LIMIT`` (None when no measured step count qualifies);
``"accuracy"`` and ``"orthonormality"`` apply one criterion each.

Newton-Schulz needs about ``log(1/lambda_min) / log(9/4)`` steps before its quadratic phase,
``lambda_min`` the smallest eigenvalue of the pre-scaled Gram matrix: when one sample's outer
product outweighs the averaged state (first samples of a batch, ``c = 1/2``) the new columns are
nearly parallel and that eigenvalue is small, so the worst samples of a stream set the count.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .. import sbpca_unit
from ..linalg import batch_gradient
from ..sbpca_unit import SBPCAUnitModel, SBPCAUnitRule
from .quantization import _stream
from .runner import fmt, markdown_table, spread
from .variants import _measure

NAME = "ns-steps"
HELP = "Newton-Schulz steps of the unit: orthonormality, update quality, accuracy, k x k MACs"
DEFAULTS = {"epochs": 10, "seeds": 3, "batch": 64, "hidden": (100,)}
NS_STEPS = (2, 3, 4, 5, 6, 8)
QUICK_NS_STEPS = (2, 4, 8)
#: Measured besides ``NS_STEPS``: enough steps for the stream's worst Gram matrices (a converged
#: reference; 8 steps are not always enough, see the module docstring).
EXTRA_STEPS = (16,)
REF_STEPS = 8
CONVERGED_STEPS = 16
K = 4
WIDTH = 16
STREAM_BATCHES = 30
QUICK_STREAM_BATCHES = 3
ACC_POINTS = 0.005
ORTH_LIMIT = 1e-3


def _ns_steps(settings):
    return (QUICK_NS_STEPS if settings.quick else NS_STEPS) + EXTRA_STEPS


def _stream_batches(settings):
    return QUICK_STREAM_BATCHES if settings.quick else STREAM_BATCHES


def total_samples(settings):
    n = len(settings.dataset().y_train)
    steps = len(_ns_steps(settings))
    training = (steps + 1) * settings.seeds * settings.epochs * n
    stream = 2 * steps * _stream_batches(settings) * settings.batch
    return training + n + stream


def unit(n_in, n_out, ns_steps, mode, seed=1):
    """The unit rule of the measurements (same start state for every ``ns_steps``)."""
    return SBPCAUnitRule(n_in, n_out, rng=np.random.default_rng(seed), k=min(K, n_in, n_out),
                         mode=mode, width=WIDTH, ns_steps=ns_steps)


def orth_error(F):
    """``||F^T F - I||_F``."""
    return float(np.linalg.norm(F.T @ F - np.eye(F.shape[1])))


def batch_with_readouts(rule, xs, ds):
    """Run one batch through ``rule`` and read the factors out after every sample.

    The rule's own :meth:`SBPCAUnitRule.batch` runs (input scaling, schedule, state), with its
    model's ``sample`` wrapped for the duration. Returns the batch's update and a ``(B, 2)``
    array of ``(||X^T X - I||_F, ||Delta^T Delta - I||_F)`` per sample.
    """
    model = rule.model
    original = model.sample
    errors = []

    def sample(x, d, i):
        original(x, d, i)
        _, X, D = model.readout()
        errors.append((orth_error(X), orth_error(D)))

    model.sample = sample
    try:
        update = rule.batch(xs, ds)
    finally:
        del model.sample
    return update, np.array(errors)


def _compare(M, ref):
    nr = np.linalg.norm(ref)
    return (float(np.linalg.norm(M - ref) / nr),
            float(np.sum(M * ref) / (np.linalg.norm(M) * nr)))


def stream_measurements(settings, model, data, progress):
    """Orthonormality after every sample and update quality per batch, float and fixed."""
    rng = np.random.default_rng(7)
    batches = []
    for _ in range(_stream_batches(settings)):
        idx = rng.choice(len(data.y_train), settings.batch, replace=False)
        _, xs, ds = model.backward(data.x_train[idx], data.y_train[idx])
        batches.append((xs[0], ds[0]))
    n_in, n_out = batches[0][0].shape[1], batches[0][1].shape[1]
    steps = _ns_steps(settings)
    names = [("float", n) for n in steps] + [(str(WIDTH), n) for n in steps]
    units = {(m, n): unit(n_in, n_out, n, "float" if m == "float" else "fixed")
             for m, n in names}
    ref_key, conv_key = ("float", REF_STEPS), ("float", CONVERGED_STEPS)
    errs = {key: [] for key in units}
    first = {key: [] for key in units}
    per = {key: {"vs_ref": [], "cosine_vs_ref": [], "vs_converged": [],
                 "cosine_vs_converged": [], "vs_true": [], "cosine_vs_true": []}
           for key in units}
    for xs, ds in batches:
        G = batch_gradient(xs, ds)
        ups = {}
        for key, u in units.items():
            up, e = batch_with_readouts(u, xs, ds)
            ups[key] = up.matrix()
            errs[key].append(e)
            first[key].append(e[0])
            progress(len(xs))
        for key, M in ups.items():
            rel, cos = _compare(M, ups[ref_key])
            per[key]["vs_ref"].append(rel)
            per[key]["cosine_vs_ref"].append(cos)
            rel, cos = _compare(M, ups[conv_key])
            per[key]["vs_converged"].append(rel)
            per[key]["cosine_vs_converged"].append(cos)
            rel, cos = _compare(M, G)
            per[key]["vs_true"].append(rel)
            per[key]["cosine_vs_true"].append(cos)
    out = {}
    for m, n in names:
        key = (m, n)
        e, f = np.concatenate(errs[key]), np.array(first[key])
        orth = {}
        for j, side in enumerate(("X", "Delta")):
            orth[side] = {"mean": float(e[:, j].mean()), "max": float(e[:, j].max()),
                          "first_mean": float(f[:, j].mean()),
                          "first_max": float(f[:, j].max())}
        both, both_first = e.max(axis=1), f.max(axis=1)
        orth["both"] = {"mean": float(both.mean()), "max": float(both.max()),
                        "first_mean": float(both_first.mean()),
                        "first_max": float(both_first.max())}
        out.setdefault(m, {})[str(n)] = {
            "orthonormality": orth, "samples": len(e),
            "update": {name: spread(vals) for name, vals in per[key].items()},
            "overflow": bool(units[key].model.overflow)}
    return {"layer": [int(n_in), int(n_out)], "batches": len(batches), "per_mode": out}


def costs(settings):
    """``k x k`` MACs per sample of the hidden layer's unit, and of the whole unit."""
    n_in, n_out = settings.sizes()[:2]
    out = {}
    for n in _ns_steps(settings):
        c = SBPCAUnitModel(n_in, n_out, k=min(K, n_in, n_out), mode="float",
                           ns_steps=n).cost()
        kxk = c.notes["kxk_macs_per_sample"]
        out[str(n)] = {"kxk_macs_per_sample": kxk, "macs_per_sample": c.macs_per_sample,
                       "kxk_share": kxk / c.macs_per_sample}
    return {"layer": [int(n_in), int(n_out)], "per_steps": out}


def training(settings, progress):
    rows = {}
    for n in _ns_steps(settings):
        rows[str(n)] = _measure(settings, SBPCAUnitRule,
                                {"k": K, "mode": "float", "ns_steps": n}, progress)
    return {"rows": rows, "mbgd": _measure(settings, "mbgd", {}, progress)}


def recommend(steps, accuracy, orth_max):
    """Smallest step counts meeting the criteria: ``{"both", "accuracy", "orthonormality"}``.

    ``accuracy``: float accuracy within ``ACC_POINTS`` of ``REF_STEPS`` steps;
    ``orthonormality``: float orthonormality error (max over the stream) below ``ORTH_LIMIT``;
    ``both``: the two at once. ``accuracy``, ``orth_max``: ``{steps: value}`` (accuracy None
    for diverged runs). A criterion no step count meets gives None.
    """
    ref = accuracy.get(REF_STEPS)
    acc_ok = {n for n in steps if ref is not None and accuracy.get(n) is not None
              and accuracy[n] >= ref - ACC_POINTS}
    orth_ok = {n for n in steps if orth_max[n] < ORTH_LIMIT}
    return {"both": min(acc_ok & orth_ok, default=None), "accuracy": min(acc_ok, default=None),
            "orthonormality": min(orth_ok, default=None)}


def run(settings, progress):
    model, data = _stream(settings, progress)
    steps = list(_ns_steps(settings))
    stream = stream_measurements(settings, model, data, progress)
    tr = training(settings, progress)
    acc = {n: tr["rows"][str(n)]["test_accuracy"]["mean"] for n in steps}
    orth = {n: stream["per_mode"]["float"][str(n)]["orthonormality"]["both"]["max"]
            for n in steps}
    return {"k": K, "width": WIDTH, "ns_steps": steps, "ref_steps": REF_STEPS,
            "converged_steps": CONVERGED_STEPS,
            # the fixed-point model's rounding is being revised: record which one was measured
            "unit_model_sha256": hashlib.sha256(Path(sbpca_unit.__file__).read_bytes()
                                                ).hexdigest(),
            "stream": stream, "costs": costs(settings), "training": tr,
            "criteria": {"accuracy_points": ACC_POINTS, "orthonormality_limit": ORTH_LIMIT},
            "recommendation": recommend(steps, acc, orth)}


def _mm(d, prefix=""):
    return f"{d[prefix + 'mean']:.1e} / {d[prefix + 'max']:.1e}"


def table(doc):
    res, s = doc["results"], doc["settings"]
    st, co, tr = res["stream"], res["costs"], res["training"]
    ref, conv = res["ref_steps"], res["converged_steps"]
    fl, fx = st["per_mode"]["float"], st["per_mode"][str(res["width"])]
    ref_acc = tr["rows"].get(str(ref), {}).get("test_accuracy", {}).get("mean")
    m = tr["mbgd"]["test_accuracy"]["mean"]
    rows = []
    for n in res["ns_steps"]:
        key = str(n)
        c, f, x, t = co["per_steps"][key], fl[key], fx[key], tr["rows"][key]
        a = t["test_accuracy"]["mean"]
        gap = "" if a is None or ref_acc is None else f"{100 * (a - ref_acc):+.1f}"
        rows.append([n, f"{c['kxk_macs_per_sample']:,} ({c['kxk_share']:.1%})",
                     _mm(f["orthonormality"]["both"]),
                     f"{f['orthonormality']['both']['first_max']:.1e}",
                     _mm(x["orthonormality"]["both"]),
                     fmt(f["update"]["cosine_vs_ref"], 4), fmt(x["update"]["cosine_vs_ref"], 4),
                     fmt(f["update"]["vs_true"], 3),
                     fmt(t["test_accuracy"]), gap, t["diverged"]])
    mgap = "" if m is None or ref_acc is None else f"{100 * (m - ref_acc):+.1f}"
    rows.append(["MBGD", "-", "-", "-", "-", "-", "-", "-", fmt(tr["mbgd"]["test_accuracy"]),
                 mgap, tr["mbgd"]["diverged"]])
    layer = f"{st['layer'][0]}x{st['layer'][1]}"
    samples = next(iter(fl.values()))["samples"]
    head = (f"Newton-Schulz steps of the streaming-PCA unit ({doc['data']['name']}, rank "
            f"{res['k']}). Stream: the {layer} layer's (x, delta) after one MBGD epoch, "
            f"{st['batches']} batches of {s['batch']} ({samples:,} samples). Orthonormality "
            f"error = max(||X^T X - I||_F, ||Delta^T Delta - I||_F) of the read-out factors after "
            f"every sample, mean / max over the stream; 'first' = max over the first sample of "
            f"each batch (c = 1/2). Cosine: the unit's batch update against the float unit with "
            f"{ref} steps, mean ± std over the batches. Accuracy: MLP trained with the float unit "
            f"rule, {s['epochs']} epochs, batch {s['batch']}, lr {s['lr']}, mean ± std over "
            f"{s['seeds']} seed(s); MBGD over the same seeds. k x k MACs: "
            f"SBPCAUnitModel.cost() notes for the {co['layer'][0]}x{co['layer'][1]} layer "
            f"(share of the unit's MACs per sample). {conv} steps: a converged reference beyond "
            f"the reference {ref} (the unit's default is "
            f"{sbpca_unit.DEFAULT_NS_STEPS}).\n\n")
    w = res["width"]
    text = head + markdown_table(
        ["ns_steps", "k x k MACs / sample", "float orth. mean / max", "float orth. first max",
         f"{w}-bit orth. mean / max", f"float cosine vs {ref} steps",
         f"{w}-bit cosine vs float {ref} steps", "float rel. error vs true gradient",
         "test accuracy (float unit)", f"vs {ref} steps (points)", "diverged runs"], rows)
    detail = []
    for mode, per in (("float", fl), (f"{w}-bit", fx)):
        for n in res["ns_steps"]:
            o, u = per[str(n)]["orthonormality"], per[str(n)]["update"]
            detail.append([n, mode, _mm(o["X"]), _mm(o["X"], "first_"), _mm(o["Delta"]),
                           _mm(o["Delta"], "first_"), fmt(u["vs_ref"], 4),
                           fmt(u["cosine_vs_converged"], 4), fmt(u["cosine_vs_true"], 3),
                           fmt(u["vs_true"], 3),
                           "yes" if per[str(n)]["overflow"] else "no"])
    text += ("\nPer factor (mean / max; 'first': over the first sample of each batch) and update "
             "error detail:\n\n")
    text += markdown_table(
        ["ns_steps", "unit", "||X^T X - I||", "X first", "||D^T D - I||", "D first",
         f"rel. error vs float {ref} steps", f"cosine vs float {conv} steps",
         "cosine vs true gradient",
         "rel. error vs true gradient", "saturated"], detail)
    r, crit = res["recommendation"], res["criteria"]
    acc = (f"float accuracy within {100 * crit['accuracy_points']:.1f} points of {ref} steps")
    orth = f"float orthonormality max below {crit['orthonormality_limit']:.0e}"
    for key, what in (("both", f"{acc} and {orth}"), ("accuracy", acc),
                      ("orthonormality", orth)):
        text += (f"\n- smallest ns_steps with {what}: "
                 f"{'none measured' if r[key] is None else r[key]}")
    return text + "\n"


def plot(doc):
    import matplotlib.pyplot as plt

    res = doc["results"]
    steps = res["ns_steps"]
    st, tr = res["stream"], res["training"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    for (mode, per), color in zip(st["per_mode"].items(), ("C0", "C1")):
        label = mode if mode == "float" else f"{mode}-bit"
        o = [per[str(n)]["orthonormality"]["both"] for n in steps]
        ax1.semilogy(steps, [v["mean"] for v in o], marker="o", color=color,
                     label=f"{label} mean")
        ax1.semilogy(steps, [v["max"] for v in o], marker="^", ls="--", color=color,
                     label=f"{label} max")
    ax1.axhline(res["criteria"]["orthonormality_limit"], color="k", ls=":", lw=1)
    ax1.set_xlabel("Newton-Schulz steps")
    ax1.set_ylabel("max(||X^T X - I||_F, ||D^T D - I||_F)")
    ax1.set_title("orthonormality after every sample")
    ax1.legend(fontsize=8)
    for mode, per in st["per_mode"].items():
        label = mode if mode == "float" else f"{mode}-bit"
        u = [per[str(n)]["update"]["cosine_vs_ref"] for n in steps]
        ax2.errorbar(steps, [v["mean"] for v in u], yerr=[v["std"] for v in u], marker="o",
                     capsize=3, label=label)
    ax2.set_xlabel("Newton-Schulz steps")
    ax2.set_ylabel(f"cosine vs float, {res['ref_steps']} steps")
    ax2.set_title("batch update")
    ax2.legend(fontsize=8)
    acc = [tr["rows"][str(n)]["test_accuracy"] for n in steps]
    ax3.errorbar(steps, [a["mean"] or 0 for a in acc], yerr=[a["std"] or 0 for a in acc],
                 marker="o", capsize=3, label="float unit")
    m = tr["mbgd"]["test_accuracy"]["mean"]
    if m is not None:
        ax3.axhline(m, color="k", ls="--", label="MBGD")
    ax3.set_xlabel("Newton-Schulz steps")
    ax3.set_ylabel("test accuracy")
    ax3.set_title(f"MLP trained through the unit, rank {res['k']}")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return fig
