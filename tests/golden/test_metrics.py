"""Gradient-approximation metrics against hand-made cases and closed forms."""

import json

import numpy as np
import pytest

from golden.metrics import (average_variance, batch_metrics, cosine_similarity, error_ratio,
                            memory_words, normalized_variance, optimal_error,
                            orthonormality_error, relative_error, sg_draws,
                            singular_value_errors, singular_vector_errors, stratified_draws,
                            total_macs)
from golden.rules import LowRankUpdate, make_rule


def _diag_G():
    """G = diag(3, 2, 1) padded to 3 x 4: singular triplets are the unit axes."""
    G = np.zeros((3, 4))
    G[0, 0], G[1, 1], G[2, 2] = 3.0, 2.0, 1.0
    return G


def _up(sigma, X, D):
    return LowRankUpdate(np.asarray(sigma, float), np.asarray(X, float), np.asarray(D, float), 1)


def test_relative_and_optimal_error_by_hand():
    G = _diag_G()
    e = np.eye(4)[:, :1], np.eye(3)[:, :1]
    up = _up([3.0], *e)                                   # the best rank-1 part
    assert relative_error(up, G) == pytest.approx(np.sqrt(5) / np.sqrt(14))
    assert optimal_error(G, 1) == pytest.approx(np.sqrt(5 / 14))
    assert optimal_error(G, 3) == 0.0
    assert error_ratio(up, G) == pytest.approx(1.0)
    worse = _up([2.0], *e)
    assert error_ratio(worse, G) == pytest.approx(np.sqrt(6) / np.sqrt(5))
    assert relative_error(np.zeros((3, 4)), np.zeros((3, 4))) == 0.0
    assert relative_error(G, np.zeros((3, 4))) == float("inf")


def test_error_ratio_in_the_exact_rank_case():
    G = np.outer([1.0, 2.0, 0.0], [0.0, 1.0, 1.0, 0.0])  # rank 1: optimal error 0
    U, s, Vt = np.linalg.svd(G)
    exact = _up(s[:1], Vt[:1].T, U[:, :1])
    assert error_ratio(exact, G) == 1.0
    assert error_ratio(_up(s[:1] * 0.9, Vt[:1].T, U[:, :1]), G) == float("inf")
    with pytest.raises(ValueError, match="k=None"):
        error_ratio(G, G)
    assert error_ratio(G, G, k=1) == 1.0


def test_error_ratio_is_at_least_one_for_random_rank_k():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(5, 6))
    for _ in range(20):
        up = LowRankUpdate(rng.normal(size=2), rng.normal(size=(6, 2)), rng.normal(size=(5, 2)), 2)
        assert error_ratio(up, G) >= 1.0


def test_cosine_similarity():
    G = _diag_G()
    assert cosine_similarity(2 * G, G) == pytest.approx(1.0)
    assert cosine_similarity(-G, G) == pytest.approx(-1.0)
    assert cosine_similarity(_up([1.0], np.eye(4)[:, :1], np.eye(3)[:, :1]), G) == \
        pytest.approx(3 / np.sqrt(14))
    assert cosine_similarity(np.zeros((3, 4)), G) == 0.0


def test_sbe_paper_singular_vector_and_value_errors():
    G = _diag_G()
    theta = 0.3
    X = np.array([[np.cos(theta)], [np.sin(theta)], [0], [0]]) * 5.0  # not normalized
    D = -np.eye(3)[:, :1]                                              # anti-parallel: no error
    ex, ed = singular_vector_errors(_up([0.6], X, D), G)
    assert ex[0] == pytest.approx(1 - np.cos(theta))
    assert ed[0] == pytest.approx(0.0)
    # sigma_est = 0.6 * ||X|| * ||D|| = 3.0 = sigma_1: no error; 6.0 -> |1 - 3/6| = 0.5
    assert singular_value_errors(_up([0.6], X, D), G)[0] == pytest.approx(0.0)
    assert singular_value_errors(_up([1.2], X, D), G)[0] == pytest.approx(0.5)
    assert singular_value_errors(_up([0.3], X, D), G, signed=True)[0] == pytest.approx(-1.0)


