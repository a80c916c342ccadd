"""The update-rule interface: how a batch of (x_j, delta_j) pairs becomes a weight update.

One fully connected layer ``y = W x`` with ``W`` of shape ``(n_out, n_in)``. For sample ``j`` of a
batch the layer sees its input activation ``x_j`` (length ``n_in``) and the back-propagated error
``delta_j = dL/dy_j`` (length ``n_out``). The true batch gradient is the *mean* of the outer
products::

    G = (1/B) * sum_j delta_j x_j^T                  shape (n_out, n_in)

A rule consumes the batch as a stream, in sample order, and returns an approximation of ``G`` in
factored form (:class:`LowRankUpdate`). It keeps only its own state between batches (warm start
across batches, as in the papers); the trainer hands the update to its weight applier
(:mod:`golden.seam`; the default applies ``W -= lr * update.matrix()``, a crossbar applier the
factors as pulses) and counts ``update.matrix_updates`` crossbar outer-product applications.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LowRankUpdate", "UpdateRule", "Cost"]


@dataclass
class LowRankUpdate:
    """A batch update ``Delta @ diag(sigma) @ X.T`` (shape ``(n_out, n_in)``).

    Attributes
    ----------
    sigma : (k,) float array
    X : (n_in, k) float array
        Input-side factors (crossbar column drive).
    Delta : (n_out, k) float array
        Output-side factors (crossbar row drive).
    matrix_updates : int
        Outer-product applications needed to apply the update to a crossbar (k for a rank-k
        rule, B for one outer product per sample).
    """

    sigma: np.ndarray
    X: np.ndarray
    Delta: np.ndarray
    matrix_updates: int

    @property
    def rank(self) -> int:
        return int(self.sigma.shape[0])

    def matrix(self) -> np.ndarray:
        """The dense update ``Delta @ diag(sigma) @ X.T``."""
        return (self.Delta * self.sigma) @ self.X.T


@dataclass
class Cost:
    """Hardware-sizing counts of a rule (cycle-free).

    ``macs_per_sample``: multiply-accumulates spent per streamed sample;
    ``macs_per_block``: extra multiply-accumulates at each block end (normalization, scaling);
    ``macs_per_batch``: extra multiply-accumulates at each batch end;
    ``state_words``: words kept across samples and batches (X, Delta, sigma, schedules);
    ``buffer_words``: words of sample buffer the rule needs (e.g. a block seen twice).
    """

    macs_per_sample: float
    macs_per_block: float = 0.0
    macs_per_batch: float = 0.0
    state_words: int = 0
    buffer_words: int = 0
    notes: dict = field(default_factory=dict)

    @property
    def memory_words(self) -> int:
        return self.state_words + self.buffer_words


class UpdateRule(ABC):
    """Base class of batch update rules for one layer.

    Parameters
    ----------
    n_in, n_out : int
        Layer input and output sizes (``W`` is ``(n_out, n_in)``).
    rng : numpy.random.Generator
        Source of any randomness (initial state, random bases); rules are reproducible from it.

    Subclasses validate their own options at construction with ``ValueError`` messages naming the
    parameter and the value.
    """

    #: Short registry name, e.g. ``"mbgd"``, ``"sbpca"``.
    name: str = ""

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator):
        for pname, value in (("n_in", n_in), ("n_out", n_out)):
            if int(value) != value or value < 1:
                raise ValueError(f"{pname}={value!r}: must be a positive integer")
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.rng = rng

    @abstractmethod
    def batch(self, xs: np.ndarray, deltas: np.ndarray) -> LowRankUpdate:
        """Consume one batch in sample order and return its update.

        ``xs`` is ``(B, n_in)``, ``deltas`` is ``(B, n_out)``, ``B >= 1``; every sample is used
        (no sample is dropped whatever ``B`` and the block size).
        """

    @abstractmethod
    def cost(self) -> Cost:
        """Multiply-accumulate and memory counts of this rule with its current options."""

    def blocks_per_batch(self, batch_size: int) -> int:
        """Number of block-end events (``Cost.macs_per_block``) in a batch of ``batch_size``.

        0 for rules without blocks; rules with blocks override it.
        """
        return 0

    def _check_batch(self, xs, deltas):
        xs = np.asarray(xs, dtype=np.float64)
        deltas = np.asarray(deltas, dtype=np.float64)
        if xs.ndim != 2 or xs.shape[1] != self.n_in:
            raise ValueError(f"xs: expected shape (B, {self.n_in}), got {xs.shape}")
        if deltas.ndim != 2 or deltas.shape[1] != self.n_out or deltas.shape[0] != xs.shape[0]:
            raise ValueError(f"deltas: expected shape ({xs.shape[0]}, {self.n_out}), "
                             f"got {deltas.shape}")
        if xs.shape[0] < 1:
            raise ValueError("xs: a batch needs at least one sample")
        return xs, deltas
