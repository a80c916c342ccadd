"""A NumPy multilayer perceptron whose weight updates go through an update rule, one per layer.

The network is ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``: fully connected layers
``y = W x + b`` with ``W`` of shape ``(n_out, n_in)``, ReLU (or sigmoid) between them and a
softmax cross-entropy loss on the last one (784-100-10 ReLU in the SBE paper).

Training (:func:`train`) follows the papers' crossbar picture, with a seam (:mod:`golden.seam`)
where the hardware plugs in: an update engine turns each layer's stream into an update, a weight
applier applies it and is read back as the layer's weights::

    batch of B samples                            for each layer l
    x --forward--> logits --backward--> (x_j, delta_j), j = 1..B --> engine.update(l, xs, ds)
    ^                                                                        | update_l
    | W_l = applier.weights(l), read back after each batch                   v
    +------------------------------------------------ applier.apply(l, update_l, lr)
    b_l -= lr * mean_j delta_j          (exact: biases are not in the crossbar)

  default engine   :class:`~golden.seam.RuleEngine`:    update_l = rule_l.batch(xs, ds)
  default applier  :class:`~golden.seam.DenseApplier`:  W_l -= lr * update_l.matrix(), in place

* The loop is written once, as the coroutine :func:`train_async`: an engine or applier whose
  calls return awaitables (the co-simulated unit under cocotb, a crossbar device model) is
  awaited there, from the caller's event loop. :func:`train` runs the same coroutine without an
  event loop, which is enough for every part that never suspends.
* ``delta_j = dL_j / dy_j`` is the error of sample ``j`` alone (its own loss, not divided by
  ``B``), so the exact batch gradient of the mean loss is ``mean_j delta_j x_j^T``, which is what
  every rule approximates (see :mod:`golden.rules.base`).
* One rule instance per layer, created fresh for each run (:func:`make_rules`), kept across
  batches (warm start).
* Biases are updated with their exact mean gradient every batch: the crossbar holds the weights;
  a bias is one column of ``n_out`` words that the periphery can update directly. Bias updates
  are not counted as matrix updates.
* Matrix updates are counted as in the SBE paper: each applied update costs
  ``update.matrix_updates`` outer-product applications on its layer's crossbar (1 for a rank-1
  rule, k for rank k, B when every sample is applied separately). :class:`History` keeps the
  count per layer and the sum over layers; the count comes from the engine's updates, whatever
  the applier does with them.

Forward and backward passes are vectorized over the batch; the rules consume the per-sample
stream. Everything is seeded: initial weights from ``MLP(seed=...)``; sample order and the rules'
random state from ``train(seed=...)``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from golden.seam import DenseApplier, RuleEngine, UpdateEngine, WeightApplier, run_sync

from .check import check_choice, check_float, check_int

__all__ = ["MLP", "History", "train", "train_async", "make_rules", "ACTIVATIONS"]

ACTIVATIONS = ("relu", "sigmoid")


class MLP:
    """Fully connected network with softmax cross-entropy output.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, classes last; at least two entries.
    activation : {"relu", "sigmoid"}
        Hidden-layer nonlinearity (the output layer feeds the softmax directly).
    seed : int
        Initial weights: He normal (``std = sqrt(2 / n_in)``) for ReLU, ``std = sqrt(1 / n_in)``
        for sigmoid; biases start at zero.

    Attributes
    ----------
    weights : list of (n_out, n_in) float64 arrays
    biases : list of (n_out,) float64 arrays
    """

    def __init__(self, sizes, *, activation: str = "relu", seed: int = 0):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes={sizes}: need at least two positive layer widths")
        check_choice("activation", activation, ACTIVATIONS)
        self.sizes = tuple(sizes)
        self.activation = activation
        rng = np.random.default_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        self.weights = [rng.normal(0.0, np.sqrt(gain / n_in), (n_out, n_in))
                        for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros(n_out) for n_out in sizes[1:]]

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(n_in, n_out)`` of each layer, input layer first."""
        return list(zip(self.sizes[:-1], self.sizes[1:]))

    def _act(self, z):
        if self.activation == "relu":
            return np.maximum(z, 0.0)
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the sigmoid, without overflow in exp

    def _act_grad(self, a):
        """Derivative of the activation, written in terms of its output ``a``."""
        return (a > 0.0).astype(a.dtype) if self.activation == "relu" else a * (1.0 - a)

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Return the input of every layer (``(B, n_in)`` each) and the output logits ``(B, C)``."""
        inputs = []
        a = np.asarray(x, dtype=np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(a)
            z = a @ w.T + b
            a = z if i == len(self.weights) - 1 else self._act(z)
        return inputs, a

    def backward(self, x: np.ndarray, y: np.ndarray):
        """Forward and backward pass over a batch.

        Returns
        -------
        loss : float
            Mean cross-entropy over the batch.
        xs : list of (B, n_in) arrays
            Input activation ``x_j`` of each layer, per sample.
        deltas : list of (B, n_out) arrays
            Error ``delta_j = dL_j / dy_j`` of each layer's pre-activation output, per sample
            (gradient of that sample's own loss), so ``deltas[l].T @ xs[l] / B`` is the exact
            mean gradient of layer ``l``'s weights.
        """
        xs, logits = self.forward(x)
        p, loss = _softmax_xent(logits, y)
        delta = p
        delta[np.arange(len(y)), y] -= 1.0
        deltas = [delta]
        for layer in range(len(self.weights) - 1, 0, -1):
            delta = (delta @ self.weights[layer]) * self._act_grad(xs[layer])
            deltas.append(delta)
        return loss, xs, deltas[::-1]

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of the network on ``(x, y)``."""
        return _softmax_xent(self.forward(x)[1], y)[1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most likely class of each row of ``x``."""
        return np.argmax(self.forward(x)[1], axis=1)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Share of rows of ``x`` classified as ``y``."""
        return float(np.mean(self.predict(x) == y))

    def params(self) -> list[np.ndarray]:
        """Copies of all weights and biases (for comparing runs)."""
        return [p.copy() for p in self.weights + self.biases]


def _softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(len(y)), y]))
    return e / s, loss


