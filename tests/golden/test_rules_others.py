"""Comparison baselines: RBD/FPD, PowerSGD, Co-occurring Directions, Gradient Clustering."""

import numpy as np
import pytest

from golden.rules import make_rule


def _batch(seed, B, n_in=7, n_out=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, n_in)), rng.normal(size=(B, n_out)) * np.r_[3.0, 2.0, 1.0, 0.3]


def _G(xs, ds):
    return sum(np.outer(d, x) for x, d in zip(xs, ds)) / len(xs)


# -- RBD / FPD -----------------------------------------------------------------------------------

def test_rbd_coordinates_are_projections_and_directions_are_redrawn():
    xs, ds = _batch(0, 10)
    G = _G(xs, ds)
    rule = make_rule("rbd", 7, 4, rng=np.random.default_rng(1), d=3)
    a, b = rule.batch(xs, ds), rule.batch(xs, ds)
    for up in (a, b):
        np.testing.assert_allclose(np.linalg.norm(up.X, axis=0), 1.0)
        c = [up.Delta[:, i] @ G @ up.X[:, i] for i in range(3)]
        np.testing.assert_allclose(up.sigma, c, atol=1e-12)
        assert up.matrix_updates == 3
    assert np.abs(a.X - b.X).max() > 0.1
    f = make_rule("fpd", 7, 4, rng=np.random.default_rng(1), d=3)
    np.testing.assert_array_equal(f.batch(xs, ds).X, f.batch(*_batch(2, 5)).X)


@pytest.mark.parametrize("basis", ["rank1", "dense"])
def test_rbd_unbiased_scale_averages_to_the_gradient(basis):
    xs, ds = _batch(3, 6)
    xs, ds = xs[:, :3], ds[:, :2]
    G = _G(xs, ds)
    rule = make_rule("rbd", 3, 2, rng=np.random.default_rng(4), d=2, basis=basis,
                     scale="unbiased")
    T = 20000
    mean = sum(rule.batch(xs, ds).matrix() for _ in range(T)) / T
    # the standard error of the mean is about ||G|| sqrt(D / (d T)) ~ 0.01 ||G||
    assert np.linalg.norm(mean - G) < 0.05 * np.linalg.norm(G)


def test_rbd_dense_update_is_sum_of_coordinate_times_direction():
    xs, ds = _batch(5, 8)
    rule = make_rule("rbd", 7, 4, rng=np.random.default_rng(6), d=2, basis="dense")
    up = rule.batch(xs, ds)
    phi = rule._dirs  # the directions just used
    expected = sum(np.sum(phi[i] * _G(xs, ds)) * phi[i] for i in range(2))
    np.testing.assert_allclose(up.matrix(), expected, atol=1e-12)
    assert up.matrix_updates == 4


# -- PowerSGD ------------------------------------------------------------------------------------

def test_powersgd_without_feedback_converges_to_top_k():
    xs, ds = _batch(7, 30)
    G = _G(xs, ds)
    rule = make_rule("powersgd", 7, 4, rng=np.random.default_rng(8), k=2, error_feedback=False)
    for _ in range(200):
        up = rule.batch(xs, ds)
    U, s, Vt = np.linalg.svd(G)
    np.testing.assert_allclose(up.matrix(), (U[:, :2] * s[:2]) @ Vt[:2], atol=1e-8)
    assert rule.cost(batch_size=30).buffer_words == 30 * 11


def test_powersgd_error_feedback_telescopes():
    """sum of the T updates + final error == sum of the T gradients (nothing is lost)."""
    rule = make_rule("powersgd", 7, 4, rng=np.random.default_rng(9), k=1)
    total_g, total_u = np.zeros((4, 7)), np.zeros((4, 7))
    for seed in range(5):
        xs, ds = _batch(seed, 9)
        total_g += _G(xs, ds)
        total_u += rule.batch(xs, ds).matrix()
    np.testing.assert_allclose(total_u + rule.error, total_g, atol=1e-12)


