"""SBE rule: the streaming equations against a transcription, convergence, options, cost."""

import numpy as np
import pytest

from golden.rules import make_rule


def _batch(seed, B, n_in=8, n_out=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, n_in)), rng.normal(size=(B, n_out)) * np.r_[3.0, np.ones(n_out - 1)]


def _ref_sbe(X, D, xs, ds):
    """The three update lines of the SBE paper (as rebuilt in golden/rules/sbe.py), per sample."""
    sigma = 0.0
    for j in range(len(xs)):
        X = X + xs[j] * (ds[j] @ D) / np.sqrt(D @ D)
        q = (xs[j] @ X) / np.sqrt(X @ X)
        D = D + ds[j] * q
        p = (ds[j] @ D) / np.sqrt(D @ D)
        sigma = (j * sigma + p * q) / (j + 1)
    return X, D, sigma


@pytest.mark.parametrize("warm_start", ["normalized", "raw"])
def test_sbe_matches_transcription_over_two_batches(warm_start):
    rule = make_rule("sbe", 8, 5, rng=np.random.default_rng(1), warm_start=warm_start)
    X, D = rule.X.copy(), rule.Delta.copy()
    for seed in (2, 3):
        xs, ds = _batch(seed, 6)
        X, D, s = _ref_sbe(X, D, xs, ds)
        up = rule.batch(xs, ds)
        np.testing.assert_allclose(up.X[:, 0], X / np.linalg.norm(X), atol=1e-12)
        np.testing.assert_allclose(up.Delta[:, 0], D / np.linalg.norm(D), atol=1e-12)
        np.testing.assert_allclose(up.sigma[0], s, rtol=1e-12)
        assert up.matrix_updates == 1 and up.rank == 1
        if warm_start == "normalized":
            X, D = X / np.linalg.norm(X), D / np.linalg.norm(D)


def test_sbe_raw_warm_start_converges_to_top_triplet():
    xs, ds = _batch(4, 40)
    rule = make_rule("sbe", 8, 5, rng=np.random.default_rng(5), warm_start="raw")
    U, s, Vt = np.linalg.svd(ds.T @ xs / 40)
    errors = []
    for t in range(1, 401):
        up = rule.batch(xs, ds)
        if t in (50, 400):
            errors.append(1 - abs(up.X[:, 0] @ Vt[0]))
    assert errors[1] < errors[0] / 4  # still converging (like 1/t), not stuck
    assert errors[1] < 3e-5
    assert abs(up.Delta[:, 0] @ U[:, 0]) > 1 - 3e-5
    sign = np.sign(up.X[:, 0] @ Vt[0]) * np.sign(up.Delta[:, 0] @ U[:, 0])
    np.testing.assert_allclose(up.sigma[0] * sign, s[0], rtol=2e-3)


def test_sbe_normalized_warm_start_finds_the_top_direction():
    """Normalized carry-over tracks the top pair; sigma keeps a small-batch bias (documented)."""
    xs, ds = _batch(4, 40)
    rule = make_rule("sbe", 8, 5, rng=np.random.default_rng(5), warm_start="normalized")
    for _ in range(100):
        up = rule.batch(xs, ds)
    U, s, Vt = np.linalg.svd(ds.T @ xs / 40)
    assert abs(up.X[:, 0] @ Vt[0]) > 0.95
    assert abs(up.Delta[:, 0] @ U[:, 0]) > 0.95


def test_sbe_options_and_cost():
    with pytest.raises(ValueError, match="warm_start='cold'"):
        make_rule("sbe", 8, 5, warm_start="cold")
    c = make_rule("sbe", 8, 5).cost()
    # 2 dot products + norm^2 of length 5, axpy 8; dot + norm^2 of 8, axpy 5; dot 5; 3 scalars
    assert c.macs_per_sample == (5 + 5 + 8) + (8 + 8 + 5) + 5 + 3
    assert (c.state_words, c.buffer_words) == (8 + 5 + 1, 0)