@dataclass
class History:
    """What a training run measured.

    ``records`` holds one dict per evaluation point (after ``evals_per_epoch`` equal shares of
    each epoch, plus one before training) with keys ``epoch`` (float), ``samples``,
    ``matrix_updates`` (sum over layers, cumulative), ``matrix_updates_per_layer``,
    ``train_loss``, ``test_accuracy``, ``test_error``. A non-finite value is stored as ``None``.
    ``diverged`` is set when weights became non-finite (training stops there); ``stopped`` when
    ``stop_loss`` was reached. ``costs`` has each layer's ``rule.cost()`` as a dict (empty when
    the engine has no ``rules``).
    """

    records: list = field(default_factory=list)
    diverged: bool = False
    stopped: bool = False
    costs: list = field(default_factory=list)

    @property
    def final(self) -> dict:
        return self.records[-1]

    def first_reaching(self, loss: float) -> dict | None:
        """The first record whose training loss is at or below ``loss`` (None if none)."""
        for rec in self.records:
            if rec["train_loss"] is not None and rec["train_loss"] <= loss:
                return rec
        return None


def _rule_factory(rule, options):
    if callable(rule):
        return lambda n_in, n_out, rng: rule(n_in, n_out, rng=rng, **options)
    from golden.rules import make_rule

    return lambda n_in, n_out, rng: make_rule(rule, n_in, n_out, rng=rng, **options)


def _seeds(model, seed):
    """Seeds of the sample order (first) and of each layer's rule (the rest)."""
    return np.random.SeedSequence(seed).spawn(len(model.weights) + 1)


def make_rules(model: MLP, rule, *, rule_options: dict | None = None, seed: int = 0) -> list:
    """The update rule of each layer of ``model``, as :func:`train` makes them for ``seed``.

    ``rule`` and ``rule_options`` are :func:`train`'s; ``RuleEngine(make_rules(model, rule,
    seed=s))`` as ``engine=`` trains exactly as ``rule`` with ``seed=s`` does (a starting point
    for an engine that wraps the golden rules).
    """
    make = _rule_factory(rule, dict(rule_options or {}))
    return [make(n_in, n_out, np.random.default_rng(s))
            for (n_in, n_out), s in zip(model.layer_shapes, _seeds(model, seed)[1:])]


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None


