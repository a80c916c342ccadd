"""PowerSGD-style rank-``k`` compression: one warm-started power iteration per batch.

Vogels et al. 2019 (PowerSGD) compress a gradient matrix ``M`` to rank ``k`` with one step of
subspace iteration warm-started from the previous step's ``Q``, optionally with error feedback::

    M = G + e            (e = 0 without error feedback)
    P = orth(M Q)        Gram-Schmidt, (n_out, k)
    Q = M^T P            (n_in, k), kept for the next batch (warm start)
    update = P Q^T       e <- M - P Q^T   (with error feedback)

One batch update here: ``G`` is the mean batch gradient; the update is returned as
``Delta = P``, ``X = Q / ||Q||`` (column-wise), ``sigma = ||Q||`` (column norms), so
``Delta diag(sigma) X^T = P Q^T`` exactly (``X`` is not orthonormal). ``matrix_updates = k``.

PowerSGD needs ``M`` twice (``M Q`` then ``M^T P`` with the new ``P``), which a one-pass stream
cannot give: with error feedback the dense ``e`` already holds ``n_in n_out`` words, so the batch
is accumulated into it (``n_in n_out`` MACs per sample); without error feedback the batch is
buffered and read twice (``B (n_in + n_out)`` words, batch-size dependent).
"""

from __future__ import annotations

import numpy as np

from ..linalg import batch_gradient, qr_signfix
from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_bool, check_int

__all__ = ["PowerSGD"]


class PowerSGD(UpdateRule):
    """Rank-``k`` PowerSGD compression of the batch gradient (module docstring).

    Parameters
    ----------
    k : int
        Rank, ``1 <= k <= min(n_in, n_out)``.
    error_feedback : bool
        Add the previous batch's compression error to the gradient before compressing (default
        True, as in PowerSGD). The trainer then applies, over time, every part of the gradient.

    ``Q`` starts as a Gaussian ``(n_in, k)`` matrix from ``rng``.

    Cost (``a = n_in``, ``b = n_out``): with error feedback, per sample ``a b`` (accumulate into
    ``e``), per batch ``M Q`` (``a b k``), modified Gram-Schmidt on ``P`` (``b k (k + 1)``),
    ``M^T P`` (``a b k``) and ``e = M - P Q^T`` (``a b k``); state ``a b + k (a + b)``. Without
    error feedback, per sample ``2 k (a + b)`` (``P += delta (x . Q)`` in the first pass,
    ``Q += x (delta . P)`` in the second), per batch the Gram-Schmidt ``b k (k + 1)``; state
    ``k (a + b)`` plus the old ``Q`` (``k a``) and a buffer of ``B (a + b)`` words (see
    ``cost(batch_size)``).
    """

    name = "powersgd"

    def __init__(self, n_in, n_out, *, rng, k=1, error_feedback=True):
        super().__init__(n_in, n_out, rng=rng)
        self._k = check_int("k", k, minimum=1, maximum=min(self.n_in, self.n_out))
        self._ef = check_bool("error_feedback", error_feedback)
        self.Q = rng.normal(size=(self.n_in, self._k))
        self.error = np.zeros((self.n_out, self.n_in)) if self._ef else None

    k = property(lambda self: self._k)
    error_feedback = property(lambda self: self._ef)

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        M = batch_gradient(xs, deltas)
        if self._ef:
            M = M + self.error
        P = qr_signfix(M @ self.Q)
        Q = M.T @ P
        self.Q = Q
        if self._ef:
            self.error = M - P @ Q.T
        sigma = np.linalg.norm(Q, axis=0)
        X = Q / np.where(sigma > 0, sigma, 1.0)
        return LowRankUpdate(sigma=sigma, X=X, Delta=P, matrix_updates=self._k)

    def cost(self, batch_size: int | None = None):
        a, b, k = self.n_in, self.n_out, self._k
        gs = b * k * (k + 1)
        if self._ef:
            return Cost(macs_per_sample=a * b, macs_per_batch=3 * a * b * k + gs,
                        state_words=a * b + k * (a + b),
                        notes={"state_words": "dense error/accumulator + P, Q"})
        buffer = 0 if batch_size is None else batch_size * (a + b)
        return Cost(macs_per_sample=2 * k * (a + b), macs_per_batch=gs,
                    state_words=k * (a + b) + k * a, buffer_words=buffer,
                    notes={"buffer_words": "B*(n_in+n_out): the batch is read twice"
                           + ("" if batch_size is not None else " (give batch_size)")})
