"""Gradient-approximation metrics of one batch, rule costs, and estimator variance.

Everything compares an update (a :class:`golden.rules.base.LowRankUpdate` or a dense
``(n_out, n_in)`` array) with the true mean batch gradient ``G = (1/B) sum_j delta_j x_j^T``.

* :func:`relative_error`, :func:`optimal_error`, :func:`error_ratio`: Frobenius error and its
  ratio to the best rank-``k`` error (Eckart-Young), ``>= 1`` for any rank-``k`` update;
* :func:`cosine_similarity` with ``G`` (Frobenius inner product);
* :func:`singular_vector_errors`, :func:`singular_value_errors`: the SBE paper's convergence
  errors (Hoskins et al. 2019, Results, Fig. 3);
* :func:`orthonormality_error` ``||X^T X - I||_F``;
* :func:`memory_words`, :func:`total_macs` of a rule;
* :func:`average_variance`, :func:`normalized_variance` of an estimator of a mean gradient and
  the samplers :func:`sg_draws`, :func:`stratified_draws` to compare Gradient Clustering with
  SG-B and SG-2B (Faghri et al. 2020, Sec. 4).
"""

from __future__ import annotations

import inspect

import numpy as np

from .linalg import batch_gradient, truncated_svd
from .rules.base import LowRankUpdate, UpdateRule

__all__ = [
    "relative_error", "optimal_error", "error_ratio", "cosine_similarity",
    "singular_vector_errors", "singular_value_errors", "orthonormality_error", "memory_words",
    "total_macs", "average_variance", "normalized_variance", "sg_draws", "stratified_draws",
    "batch_metrics",
]


def _dense(update) -> np.ndarray:
    if isinstance(update, LowRankUpdate):
        return update.matrix()
    return np.asarray(update, dtype=np.float64)


def relative_error(update, G) -> float:
    """Return ``||U - G||_F / ||G||_F``; 0 if both are zero, ``inf`` if only ``G`` is zero."""
    U, G = _dense(update), np.asarray(G, dtype=np.float64)
    num, den = np.linalg.norm(U - G), np.linalg.norm(G)
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def optimal_error(G, k: int) -> float:
    """Return the best relative Frobenius error of a rank-``k`` approximation of ``G``.

    ``sqrt(sum_{i > k} s_i^2) / ||G||_F`` with ``s`` the singular values (Eckart-Young); 0 when
    ``rank(G) <= k`` or ``G`` is zero.
    """
    s = np.linalg.svd(np.asarray(G, dtype=np.float64), compute_uv=False)
    total = np.sqrt(np.sum(s ** 2))
    return 0.0 if total == 0 else float(np.sqrt(np.sum(s[int(k):] ** 2)) / total)


def error_ratio(update, G, k: int | None = None, *, rtol: float = 1e-9) -> float:
    """Return ``relative_error / optimal_error`` at rank ``k`` (``update.rank`` by default).

    ``>= 1`` for any update of rank ``<= k`` (up to rounding). When the optimal error is zero
    (``rank(G) <= k``, e.g. ``B <= k``) the ratio is undefined: it is returned as 1.0 if the
    update is exact to ``rtol`` (relative error ``<= rtol``), else ``inf``.
    """
    if k is None:
        if not isinstance(update, LowRankUpdate):
            raise ValueError("k=None: give the rank for a dense update")
        k = update.rank
    err, opt = relative_error(update, G), optimal_error(G, k)
    if opt <= rtol:
        return 1.0 if err <= rtol else float("inf")
    return err / opt


def cosine_similarity(update, G) -> float:
    """Return ``<U, G>_F / (||U||_F ||G||_F)``; 0 when either is zero."""
    U, G = _dense(update), np.asarray(G, dtype=np.float64)
    den = np.linalg.norm(U) * np.linalg.norm(G)
    return 0.0 if den == 0 else float(np.sum(U * G) / den)


def singular_vector_errors(update: LowRankUpdate, G) -> tuple[np.ndarray, np.ndarray]:
    """Return the SBE paper's singular-vector errors ``(eps_X, eps_Delta)``, one per rank.

    For rank ``r`` (matched by index to the ``r``-th singular triplet of ``G``), SBE paper,
    Results: ``eps = 1 - |X_true . X_est| / ||X_est||`` with ``X_true`` the unit right singular
    vector; the same for ``Delta`` with the left one. 0 means parallel (either sign), 1
    orthogonal. A zero estimate column gives 1.
    """
    k = update.rank
    _, U, V = truncated_svd(G, k)

    def eps(true, est):
        n = np.linalg.norm(est, axis=0)
        dots = np.abs(np.sum(true * est, axis=0))
        return np.where(n > 0, 1.0 - dots / np.where(n > 0, n, 1.0), 1.0)

    m = U.shape[1]
    ex, ed = np.ones(k), np.ones(k)
    ex[:m], ed[:m] = eps(V, update.X[:, :m]), eps(U, update.Delta[:, :m])
    return ex, ed


