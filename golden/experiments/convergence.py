"""Convergence of SBE inside a batch, batch 32 vs 1024 (SBE paper Fig. 3).

A network is trained with the ``sbe`` rule. During the first ``TRACE_BATCHES`` batches of the last
epoch (so after ``epochs - 1`` epochs of warm-up), the estimate after the first ``j`` samples of
the batch is compared with the exact top singular triplet ``(sigma, Delta, X)`` of that whole
batch's mean gradient. The estimate after ``j`` samples is what the rule returns when it is
given only those ``j`` samples from its state at the start of the batch (a copy of the rule is
run on the prefix), i.e. ``X^{i,j} / ||X^{i,j}||`` of the paper.

Errors, as in the paper's Fig. 3 (absolute value taken for the singular value so that it can be
drawn on a log scale)::

    vector:  1 - |X . X^{i,j}| / ||X^{i,j}||            (and the same for Delta)
    value:   |1 - |sigma / sigma^{i,j}||

Both layers of the network are traced, for each warm-start reading of the ``sbe`` rule.
"""

from __future__ import annotations

import copy

import numpy as np

from ..linalg import batch_gradient, truncated_svd
from ..rules import make_rule
from ..rules.base import UpdateRule
from .runner import markdown_table, sbe_configs, train_run

NAME = "convergence"
HELP = "SBE singular vector and value error inside a batch, batch 32 vs 1024 (SBE Fig. 3)"
DEFAULTS = {"epochs": 2, "seeds": 1, "batch": None, "hidden": (100,)}  # own batch sizes
BATCHES = (32, 1024)
QUICK_BATCHES = (16, 128)
TRACE_SAMPLES = 2048  # samples traced per run (whole batches, at least MIN_TRACED batches)
MIN_TRACED = 4
POINTS = 40           # prefix lengths per traced batch (log-spaced), at most B


def _batches(settings):
    return QUICK_BATCHES if settings.quick else BATCHES


