"""An update engine for the training loop (:mod:`golden.seam`) whose updates come from the RTL.

:class:`UnitEngine` wraps the per-layer golden rules of a training run
(:func:`golden.mlp.make_rules`); for each layer that has a :class:`cosim.unit_host.UnitHost`,
the layer's batch goes through the co-simulated unit instead of the rule's model alone::

    (x, delta) of layer l --> rule.begin: scale, round --> raw words --> await host.batch(...)
                                                                  \\--> rule.model.batch(...)
    update <-- rule.end <-- model state == unit state? (every word, after every batch)

The model and the unit see the same words; after each batch the unit's state is read out and
compared word for word with the model (:meth:`UnitHost.check_state`), so the update the loop
applies is the RTL's, proven equal to the model's. Layers without a host use their rule as is.
Await :func:`golden.mlp.train_async` with this engine from a cocotb test.
"""

from __future__ import annotations

__all__ = ["UnitEngine"]


class UnitEngine:
    """Update engine: layers in ``hosts`` computed by the co-simulated unit.

    Parameters
    ----------
    rules : list of UpdateRule
        One per layer (:func:`golden.mlp.make_rules`); the hosted layers' rules must be
        :class:`golden.sbpca_unit.SBPCAUnitRule` in ``"fixed"`` mode with the unit's parameters.
    hosts : dict
        ``{layer: UnitHost}``; each host's golden model must be its rule's model.
    """

    def __init__(self, rules, hosts: dict):
        self.rules = list(rules)
        self.hosts = dict(hosts)
        for layer, host in self.hosts.items():
            rule = self.rules[layer]
            if getattr(rule, "model", None) is not host.model or rule.model.mode != "fixed":
                raise ValueError(f"hosts[{layer}]: the host's model must be layer {layer}'s "
                                 f"fixed-point unit rule's model")
        self.batches = {layer: 0 for layer in self.hosts}
        self.cycles = {layer: 0 for layer in self.hosts}

    async def update(self, layer: int, xs, deltas):
        rule, host = self.rules[layer], self.hosts.get(layer)
        if host is None:
            return rule.batch(xs, deltas)
        first = rule.x_shift is None
        xq, dq = rule.begin(xs, deltas)
        if first:
            await host.load_model_state(rule.model)
        self.cycles[layer] += await host.batch(xq, dq)
        await host.check_state(f"layer {layer}, batch {self.batches[layer]}", backpressure=0.0)
        self.batches[layer] += 1
        return rule.end()
