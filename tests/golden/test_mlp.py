"""The NumPy MLP: backprop against finite differences, training, counting, reproducibility."""

import numpy as np
import pytest

from golden.data import load_digits
from golden.mlp import MLP, train
from golden.rules.base import Cost, LowRankUpdate, UpdateRule


class ExactMean(UpdateRule):
    """Stand-in rule: the exact mean gradient as ``B`` outer products, ``matrix_updates = k``."""

    name = "exact"

    def __init__(self, n_in, n_out, *, rng, k=1):
        super().__init__(n_in, n_out, rng=rng)
        self.k = k
        self.batches = 0

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        self.batches += 1
        B = len(xs)
        return LowRankUpdate(np.full(B, 1.0 / B), xs.T, deltas.T, matrix_updates=self.k)

    def cost(self):
        return Cost(macs_per_sample=self.n_in * self.n_out, state_words=self.n_in * self.n_out)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# -- network -------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_backprop_matches_finite_differences(activation):
    rng = np.random.default_rng(1)
    model = MLP([6, 5, 4, 3], activation=activation, seed=2)
    x = rng.normal(size=(7, 6))
    y = rng.integers(0, 3, 7)
    loss, xs, deltas = model.backward(x, y)
    assert loss == pytest.approx(model.loss(x, y), rel=1e-12)
    eps = 1e-6
    for layer in range(3):
        grad_w = deltas[layer].T @ xs[layer] / len(x)
        grad_b = deltas[layer].mean(axis=0)
        for param, grad in ((model.weights[layer], grad_w), (model.biases[layer], grad_b)):
            numeric = np.zeros_like(param)
            for idx in np.ndindex(param.shape):
                keep = param[idx]
                param[idx] = keep + eps
                up = model.loss(x, y)
                param[idx] = keep - eps
                down = model.loss(x, y)
                param[idx] = keep
                numeric[idx] = (up - down) / (2 * eps)
            assert np.allclose(grad, numeric, atol=1e-7, rtol=1e-5), (layer, param.shape)


def test_init_is_seeded_and_scaled():
    a, b, c = MLP([784, 100, 10], seed=0), MLP([784, 100, 10], seed=0), MLP([784, 100, 10], seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a.params(), b.params()))
    assert not np.array_equal(a.weights[0], c.weights[0])
    assert a.weights[0].shape == (100, 784) and a.biases[1].shape == (10,)
    assert a.weights[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert MLP([784, 100, 10], activation="sigmoid").weights[0].std() == pytest.approx(
        np.sqrt(1 / 784), rel=0.02)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sizes=[5]), "sizes="), (dict(sizes=[5, 0, 3]), "sizes="),
    (dict(sizes=[5, 3], activation="tanh"), "activation='tanh'"),
])
def test_mlp_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(kwargs.pop("sizes"), **kwargs)


# -- training ------------------------------------------------------------------------------------

def test_training_with_exact_rule_learns_digits(digits):
    model = MLP([64, 32, 10], seed=0)
    chance = model.accuracy(digits.x_test, digits.y_test)
    hist = train(model, digits, ExactMean, lr=0.2, batch_size=16, epochs=5, seed=0)
    assert chance < 0.3
    assert hist.final["test_accuracy"] > 0.9
    assert hist.final["train_loss"] < hist.records[0]["train_loss"] / 5
    assert not hist.diverged and not hist.stopped


def test_matrix_updates_are_counted_per_layer(digits):
    data = digits.limit(100)
    hist = train(MLP([64, 8, 10]), data, ExactMean, rule_options={"k": 3}, lr=0.1,
                 batch_size=32, epochs=2, seed=0, evals_per_epoch=2)
    batches_per_epoch = 4  # 100 samples in batches of 32: 32, 32, 32, 4
    assert hist.final["matrix_updates_per_layer"] == [3 * 2 * batches_per_epoch] * 2
    assert hist.final["matrix_updates"] == 2 * 3 * 2 * batches_per_epoch
    assert [r["epoch"] for r in hist.records] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [r["samples"] for r in hist.records] == [0, 64, 100, 164, 200]
    assert hist.costs[0] == {"macs_per_sample": 64 * 8, "macs_per_block": 0.0,
                             "macs_per_batch": 0.0, "state_words": 64 * 8, "buffer_words": 0,
                             "memory_words": 64 * 8, "n_in": 64, "n_out": 8, "notes": {}}


def test_same_seed_gives_identical_runs(digits):
    data = digits.limit(300)
    runs = []
    for seed in (4, 4, 5):
        model = MLP([64, 16, 10], seed=seed)
        hist = train(model, data, ExactMean, lr=0.1, batch_size=8, epochs=1, seed=seed)
        runs.append((model.params(), hist.records))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
    assert runs[0][1] == runs[1][1]
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])


def test_rule_instances_are_fresh_and_warm_per_layer(digits):
    made = []

    def factory(n_in, n_out, *, rng):
        made.append(ExactMean(n_in, n_out, rng=rng))
        return made[-1]

    data = digits.limit(64)
    train(MLP([64, 8, 10]), data, factory, lr=0.1, batch_size=16, epochs=2, seed=0)
    train(MLP([64, 8, 10]), data, factory, lr=0.1, batch_size=16, epochs=2, seed=0)
    assert [(r.n_in, r.n_out, r.batches) for r in made] == [(64, 8, 8), (8, 10, 8)] * 2


def test_mbgd_rule_trains_like_the_exact_gradient(digits):
    """The registry's ``mbgd`` and the stand-in both apply the exact mean gradient."""
    data = digits.limit(200)
    a, b = MLP([64, 16, 10], seed=1), MLP([64, 16, 10], seed=1)
    train(a, data, ExactMean, lr=0.1, batch_size=20, epochs=1, seed=0)
    train(b, data, "mbgd", lr=0.1, batch_size=20, epochs=1, seed=0)
    assert all(np.allclose(u, v, atol=1e-10) for u, v in zip(a.params(), b.params()))


def test_stop_loss_and_divergence(digits):
    data = digits.limit(400)
    hist = train(MLP([64, 32, 10]), data, ExactMean, lr=0.3, batch_size=8, epochs=20, seed=0,
                 stop_loss=0.5)
    assert hist.stopped and hist.final["train_loss"] <= 0.5 < hist.records[-2]["train_loss"]
    assert hist.first_reaching(0.5) is hist.final and hist.first_reaching(1e-9) is None

    class Blows(ExactMean):
        def batch(self, xs, deltas):
            update = super().batch(xs, deltas)
            update.sigma *= np.inf if self.batches == 30 else 1.0
            return update

    hist = train(MLP([64, 32, 10]), data, Blows, lr=0.1, batch_size=8, epochs=3, seed=0)
    assert hist.diverged and not hist.stopped
    assert hist.final["epoch"] == 30 / 50 and hist.final["train_loss"] is None


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch=0"), (dict(lr=-1.0), "lr=-1.0"),
    (dict(sizes=[63, 10]), "sizes="),
])
def test_train_rejects_bad_parameters(digits, kwargs, match):
    model = MLP(kwargs.pop("sizes", [64, 10]))
    args = dict(lr=0.1, batch_size=4, epochs=1) | kwargs
    with pytest.raises(ValueError, match=match):
        train(model, digits, ExactMean, **args)