def _trace_batches(settings, batch):
    n = len(settings.dataset().y_train)
    per_epoch = -(-n // batch)
    samples = TRACE_SAMPLES // 4 if settings.quick else TRACE_SAMPLES
    return min(per_epoch, max(MIN_TRACED, samples // batch))


def total_samples(settings):
    runs = len(_batches(settings)) * len(sbe_configs())
    return runs * settings.epochs * len(settings.dataset().y_train)


def vector_error(true, est):
    """``1 - |true . est| / ||est||`` for a unit ``true`` vector."""
    n = np.linalg.norm(est)
    return float(1.0 - abs(true @ est) / n) if n > 0 else 1.0


def value_error(true, est):
    """``|1 - |true / est||``."""
    return float(abs(1.0 - abs(true / est))) if est != 0 else float("inf")


class Tracer(UpdateRule):
    """Wrap a rule; on the batches in ``window``, measure the estimate after each prefix."""

    def __init__(self, inner, window, points):
        super().__init__(inner.n_in, inner.n_out, rng=inner.rng)
        self.inner, self.window, self.points = inner, window, points
        self.step = self.offset = 0
        self.trace = {"sample": [], "x_error": [], "delta_error": [], "sigma_error": [],
                      "batch_end": []}

    def batch(self, xs, deltas):
        if self.step in self.window:
            B = len(xs)
            sigma, U, V = truncated_svd(batch_gradient(xs, deltas), 1)
            for j in self.points(B):
                est = copy.deepcopy(self.inner).batch(xs[:j], deltas[:j])
                self.trace["sample"].append(self.offset + j)
                self.trace["x_error"].append(vector_error(V[:, 0], est.X[:, 0]))
                self.trace["delta_error"].append(vector_error(U[:, 0], est.Delta[:, 0]))
                self.trace["sigma_error"].append(value_error(sigma[0], est.sigma[0]))
            self.trace["batch_end"].append(self.offset + B)
            self.offset += B
        self.step += 1
        return self.inner.batch(xs, deltas)

    def cost(self):
        return self.inner.cost()


def _medians(trace, index):
    """Median of each error over the trace positions ``index`` (None when nothing was traced)."""
    return {k: float(np.median([trace[k][i] for i in index])) if index else None
            for k in ("x_error", "delta_error", "sigma_error")}


def _points(B):
    return sorted({int(round(v)) for v in np.geomspace(1, B, min(POINTS, B))})


def run(settings, progress):
    n = len(settings.dataset().y_train)
    out = []
    for batch in _batches(settings):
        for label, options in sbe_configs():
            per_epoch = -(-n // batch)
            start = (settings.epochs - 1) * per_epoch
            window = range(start, start + _trace_batches(settings, batch))
            tracers = []

            def factory(n_in, n_out, *, rng):
                inner = make_rule("sbe", n_in, n_out, rng=rng, **options)
                tracers.append(Tracer(inner, window, _points))
                return tracers[-1]

            res = train_run(settings, factory, {}, seed=0, batch=batch, progress=progress)
            layers = []
            for t in tracers:
                tr = t.trace
                ends = [tr["sample"].index(e) for e in tr["batch_end"]]
                starts = [0] + [i + 1 for i in ends[:-1]]
                layers.append({"n_in": t.n_in, "n_out": t.n_out, **tr,
                               "end_of_batch": _medians(tr, ends),
                               "first_sample": _medians(tr, starts)})
            out.append({"label": label, "options": options, "batch": batch,
                        "traced_batches": len(window), "first_traced_batch": start,
                        "test_accuracy": res["final"]["test_accuracy"], "layers": layers})
    return {"runs": out}


def table(doc):
    rows = []
    for r in doc["results"]["runs"]:
        for i, layer in enumerate(r["layers"]):
            e = {k: float("nan") if v is None else v for k, v in layer["end_of_batch"].items()}
            rows.append([r["label"], r["batch"], f"{i} ({layer['n_in']}->{layer['n_out']})",
                         r["traced_batches"], f"{e['x_error']:.2e}", f"{e['delta_error']:.2e}",
                         f"{e['sigma_error']:.2e}", f"{r['test_accuracy']:.3f}"])
    head = ("SBE estimate vs exact top singular triplet of each batch gradient: median error at "
            f"the end of the traced batches ({doc['data']['name']}, after "
            f"{doc['settings']['epochs'] - 1} warm-up epochs).\n\n")
    return head + markdown_table(["rule", "batch", "layer", "batches traced", "X error",
                                  "Delta error", "sigma error", "test acc (end)"], rows)


def plot(doc):
    import matplotlib.pyplot as plt

    runs = doc["results"]["runs"]
    fig, axes = plt.subplots(len(runs), 2, figsize=(11, 3.2 * len(runs)), squeeze=False)
    for row, r in enumerate(runs):
        for i, layer in enumerate(r["layers"]):
            x = np.array(layer["sample"])
            for key, style in (("x_error", "-"), ("delta_error", "--")):
                y = np.array([np.nan if v is None else v for v in layer[key]], dtype=float)
                axes[row, 0].semilogy(x, np.maximum(y, 1e-12), style, lw=0.8,
                                      label=f"layer {i} {key.split('_')[0]}")
            y = np.array([np.nan if v is None else v for v in layer["sigma_error"]], dtype=float)
            axes[row, 1].semilogy(x, np.maximum(y, 1e-12), lw=0.8, label=f"layer {i}")
        for ax, what in zip(axes[row], ("singular vectors", "singular value")):
            ax.set_title(f"{r['label']}, batch {r['batch']}: {what}", fontsize=9)
            ax.set_xlabel("samples since the first traced batch")
            ax.set_ylabel("error")
            ax.legend(fontsize=7)
    fig.suptitle(f"SBE Fig. 3: convergence inside a batch, {doc['data']['name']}")
    fig.tight_layout()
    return fig
