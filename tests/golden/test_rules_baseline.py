"""SGD, MBGD and truncated-SVD rules against direct NumPy calculations, and the registry."""

import numpy as np
import pytest

from golden.rules import RULES, make_rule, rule_options


def _batch(rng, B, n_in, n_out):
    return rng.normal(size=(B, n_in)), rng.normal(size=(B, n_out))


def _sum_outer(xs, ds):
    """Mean of per-sample outer products, by an explicit loop (independent of the rules)."""
    G = np.zeros((ds.shape[1], xs.shape[1]))
    for x, d in zip(xs, ds):
        G += np.outer(d, x)
    return G / len(xs)


@pytest.mark.parametrize("B", [1, 3, 11])
def test_mbgd_is_mean_of_outer_products(B):
    rng = np.random.default_rng(B)
    xs, ds = _batch(rng, B, 6, 4)
    for count, expected in (("columnwise", 4), ("device", 1), ("outer", B)):
        up = make_rule("mbgd", 6, 4, count=count).batch(xs, ds)
        np.testing.assert_allclose(up.matrix(), _sum_outer(xs, ds), atol=1e-12)
        assert up.rank == min(B, 6, 4)
        assert up.matrix_updates == expected


def test_sgd_factors_are_the_samples():
    rng = np.random.default_rng(5)
    xs, ds = _batch(rng, 7, 5, 3)
    up = make_rule("sgd", 5, 3).batch(xs, ds)
    assert up.matrix_updates == 7
    np.testing.assert_array_equal(up.X[:, 2], xs[2])
    np.testing.assert_array_equal(up.Delta[:, 2], ds[2])
    np.testing.assert_allclose(up.matrix(), _sum_outer(xs, ds), atol=1e-12)


@pytest.mark.parametrize("k, B", [(1, 9), (2, 9), (3, 9), (2, 3), (3, 40)])
def test_svd_rule_equals_numpy_truncated_svd(k, B):
    rng = np.random.default_rng(k)
    xs, ds = _batch(rng, B, 6, 4)
    up = make_rule("svd", 6, 4, k=k).batch(xs, ds)
    U, s, Vt = np.linalg.svd(_sum_outer(xs, ds))
    np.testing.assert_allclose(up.sigma, s[:k], rtol=1e-12)
    np.testing.assert_allclose(up.matrix(), (U[:, :k] * s[:k]) @ Vt[:k], atol=1e-12)
    # factors equal NumPy's up to one sign per triplet
    for i in range(k):
        sign = np.sign(up.X[:, i] @ Vt[i])
        np.testing.assert_allclose(up.X[:, i] * sign, Vt[i], atol=1e-10)
        np.testing.assert_allclose(up.Delta[:, i] * sign, U[:, i], atol=1e-10)
    assert up.matrix_updates == k


def test_baseline_costs_by_hand():
    assert make_rule("mbgd", 6, 4).cost().macs_per_sample == 24
    assert make_rule("mbgd", 6, 4).cost().state_words == 24
    assert make_rule("sgd", 6, 4).cost().memory_words == 0
    c = make_rule("svd", 6, 4, k=2).cost()
    assert c.state_words == 24 + 2 * (6 + 4 + 1)
    assert c.macs_per_batch == (14 * 6 * 16 + 8 * 64) / 2


@pytest.mark.parametrize("name, options, match", [
    ("nope", {}, "name='nope'"),
    ("svd", {"k": 0}, "k=0"),
    ("svd", {"k": 5}, "k=5"),
    ("mbgd", {"count": "all"}, "count='all'"),
    ("sgd", {"k": 1}, "k=1"),
])
def test_bad_options_name_option_and_value(name, options, match):
    with pytest.raises(ValueError, match=match) as info:
        make_rule(name, 6, 4, **options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name, options, match", [
    ("svd", {"k": 1.5}, "k=1.5: must be an integer"),
    ("powersgd", {"error_feedback": "yes"}, "error_feedback='yes': must be True or False"),
    ("sbpca", {"norm": "ns", "prescale": 1}, "prescale=1: must be True or False"),
    ("sbpca", {"sigma0": "1"}, "sigma0='1': must be a number"),
])
def test_options_of_the_wrong_type_raise_type_error(name, options, match):
    with pytest.raises(TypeError, match=match) as info:
        make_rule(name, 6, 4, **options)
    assert "\n" not in str(info.value)


def test_registry_options_are_introspectable():
    assert set(RULES) >= {"sgd", "mbgd", "svd"}
    assert rule_options("svd") == {"k": 1}


def test_bad_batch_shape_rejected():
    with pytest.raises(ValueError, match="xs"):
        make_rule("svd", 6, 4).batch(np.zeros((3, 5)), np.zeros((3, 4)))