def train(model: MLP, data, rule=None, *, rule_options: dict | None = None, lr: float,
          batch_size: int, epochs: int, seed: int = 0, evals_per_epoch: int = 1,
          stop_loss: float | None = None, progress: Callable[[int], None] | None = None,
          on_batch: Callable | None = None, engine: UpdateEngine | None = None,
          applier: WeightApplier | None = None) -> History:
    """Train ``model`` in place on ``data`` with one update rule per layer.

    Parameters
    ----------
    model : MLP
        Its first and last widths must match ``data.n_features`` and ``data.n_classes``.
    data : golden.data.Dataset
    rule : str or callable
        A name for :func:`golden.rules.make_rule`, or a factory
        ``rule(n_in, n_out, *, rng, **rule_options)`` returning an
        :class:`~golden.rules.base.UpdateRule`. Give either ``rule`` or ``engine``.
    rule_options : dict, optional
        Keyword options of the rule, the same for every layer.
    lr : float
        Learning rate: the applier applies ``-lr`` times each update (by default
        ``W -= lr * update.matrix()``); ``b -= lr * mean(delta)``.
    batch_size, epochs : int
        Samples per update; passes over the (reshuffled each epoch) training set. The last batch
        of an epoch is smaller when ``batch_size`` does not divide the training set.
    seed : int
        Sample order and the rules' random generators.
    evals_per_epoch : int
        Evaluation points per epoch (train loss on the whole training set, test accuracy).
    stop_loss : float, optional
        Stop at the first evaluation whose training loss is at or below this value.
    progress : callable, optional
        Called with the number of samples just processed, after every batch.
    on_batch : callable, optional
        Called as ``on_batch(step, xs, deltas, rules, updates)`` after each batch, before the
        weights change (for measurements inside a run); ``rules`` is the engine's ``rules``
        (``None`` if it has none).
    engine : golden.seam.UpdateEngine, optional
        Computes each layer's update instead of the rules (``rule`` must then be ``None``);
        :class:`~golden.seam.RuleEngine` over :func:`make_rules` by default.
    applier : golden.seam.WeightApplier, optional
        Applies the updates and holds the weights the network computes with;
        :class:`~golden.seam.DenseApplier` on ``model`` by default.

    Every call to the engine and the applier must finish without suspending: an engine or
    applier that awaits an event loop (the co-simulated unit under cocotb) needs
    :func:`train_async`; here it raises ``RuntimeError`` saying so.
    """
    parts = [f"{name}={type(obj).__name__}"
             for name, obj in (("engine", engine), ("applier", applier)) if obj is not None]
    what = "train(): the update engine or weight applier" + (f" ({', '.join(parts)})"
                                                              if parts else "")
    return run_sync(train_async(model, data, rule, rule_options=rule_options, lr=lr,
                                batch_size=batch_size, epochs=epochs, seed=seed,
                                evals_per_epoch=evals_per_epoch, stop_loss=stop_loss,
                                progress=progress, on_batch=on_batch, engine=engine,
                                applier=applier), what)


