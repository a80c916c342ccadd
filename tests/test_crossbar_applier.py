"""CrossbarApplier: update management, pulse trains, the expected weight change, dense counts,
the seam interface, and a short training run through the Idealized preset."""

import math
import re

import numpy as np
import pytest

from golden.crossbar import (CrossbarApplier, IdealDevice, PulsePlan, dense_counts, pulse_plan,
                             pulse_trains)
from golden.data import load_digits
from golden.mlp import MLP, train
from golden.rules.base import LowRankUpdate
from golden.seam import WeightApplier


def test_pulse_plan_by_hand():
    # lr x_amax d_amax / dw_min = 0.125 * 0.5 * 0.25 / 2**-10 = 16 slots (exact in binary)
    dw = 2.0 ** -10
    plan = pulse_plan(0.5, 0.25, 0.125, dw)
    assert plan.bl == 16
    a0 = math.sqrt(0.125 / (dw * 16))
    assert plan.a == pytest.approx(a0 * math.sqrt(0.5 / 0.25))
    assert plan.b == pytest.approx(a0 * math.sqrt(0.25 / 0.5))
    assert plan.bl * plan.a * plan.b == pytest.approx(0.125 / dw)
    assert plan.a * 0.25 == pytest.approx(plan.b * 0.5) == pytest.approx(1.0)   # balanced
    assert pulse_plan(0.5, 0.25, 0.125, dw, bl_management=False).bl == 31
    plain = pulse_plan(0.5, 0.25, 0.125, dw, bl_management=False, update_management=False)
    assert plain.a == plain.b == pytest.approx(math.sqrt(0.125 / (dw * 31)))
    assert pulse_plan(0.5, 0.25, 0.125, dw, bl=8).bl == 8            # capped at bl
    assert pulse_plan(1e-9, 1e-9, 0.125, dw).bl == 1                 # at least one slot
    with pytest.raises(ValueError, match=r"lr=0\.0: must be > 0\.0"):
        pulse_plan(1.0, 1.0, 0, 0.001)
    with pytest.raises(ValueError, match=r"dw_min=inf: must be finite"):
        pulse_plan(1.0, 1.0, 0.1, math.inf)
    with pytest.raises(TypeError, match=r"lr='0\.1': must be a number"):
        pulse_plan(1.0, 1.0, "0.1", 0.001)


def test_pulse_trains_frequencies_and_signs():
    rng = np.random.default_rng(0)
    d = np.array([0.5, -0.25, 0.0, 2.0])
    x = np.array([-1.0, 0.1, 0.4])
    plan = PulsePlan(bl=40000, a=1.0, b=1.5)
    rows, cols, clipped = pulse_trains(d, x, plan, rng)
    assert rows.shape == (40000, 4) and cols.shape == (40000, 3)
    assert clipped == 2                                   # d = 2.0 and x = -1.0 (p = 1.5)
    assert set(np.unique(rows[:, 0])) == {0, 1} and set(np.unique(rows[:, 1])) == {-1, 0}
    freq_r = np.abs(rows).mean(axis=0)
    freq_c = np.abs(cols).mean(axis=0)
    assert freq_r == pytest.approx([0.5, 0.25, 0.0, 1.0], abs=0.01)
    assert freq_c == pytest.approx([1.0, 0.15, 0.6], abs=0.01)


def low_rank(rng, n_out, n_in, sigma):
    k = len(sigma)
    delta = np.linalg.qr(rng.standard_normal((n_out, k)))[0]
    x = np.linalg.qr(rng.standard_normal((n_in, k)))[0]
    return LowRankUpdate(sigma=np.asarray(sigma, float), X=x, Delta=delta, matrix_updates=k)