# -- Co-occurring Directions ---------------------------------------------------------------------

def test_fd_is_exact_while_the_sketch_has_room():
    xs, ds = _batch(10, 6)
    rule = make_rule("fd", 7, 4, k=2, ell=6)
    up = rule.batch(xs, ds)
    U, s, Vt = np.linalg.svd(_G(xs, ds))
    np.testing.assert_allclose(up.matrix(), (U[:, :2] * s[:2]) @ Vt[:2], atol=1e-12)
    assert rule.blocks_per_batch(6) == 0


@pytest.mark.parametrize("ell", [2, 4, 6])
def test_fd_sketch_error_bound(ell):
    xs, ds = _batch(11, 60)
    rule = make_rule("fd", 7, 4, k=1, ell=ell)
    Sd, Sx = rule.sketch(xs, ds)
    err = np.linalg.norm(ds.T @ xs - Sd @ Sx.T, 2)
    bound = 2 * np.linalg.norm(ds) * np.linalg.norm(xs) / ell
    assert err <= bound
    assert rule.cost().state_words == ell * 11


def test_fd_options():
    assert make_rule("fd", 7, 4, k=3).ell == 6
    with pytest.raises(ValueError, match="ell=3"):
        make_rule("fd", 7, 4, k=1, ell=3)
    with pytest.raises(ValueError, match="ell=2"):
        make_rule("fd", 7, 4, k=2, ell=2)


# -- Gradient Clustering -------------------------------------------------------------------------

def test_gc_assignment_is_nearest_rank1_centre():
    xs, ds = _batch(12, 25)
    rule = make_rule("gc", 7, 4, rng=np.random.default_rng(13), clusters=3)
    rule.batch(xs, ds)  # seeds and fits centres
    labels = rule.assign(xs, ds)
    for j in range(25):
        dist = [np.linalg.norm(np.outer(ds[j], xs[j]) - np.outer(rule.a[c], rule.b[c]))
                for c in range(3)]
        assert labels[j] == int(np.argmin(dist))


def test_gc_update_is_stratified_sample_and_centres_are_means():
    xs, ds = _batch(14, 30)
    rule = make_rule("gc", 7, 4, rng=np.random.default_rng(15), clusters=3)
    rule.batch(xs, ds)
    labels = rule.assign(xs, ds)  # centres that the next batch is assigned with
    up = rule.batch(xs, ds)
    used = [c for c in range(3) if np.any(labels == c)]
    np.testing.assert_allclose(up.sigma, [np.mean(labels == c) for c in used])
    for col, c in enumerate(used):
        members = np.flatnonzero(labels == c)
        assert any(np.array_equal(up.X[:, col], xs[j]) and np.array_equal(up.Delta[:, col], ds[j])
                   for j in members)
        np.testing.assert_allclose(rule.a[c], ds[members].mean(axis=0))
        np.testing.assert_allclose(rule.b[c], xs[members].mean(axis=0))


def test_gc_centres_estimate_and_options():
    xs, ds = _batch(16, 20)
    up = make_rule("gc", 7, 4, clusters=1, estimate="centres").batch(xs, ds)
    np.testing.assert_allclose(up.matrix(), np.outer(ds.mean(0), xs.mean(0)), atol=1e-12)
    for opts, match in ((dict(clusters=0), "clusters=0"), (dict(estimate="mean"),
                                                           "estimate='mean'")):
        with pytest.raises(ValueError, match=match):
            make_rule("gc", 7, 4, **opts)


@pytest.mark.parametrize("name, opts", [("rbd", dict(d=0)), ("rbd", dict(basis="sparse")),
                                        ("powersgd", dict(k=5))])
def test_bad_options(name, opts):
    key, value = next(iter(opts.items()))
    with pytest.raises(ValueError, match=f"{key}={value!r}"):
        make_rule(name, 7, 4, **opts)
