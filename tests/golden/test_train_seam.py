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
from golden.mlp import MLP, make_rules, train, train_async
from golden.rules import make_rule
from golden.seam import DenseApplier, RuleEngine
from test_mlp import ExactMean


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


def test_rule_engine_over_make_rules_is_the_default(digits):
    data = digits.limit(200)
    a, b = MLP([64, 12, 10], seed=2), MLP([64, 12, 10], seed=2)
    ha = train(a, data, "sbpca", rule_options={"k": 2}, lr=0.1, batch_size=16, epochs=1, seed=4)
    rules = make_rules(b, "sbpca", rule_options={"k": 2}, seed=4)
    hb = train(b, data, engine=RuleEngine(rules), applier=DenseApplier(b), lr=0.1,
               batch_size=16, epochs=1, seed=4)
    assert _same_params(a.params(), b.params())
    assert ha.records == hb.records and ha.costs == hb.costs


# -- (b) awaited engines and appliers: the same loop under an event loop ---------------------------

class SuspendingEngine:
    """The float rules behind an ``async`` update that yields to the event loop first."""

    def __init__(self, rules):
        self.rules = rules
        self.suspended = 0

    async def update(self, layer, xs, deltas):
        await asyncio.sleep(0)
        self.suspended += 1
        return self.rules[layer].batch(xs, deltas)


class SuspendingApplier(DenseApplier):
    """``W -= lr * M`` behind ``async`` methods that yield to the event loop first."""

    suspended = 0

    async def apply(self, layer, update, lr):
        await asyncio.sleep(0)
        self.suspended += 1
        super().apply(layer, update, lr)

    async def weights(self, layer):
        await asyncio.sleep(0)
        return super().weights(layer)


class HostEngine:
    """Like a co-simulation host: each batch is handed to a separate 'device' task through a
    queue, and the update is awaited from it (the pattern of ``await host.batch(...)``)."""

    def __init__(self, rules):
        self.rules = rules
        self.queue = asyncio.Queue()

    async def device(self):
        while True:
            layer, xs, deltas, done = await self.queue.get()
            await asyncio.sleep(0)  # the device takes time
            done.set_result(self.rules[layer].batch(xs, deltas))

    async def update(self, layer, xs, deltas):
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((layer, xs, deltas, done))
        return await done


SEAM_RUN = dict(rule_options={"k": 2}, lr=0.1, batch_size=16, epochs=2, seed=1,
                evals_per_epoch=2)


def _sync_reference(data):
    model = MLP([64, 12, 10], seed=3)
    hist = train(model, data, "sbpca", **SEAM_RUN)
    return model, hist


@pytest.mark.parametrize("engine_cls,applier_cls", [
    (SuspendingEngine, None), (None, SuspendingApplier), (SuspendingEngine, SuspendingApplier),
])
def test_awaited_engine_and_applier_give_the_sync_run(digits, engine_cls, applier_cls):
    data = digits.limit(200)
    ref, ref_hist = _sync_reference(data)
    model = MLP([64, 12, 10], seed=3)
    kw = dict(SEAM_RUN)
    engine = applier = None
    if engine_cls is not None:
        engine = engine_cls(make_rules(model, "sbpca", rule_options=kw.pop("rule_options"),
                                       seed=kw["seed"]))
    if applier_cls is not None:
        applier = applier_cls(model)
    rule = None if engine else "sbpca"
    hist = asyncio.run(train_async(model, data, rule, engine=engine, applier=applier, **kw))
    assert _same_params(model.params(), ref.params())
    assert hist.records == ref_hist.records and hist.costs == ref_hist.costs
    n_steps = 2 * 13  # 200 samples in batches of 16: 13 batches per epoch
    for part in (engine, applier):
        if part is not None:
            assert part.suspended == 2 * n_steps  # two layers, every batch


