"""Co-occurring Directions (CD): a Frequent-Directions sketch of the batch gradient ``A B^T``.

The mean gradient is ``G = (1/B) sum_j delta_j x_j^T = (1/B) D^T X`` for the batch matrices
``D`` (``B x n_out``) and ``X`` (``B x n_in``): an approximate matrix product. Frequent
Directions (Liberty 2013) sketches one matrix; its asymmetric form, Co-occurring Directions
(Mroueh, Marcheret and Goel 2017), sketches the product with two ``ell``-column buffers::

    insert delta_j, x_j into a free column of S_d (n_out x ell), S_x (n_in x ell)
    when no column is free (shrink):
        S_d = Q_d R_d, S_x = Q_x R_x              (thin QR)
        R_d R_x^T = U diag(s) V^T                  (ell x ell SVD)
        t = s[ell/2]   (0-based: the (ell/2 + 1)-th singular value, 0 if there is none)
        S_d = Q_d U diag(sqrt(max(s - t, 0)))
        S_x = Q_x V diag(sqrt(max(s - t, 0)))       (frees half of the columns)

Mroueh et al. shrink by the ``ell/2``-th value (1-based), which frees ``ell/2 + 1`` columns and
empties an ``ell = 2`` sketch completely; shrinking by the next one keeps the top ``ell/2``
directions, so ``ell = 2`` (rank 1) still works, and the error stays
``O(||D||_F ||X||_F / ell)`` in spectral norm.

One batch update here: the sketch starts empty at each batch (no warm start: a sketch of an old
gradient is no prior for a new one), every sample is inserted, and the update is the top-``k``
part of ``S_d S_x^T / B`` (QR of both, ``ell x ell`` SVD), ``matrix_updates = k``. With
``ell = 2k`` (default) the sketch holds as many words as SBPCA's ``X``, ``Delta`` and their
accumulators (``2k (n_in + n_out)``), i.e. the same memory as rank ``k``.
"""

from __future__ import annotations

import numpy as np

from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_int

__all__ = ["CoDirections"]


def _svd_of_product(Sd, Sx):
    """Return ``(U_full, s, V_full)`` with ``Sd Sx^T = U_full diag(s) V_full^T`` (thin)."""
    Qd, Rd = np.linalg.qr(Sd)
    Qx, Rx = np.linalg.qr(Sx)
    U, s, Vt = np.linalg.svd(Rd @ Rx.T)
    return Qd @ U, s, Qx @ Vt.T


class CoDirections(UpdateRule):
    """Co-occurring Directions sketch of the batch gradient, truncated to rank ``k``.

    Parameters
    ----------
    k : int
        Rank of the returned update, ``1 <= k <= min(n_in, n_out)``.
    ell : int or None
        Sketch columns, ``2 <= ell``, even, ``ell > k`` when ``ell`` is given; ``None``: ``2k``
        (at least 2). ``ell`` is capped by nothing: when ``ell >= min(n_in, n_out)`` the thin QR
        factors of the shrink are at most ``min(n, ell)`` wide.

    Cost (``a = n_in``, ``b = n_out``, ``l = ell``): inserting a sample is a copy (0 MACs); one
    shrink every ``l/2`` samples (after the first ``l``), counted in ``macs_per_block`` with a
    block of ``l/2`` samples: two modified Gram-Schmidt QRs (``(a + b) l (l + 1)``), the
    triangular product ``R_d R_x^T`` (``l (l + 1)(2l + 1)/6``), an ``l x l`` SVD (estimate
    ``11 l^3``, Golub-Van Loan ``22 l^3`` flops halved) and the two rebuilds
    ``Q U diag(.)`` (``(a + b) l^2 / 2`` for the kept half, plus ``l`` square roots). The final
    extraction per batch is one more shrink-sized computation. State ``l (a + b)`` words, no
    buffer.
    """

    name = "fd"

    def __init__(self, n_in, n_out, *, rng, k=1, ell=None):
        super().__init__(n_in, n_out, rng=rng)
        self._k = check_int("k", k, minimum=1, maximum=min(self.n_in, self.n_out))
        if ell is None:
            ell = max(2, 2 * self._k)
        else:
            ell = check_int("ell", ell, minimum=2)
            if ell % 2 or ell <= self._k:
                raise ValueError(f"ell={ell!r}: must be even and larger than k={self._k}")
        self._ell = ell

    k = property(lambda self: self._k)
    ell = property(lambda self: self._ell)

    def blocks_per_batch(self, batch_size: int) -> int:
        """Number of shrinks in a batch: one per ``ell/2`` samples after the first ``ell``."""
        half = self._ell // 2
        return max(0, -(-(batch_size - self._ell) // half))

    def sketch(self, xs, deltas) -> tuple[np.ndarray, np.ndarray]:
        """Return the sketch ``(S_d, S_x)`` of one batch: ``S_d S_x^T ~ sum_j delta_j x_j^T``."""
        xs, deltas = self._check_batch(xs, deltas)
        ell = self._ell
        Sd = np.zeros((self.n_out, ell))
        Sx = np.zeros((self.n_in, ell))
        free = 0
        for x, d in zip(xs, deltas):
            if free == ell:
                U, s, V = _svd_of_product(Sd, Sx)
                t = s[ell // 2] if len(s) > ell // 2 else 0.0
                w = np.sqrt(np.maximum(s - t, 0.0))
                Sd = np.zeros_like(Sd)
                Sx = np.zeros_like(Sx)
                m = min(len(s), ell // 2)
                Sd[:, :m] = U[:, :m] * w[:m]
                Sx[:, :m] = V[:, :m] * w[:m]
                free = ell // 2
            Sd[:, free] = d
            Sx[:, free] = x
            free += 1
        return Sd, Sx

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        Sd, Sx = self.sketch(xs, deltas)
        U, s, V = _svd_of_product(Sd, Sx)
        k = self._k
        sigma = np.zeros(k)
        m = min(k, len(s))
        sigma[:m] = s[:m] / xs.shape[0]
        X = np.zeros((self.n_in, k))
        Delta = np.zeros((self.n_out, k))
        X[:, :m], Delta[:, :m] = V[:, :m], U[:, :m]
        return LowRankUpdate(sigma=sigma, X=X, Delta=Delta, matrix_updates=k)

    def cost(self):
        a, b, l = self.n_in, self.n_out, self._ell
        shrink = ((a + b) * l * (l + 1) + l * (l + 1) * (2 * l + 1) // 6 + 11 * l ** 3
                  + (a + b) * l * l // 2)
        return Cost(macs_per_sample=0, macs_per_block=shrink, macs_per_batch=shrink,
                    state_words=l * (a + b), buffer_words=0,
                    notes={"block": f"one shrink per ell/2 = {l // 2} samples after the first "
                                    f"{l}", "macs_per_block": "shrink; SVD part is an estimate"})
