"""Random-subspace baselines: Random Bases Descent (RBD) and Fixed Projection Descent (FPD).

Gressmann et al. 2020 ("Improving Neural Network Training in Low Dimensional Random Bases") restrict
each step to ``d`` random directions ``phi_i`` of the weight space: the gradient's coordinates
``c_i = <G, phi_i>`` are computed and the update is ``sum_i c_i phi_i``. RBD re-draws the
directions at every step; FPD (Li et al.'s fixed projection) keeps one set drawn at the start.

One batch update here: the directions are applied to the *mean batch gradient* ``G``; one step =
one batch. Two direction families:

* ``basis="rank1"`` (default, crossbar-friendly): ``phi_i = u_i v_i^T`` with ``u_i``, ``v_i`` unit
  Gaussian vectors, so ``c_i = u_i^T G v_i = (1/B) sum_j (u_i . delta_j)(v_i . x_j)`` streams
  with ``d (n_in + n_out + 1)`` MACs per sample and the update has rank ``d``
  (``matrix_updates = d``);
* ``basis="dense"`` (the paper's): ``phi_i`` an ``n_out x n_in`` Gaussian matrix of unit Frobenius
  norm; ``c_i = (1/B) sum_j delta_j^T phi_i x_j`` costs ``d n_in n_out`` MACs per sample and the
  update is a dense matrix, returned as its SVD of rank ``min(n_in, n_out)`` and counted as
  ``min(n_in, n_out)`` column-wise crossbar updates (as ``mbgd``'s default).

``scale="projection"`` (default) returns ``sum_i c_i phi_i`` as the paper does (nearly the
orthogonal projection of ``G`` on the directions, whose norm is about ``sqrt(d / D)`` of
``||G||``, ``D = n_in n_out``); ``scale="unbiased"`` multiplies by ``D / d`` so the update's
expectation over the directions is ``G`` (``E[phi phi^T] = I / D`` for both families).
"""

from __future__ import annotations

import numpy as np

from ..linalg import batch_gradient, truncated_svd
from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_choice, check_int

__all__ = ["RBD", "FPD"]


def _unit_columns(A):
    return A / np.linalg.norm(A, axis=0)


class RBD(UpdateRule):
    """Random Bases Descent: the batch gradient restricted to ``d`` fresh random directions.

    Parameters
    ----------
    d : int
        Number of directions, ``>= 1``. Rank-1 directions may outnumber ``min(n_in, n_out)``;
        the update is then still applied as ``d`` outer products.
    basis : str
        ``"rank1"`` or ``"dense"`` (module docstring).
    scale : str
        ``"projection"`` or ``"unbiased"`` (module docstring).

    Cost: ``rank1``: ``d (n_in + n_out + 1)`` MACs per sample (two projections and their product
    into ``c_i``), state ``d (n_in + n_out + 1)`` (directions and coordinates; a hardware
    generator could regenerate directions from a seed instead); ``dense``: ``d n_in n_out``
    MACs per sample and ``d (n_in n_out + 1)`` state words. Random-number generation and the
    per-batch normalization of the directions are not counted.
    """

    name = "rbd"
    BASES = ("rank1", "dense")
    SCALES = ("projection", "unbiased")
    redraw = True

    def __init__(self, n_in, n_out, *, rng, d=1, basis="rank1", scale="projection"):
        super().__init__(n_in, n_out, rng=rng)
        self._d = check_int("d", d, minimum=1)
        self._basis = check_choice("basis", basis, self.BASES)
        self._scale = check_choice("scale", scale, self.SCALES)
        self._dirs = self._draw()

    d = property(lambda self: self._d)
    basis = property(lambda self: self._basis)
    scale = property(lambda self: self._scale)

    def _draw(self):
        if self._basis == "rank1":
            U = _unit_columns(self.rng.normal(size=(self.n_out, self._d)))
            V = _unit_columns(self.rng.normal(size=(self.n_in, self._d)))
            return U, V
        P = self.rng.normal(size=(self._d, self.n_out, self.n_in))
        return P / np.linalg.norm(P, axis=(1, 2), keepdims=True)

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        if self.redraw:
            self._dirs = self._draw()
        factor = self.n_in * self.n_out / self._d if self._scale == "unbiased" else 1.0
        if self._basis == "rank1":
            U, V = self._dirs
            c = np.mean((deltas @ U) * (xs @ V), axis=0)   # c_i = u_i^T G v_i
            return LowRankUpdate(sigma=c * factor, X=V.copy(), Delta=U.copy(),
                                 matrix_updates=self._d)
        G = batch_gradient(xs, deltas)
        c = np.einsum("dij,ij->d", self._dirs, G)
        dense = np.einsum("d,dij->ij", c, self._dirs) * factor
        r = min(self.n_in, self.n_out)
        sigma, U, V = truncated_svd(dense, r)
        return LowRankUpdate(sigma=sigma, X=V, Delta=U, matrix_updates=r)

    def cost(self):
        a, b, d = self.n_in, self.n_out, self._d
        if self._basis == "rank1":
            return Cost(macs_per_sample=d * (a + b + 1), state_words=d * (a + b + 1),
                        notes={"macs_per_sample": "d*(n_in + n_out + 1)",
                               "state_words": "d rank-1 directions + d coordinates"})
        return Cost(macs_per_sample=d * a * b, state_words=d * (a * b + 1),
                    notes={"macs_per_sample": "d*n_in*n_out",
                           "state_words": "d dense directions + d coordinates"})


class FPD(RBD):
    """Fixed Projection Descent: as :class:`RBD` but the ``d`` directions are drawn once.

    Same options and costs as :class:`RBD`; the directions come from ``rng`` at construction and
    are reused for every batch, so the updates stay in one fixed ``d``-dimensional subspace.
    """

    name = "fpd"
    redraw = False
