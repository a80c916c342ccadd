"""Shared float numerics of the golden models: batch gradient, SVD, QR and division-free kernels.

Pure NumPy, float64. The division-free kernels (power-of-two pre-scale, Newton-Schulz
orthonormalization, Newton-Raphson reciprocal) are the float forms of what the hardware computes
with shifts and multiply-accumulates only; the fixed-point models share their names.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "batch_gradient", "truncated_svd", "batch_svd", "sign_fix", "qr_signfix", "pow2_exponent",
    "pow2_prescale", "ns_global_shift", "newton_schulz", "newton_recip", "recip_seed",
]


def batch_gradient(xs: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Return the mean batch gradient ``G = (1/B) sum_j delta_j x_j^T``, shape ``(n_out, n_in)``."""
    xs = np.asarray(xs, dtype=np.float64)
    deltas = np.asarray(deltas, dtype=np.float64)
    return deltas.T @ xs / xs.shape[0]


def sign_fix(X: np.ndarray, *others: np.ndarray):
    """Flip column signs so that the largest-magnitude entry of each column of ``X`` is positive.

    The same flips are applied to each array in ``others`` (the paired factor), so a product such
    as ``Delta @ diag(sigma) @ X.T`` is unchanged. Returns ``X`` alone or the tuple
    ``(X, *others)``.
    """
    X = np.array(X, dtype=np.float64)
    if X.shape[1] == 0:
        return (X, *others) if others else X
    idx = np.argmax(np.abs(X), axis=0)
    signs = np.sign(X[idx, np.arange(X.shape[1])])
    signs[signs == 0] = 1.0
    X = X * signs
    out = [np.asarray(o, dtype=np.float64) * signs for o in others]
    return (X, *out) if others else X


def truncated_svd(G: np.ndarray, k: int):
    """Return the top-``k`` singular triplets ``(sigma, U, V)``: ``G ~ U diag(sigma) V^T``.

    ``sigma`` is ``(k,)`` non-increasing, ``U`` is ``(n_out, k)``, ``V`` is ``(n_in, k)``; signs
    are fixed by :func:`sign_fix` on ``V`` (``U`` follows) so results are deterministic.
    """
    U, s, Vt = np.linalg.svd(np.asarray(G, dtype=np.float64), full_matrices=False)
    k = min(int(k), s.shape[0])
    V, U = sign_fix(Vt[:k].T, U[:, :k])
    return s[:k].copy(), U, V


def batch_svd(xs: np.ndarray, deltas: np.ndarray, k: int):
    """Return the top-``k`` singular triplets of the mean batch gradient without forming it.

    Same result as ``truncated_svd(batch_gradient(xs, deltas), k)`` (up to rounding) but via
    thin QRs of ``deltas^T`` and ``xs^T`` and the SVD of the small ``R_d R_x^T / B``:
    ``O((n_in + n_out) B^2)`` instead of a dense SVD when ``B`` is small.
    """
    xs = np.asarray(xs, dtype=np.float64)
    deltas = np.asarray(deltas, dtype=np.float64)
    Qd, Rd = np.linalg.qr(deltas.T)
    Qx, Rx = np.linalg.qr(xs.T)
    s, U, V = truncated_svd(Rd @ Rx.T / xs.shape[0], k)
    V, U = sign_fix(Qx @ V, Qd @ U)
    return s, U, V


def qr_signfix(A: np.ndarray) -> np.ndarray:
    """Return the thin-QR factor ``Q`` of ``A`` with ``diag(R) >= 0`` (Gram-Schmidt order).

    With this sign fix ``Q`` is the Gram-Schmidt orthonormalization of the columns of ``A`` in
    order: column ``i`` of ``Q`` has a non-negative inner product with column ``i`` of ``A``.
    A zero column yields a zero-R diagonal and keeps the sign NumPy gives it.
    """
    Q, R = np.linalg.qr(np.asarray(A, dtype=np.float64))
    d = np.sign(np.diag(R))
    d[d == 0] = 1.0
    return Q * d


def pow2_exponent(values: np.ndarray) -> np.ndarray:
    """Return ``floor(log2(|v|))`` per element (the leading-one position); 0 where ``v == 0``.

    In hardware this is a leading-one detector on the magnitude.
    """
    values = np.abs(np.asarray(values, dtype=np.float64))
    out = np.zeros(values.shape, dtype=np.int64)
    nz = values > 0
    out[nz] = np.frexp(values[nz])[1] - 1
    return out


def pow2_prescale(A: np.ndarray, mode: str = "norm") -> tuple[np.ndarray, np.ndarray]:
    """Scale each column of ``A`` by a power of two; return ``(scaled, exponents)``.

    ``mode="max"``: scale by ``2**-(e+1)`` with ``e = floor(log2(max|col|))`` so that every entry
    is below 1 in magnitude (a leading-one detect on the largest entry). This does *not* bound the
    column norm (up to ``sqrt(n)``).

    ``mode="norm"``: scale by ``2**-(e+1)`` with ``e = floor(log2(||col||^2)) // 2``, i.e. a
    leading-one detect on the squared norm (one MAC pass over the column, no square root), so the
    scaled column has norm in ``[1/2, 1)``.

    After ``mode="norm"`` the spectral norm of the scaled ``(n, k)`` matrix is below ``sqrt(k)``
    (its Frobenius norm); :func:`newton_schulz` divides once more by a power of two to get below
    ``sqrt(2)``, inside the Newton-Schulz convergence bound ``sqrt(3)``. The returned exponents are
    the per-column right-shift amounts. A zero column stays zero.
    """
    A = np.asarray(A, dtype=np.float64)
    if mode == "max":
        e = pow2_exponent(np.max(np.abs(A), axis=0)) + 1
    elif mode == "norm":
        e = pow2_exponent(np.sum(A * A, axis=0)) // 2 + 1
    else:
        raise ValueError(f"mode={mode!r}: must be one of 'max', 'norm'")
    return A * np.ldexp(1.0, -e), e