def test_orthonormality_error():
    assert orthonormality_error(np.eye(4)[:, :2]) == 0.0
    assert orthonormality_error(np.array([[2.0], [0.0]])) == pytest.approx(3.0)


def test_memory_and_total_macs_of_a_rule():
    rule = make_rule("sbpca", 5, 3, k=2, block=4)
    c = rule.cost()
    assert memory_words(rule) == c.state_words + c.buffer_words
    assert total_macs(rule, 10) == c.macs_per_sample * 10 + c.macs_per_block * 3
    assert total_macs(make_rule("mbgd", 5, 3), 7) == 15 * 7
    assert memory_words(make_rule("sbpca", 5, 3, schedule="sbpcav"), batch_size=10) == \
        make_rule("sbpca", 5, 3, schedule="sbpcav").cost(batch_size=10).memory_words


def test_sg_variance_matches_sampling_without_replacement():
    rng = np.random.default_rng(1)
    N, B = 40, 5
    xs, ds = rng.normal(size=(N, 3)), rng.normal(size=(N, 2))
    g = np.einsum("ni,nj->nij", ds, xs)
    mean = g.mean(0)
    per_coord = g.var(0)  # population variance (ddof=0)
    expected = np.mean(per_coord) / B * (N - B) / (N - 1)
    v1 = average_variance(sg_draws(xs, ds, B, 8000, rng), mean)
    v2 = average_variance(sg_draws(xs, ds, 2 * B, 8000, rng), mean)
    assert v1 == pytest.approx(expected, rel=0.05)
    assert v2 == pytest.approx(np.mean(per_coord) / (2 * B) * (N - 2 * B) / (N - 1), rel=0.05)
    nv = normalized_variance(sg_draws(xs, ds, B, 8000, rng), mean)
    assert nv == pytest.approx(expected * mean.size / np.sum(mean ** 2), rel=0.05)


def test_gc_stratified_sampling_removes_duplicate_variance():
    """Four distinct gradients, each duplicated: GC with 4 clusters has zero variance."""
    rng = np.random.default_rng(2)
    base_x, base_d = rng.normal(size=(4, 3)), rng.normal(size=(4, 2)) * 3
    reps = np.repeat(np.arange(4), [10, 5, 3, 2])
    xs, ds = base_x[reps], base_d[reps]
    mean = np.einsum("ni,nj->ij", ds, xs) / len(xs)
    rule = make_rule("gc", 3, 2, rng=np.random.default_rng(3), clusters=4)
    for _ in range(3):
        rule.batch(xs, ds)
    labels = rule.assign(xs, ds)
    gc = stratified_draws(xs, ds, labels, 200, rng)
    np.testing.assert_allclose(gc.mean(0), mean, atol=1e-12)
    assert average_variance(gc, mean) < 1e-20
    assert average_variance(sg_draws(xs, ds, 8, 200, rng), mean) > 1e-3


def test_average_variance_without_mean_uses_sample_variance():
    est = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    assert average_variance(est) == pytest.approx((4.0 + 0.0) / 2)
    assert average_variance(est, mean=np.array([3.0, 2.0])) == pytest.approx((8 / 3) / 2)
    assert normalized_variance(est, np.zeros(2)) == float("inf")


def test_batch_metrics_is_json_serializable():
    rng = np.random.default_rng(4)
    xs, ds = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
    up = make_rule("svd", 5, 3, k=2).batch(xs, ds)
    m = batch_metrics(up, xs, ds)
    json.dumps(m)
    assert m["error_ratio"] == pytest.approx(1.0)
    assert max(m["sv_error_X"]) < 1e-12 and m["orth_error_X"] < 1e-12
