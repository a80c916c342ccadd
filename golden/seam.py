"""The seam of the training loop: where a layer's update is computed and where its weights live.

:func:`golden.mlp.train` hands each layer's ``(x, delta)`` stream of a batch to an **update
engine** and the engine's result to a **weight applier**, then reads the weights back from the
applier before the network computes with them again::

    model.backward --> (l, xs_l, deltas_l) --> engine.update --> update_l
                                                                    |
    model.weights[l] <-- applier.weights(l) <-- applier.apply(l, update_l, lr) <--+

Any of the three calls may return an awaitable (an ``async def`` method): the co-simulated unit,
where one batch is ``await host.batch(...)`` inside a cocotb test, is an engine; a crossbar device
model that takes the rank-k factors as pulses and keeps its own conductances is an applier. Such
parts run under :func:`golden.mlp.train_async`, awaited from the event loop (asyncio or cocotb);
:func:`golden.mlp.train` drives the same loop synchronously (:func:`run_sync`) and refuses,
with a message saying so, a part that really suspends.

The float pair, :class:`RuleEngine` (one :class:`~golden.rules.base.UpdateRule` per layer) and
:class:`DenseApplier` (``W -= lr * update.matrix()`` on the model's own arrays), is the default.

Biases stay outside the seam: the loop applies their exact mean gradient itself (the crossbar
holds the weights; a bias is one column the periphery updates directly).
"""

from __future__ import annotations

from typing import Any, Awaitable, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["UpdateEngine", "WeightApplier", "RuleEngine", "DenseApplier", "run_sync"]


@runtime_checkable
class UpdateEngine(Protocol):
    """Turn one layer's batch stream into an update.

    ``update(layer, xs, deltas)`` receives the layer index ``layer`` (0 is the input layer), the
    layer's inputs ``xs`` of shape ``(B, n_in)`` and errors ``deltas`` of shape ``(B, n_out)``
    (float64, sample ``j`` in row ``j``, ``delta_j = dL_j / dy_j`` of that sample's own loss), and
    returns an update, or an awaitable of one. The loop calls it once per layer per batch, in
    layer order, all layers before any weight changes; an engine keeps its own state across
    batches (warm start).

    The update is what :class:`~golden.rules.base.UpdateRule.batch` returns: an object with
    ``matrix()``, the ``(n_out, n_in)`` approximation of the mean gradient
    ``mean_j delta_j x_j^T`` (the applier subtracts ``lr`` times it), and ``matrix_updates``, the
    outer-product applications it costs on the crossbar (counted in
    :class:`golden.mlp.History`). A low-rank update (:class:`~golden.rules.base.LowRankUpdate`)
    also has its factors ``sigma`` ``(k,)``, ``X`` ``(n_in, k)`` and ``Delta`` ``(n_out, k)``, with
    ``matrix() == Delta @ diag(sigma) @ X.T``, for appliers that pulse them.

    An engine may have a ``rules`` attribute, the golden rule of each layer: the loop passes it
    to ``on_batch`` and takes :attr:`golden.mlp.History.costs` from it (``[]`` without it).
    """

    def update(self, layer: int, xs: np.ndarray, deltas: np.ndarray) -> Any | Awaitable[Any]:
        ...


@runtime_checkable
class WeightApplier(Protocol):
    """Hold the layers' weights and apply updates to them.

    ``apply(layer, update, lr)`` changes layer ``layer``'s weights by ``-lr`` times the update
    (an engine's result, see :class:`UpdateEngine`), however the memory does it: in one dense
    step, as ``update.matrix_updates`` outer-product pulses, quantized to a device step, with
    noise. Its return value is ignored; it may return an awaitable.

    ``weights(layer)`` returns the layer's current ``(n_out, n_in)`` weights as the network
    must use them (or an awaitable of them). The applier is the source of truth: the loop reads
    every layer back into ``model.weights`` once before training and once after each batch's
    updates, and the forward pass, the evaluations and the divergence check use what it read.
    An applier that keeps its own state therefore starts from the weights it was built with; an
    applier that returns ``model.weights[layer]`` itself (:class:`DenseApplier`) is read without
    a copy.
    """

    def apply(self, layer: int, update: Any, lr: float) -> None | Awaitable[None]:
        ...

    def weights(self, layer: int) -> np.ndarray | Awaitable[np.ndarray]:
        ...


class RuleEngine:
    """The float engine: layer ``l``'s update is ``rules[l].batch(xs, deltas)``.

    Parameters
    ----------
    rules : sequence of UpdateRule
        One per layer, input layer first (:func:`golden.mlp.make_rules` builds them as
        :func:`golden.mlp.train` does).
    """

    def __init__(self, rules: Sequence):
        self.rules = list(rules)

    def update(self, layer: int, xs: np.ndarray, deltas: np.ndarray):
        return self.rules[layer].batch(xs, deltas)


class DenseApplier:
    """The float applier: ``model.weights[l] -= lr * update.matrix()``, on the model's arrays.

    The model is the source of truth; :meth:`weights` returns its arrays themselves.
    """

    def __init__(self, model):
        self._model = model

    def apply(self, layer: int, update, lr: float) -> None:
        self._model.weights[layer] -= lr * update.matrix()

    def weights(self, layer: int) -> np.ndarray:
        return self._model.weights[layer]


def run_sync(coro, what: str):
    """Run coroutine ``coro`` to its result without an event loop.

    ``RuntimeError`` (naming ``what``) if it suspends, that is, awaits something only an event
    loop can resume (``asyncio.sleep``, a cocotb trigger); awaitables that finish without
    suspending are fine.
    """
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError(f"{what} suspended, waiting for {yielded!r} from an event loop, which a "
                       f"synchronous train() does not have: await golden.mlp.train_async(...) "
                       f"from the event loop instead (asyncio.run(train_async(...)), or inside a "
                       f"cocotb test)")