def newton_schulz(A: np.ndarray, steps: int, *, prescale: bool = True,
                  form: str = "polar") -> np.ndarray:
    """Orthonormalize the columns of ``A`` division-free with ``steps`` Newton-Schulz iterations.

    ``form="polar"``: each step is ``A <- A (3I - A^T A) / 2``, the Newton-Schulz (first-order
    Taylor) iteration for the polar factor ``A (A^T A)^(-1/2)``. It converges when every singular
    value of the start matrix lies in ``(0, sqrt(3))`` and diverges when one exceeds it by
    enough. The limit is the symmetric orthonormalization of the columns: it does *not* keep
    the column order of Gram-Schmidt, so a rank-``k`` streaming PCA that relies on the column
    order to separate the singular vectors can settle on a rotated basis.

    ``form="triangular"``: each step is ``A <- A (I - U)`` with ``E = A^T A - I`` and ``U`` the
    strict upper triangle of ``E`` plus half its diagonal: the first-order inverse of the
    Cholesky factor of ``A^T A``. Column ``j`` stays in the span of columns ``1..j``, so the
    limit is the Gram-Schmidt (QR, ``diag(R) > 0``) factor of :func:`qr_signfix`; column 1
    follows the scalar Newton-Schulz map ``s <- s (3 - s^2)/2`` exactly.

    With ``prescale=True`` each column is first scaled by a power of two to norm in ``[1/2, 1)``
    (:func:`pow2_prescale` ``mode="norm"``), then the whole matrix by ``2**-ns_global_shift(k)``
    so the spectral norm is below ``sqrt(2) < sqrt(3)``. With ``prescale=False`` the iteration
    starts from ``A`` itself (kept to show that it diverges for large ``A``; overflow gives
    ``inf``/``nan`` without a warning).

    Typical counts: 8 steps bring a Gaussian ``784 x 10`` matrix to ``||A^T A - I||_F < 1e-7``
    with either form.
    """
    A = np.asarray(A, dtype=np.float64)
    if form not in ("polar", "triangular"):
        raise ValueError(f"form={form!r}: must be one of 'polar', 'triangular'")
    k = A.shape[1]
    if prescale:
        A, _ = pow2_prescale(A, "norm")
        A = A * 2.0 ** -ns_global_shift(k)
    eye = np.eye(k)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            S = A.T @ A
            if form == "polar":
                A = 0.5 * (A @ (3.0 * eye - S))
            else:
                E = S - eye
                A = A - A @ (np.triu(E, 1) + 0.5 * np.diag(np.diag(E)))
    return A


def ns_global_shift(k: int) -> int:
    """Return the smallest ``j >= 0`` with ``4**j >= k/2`` (extra right shift before Newton-Schulz).

    ``k`` columns of norm below 1 have spectral norm below ``sqrt(k)``; shifting right by ``j``
    brings it below ``sqrt(2)``.
    """
    j = 0
    while 2 * 4 ** j < k:
        j += 1
    return j


def recip_seed(sigma: np.ndarray) -> np.ndarray:
    """Return a safe Newton-Raphson start ``r0 = 2**-(e+1)`` with ``e = floor(log2|sigma|)``.

    Then ``sigma * r0`` lies in ``[1/2, 1)``, inside the convergence region ``(0, 2)`` of
    :func:`newton_recip`; the error ``1 - sigma r`` starts below 1/2 and squares every step. The
    sign of ``sigma`` is carried over. Zero gives 0 (the reciprocal of a zero singular value is
    never used).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    r = np.sign(sigma) * np.ldexp(1.0, -(pow2_exponent(sigma) + 1))
    return np.where(sigma == 0, 0.0, r)


def newton_recip(sigma: np.ndarray, r0: np.ndarray | None, steps: int) -> np.ndarray:
    """Return ``1/sigma`` by ``steps`` Newton-Raphson steps ``r <- r (2 - sigma r)``.

    ``r0`` is the warm start (e.g. the previous block's reciprocal); where it is ``None``, zero,
    or outside the convergence region ``0 < sigma r0 < 2`` it is replaced by :func:`recip_seed`
    (in hardware a comparison of ``sigma r0`` against 0 and 2, i.e. one extra multiply). The
    relative error ``e = 1 - sigma r`` obeys ``e <- e**2``.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    seed = recip_seed(sigma)
    if r0 is None:
        r = seed
    else:
        r0 = np.asarray(r0, dtype=np.float64)
        p = sigma * r0
        r = np.where((p > 0) & (p < 2), r0, seed)
    for _ in range(int(steps)):
        r = r * (2.0 - sigma * r)
    return r
