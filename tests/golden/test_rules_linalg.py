"""Shared numerics of the rules: QR sign fix, power-of-two pre-scale, Newton-Schulz, reciprocal."""

import numpy as np
import pytest

from golden.linalg import (newton_recip, newton_schulz, ns_global_shift, pow2_exponent,
                           pow2_prescale, qr_signfix, recip_seed)


def test_qr_signfix_is_gram_schmidt_with_positive_diagonal():
    A = np.random.default_rng(0).normal(size=(7, 3))
    Q = qr_signfix(A)
    R = Q.T @ A
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.tril(R, -1), 0, atol=1e-12)
    assert np.all(np.diag(R) > 0)
    # column 1 of Q is column 1 of A normalized (Gram-Schmidt order)
    np.testing.assert_allclose(Q[:, 0], A[:, 0] / np.linalg.norm(A[:, 0]), atol=1e-12)


def test_pow2_exponent_is_leading_one_position():
    v = np.array([1.0, 1.5, 2.0, 0.75, 0.25, 1000.0, 0.0, -3.0])
    np.testing.assert_array_equal(pow2_exponent(v), [0, 0, 1, -1, -2, 9, 0, 1])


@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e5])
def test_pow2_prescale_is_a_power_of_two_and_bounds_the_norm(scale):
    A = np.random.default_rng(1).normal(size=(20, 4)) * scale * np.array([1, 10, 0.1, 3])
    S, e = pow2_prescale(A, "norm")
    norms = np.linalg.norm(S, axis=0)
    assert np.all((norms >= 0.5) & (norms < 1.0))
    ratio = S / A
    np.testing.assert_array_equal(ratio, np.ldexp(1.0, -e)[None, :] * np.ones_like(A))
    M, _ = pow2_prescale(A, "max")
    assert np.all((np.abs(M).max(axis=0) >= 0.5) & (np.abs(M).max(axis=0) < 1.0))


def test_ns_global_shift_bound():
    for k in range(1, 40):
        j = ns_global_shift(k)
        assert np.sqrt(k) * 2.0 ** -j <= np.sqrt(2) + 1e-12
        assert j == 0 or np.sqrt(k) * 2.0 ** -(j - 1) > np.sqrt(2)


@pytest.mark.parametrize("form", ["polar", "triangular"])
@pytest.mark.parametrize("shape, scale", [((20, 1), 1e3), ((20, 3), 1e-3), ((50, 8), 30.0),
                                          ((6, 6), 1.0)])
def test_newton_schulz_with_prescale_orthonormalizes(form, shape, scale):
    rng = np.random.default_rng(shape[1])
    A = rng.normal(size=shape) * scale * np.exp(rng.normal(size=shape[1]))
    Q = newton_schulz(A, 14, form=form)
    assert np.linalg.norm(Q.T @ Q - np.eye(shape[1])) < 1e-6
    # same column space as A
    P = Q @ Q.T
    np.testing.assert_allclose(P @ A, A, atol=1e-6 * np.abs(A).max())
    if form == "triangular":
        np.testing.assert_allclose(Q, qr_signfix(A), atol=1e-6)
    else:
        Ds, _ = pow2_prescale(A, "norm")  # limit: polar factor U V^T of the pre-scaled A
        U, _, Vt = np.linalg.svd(Ds, full_matrices=False)
        np.testing.assert_allclose(Q, U @ Vt, atol=1e-6)


@pytest.mark.parametrize("form", ["polar", "triangular"])
def test_newton_schulz_without_prescale_diverges_on_a_large_matrix(form):
    A = np.random.default_rng(2).normal(size=(20, 3)) * 5.0  # singular values >> sqrt(3)
    Q = newton_schulz(A, 10, prescale=False, form=form)
    assert not np.all(np.isfinite(Q)) or np.abs(Q).max() > 1e6
    Q = newton_schulz(A, 10, prescale=True, form=form)
    assert np.linalg.norm(Q.T @ Q - np.eye(3)) < 1e-6


def test_newton_schulz_rejects_unknown_form():
    with pytest.raises(ValueError, match="form='qr'"):
        newton_schulz(np.eye(2), 1, form="qr")


def test_recip_seed_is_in_convergence_region():
    s = np.array([1e-6, 0.3, 1.0, 7.0, 1e6, -2.5])
    p = s * recip_seed(s)
    assert np.all((p >= 0.5) & (p < 1.0))
    assert recip_seed(np.array([0.0]))[0] == 0.0


def test_newton_recip_error_squares_each_step():
    s = np.array([0.37, 3.0, 1234.5, -0.01])
    errs = [np.abs(1 - s * newton_recip(s, None, n)) for n in range(6)]
    for a, b in zip(errs, errs[1:]):
        np.testing.assert_allclose(b, a ** 2, rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(newton_recip(s, None, 6), 1 / s, rtol=1e-15)


def test_newton_recip_warm_start_and_fallback():
    s = np.array([2.0, 2.0, 2.0])
    r0 = np.array([0.49, 5.0, -1.0])  # good warm start, outside (0, 2/s), wrong sign
    r = newton_recip(s, r0, 1)
    assert abs(r[0] - 0.5) < 1e-3              # warm start kept: one step from 0.49
    np.testing.assert_allclose(r[1:], newton_recip(s[1:], None, 1))  # seed used instead
