"""Reference rules that see the whole batch gradient: SGD, MBGD and truncated SVD.

These are the comparison points of the SBE paper (Hoskins et al. 2019, Sec. 2 and Fig. 2):

* ``sgd`` applies one outer product per sample (``matrix_updates = B``);
* ``mbgd`` applies the exact mean batch gradient (the paper's MBGD2: per-sample outer products
  summed before the crossbar is written);
* ``svd`` applies the rank-``k`` truncated SVD of the mean batch gradient.

Cost conventions (shared by every rule, see :class:`golden.rules.base.Cost`): a MAC is one digital
multiply-accumulate of the rule's own arithmetic; the crossbar's outer-product write is counted in
``matrix_updates``, not in MACs. Scaling by ``sigma`` or the learning rate is folded into the
crossbar drive and not counted.
"""

from __future__ import annotations

import numpy as np

from ..linalg import batch_svd
from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_choice, check_int

__all__ = ["SGD", "MBGD", "SVD"]


class SGD(UpdateRule):
    """Stochastic gradient descent: one crossbar outer product per sample.

    ``batch`` returns the ``B`` samples themselves as factors: ``X = xs.T``, ``Delta = deltas.T``,
    ``sigma = 1/B`` each, so ``update.matrix()`` is exactly the mean gradient and
    ``matrix_updates = B``. (Applied sample by sample, as real SGD does, the same learning rate
    ``lr`` per batch becomes ``lr/B`` per sample; the trainer may equally apply the matrix at once.)

    Cost: no digital MACs (each sample drives the crossbar directly), no state, no buffer.
    """

    name = "sgd"

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        B = xs.shape[0]
        return LowRankUpdate(sigma=np.full(B, 1.0 / B), X=xs.T.copy(), Delta=deltas.T.copy(),
                             matrix_updates=B)

    def cost(self):
        return Cost(macs_per_sample=0, state_words=0, buffer_words=0,
                    notes={"macs_per_sample": "0: the sample drives the crossbar outer product"})


class MBGD(UpdateRule):
    """Mini-batch gradient descent with the exact mean gradient (the SBE paper's MBGD2).

    ``batch`` returns the exact ``G = (1/B) sum_j delta_j x_j^T`` factored by a thin SVD of rank
    ``r = min(B, n_in, n_out)`` (orthonormal ``X`` and ``Delta``; singular values that are zero
    because the batch is rank-deficient are kept, so the rank is always ``r``).

    Parameters
    ----------
    count : str
        What ``matrix_updates`` reports, i.e. what one batch update costs the crossbar:

        * ``"columnwise"`` (default): ``min(n_in, n_out)``, the dense sum written one crossbar
          column (or row) at a time (SBE paper Sec. 1: "min(a, b) operations if the updates are
          performed column wise");
        * ``"device"``: 1, each device written once per batch (the x-axis convention of the SBE
          paper's Figs. 4-5, "number of matrix updates");
        * ``"outer"``: ``B``, the paper's MBGD1 (the stored samples applied as ``B`` outer
          products).

    Cost: ``n_in*n_out`` MACs per sample into a dense accumulator of ``n_in*n_out`` words (state);
    with ``count="outer"`` the samples are stored instead: buffer ``B*(n_in+n_out)`` words is
    batch-size dependent and reported in ``notes`` only.
    """

    name = "mbgd"
    COUNTS = ("columnwise", "device", "outer")

    def __init__(self, n_in, n_out, *, rng, count="columnwise"):
        super().__init__(n_in, n_out, rng=rng)
        self._count = check_choice("count", count, self.COUNTS)

    @property
    def count(self):
        return self._count

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        B = xs.shape[0]
        r = min(B, self.n_in, self.n_out)
        sigma, U, V = batch_svd(xs, deltas, r)
        updates = {"columnwise": min(self.n_in, self.n_out), "device": 1, "outer": B}[self._count]
        return LowRankUpdate(sigma=sigma, X=V, Delta=U, matrix_updates=updates)

    def cost(self):
        dense = self.n_in * self.n_out
        if self._count == "outer":
            return Cost(macs_per_sample=0, state_words=0, buffer_words=0,
                        notes={"buffer_words": "B*(n_in+n_out): the batch is stored (MBGD1)"})
        return Cost(macs_per_sample=dense, state_words=dense, buffer_words=0,
                    notes={"state_words": "n_in*n_out dense gradient accumulator"})


class SVD(UpdateRule):
    """Truncated SVD of the mean batch gradient, rank ``k`` (the SBE paper's "SVD" rule).

    ``batch`` returns the top-``k`` singular triplets of ``G`` (:func:`golden.linalg.batch_svd`,
    signs fixed so the largest entry of each ``X`` column is positive); ``matrix_updates = k``.

    Parameters
    ----------
    k : int
        Rank, ``1 <= k <= min(n_in, n_out)``.

    Cost: ``n_in*n_out`` MACs per sample into a dense accumulator, plus a dense SVD per batch.
    The SVD has no fixed MAC count; ``macs_per_batch`` is the textbook estimate for a thin SVD of
    an ``m x n`` matrix (``m >= n``) with ``U1``, ``Sigma``, ``V``: ``(14 m n^2 + 8 n^3) / 2``
    (Golub and Van Loan, flop count halved to MACs), an order of magnitude, not a hardware count.
    """

    name = "svd"

    def __init__(self, n_in, n_out, *, rng, k=1):
        super().__init__(n_in, n_out, rng=rng)
        self._k = check_int("k", k, minimum=1, maximum=min(self.n_in, self.n_out))

    @property
    def k(self):
        return self._k

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        sigma, U, V = batch_svd(xs, deltas, self._k)
        return LowRankUpdate(sigma=sigma, X=V, Delta=U, matrix_updates=self._k)

    def cost(self):
        m, n = max(self.n_in, self.n_out), min(self.n_in, self.n_out)
        dense = self.n_in * self.n_out
        return Cost(macs_per_sample=dense, macs_per_batch=(14 * m * n * n + 8 * n ** 3) / 2,
                    state_words=dense + self._k * (self.n_in + self.n_out + 1),
                    notes={"macs_per_batch": "dense SVD estimate (14 m n^2 + 8 n^3)/2, m>=n",
                           "state_words": "n_in*n_out accumulator + k*(n_in+n_out+1) factors"})