def test_train_async_next_to_a_device_task(digits):
    data = digits.limit(200)
    ref, ref_hist = _sync_reference(data)
    model = MLP([64, 12, 10], seed=3)
    kw = dict(SEAM_RUN)
    engine = HostEngine(make_rules(model, "sbpca", rule_options=kw.pop("rule_options"),
                                   seed=kw["seed"]))

    async def main():
        device = asyncio.create_task(engine.device())
        try:
            return await train_async(model, data, engine=engine, **kw)
        finally:
            device.cancel()

    hist = asyncio.run(main())
    assert _same_params(model.params(), ref.params()) and hist.records == ref_hist.records


def test_awaited_work_runs_under_the_callers_error_state(digits):
    """The loop ignores overflow in its own work, not in what it awaits (other tasks of a cocotb
    event loop share its contextvars context)."""
    seen = []

    class Probe(SuspendingEngine):
        def update(self, layer, xs, deltas):
            seen.append(("call", np.geterr()["over"]))
            return self._later(layer, xs, deltas)

        async def _later(self, layer, xs, deltas):
            await asyncio.sleep(0)
            seen.append(("awaited", np.geterr()["over"]))
            return self.rules[layer].batch(xs, deltas)

    data = digits.limit(16)
    model = MLP([64, 10])

    async def main():
        with np.errstate(over="raise"):
            await train_async(model, data, engine=Probe(make_rules(model, "mbgd")), lr=0.1,
                              batch_size=16, epochs=1)
        return np.geterr()["over"]

    outer = asyncio.run(main())
    assert seen == [("call", "ignore"), ("awaited", "raise")]
    assert outer == np.geterr()["over"]


# -- (c) a synchronous train refuses a part that suspends -----------------------------------------

@pytest.mark.parametrize("which", ["engine", "applier"])
def test_sync_train_refuses_a_suspending_part(digits, which):
    data = digits.limit(64)
    model = MLP([64, 8, 10])
    if which == "engine":
        kw = dict(engine=SuspendingEngine(make_rules(model, ExactMean)))
        name = "engine=SuspendingEngine"
    else:
        kw = dict(rule=ExactMean, applier=SuspendingApplier(model))
        name = "applier=SuspendingApplier"
    with pytest.raises(RuntimeError, match=rf"train\(\): .*\({name}\) suspended.*"
                                           rf"await golden\.mlp\.train_async"):
        train(model, data, lr=0.1, batch_size=16, epochs=1, **kw)


def test_sync_train_accepts_awaitables_that_do_not_suspend(digits):
    class AsyncButImmediate(SuspendingEngine):
        async def update(self, layer, xs, deltas):
            return self.rules[layer].batch(xs, deltas)

    data = digits.limit(200)
    ref, ref_hist = _sync_reference(data)
    model = MLP([64, 12, 10], seed=3)
    kw = dict(SEAM_RUN)
    engine = AsyncButImmediate(make_rules(model, "sbpca", rule_options=kw.pop("rule_options"),
                                          seed=kw["seed"]))
    hist = train(model, data, engine=engine, **kw)
    assert _same_params(model.params(), ref.params()) and hist.records == ref_hist.records


# -- (d) a crossbar-like applier holds the weights ------------------------------------------------

class PulsedCrossbar:
    """Test-only crossbar: its own weight copy, changed by one rank-1 pulse
    ``-lr sigma_r Delta_r X_r^T`` per factor of the update, each pulse rounded to ``step``
    (no rounding for ``step=0``); programmed at construction with ``weights`` rounded likewise."""

    def __init__(self, weights, step=0.0):
        self.step = step
        self.w = [self._quantize(np.array(w, dtype=np.float64)) for w in weights]
        self.pulses = [0] * len(self.w)

    def _quantize(self, a):
        return a if not self.step else self.step * np.round(a / self.step)

    def apply(self, layer, update, lr):
        for s, x, d in zip(update.sigma, update.X.T, update.Delta.T):
            self.w[layer] -= self._quantize(lr * s * np.outer(d, x))
            self.pulses[layer] += 1

    def weights(self, layer):
        return self.w[layer]