def test_expected_change_is_minus_lr_times_the_update():
    """Ideal device: over seeds, the mean change is -lr sigma delta x^T (no probability clipped)."""
    upd = low_rank(np.random.default_rng(1), 5, 7, [1.0, 0.5])
    lr, dw = 0.005, 0.0002
    w0 = np.zeros((5, 7))
    changes = []
    for seed in range(300):
        app = CrossbarApplier([w0], device=IdealDevice(dw_min=dw), seed=seed)
        app.apply(0, upd, lr)
        assert app.stats()[0]["clipped_lines"] == 0
        changes.append(app.weights(0) - w0)
    mean = np.mean(changes, axis=0)
    expected = -lr * upd.matrix()
    # per cell and term the coincidence count has variance at most its mean lr |d x| / dw
    var = sum(lr * np.abs(np.outer(s * upd.Delta[:, t], upd.X[:, t])) / dw
              for t, s in enumerate(upd.sigma))
    z = (mean - expected) / (dw * np.sqrt(var / len(changes)) + 1e-12)
    assert np.abs(z).max() < 5
    # and it is a pulse-made change, not the float one: every change is a multiple of dw
    assert np.allclose(np.rint(changes[0] / dw), changes[0] / dw, atol=1e-9)


def test_clipped_probabilities_shrink_the_update():
    upd = low_rank(np.random.default_rng(2), 4, 6, [1.0])
    lr, dw = 5.0, 0.0002             # lr x d / dw far above 31: probabilities clipped at 1
    app = CrossbarApplier([np.zeros((4, 6))], device=IdealDevice(dw_min=dw), seed=0)
    app.apply(0, upd, lr)
    st = app.stats()[0]
    assert st["clipped_lines"] > 0 and st["slots"] == 31
    # at most one step per slot per cell
    assert np.abs(app.weights(0)).max() <= 31 * dw + 1e-12
    assert np.abs(app.weights(0)).max() < 0.1 * np.abs(lr * upd.matrix()).max()


def test_one_update_event_per_term_and_skipped_terms():
    upd = low_rank(np.random.default_rng(3), 4, 6, [1.0, 0.5, 0.0])
    app = CrossbarApplier([np.zeros((4, 6))], device="ideal", seed=0)
    app.apply(0, upd, 0.01)
    st = app.stats()[0]
    assert (st["update_events"], st["terms"], st["skipped_terms"]) == (2, 2, 1)
    assert st["slots"] == sum(pulse_plan(np.abs(upd.X[:, t]).max(),
                                         np.abs(s * upd.Delta[:, t]).max(), 0.01, 0.0002).bl
                              for t, s in enumerate(upd.sigma[:2]))


class Dense:
    """An update without factors."""

    def __init__(self, m):
        self.m = m
        self.matrix_updates = 1

    def matrix(self):
        return self.m


def test_dense_update_as_cell_counts():
    m = np.array([[0.1, -0.26, 0.0], [0.049, 0.051, -1.0]])
    lr, dw = 0.01, 0.001
    counts = dense_counts(m, lr, dw)
    # round(lr |m| / dw) = round(1, 2.6, 0, 0.49, 0.51, 10), signs opposite to m
    assert np.array_equal(counts, [[-1, 3, 0], [0, -1, 10]])
    app = CrossbarApplier([np.zeros((2, 3))], device=IdealDevice(dw_min=dw), seed=0)
    app.apply(0, Dense(m), lr)
    assert np.allclose(app.weights(0), counts * dw, atol=1e-15)
    st = app.stats()[0]
    assert (st["update_events"], st["dense_updates"], st["count_pulses"], st["slots"]) == \
        (1, 1, 15, 0)
    # the same through scheme="counts" for a low-rank update of that matrix
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    lr_upd = LowRankUpdate(sigma=s, X=vt.T, Delta=u, matrix_updates=2)
    app2 = CrossbarApplier([np.zeros((2, 3))], device=IdealDevice(dw_min=dw), scheme="counts")
    app2.apply(0, lr_upd, lr)
    assert np.allclose(app2.weights(0), counts * dw, atol=1e-15)


def test_stochastic_rounding_is_unbiased():
    m = np.full((50, 50), 0.37)
    rng = np.random.default_rng(0)
    counts = dense_counts(m, 1.0, 0.1, rounding="stochastic", rng=rng)
    assert set(np.unique(counts)) == {-4, -3}
    assert -counts.mean() == pytest.approx(3.7, abs=0.03)


