"""SBPCA / SBPCAV: Algorithm 1 against independent transcriptions, convergence, options, cost."""

import numpy as np
import pytest

from golden.rules import make_rule
from golden.rules.sbpca import block_sizes

N_IN, N_OUT = 9, 6


def _batch(seed, B, scale=(3.0, 2.0, 1.0)):
    """A batch whose mean gradient has a clear top-3 spectrum (gaps for fast convergence)."""
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(B, N_IN))
    ds = rng.normal(size=(B, N_OUT)) * np.r_[scale, np.full(N_OUT - len(scale), 0.2)]
    return xs, ds


def _qr_pos(A):
    Q, R = np.linalg.qr(A)
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def _ref_algorithm1(X, D, s, xs, ds, sizes, coeffs):
    """Algorithm 1 written with the explicit block-mean gradient G_i (independent of the rule)."""
    start = 0
    for size, c in zip(sizes, coeffs):
        Gi = sum(np.outer(ds[j], xs[j]) for j in range(start, start + size)) / size
        X = _qr_pos(c * X + (1 - c) * (Gi.T @ D) / s)
        D = _qr_pos(c * D + (1 - c) * (Gi @ X) / s)
        s = c * s + (1 - c) * np.einsum("ir,ij,jr->r", D, Gi, X)
        start += size
    return X, D, s


def _ref_parallel(X, D, s, xs, ds, sizes, coeffs):
    """Parallel order: both steps and sigma from the block-start state (G_i written out)."""
    start = 0
    for size, c in zip(sizes, coeffs):
        Gi = sum(np.outer(ds[j], xs[j]) for j in range(start, start + size)) / size
        X, D, s = (_qr_pos(c * X + (1 - c) * (Gi.T @ D) / s),
                   _qr_pos(c * D + (1 - c) * (Gi @ X) / s),
                   c * s + (1 - c) * np.einsum("ir,ij,jr->r", D, Gi, X))
        start += size
    return X, D, s


def _ref_xbtorch(X, D, sigma, xs, ds, sb):
    """Line-by-line NumPy transcription of xbtorch decomposition/sbpca.py (drops leftovers)."""
    for i in range(xs.shape[0] // sb):
        rows = range(i * sb, (i + 1) * sb)
        y = ds[rows] @ D / ((i + 2) * sb)
        X = X * (i + 1) * sb / ((i + 2) * sb) + xs[rows].T @ y / sigma
        Q, R = np.linalg.qr(X)
        X = Q @ np.diag(np.sign(np.diag(R)))
        z = xs[rows] @ X / ((i + 2) * sb)
        D = D * (i + 1) * sb / ((i + 2) * sb) + ds[rows].T @ z / sigma
        Q, R = np.linalg.qr(D)
        D = Q @ np.diag(np.sign(np.diag(R)))
        sigma = sigma * (i + 1) * sb / ((i + 2) * sb) + np.sum(
            (ds[rows] @ D) * (xs[rows] @ X), 0) / ((i + 2) * sb)
    return X, D, sigma


def _state(rule):
    return rule.X.copy(), rule.Delta.copy(), rule.sigma.copy()


# -- blocks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("B", [1, 2, 7, 10, 32, 33])
@pytest.mark.parametrize("schedule, block", [("harmonic", 1), ("harmonic", 4), ("shift", 3),
                                             ("sbpcav", 1), ("sbpcav", 2)])
def test_blocks_cover_the_batch(B, schedule, block):
    sizes = block_sizes(B, schedule, block)
    assert sum(sizes) == B and min(sizes) >= 1


def test_sbpcav_block_sizes_double_and_last_is_cut():
    assert block_sizes(10, "sbpcav", 1) == [1, 2, 4, 3]
    assert block_sizes(15, "sbpcav", 1) == [1, 2, 4, 8]
    assert block_sizes(10, "harmonic", 4) == [4, 4, 2]


# -- Algorithm 1 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("B, block", [(12, 4), (13, 4), (7, 1), (5, 8)])
def test_harmonic_sequential_matches_algorithm1_over_two_batches(B, block):
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(1), k=3, block=block)
    X, D, s = _state(rule)
    for seed in (2, 3):  # warm start: the second batch starts from the first one's end
        xs, ds = _batch(seed, B)
        up = rule.batch(xs, ds)
        sizes = [block] * (B // block) + ([B % block] if B % block else [])
        X, D, s = _ref_algorithm1(X, D, s, xs, ds, sizes,
                                  [i / (i + 1) for i in range(1, len(sizes) + 1)])
        np.testing.assert_allclose(up.X, X, atol=1e-10)
        np.testing.assert_allclose(up.Delta, D, atol=1e-10)
        np.testing.assert_allclose(up.sigma, s, rtol=1e-10)
        assert up.matrix_updates == 3


@pytest.mark.parametrize("B, block", [(12, 4), (7, 3), (5, 1)])
def test_parallel_order_matches_block_start_reference(B, block):
    xs, ds = _batch(13, B)
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(3), k=2, block=block,
                     order="parallel")
    sizes = block_sizes(B, "harmonic", block)
    X, D, s = _ref_parallel(*_state(rule), xs, ds, sizes,
                            [i / (i + 1) for i in range(1, len(sizes) + 1)])
    up = rule.batch(xs, ds)
    np.testing.assert_allclose(up.X, X, atol=1e-10)
    np.testing.assert_allclose(up.Delta, D, atol=1e-10)
    np.testing.assert_allclose(up.sigma, s, rtol=1e-10)


