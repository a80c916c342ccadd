"""Streaming Batch Eigenupdate (SBE): the rank-1 streaming bi-iteration of Hoskins et al. 2019.

The paper's update equations were lost from the text copy; they are rebuilt here from its prose
("Proposed Methods for Training and New Algorithm"), which fixes every factor:

* the estimated activation ``X`` is moved by ``x_j`` weighted by the error's projection on the
  *normalized* current error estimate, ``(delta_j . Delta^j) / ||Delta^j||``;
* the estimated error ``Delta`` is moved by ``delta_j`` weighted by
  ``(x_j . X^{j+1}) / ||X^{j+1}||``, i.e. with the *updated* ``X``;
* ``X^i ~ X^{i,n}/||X^{i,n}||``, ``Delta^i ~ Delta^{i,n}/||Delta^{i,n}||``,
  ``sigma^i ~ sigma^{i,n}``;
* the next batch starts from the end of this one (warm start).

For sample ``j = 1..B`` of a batch::

    X^{j+1}     = X^j     + x_j     * (delta_j . Delta^j)   / ||Delta^j||
    Delta^{j+1} = Delta^j + delta_j * (x_j . X^{j+1})       / ||X^{j+1}||
    sigma^{j+1} = sigma^j + ( (delta_j . Delta^{j+1}) (x_j . X^{j+1})
                              / (||Delta^{j+1}|| ||X^{j+1}||) - sigma^j ) / j

Summed over the batch, the ``X`` increments are ``B * G^T Delta_hat`` and the ``Delta`` increments
``B * G X_hat`` (``G`` the mean gradient), a power (bi-)iteration step; the ``sigma`` line is the
running mean over the batch of the per-sample projections, so ``sigma^{B+1}`` estimates
``Delta_hat^T G X_hat``, the top singular value when the vectors have converged. The paper only
says ``sigma^i ~ sigma^{i,n}``: the running mean is our reading (a plain sum would grow with
``B`` and across batches).

Explicit normalization: the norms are computed and divided by at every sample (the paper's
"normalization operation", the costly part in hardware). The division-free Taylor form of the
paper's supplement is covered by :mod:`golden.rules.sbpca` (``norm="ns"``, ``recip="newton"``).
"""

from __future__ import annotations

import numpy as np

from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_choice

__all__ = ["SBE"]


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


class SBE(UpdateRule):
    """Rank-1 streaming batch eigenupdate (SBE paper, Sec. "Proposed Methods").

    ``batch`` streams the samples through the three update lines of the module docstring and
    returns ``sigma = [sigma^{B+1}]``, ``X = X^{B+1}/||X^{B+1}||``,
    ``Delta = Delta^{B+1}/||Delta^{B+1}||``, ``matrix_updates = 1``. The sign of ``sigma`` may be
    negative when one vector is anti-parallel (paper footnote 1); the product is still right.

    Parameters
    ----------
    warm_start : str
        How the state is carried to the next batch:

        * ``"raw"`` (default): the unnormalized ``X^{i,n}``, ``Delta^{i,n}`` are carried as the
          paper writes (``X^{i+1,1} = X^{i,n}``). Their norms grow by about ``B sigma`` per
          batch, so the estimate averages the whole history (on a fixed batch it converges to
          the top triplet like ``1/t``) and reacts ever more slowly to a changing gradient; a
          fixed-point datapath must absorb the growth.
        * ``"normalized"``: ``X`` and ``Delta`` are carried as unit vectors, so the previous
          batch weighs as much as one unit-norm sample. It tracks a changing gradient but, on a
          small batch, the first samples dominate the short vectors and ``sigma`` is biased
          upwards (1.5x on a 40-sample Gaussian test batch) by each sample's correlation with
          itself.

    The first batch starts from Gaussian random unit vectors drawn from ``rng`` and
    ``sigma = 0`` (the running mean forgets the start value at ``j = 1``).

    Cost per sample (``a = n_in``, ``b = n_out``): ``delta . Delta`` and ``||Delta||^2``
    (``2b``), ``X += x * s`` (``a``), ``x . X`` and ``||X||^2`` (``2a``), ``Delta += delta * t``
    (``b``), ``delta . Delta^{j+1}`` (``b``), and 3 scalar MACs (the product of projections and
    the running mean): ``3a + 4b + 3`` MACs, plus 2 square roots and 3 divisions (noted, not
    counted). State ``a + b + 1`` words; no buffer.
    """

    name = "sbe"
    WARM_STARTS = ("raw", "normalized")

    def __init__(self, n_in, n_out, *, rng, warm_start="raw"):
        super().__init__(n_in, n_out, rng=rng)
        self._warm_start = check_choice("warm_start", warm_start, self.WARM_STARTS)
        self.X = _unit(rng.normal(size=self.n_in))
        self.Delta = _unit(rng.normal(size=self.n_out))
        self.sigma = 0.0

    @property
    def warm_start(self):
        return self._warm_start

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        X, D, sigma = self.X.copy(), self.Delta.copy(), self.sigma
        for j, (x, d) in enumerate(zip(xs, deltas), start=1):
            nd = np.linalg.norm(D)
            X = X + x * ((d @ D) / nd if nd > 0 else 0.0)
            nx = np.linalg.norm(X)
            q = (x @ X) / nx if nx > 0 else 0.0
            D = D + d * q
            nd = np.linalg.norm(D)
            p = (d @ D) / nd if nd > 0 else 0.0
            sigma = sigma + (p * q - sigma) / j
        Xu, Du = _unit(X), _unit(D)
        if self._warm_start == "raw":
            self.X, self.Delta = X, D
        else:
            self.X, self.Delta = Xu, Du
        self.sigma = sigma
        return LowRankUpdate(sigma=np.array([sigma]), X=Xu[:, None], Delta=Du[:, None],
                             matrix_updates=1)

    def cost(self):
        a, b = self.n_in, self.n_out
        return Cost(macs_per_sample=3 * a + 4 * b + 3, state_words=a + b + 1, buffer_words=0,
                    notes={"macs_per_sample": "3*n_in + 4*n_out + 3; plus 2 sqrt, 3 div",
                           "state_words": "X (n_in) + Delta (n_out) + sigma"})
