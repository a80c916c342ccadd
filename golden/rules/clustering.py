"""Gradient Clustering (GC): stratified sampling with rank-1 per-layer cluster centres.

After Faghri et al. 2020 ("A Study of Gradient Variance in Deep Learning"; the text copy in
``papers/`` is machine-paraphrased, Secs. 3-3.2 are used for ideas). There, the training set is
partitioned by clustering the per-sample gradients ``g_i = delta_i x_i^T``; each cluster centre
of a fully connected layer is kept as a rank-1 matrix ``C_c = a_c b_c^T``; the mean gradient is
then estimated by *stratified sampling*, one sample per cluster weighted by the cluster size::

    g_hat = sum_c (N_c / N) g_{i_c},   i_c uniform in cluster c           (unbiased)

* Assignment step: sample ``i`` goes to the centre minimizing ``||g_i - a_c b_c^T||_F^2 =
  |delta|^2 |x|^2 - 2 (delta . a_c)(x . b_c) + |a_c|^2 |b_c|^2`` (three inner products, no
  dense matrix). The paper weights this cost by cluster sizes; plain nearest-centre (Lloyd) is
  used here.
* Update step: the paper's closed form, exact when activations and output gradients are
  uncorrelated inside a cluster, ``a_c = mean delta``, ``b_c = mean x`` over the cluster.

One batch update here (the rule sees a stream, not the training set): the *batch* is the
population. Each sample is assigned with the centres left by the previous batch, one sample per
non-empty cluster is kept by reservoir sampling (``rng``), and the update is the stratified
estimate ``sum_c (N_c / B) delta_{i_c} x_{i_c}^T`` (unbiased for the batch mean; rank and
``matrix_updates`` = number of non-empty clusters). The centres are then recomputed from the
batch (empty clusters keep theirs). ``estimate="centres"`` returns the biased rank-``C`` model
``sum_c (N_c / B) a_c b_c^T`` of the batch instead. The first batch seeds the centres with
``C`` of its samples by k-means++ (``D^2`` sampling on the per-sample gradients, so duplicates
are not seeded twice) before assigning.

The paper compares GC with SG-B and SG-2B by the variance of the mean estimate:
:func:`golden.metrics.estimator_variance` measures it over repeated draws.
"""

from __future__ import annotations

import numpy as np

from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_choice, check_int

__all__ = ["GradientClustering"]


class GradientClustering(UpdateRule):
    """Gradient Clustering with ``clusters`` rank-1 centres (module docstring).

    Parameters
    ----------
    clusters : int
        Number of clusters ``C >= 1``.
    estimate : str
        ``"stratified"`` (default): one sampled gradient per cluster, weighted ``N_c / B``;
        ``"centres"``: the cluster-centre model ``sum_c (N_c/B) a_c b_c^T``.

    Cost (``a = n_in``, ``b = n_out``): per sample ``|x|^2``, ``|delta|^2`` (``a + b``), the
    projections on every centre (``C (a + b)``) and 3 scalar MACs per centre (cost and
    comparison): ``(C + 1)(a + b) + 3C``; the centre sums are additions. Per batch: the means
    (``C (a + b)`` multiplications by ``1/N_c``) and the centre norms ``|a_c|^2 |b_c|^2``
    (``C (a + b + 1)``). State: centres and their sums ``2 C (a + b)``, ``C`` counts and ``C``
    centre norms; buffer: the ``C`` reservoir samples ``C (a + b)`` (stratified only).
    """

    name = "gc"
    ESTIMATES = ("stratified", "centres")

    def __init__(self, n_in, n_out, *, rng, clusters=4, estimate="stratified"):
        super().__init__(n_in, n_out, rng=rng)
        self._clusters = check_int("clusters", clusters, minimum=1)
        self._estimate = check_choice("estimate", estimate, self.ESTIMATES)
        self.a = None  # (C, n_out) centre error factors
        self.b = None  # (C, n_in) centre activation factors

    clusters = property(lambda self: self._clusters)
    estimate = property(lambda self: self._estimate)

    def assign(self, xs, deltas):
        """Return the cluster index of each sample under the current centres."""
        cost = (-2.0 * (deltas @ self.a.T) * (xs @ self.b.T)
                + np.sum(self.a ** 2, axis=1) * np.sum(self.b ** 2, axis=1))
        return np.argmin(cost, axis=1)  # |delta|^2 |x|^2 is the same for every centre

    def _seed(self, xs, deltas):
        """k-means++ seeding on the per-sample gradients (distance via inner products)."""
        B, C = xs.shape[0], self._clusters
        gram = (deltas @ deltas.T) * (xs @ xs.T)          # <g_i, g_j>_F
        sq = np.diag(gram)
        seeds = [int(self.rng.integers(B))]
        for _ in range(1, C):
            d2 = np.min(sq[:, None] - 2 * gram[:, seeds] + sq[seeds][None, :], axis=1)
            d2 = np.maximum(d2, 0.0)
            total = d2.sum()
            seeds.append(int(self.rng.choice(B, p=d2 / total)) if total > 0
                         else int(self.rng.integers(B)))
        self.a, self.b = deltas[seeds].copy(), xs[seeds].copy()

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        B, C = xs.shape[0], self._clusters
        if self.a is None:
            self._seed(xs, deltas)
        labels = self.assign(xs, deltas)
        counts = np.bincount(labels, minlength=C)
        picks, seen = {}, np.zeros(C, dtype=np.int64)
        for j, c in enumerate(labels):  # reservoir sampling: uniform pick within each cluster
            seen[c] += 1
            if self.rng.integers(seen[c]) == 0:
                picks[c] = j
        used = [c for c in range(C) if counts[c] > 0]
        new_a, new_b = self.a.copy(), self.b.copy()
        for c in used:
            new_a[c] = deltas[labels == c].mean(axis=0)
            new_b[c] = xs[labels == c].mean(axis=0)
        if self._estimate == "stratified":
            Delta = np.stack([deltas[picks[c]] for c in used], axis=1)
            X = np.stack([xs[picks[c]] for c in used], axis=1)
        else:
            Delta, X = new_a[used].T.copy(), new_b[used].T.copy()
        self.a, self.b = new_a, new_b
        weights = counts[used] / B
        return LowRankUpdate(sigma=weights.astype(np.float64), X=X, Delta=Delta,
                             matrix_updates=len(used))

    def cost(self):
        a, b, C = self.n_in, self.n_out, self._clusters
        return Cost(macs_per_sample=(C + 1) * (a + b) + 3 * C,
                    macs_per_batch=C * (a + b) + C * (a + b + 1),
                    state_words=2 * C * (a + b) + 2 * C,
                    buffer_words=C * (a + b) if self._estimate == "stratified" else 0,
                    notes={"buffer_words": "one reservoir sample per cluster"})