def test_sbpcav_and_shift_schedules_match_algorithm1():
    xs, ds = _batch(4, 10)
    for opts, sizes, coeffs in (
            (dict(schedule="sbpcav"), [1, 2, 4, 3], [0.5] * 4),
            (dict(schedule="shift", shift_s=2, block=4), [4, 4, 2], [0.75] * 3)):
        rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(5), k=2, **opts)
        X, D, s = _ref_algorithm1(*_state(rule), xs, ds, sizes, coeffs)
        up = rule.batch(xs, ds)
        np.testing.assert_allclose(up.matrix(), (D * s) @ X.T, atol=1e-10)


def test_xbtorch_mode_matches_reference_transcription():
    xs, ds = _batch(6, 24)
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(7), k=2, block=8,
                     mode="xbtorch")
    X, D, s = _state(rule)
    np.testing.assert_array_equal(s, np.ones(2))  # xbtorch starts from sigma = 1
    for _ in range(2):
        X, D, s = _ref_xbtorch(X, D, s, xs, ds, 8)
        up = rule.batch(xs, ds)
        np.testing.assert_allclose(up.X, X, atol=1e-10)
        np.testing.assert_allclose(up.Delta, D, atol=1e-10)
        np.testing.assert_allclose(up.sigma, s, rtol=1e-10)


def test_xbtorch_mode_keeps_the_leftover_samples():
    xs, ds = _batch(8, 20)
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(9), k=2, block=8,
                     mode="xbtorch")
    assert rule.block == 8 and make_rule("sbpca", 4, 4, mode="xbtorch").block == 32
    dropped = _ref_xbtorch(*_state(rule), xs, ds, 8)  # uses 16 of the 20 samples
    kept = _ref_algorithm1(*_state(rule), xs, ds, [8, 8, 4], [1 / 2, 2 / 3, 3 / 4])
    up = rule.batch(xs, ds)
    np.testing.assert_allclose(up.sigma, kept[2], rtol=1e-10)
    assert np.abs(up.sigma - dropped[2]).max() > 1e-3


@pytest.mark.parametrize("B, block", [(9, 4), (5, 1), (6, 5), (11, 8)])
@pytest.mark.parametrize("schedule", ["harmonic", "sbpcav"])
def test_last_sample_always_matters(B, block, schedule):
    """Changing only the last sample (alone in its block or not) changes the update."""
    xs, ds = _batch(10, B)
    opts = dict(k=2, block=block, schedule=schedule)
    a = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(0), **opts).batch(xs, ds)
    xs2, ds2 = xs.copy(), ds.copy()
    xs2[-1] *= 5.0
    ds2[-1] = -ds2[-1]
    b = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(0), **opts).batch(xs2, ds2)
    assert np.abs(a.matrix() - b.matrix()).max() > 1e-3


# -- convergence on a fixed batch ---------------------------------------------------------------

@pytest.mark.parametrize("opts", [
    dict(),
    dict(order="parallel"),
    dict(norm="ns_tri"),
    dict(norm="ns_tri", recip="newton", recip_steps=3),
    dict(mode="xbtorch"),
])
def test_repeated_batch_converges_to_top_k_triplets(opts):
    B, k = 32, 3
    xs, ds = _batch(11, B)
    if opts.get("mode") != "xbtorch":
        opts = dict(opts, block=B)  # one block per batch: a bi-iteration on the batch gradient
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(12), k=k, **opts)
    for _ in range(150):
        up = rule.batch(xs, ds)
    U, s, Vt = np.linalg.svd(ds.T @ xs / B)
    for r in range(k):
        sign = np.sign(up.X[:, r] @ Vt[r]) * np.sign(up.Delta[:, r] @ U[:, r])
        np.testing.assert_allclose(abs(up.X[:, r] @ Vt[r]), 1.0, atol=1e-8)
        np.testing.assert_allclose(abs(up.Delta[:, r] @ U[:, r]), 1.0, atol=1e-8)
        np.testing.assert_allclose(up.sigma[r] * sign, s[r], rtol=1e-8)


