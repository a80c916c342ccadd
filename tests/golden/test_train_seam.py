"""The training loop's seam: update engines and weight appliers, sync and awaited.

``ref_train`` below is the loop of ``golden.mlp.train`` as it was before the seam (commit
b529ba6), cut down to what changes results (no progress, no on_batch, no validation). At that
commit ``test_default_train_equals_the_old_loop`` was run against the then-current ``train`` and
passed, so the reference is the old behaviour; the same test now checks the seamed loop against it
bit for bit (``np.array_equal``, records compared with ``==``).
"""

import asyncio

import numpy as np
import pytest

from golden.data import load_digits
from golden.mlp import MLP, train
from golden.rules import make_rule
from tests.golden.test_mlp import ExactMean


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def ref_train(model, data, rule, *, rule_options=None, lr, batch_size, epochs, seed=0,
              evals_per_epoch=1, stop_loss=None):
    """The pre-seam loop: ``rule.batch`` per layer, then ``W -= lr * update.matrix()``."""
    options = dict(rule_options or {})
    if callable(rule):
        make = lambda n_in, n_out, rng: rule(n_in, n_out, rng=rng, **options)  # noqa: E731
    else:
        make = lambda n_in, n_out, rng: make_rule(rule, n_in, n_out, rng=rng,  # noqa: E731
                                                  **options)
    n_train = len(data.y_train)
    seeds = np.random.SeedSequence(seed).spawn(len(model.weights) + 1)
    order_rng = np.random.default_rng(seeds[0])
    rules = [make(n_in, n_out, np.random.default_rng(s))
             for (n_in, n_out), s in zip(model.layer_shapes, seeds[1:])]
    n_batches = -(-n_train // batch_size)
    eval_after = {round(n_batches * (i + 1) / evals_per_epoch) for i in range(evals_per_epoch)}
    records, counts, samples = [], [0] * len(rules), 0
    diverged = stopped = False

    def evaluate(epoch):
        loss = model.loss(data.x_train, data.y_train)
        acc = model.accuracy(data.x_test, data.y_test)
        records.append({"epoch": epoch, "samples": samples, "matrix_updates": int(sum(counts)),
                        "matrix_updates_per_layer": list(counts),
                        "train_loss": float(loss) if np.isfinite(loss) else None,
                        "test_accuracy": acc, "test_error": 1.0 - acc})
        return loss

    def batches():
        for epoch in range(epochs):
            order = order_rng.permutation(n_train)
            for bi in range(n_batches):
                yield epoch, bi, order[bi * batch_size:(bi + 1) * batch_size]

    evaluate(0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch, bi, idx in batches():
            _, xs, deltas = model.backward(data.x_train[idx], data.y_train[idx])
            updates = [r.batch(x, d) for r, x, d in zip(rules, xs, deltas)]
            for layer, (u, d) in enumerate(zip(updates, deltas)):
                model.weights[layer] -= lr * u.matrix()
                model.biases[layer] -= lr * d.mean(axis=0)
                counts[layer] += int(u.matrix_updates)
            samples += len(idx)
            if not all(np.isfinite(w).all() for w in model.weights):
                diverged = True
                evaluate(epoch + (bi + 1) / n_batches)
                break
            if bi + 1 in eval_after:
                loss = evaluate(epoch + (bi + 1) / n_batches)
                if stop_loss is not None and loss <= stop_loss:
                    stopped = True
                    break
    return records, diverged, stopped


class Blows(ExactMean):
    """Diverges at its 7th batch."""

    def batch(self, xs, deltas):
        update = super().batch(xs, deltas)
        update.sigma *= np.inf if self.batches == 7 else 1.0
        return update


OLD_CASES = {
    "exact-k2": dict(sizes=[64, 8, 10], rule=ExactMean, rule_options={"k": 2}, lr=0.1,
                     batch_size=32, epochs=2, evals_per_epoch=2, seed=3),
    "sbpca": dict(sizes=[64, 12, 10], rule="sbpca", rule_options={"k": 2}, lr=0.1,
                  batch_size=16, epochs=1, evals_per_epoch=3, seed=1),
    "sbe-sigmoid": dict(sizes=[64, 6, 5, 10], activation="sigmoid", rule="sbe", lr=0.2,
                        batch_size=10, epochs=1, seed=0),
    "stop": dict(sizes=[64, 16, 10], rule=ExactMean, lr=0.3, batch_size=8, epochs=20,
                 evals_per_epoch=4, stop_loss=0.8, seed=0),
    "diverge": dict(sizes=[64, 8, 10], rule=Blows, lr=0.1, batch_size=8, epochs=2, seed=0),
}


def _case(name):
    kw = dict(OLD_CASES[name])
    model = MLP(kw.pop("sizes"), activation=kw.pop("activation", "relu"), seed=5)
    return model, kw.pop("rule"), kw


def _same_params(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v, equal_nan=True) for u, v in zip(a, b))


# -- (a) the default engine and applier are the old loop, bit for bit -----------------------------

@pytest.mark.parametrize("name", sorted(OLD_CASES))
def test_default_train_equals_the_old_loop(digits, name):
    data = digits.limit(200)
    old, rule, kw = _case(name)
    records, diverged, stopped = ref_train(old, data, rule, **kw)
    new, rule, kw = _case(name)
    hist = train(new, data, rule, **kw)
    assert _same_params(old.params(), new.params())
    assert hist.records == records
    assert (hist.diverged, hist.stopped) == (diverged, stopped)
    assert diverged == (name == "diverge") and stopped == (name == "stop")