async def train_async(model: MLP, data, rule=None, *, rule_options: dict | None = None,
                      lr: float, batch_size: int, epochs: int, seed: int = 0,
                      evals_per_epoch: int = 1, stop_loss: float | None = None,
                      progress: Callable[[int], None] | None = None,
                      on_batch: Callable | None = None, engine: UpdateEngine | None = None,
                      applier: WeightApplier | None = None) -> History:
    """Train as :func:`train` does (same arguments, same result), awaiting the engine and the
    applier wherever they return awaitables.

    Await it from the event loop the engine or applier runs on: ``await train_async(...)`` in a
    cocotb test, ``asyncio.run(train_async(...))`` otherwise. Their awaited work runs under the
    caller's NumPy error state; the loop's own work ignores overflow (divergence is reported in
    :attr:`History.diverged`, not warned about).
    """
    n_train = len(data.y_train)
    if model.sizes[0] != data.n_features or model.sizes[-1] < data.n_classes:
        raise ValueError(f"sizes={list(model.sizes)}: data {data.name} has {data.n_features} "
                         f"features and {data.n_classes} classes")
    check_int("batch", batch_size, minimum=1)
    check_float("lr", lr, low=0.0, low_open=True)
    if (rule is None) == (engine is None):
        raise TypeError(f"rule={rule!r}, engine={engine!r}: give exactly one of them")
    # A class has its methods as attributes too, so the protocol check alone would accept one.
    if engine is not None and (isinstance(engine, type) or not isinstance(engine, UpdateEngine)):
        raise TypeError(f"engine={engine!r}: must be an object with an "
                        f"update(layer, xs, deltas) method")
    if applier is not None and (isinstance(applier, type)
                                or not isinstance(applier, WeightApplier)):
        raise TypeError(f"applier={applier!r}: must be an object with apply(layer, update, lr) "
                        f"and weights(layer) methods")
    if engine is None:
        engine = RuleEngine(make_rules(model, rule, rule_options=rule_options, seed=seed))
    rules = getattr(engine, "rules", None)
    applier = DenseApplier(model) if applier is None else applier
    order_rng = np.random.default_rng(_seeds(model, seed)[0])
    n_layers = len(model.weights)
    n_batches = -(-n_train // batch_size)
    eval_after = {round(n_batches * (i + 1) / evals_per_epoch) for i in range(evals_per_epoch)}
    hist = History()
    counts = [0] * n_layers
    samples = 0
    caller_errstate = np.geterr()

    async def call(method, *args):
        result = method(*args)
        if inspect.isawaitable(result):
            # While this waits, the event loop runs other tasks (under cocotb, in the same
            # contextvars context): they must not run with the loop's overflow warnings off.
            with np.errstate(**caller_errstate):
                result = await result
        return result

    async def read_weights():
        for layer, shape in enumerate(w.shape for w in model.weights):
            w = await call(applier.weights, layer)
            if w is not model.weights[layer]:
                w = np.array(w, dtype=np.float64)
                if w.shape != shape:
                    raise ValueError(f"applier.weights({layer}): shape {w.shape}, the layer "
                                     f"is {shape}")
                model.weights[layer] = w

    def evaluate(epoch):
        loss = model.loss(data.x_train, data.y_train)
        acc = model.accuracy(data.x_test, data.y_test)
        hist.records.append({"epoch": epoch, "samples": samples,
                             "matrix_updates": int(sum(counts)),
                             "matrix_updates_per_layer": list(counts),
                             "train_loss": _finite(loss), "test_accuracy": acc,
                             "test_error": 1.0 - acc})
        return loss

    await read_weights()
    evaluate(0.0)
    # A diverging rule is a result to report (``History.diverged``), not a warning to print.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step, (epoch, bi, idx) in enumerate(_batches(n_train, batch_size, epochs, order_rng)):
            _, xs, deltas = model.backward(data.x_train[idx], data.y_train[idx])
            updates = [await call(engine.update, layer, xs[layer], deltas[layer])
                       for layer in range(n_layers)]
            if on_batch is not None:
                on_batch(step, xs, deltas, rules, updates)
            for layer, (u, d) in enumerate(zip(updates, deltas)):
                await call(applier.apply, layer, u, lr)
                model.biases[layer] -= lr * d.mean(axis=0)
                counts[layer] += int(u.matrix_updates)
            await read_weights()
            samples += len(idx)
            if progress is not None:
                progress(len(idx))
            if not all(np.isfinite(w).all() for w in model.weights):
                hist.diverged = True
                evaluate(epoch + (bi + 1) / n_batches)
                break
            if bi + 1 in eval_after:
                loss = evaluate(epoch + (bi + 1) / n_batches)
                if stop_loss is not None and loss <= stop_loss:
                    hist.stopped = True
                    break
    hist.costs = [] if rules is None else [_cost_dict(r, batch_size) for r in rules]
    return hist


def _batches(n_train, batch_size, epochs, rng):
    """Yield ``(epoch, batch_index, sample_indices)``, reshuffling at each epoch."""
    for epoch in range(epochs):
        order = rng.permutation(n_train)
        for bi in range(0, -(-n_train // batch_size)):
            yield epoch, bi, order[bi * batch_size:(bi + 1) * batch_size]


def _cost_dict(rule, batch_size) -> dict:
    """``rule.cost()`` as a JSON-ready dict (for the batch size, if the rule's cost takes one)."""
    if "batch_size" in inspect.signature(rule.cost).parameters:
        c = rule.cost(batch_size=batch_size)
    else:
        c = rule.cost()
    return {"macs_per_sample": float(c.macs_per_sample), "macs_per_block": float(c.macs_per_block),
            "macs_per_batch": float(c.macs_per_batch), "state_words": int(c.state_words),
            "buffer_words": int(c.buffer_words), "memory_words": int(c.memory_words),
            "n_in": int(rule.n_in), "n_out": int(rule.n_out), "notes": dict(c.notes)}