def test_polar_ns_loses_the_column_order_for_k_above_1():
    """The documented failure of norm='ns' with k > 1 (equal sigmas), and k = 1 is fine."""
    xs, ds = _batch(11, 32)
    rule = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(12), k=3, block=32,
                     norm="ns")
    for _ in range(150):
        up = rule.batch(xs, ds)
    s = np.linalg.svd(ds.T @ xs / 32, compute_uv=False)
    assert np.ptp(up.sigma) < 1e-6 * s[0]
    np.testing.assert_allclose(up.sigma, s[:3].mean(), rtol=1e-6)
    one = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(12), k=1, block=32,
                    norm="ns")
    for _ in range(60):
        up = one.batch(xs, ds)
    np.testing.assert_allclose(abs(up.sigma[0]), s[0], rtol=1e-8)


def test_ns_without_prescale_diverges_when_sigma_underestimates():
    xs, ds = _batch(11, 32)
    ds = ds * 1e3  # sigma0 = 1 is far below the gradient: the combined matrix is huge
    opts = dict(k=2, block=32, norm="ns_tri")
    bad = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(1), prescale=False, **opts)
    good = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(1), **opts)
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(bad.batch(xs, ds).X))
    X = good.batch(xs, ds).X
    np.testing.assert_allclose(X.T @ X, np.eye(2), atol=1e-6)


# -- options and costs ---------------------------------------------------------------------------

@pytest.mark.parametrize("options, match", [
    (dict(k=0), "k=0"), (dict(k=7), "k=7"), (dict(block=0), "block=0"),
    (dict(order="zigzag"), "order='zigzag'"), (dict(schedule="cosine"), "schedule='cosine'"),
    (dict(schedule="shift"), "shift_s=None"), (dict(shift_s=2), "shift_s=2"),
    (dict(norm="svd"), "norm='svd'"), (dict(ns_steps=3), "ns_steps=3"),
    (dict(norm="ns", ns_steps=0), "ns_steps=0"),
    (dict(recip_steps=2), "recip_steps=2"), (dict(recip="newton", recip_steps=0),
                                              "recip_steps=0"),
    (dict(sigma0=0.0), "sigma0=0.0"), (dict(mode="torch"), "mode='torch'"),
    (dict(mode="xbtorch", norm="ns"), "norm='ns'"),
    (dict(mode="xbtorch", order="parallel"), "order='parallel'"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match) as info:
        make_rule("sbpca", N_IN, 6, **options)
    assert "\n" not in str(info.value)


def test_cost_by_hand_sequential_qr():
    # n_in=5, n_out=3, k=2, block=4, harmonic, sequential, qr, div
    c = make_rule("sbpca", 5, 3, k=2, block=4).cost(batch_size=10)
    # per sample: Delta^T delta 2*3, x p^T 2*5, X^T x 2*5, delta q^T 2*3
    assert c.macs_per_sample == 6 + 10 + 10 + 6
    # per block: factors 2; c*X + a*X_acc 2*(10 + 6); MGS 5*2*3 + 3*2*3; sigma 2*3 + 2*2
    assert c.macs_per_block == 2 + 32 + 30 + 18 + 10
    # state: X, Delta 16; sigma 2; X_acc, D_acc 16.  buffer: 4 samples of 5 + 3 words
    assert (c.state_words, c.buffer_words) == (34, 32)
    assert c.notes["blocks_per_batch"] == 3
    assert c.notes["total_macs_per_batch"] == 32 * 10 + 92 * 3


def test_cost_by_hand_parallel_ns_newton_shift():
    # n_in=5, n_out=3, k=2, block=4, shift s=1, parallel, ns (polar) 2 steps, newton 3 steps
    c = make_rule("sbpca", 5, 3, k=2, block=4, order="parallel", schedule="shift", shift_s=1,
                  norm="ns", ns_steps=2, recip="newton", recip_steps=3).cost()
    assert c.macs_per_sample == 32 + 2  # + p*q for sigma
    # per block: newton 2*2*3; factors 2; a*X_acc only (c is a shift) 16;
    # ns on 5x2: norms 10 + 2*(gram 5*3 + apply 5*4) = 80; on 3x2: 6 + 2*(9 + 12) = 48;
    # sigma combine 2 (shift)
    assert c.macs_per_block == 12 + 2 + 16 + 80 + 48 + 2
    # state: X, Delta 16; sigma 2; accs 16; s_acc 2; r 2; gram 4; no buffer
    assert (c.state_words, c.buffer_words) == (42, 0)


def test_cost_sbpcav_sequential_needs_batch_size():
    rule = make_rule("sbpca", 5, 3, schedule="sbpcav")
    with pytest.raises(ValueError, match="batch_size=None"):
        rule.cost()
    assert rule.cost(batch_size=10).buffer_words == 4 * 8
    assert make_rule("sbpca", 5, 3, schedule="sbpcav", order="parallel").cost().buffer_words == 0
    assert make_rule("sbpca", 5, 3, block=1).cost().buffer_words == 0
