"""Quantization of the streaming-PCA unit: the fixed-point model against its float variant.

The unit's algorithm (:mod:`golden.sbpca_unit`) runs in float and in fixed point with word widths
``WIDTHS`` (inputs and stored vectors; the ``k x k``/scalar path keeps ``scalar_width`` bits,
at least 18). Three measurements:

1. **Update error on real gradients.** A network is trained one epoch with MBGD; the hidden
   layer's ``(x, delta)`` stream of ``STREAM_BATCHES`` batches then goes through the float and
   every fixed-point unit side by side. Per batch: relative Frobenius error and cosine of the
   fixed-point update against the float one, and each one's relative error against the true
   batch gradient (so quantization error can be told from algorithm error).
2. **Orthonormality over a long stream.** ``||X^T X - I||_F`` and the same for ``Delta`` of the
   fixed-point unit on the output layer's stream (cycled over the training set) for at least
   ``LONG_SAMPLES`` samples, at checkpoints: the error must not drift.
3. **Training.** The MLP trained with the fixed-point unit model at each width and with the
   float variant (rank ``K``, ``--epochs``, ``--seeds``): test accuracy.
"""

from __future__ import annotations

import numpy as np

from ..linalg import batch_gradient
from ..mlp import MLP, train
from ..sbpca_unit import SBPCAUnitRule, UnitFormats
from .runner import fmt, markdown_table, spread, train_run

NAME = "quantization"
HELP = "fixed-point unit model vs its float variant: update error, orthonormality, accuracy"
DEFAULTS = {"epochs": 10, "seeds": 3, "batch": 64, "hidden": (100,)}
WIDTHS = (8, 10, 12, 16)
K = 4
STREAM_BATCHES = 30
LONG_SAMPLES = 100_000
CHECKPOINTS = 20


def _widths(settings):
    return (8, 16) if settings.quick else WIDTHS


def _long_samples(settings):
    return 1_024 if settings.quick else LONG_SAMPLES


def _stream_batches(settings):
    return 3 if settings.quick else STREAM_BATCHES


def total_samples(settings):
    n = len(settings.dataset().y_train)
    training = (len(_widths(settings)) + 1) * settings.seeds * settings.epochs * n
    stream = (len(_widths(settings)) + 1) * _stream_batches(settings) * settings.batch
    return training + n + stream + len(_widths(settings)) * _long_samples(settings)


def _unit(n_in, n_out, mode, width, seed=1):
    return SBPCAUnitRule(n_in, n_out, rng=np.random.default_rng(seed), k=min(K, n_in, n_out),
                         mode=mode, width=width)


def _stream(settings, progress):
    """A network after one MBGD epoch and its per-layer gradient stream."""
    data = settings.dataset()
    model = MLP(settings.sizes(), seed=0)
    train(model, data, "mbgd", lr=settings.lr, batch_size=settings.batch, epochs=1, seed=0,
          progress=progress)
    return model, data


def update_errors(settings, model, data, progress):
    rng = np.random.default_rng(7)
    batches = []
    for _ in range(_stream_batches(settings)):
        idx = rng.choice(len(data.y_train), settings.batch, replace=False)
        _, xs, ds = model.backward(data.x_train[idx], data.y_train[idx])
        batches.append((xs[0], ds[0]))
    n_in, n_out = batches[0][0].shape[1], batches[0][1].shape[1]
    units = {"float": _unit(n_in, n_out, "float", 16)}
    units.update({w: _unit(n_in, n_out, "fixed", w) for w in _widths(settings)})
    per = {name: {"vs_float": [], "cosine": [], "vs_true": []} for name in units}
    for xs, ds in batches:
        G = batch_gradient(xs, ds)
        ups = {name: u.batch(xs, ds).matrix() for name, u in units.items()}
        for name, M in ups.items():
            progress(len(xs))
            ref = ups["float"]
            per[name]["vs_float"].append(np.linalg.norm(M - ref) / np.linalg.norm(ref))
            per[name]["cosine"].append(float(np.sum(M * ref) / (np.linalg.norm(M)
                                                                 * np.linalg.norm(ref))))
            per[name]["vs_true"].append(np.linalg.norm(M - G) / np.linalg.norm(G))
    out = {}
    for name, d in per.items():
        out[str(name)] = {key: spread(vals) for key, vals in d.items()}
        out[str(name)]["overflow"] = bool(units[name].model.overflow)
    return {"layer": [n_in, n_out], "batches": len(batches), "per_width": out}