def singular_value_errors(update: LowRankUpdate, G, *, signed: bool = False) -> np.ndarray:
    """Return the SBE paper's singular-value errors, one per rank.

    SBE paper, Results: ``eps = 1 - |sigma_true / sigma_est|``. With ``signed=False`` (default)
    the magnitude ``|eps|`` is returned (the paper plots it on a log scale; an overestimate gives
    a positive, an underestimate a negative ``eps``). The sign of ``sigma_est`` is ignored
    (footnote 1: paired sign flips). ``sigma_est`` is scaled by the norms of the ``X`` and
    ``Delta`` columns so non-normalized factors (e.g. SGD's) are compared fairly. A zero
    estimate gives ``inf`` (``0`` if the true value is zero too).
    """
    k = update.rank
    s_true, _, _ = truncated_svd(G, k)
    s_true = np.r_[s_true, np.zeros(k - len(s_true))]
    s_est = np.abs(update.sigma) * np.linalg.norm(update.X, axis=0) \
        * np.linalg.norm(update.Delta, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.where(s_est > 0, 1.0 - s_true / np.where(s_est > 0, s_est, 1.0),
                       np.where(s_true == 0, 0.0, -np.inf))
    return eps if signed else np.abs(eps)


def orthonormality_error(X) -> float:
    """Return ``||X^T X - I||_F`` for the ``(n, k)`` factor ``X``."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.linalg.norm(X.T @ X - np.eye(X.shape[1])))


def _cost(rule: UpdateRule, batch_size):
    if "batch_size" in inspect.signature(rule.cost).parameters:
        return rule.cost(batch_size=batch_size)
    return rule.cost()


def memory_words(rule: UpdateRule, batch_size: int | None = None) -> int:
    """Return the state plus buffer words of ``rule`` (some buffers need ``batch_size``)."""
    return _cost(rule, batch_size).memory_words


def total_macs(rule: UpdateRule, batch_size: int) -> float:
    """Return all multiply-accumulates of ``rule`` for one batch of ``batch_size`` samples.

    ``macs_per_sample * B + macs_per_block * rule.blocks_per_batch(B) + macs_per_batch``.
    """
    c = _cost(rule, batch_size)
    return (c.macs_per_sample * batch_size + c.macs_per_block * rule.blocks_per_batch(batch_size)
            + c.macs_per_batch)


def average_variance(estimates, mean=None) -> float:
    """Return the average over coordinates of the variance of an estimator (Faghri et al. Sec. 4).

    ``estimates`` is ``(T, ...)``: ``T`` independent draws of the estimator. With ``mean``
    (the true mean gradient, for an unbiased estimator) the variance is ``E (g_hat - mean)^2``
    averaged over the ``T`` draws; without it, the sample variance (``ddof=1``). The result is
    ``tr Cov(g_hat) / D`` with ``D`` the number of coordinates.
    """
    E = np.asarray(estimates, dtype=np.float64).reshape(len(estimates), -1)
    if mean is None:
        return float(np.mean(np.var(E, axis=0, ddof=1)))
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    return float(np.mean((E - m) ** 2))


def normalized_variance(estimates, mean) -> float:
    """Return ``tr Cov(g_hat) / ||mean||^2``: noise power over signal power (Faghri et al. Sec. 4).

    The paper's text is garbled here ("variance divided by its second non-central moment"); it
    says values above 1 mean the noise is stronger than the gradient and that the denominator is
    shared by all estimators on one trajectory, so the denominator is the squared norm of the
    true mean gradient. ``inf`` when the mean is zero.
    """
    m = np.asarray(mean, dtype=np.float64)
    power = np.sum(m ** 2)
    total = average_variance(estimates, mean) * m.size
    return float("inf") if power == 0 else float(total / power)


def sg_draws(xs, deltas, batch: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``draws`` SG-``batch`` estimates of the population mean gradient (``T`` first).

    Each draw averages ``delta_i x_i^T`` over ``batch`` samples drawn uniformly without
    replacement from the population ``(xs, deltas)``.
    """
    xs, deltas = np.asarray(xs, dtype=np.float64), np.asarray(deltas, dtype=np.float64)
    out = np.empty((draws, deltas.shape[1], xs.shape[1]))
    for t in range(draws):
        idx = rng.choice(xs.shape[0], size=batch, replace=False)
        out[t] = batch_gradient(xs[idx], deltas[idx])
    return out


def stratified_draws(xs, deltas, labels, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``draws`` stratified estimates ``sum_c (N_c/N) delta_{i_c} x_{i_c}^T`` (Eq. 1).

    One sample ``i_c`` is drawn uniformly from each non-empty cluster of ``labels`` (e.g. from
    :meth:`golden.rules.clustering.GradientClustering.assign`); unbiased for the mean.
    """
    xs, deltas = np.asarray(xs, dtype=np.float64), np.asarray(deltas, dtype=np.float64)
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    weights = np.array([len(g) for g in groups]) / len(labels)
    out = np.empty((draws, deltas.shape[1], xs.shape[1]))
    for t in range(draws):
        idx = np.array([rng.choice(g) for g in groups])
        out[t] = (deltas[idx].T * weights) @ xs[idx]
    return out


def batch_metrics(update: LowRankUpdate, xs, deltas) -> dict:
    """Return the per-batch metrics of ``update`` against the batch ``(xs, deltas)`` as a dict.

    Keys: ``rel_error``, ``opt_error``, ``error_ratio``, ``cosine``, ``sv_error_X``,
    ``sv_error_Delta``, ``sigma_error`` (lists, one per rank), ``orth_error_X``,
    ``orth_error_Delta``, ``rank``, ``matrix_updates``. JSON-serializable.
    """
    G = batch_gradient(xs, deltas)
    ex, ed = singular_vector_errors(update, G)
    return {
        "rel_error": relative_error(update, G),
        "opt_error": optimal_error(G, update.rank),
        "error_ratio": error_ratio(update, G),
        "cosine": cosine_similarity(update, G),
        "sv_error_X": ex.tolist(),
        "sv_error_Delta": ed.tolist(),
        "sigma_error": singular_value_errors(update, G).tolist(),
        "orth_error_X": orthonormality_error(update.X),
        "orth_error_Delta": orthonormality_error(update.Delta),
        "rank": int(update.rank),
        "matrix_updates": int(update.matrix_updates),
    }