def test_seam_interface_and_seeding():
    w = [np.random.default_rng(0).normal(0, 0.3, (4, 6)), np.zeros((2, 4))]
    upd = low_rank(np.random.default_rng(4), 4, 6, [0.8, 0.3])
    runs = []
    for seed in (1, 1, 2):
        app = CrossbarApplier(w, device="GokmenVlasov", seed=seed)
        assert isinstance(app, WeightApplier)
        app.apply(0, upd, 0.05)
        runs.append(app.weights(0))
    assert runs[0].tobytes() == runs[1].tobytes()
    assert not np.array_equal(runs[0], runs[2])
    app = CrossbarApplier(w, device="ideal")
    assert np.array_equal(app.weights(1), w[1])          # programmed with the initial weights
    app.weights(0)[0, 0] = 99.0                         # a copy: the array is not changed
    assert app.weights(0)[0, 0] == w[0][0, 0]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(scheme="rows"), ValueError, "scheme='rows': must be one of 'pulses', 'counts'"),
    (dict(bl=0), ValueError, "bl=0: must be at least 1"),
    (dict(bl=2.0), TypeError, r"bl=2\.0: must be an integer"),
    (dict(dense_rounding="up"), ValueError,
     "dense_rounding='up': must be one of 'nearest', 'stochastic'"),
    (dict(evaluation="fast"), ValueError, "evaluation='fast': must be one of 'steps', 'counts'"),
    (dict(evaluation="counts", device="EcRam"), ValueError,
     "evaluation='counts': device LinearStep"),
    (dict(seed=-1), ValueError, "seed=-1: must be at least 0"),
    (dict(seed="0"), TypeError, "seed='0': must be an integer"),
])
def test_applier_construction_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        CrossbarApplier([np.zeros((2, 2))], **kwargs)


def test_applier_weights_errors():
    with pytest.raises(ValueError, match=r"weights\[0\]\.shape=\(3,\): must be 2-D"):
        CrossbarApplier([np.zeros(3)])
    with pytest.raises(ValueError, match="weights: must hold at least one"):
        CrossbarApplier([])


def test_dense_counts_errors():
    with pytest.raises(ValueError, match="rounding='up': must be one of 'nearest', 'stochastic'"):
        dense_counts(np.zeros((2, 2)), 0.1, 0.01, rounding="up")
    with pytest.raises(ValueError, match="rng=None: must be a numpy Generator with "
                                         "rounding='stochastic'"):
        dense_counts(np.zeros((2, 2)), 0.1, 0.01, rounding="stochastic")


def test_applier_call_errors():
    app = CrossbarApplier([np.zeros((4, 6))], device="ideal")
    with pytest.raises(ValueError, match=r"lr=-0\.1: must be > 0\.0"):
        app.apply(0, low_rank(np.random.default_rng(0), 4, 6, [1.0]), -0.1)
    with pytest.raises(ValueError, match=re.escape(
            "update.X.shape=(4, 1), update.Delta.shape=(6, 1), update.sigma.shape=(1,): must be "
            "(6, k), (4, k), (k,) for layer 0's (4, 6) array")):
        app.apply(0, low_rank(np.random.default_rng(0), 6, 4, [1.0]), 0.1)


def test_mlp_learns_digits_through_the_idealized_crossbar():
    data = load_digits()
    model = MLP([64, 100, 10], seed=0)
    app = CrossbarApplier(model.weights, device="Idealized", seed=0)
    hist = train(model, data, "sbpca", rule_options={"k": 4}, lr=0.1, batch_size=16, epochs=2,
                 seed=0, applier=app)
    acc = hist.records[-1]["test_accuracy"]
    st = app.stats()
    print(f"digits 64-100-10, SBPCA k=4, batch 16, 2 epochs, Idealized crossbar: test accuracy "
          f"{acc:.3f}; layer 0: {st[0]['update_events']} update events, {st[0]['slots']} slots, "
          f"{st[0]['clipped_lines']} clipped lines, {st[0]['bound_hits']} bound hits")
    assert acc > 0.7                                     # chance is 0.1
    assert st[0]["update_events"] == st[0]["terms"] > 0
    assert np.array_equal(model.weights[0], app.weights(0))