def orthonormality(settings, model, data, progress):
    """Long-stream orthonormality of the fixed-point unit on the last layer's stream."""
    n = _long_samples(settings)
    B = settings.batch
    _, xs_all, ds_all = model.backward(data.x_train, data.y_train)
    xs, ds = xs_all[-1], ds_all[-1]
    out = {}
    step = max(1, n // (CHECKPOINTS * B)) * B
    for w in _widths(settings):
        unit = _unit(xs.shape[1], ds.shape[1], "fixed", w)
        marks, errs, done, pos = [], [], 0, 0
        while done < n:
            idx = np.arange(pos, pos + B) % len(xs)
            pos = (pos + B) % len(xs)
            up = unit.batch(xs[idx], ds[idx])
            done += B
            progress(B)
            if done % step == 0 or done >= n:
                k = up.X.shape[1]
                e = max(np.linalg.norm(up.X.T @ up.X - np.eye(k)),
                        np.linalg.norm(up.Delta.T @ up.Delta - np.eye(k)))
                marks.append(done)
                errs.append(float(e))
        q = max(1, len(errs) // 4)
        out[str(w)] = {"samples": done, "checkpoints": marks, "error": errs,
                       "first_quarter_mean": float(np.mean(errs[:q])),
                       "last_quarter_mean": float(np.mean(errs[-q:])),
                       "max": float(np.max(errs)), "overflow": bool(unit.model.overflow)}
    return {"layer": [int(xs.shape[1]), int(ds.shape[1])], "per_width": out}


def training(settings, progress):
    rows = {}
    for name, mode, width in [("float", "float", 16)] + [(str(w), "fixed", w)
                                                          for w in _widths(settings)]:
        runs = [train_run(settings, SBPCAUnitRule, {"k": K, "mode": mode, "width": width},
                          seed=s, progress=progress) for s in range(settings.seeds)]
        rows[name] = {"test_accuracy": spread(r["final"]["test_accuracy"] for r in runs),
                      "per_seed": [r["final"]["test_accuracy"] for r in runs],
                      "diverged": sum(r["diverged"] for r in runs)}
    mbgd = train_run(settings, "mbgd", {}, seed=0)
    return {"rows": rows, "mbgd_seed0": mbgd["final"]["test_accuracy"]}


def run(settings, progress):
    model, data = _stream(settings, progress)
    return {"k": K, "widths": list(_widths(settings)),
            "formats": {str(w): UnitFormats.for_width(w).as_dict() for w in _widths(settings)},
            "update_error": update_errors(settings, model, data, progress),
            "orthonormality": orthonormality(settings, model, data, progress),
            "training": training(settings, progress)}


def table(doc):
    res, s = doc["results"], doc["settings"]
    ue, on, tr = res["update_error"], res["orthonormality"], res["training"]
    rows = []
    for name in ["float"] + [str(w) for w in res["widths"]]:
        u = ue["per_width"][name]
        o = on["per_width"].get(name)
        t = tr["rows"][name]
        rows.append([name if name == "float" else f"{name}-bit",
                     fmt(u["vs_float"], 4), fmt(u["cosine"], 4), fmt(u["vs_true"], 3),
                     "-" if o is None else f"{o['first_quarter_mean']:.2e} / "
                                           f"{o['last_quarter_mean']:.2e} (max {o['max']:.2e})",
                     fmt(t["test_accuracy"]),
                     "yes" if u["overflow"] or (o and o["overflow"]) else "no"])
    head = (f"Fixed-point unit vs its float variant ({doc['data']['name']}, rank {res['k']}; "
            f"update error on {ue['batches']} batches of the {ue['layer'][0]}x{ue['layer'][1]} "
            f"layer's stream after one MBGD epoch; orthonormality of the "
            f"{on['layer'][0]}x{on['layer'][1]} layer over "
            f"{next(iter(on['per_width'].values()))['samples']:,} samples, first / last "
            f"quarter of the checkpoints, error = max of ||X^T X - I||_F and "
            f"||Delta^T Delta - I||_F; accuracy: {s['epochs']} epochs, {s['seeds']} seed(s), "
            f"batch {s['batch']}).\n\n")
    text = head + markdown_table(
        ["unit", "rel. error vs float", "cosine vs float", "rel. error vs true gradient",
         "orthonormality error (first / last quarter)", "test accuracy", "saturated"], rows)
    f = tr["rows"]["float"]["test_accuracy"]["mean"]
    for w in res["widths"]:
        t = tr["rows"][str(w)]["test_accuracy"]["mean"]
        if f is not None and t is not None:
            text += (f"\n- {w}-bit: {t:.3f} vs float {f:.3f}, "
                     f"{100 * (t - f):+.1f} points")
    return text + f"\n- MBGD (seed 0): {tr['mbgd_seed0']:.3f}\n"


def plot(doc):
    import matplotlib.pyplot as plt

    res = doc["results"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for w, o in res["orthonormality"]["per_width"].items():
        ax1.semilogy(o["checkpoints"], o["error"], marker=".", label=f"{w}-bit")
    ax1.set_xlabel("samples")
    ax1.set_ylabel("max of ||X^T X - I||_F, ||D^T D - I||_F")
    ax1.set_title("orthonormality over a long stream")
    ax1.legend(fontsize=8)
    names = list(res["training"]["rows"])
    means = [res["training"]["rows"][n]["test_accuracy"]["mean"] or 0 for n in names]
    stds = [res["training"]["rows"][n]["test_accuracy"]["std"] or 0 for n in names]
    ax2.bar(names, means, yerr=stds, capsize=3)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("test accuracy")
    ax2.set_title(f"MLP trained through the unit model, rank {res['k']}")
    fig.tight_layout()
    return fig