def test_crossbar_applier_trains_like_the_dense_one(digits):
    data = digits.limit(200)
    ref, ref_hist = _sync_reference(data)
    model = MLP([64, 12, 10], seed=3)
    xbar = PulsedCrossbar(model.weights)
    hist = train(model, data, "sbpca", applier=xbar, **SEAM_RUN)
    assert all(np.array_equal(w, x) and w is not x for w, x in zip(model.weights, xbar.w))
    assert all(np.allclose(u, v, rtol=0, atol=1e-12) for u, v in zip(model.params(),
                                                                     ref.params()))
    assert [r["samples"] for r in hist.records] == [r["samples"] for r in ref_hist.records]
    # (e) counts come from the updates: k = 2 per layer per batch, the crossbar's pulses
    assert hist.records == [r | {"train_loss": pytest.approx(r["train_loss"], rel=1e-9)}
                            for r in ref_hist.records]
    assert xbar.pulses == hist.final["matrix_updates_per_layer"] == [2 * 2 * 13] * 2


def test_crossbar_applier_is_the_source_of_truth(digits):
    step = 2.0 ** -10
    model = MLP([64, 32, 10], seed=0)
    xbar = PulsedCrossbar(model.weights, step=step)
    on_grid = MLP([64, 32, 10], seed=0)
    on_grid.weights = [w.copy() for w in xbar.w]
    for w in model.weights:
        w[...] = 0.0  # what the network held before is overwritten by the crossbar's weights
    hist = train(model, digits, "sbpca", rule_options={"k": 4}, applier=xbar, lr=0.2,
                 batch_size=16, epochs=3, seed=0)
    assert hist.records[0]["train_loss"] == on_grid.loss(digits.x_train, digits.y_train)
    for w, x in zip(model.weights, xbar.w):
        assert np.array_equal(w, x) and np.array_equal(w, step * np.round(w / step))
    assert hist.final["test_accuracy"] > 0.8 > hist.records[0]["test_accuracy"]
    assert xbar.pulses == hist.final["matrix_updates_per_layer"]


# -- (e) what the engine reports, and bad parts ---------------------------------------------------

def test_engine_without_rules(digits):
    class Bare:
        def __init__(self, rules):
            self._rules = rules

        def update(self, layer, xs, deltas):
            return self._rules[layer].batch(xs, deltas)

    data = digits.limit(64)
    model = MLP([64, 8, 10])
    seen = []
    hist = train(model, data, engine=Bare(make_rules(model, ExactMean, rule_options={"k": 3})),
                 lr=0.1, batch_size=16, epochs=1,
                 on_batch=lambda step, xs, ds, rules, ups: seen.append(rules))
    assert hist.costs == [] and seen == [None] * 4
    assert hist.final["matrix_updates_per_layer"] == [3 * 4, 3 * 4]


class WrongShape(DenseApplier):
    def weights(self, layer):
        return super().weights(layer).T


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(), TypeError, "rule=None, engine=None: give exactly one"),
    (dict(rule="mbgd", engine=RuleEngine([])), TypeError, "give exactly one"),
    (dict(engine=object()), TypeError, r"engine=<object .*update\(layer, xs, deltas\)"),
    (dict(rule="mbgd", applier=object()), TypeError, r"applier=<object .*weights\(layer\)"),
    (dict(engine=RuleEngine), TypeError, r"engine=<class .*must be an object"),
    (dict(rule="mbgd", applier=DenseApplier), TypeError, r"applier=<class .*must be an object"),
])
def test_train_rejects_bad_parts(digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        train(MLP([64, 10]), digits, lr=0.1, batch_size=4, epochs=1, **kwargs)


def test_applier_weights_of_the_wrong_shape(digits):
    model = MLP([64, 8, 10])
    with pytest.raises(ValueError, match=r"applier.weights\(0\): shape \(64, 8\), the layer is "
                                         r"\(8, 64\)"):
        train(model, digits, "mbgd", applier=WrongShape(model), lr=0.1, batch_size=4, epochs=1)
