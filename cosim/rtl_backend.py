"""The ``rtl`` training backend: every layer's update from the co-simulated network top.

Inside a cocotb test (:mod:`cosim.tb_network`), per layer ``l`` and batch::

    (x, delta) --> rule.begin: scale, round --> raw words --> UpdateHost l: samples, batch
    network top, layer l: unit --> FACTOR --> driver --> pulses, captured slot by slot
    RtlApplier: captured pulses --> layer l's CrossbarArray (one update event per term)
    network <-- CrossbarArray.weights

The rule's golden fixed-point model is kept in step by the host (it takes the same batch), so
the loop's bookkeeping (``rule.end``) and, with ``check_against="fixed"``, the reference are
available: the ``fixed`` backend's chain (:class:`golden.train_backends.DriverApplier` on the
same rules, its own arrays with the same seeds) runs beside the RTL, and after every batch the
captured pulses must equal the driver model's and the two arrays' states (weights, device steps)
must be equal, word for word; the first difference stops the run
(:class:`golden.train_backends.CheckFailed`: layer, batch, term, slot, line, both values).

At a layer's first batch (when the rule fixes its input scales) the host loads the unit's start
state and sets the driver's run-time ``lr_shift`` to that of the layer's driver model
(:func:`golden.train_backends.layer_driver` for ``lr * 2**-(x_shift + d_shift)``); the design's
built-in constants (step constant, learning-rate multiplier, exponent base) must be that model's,
else ``ValueError`` names what the top was generated for.
"""

from __future__ import annotations

import numpy as np

from golden.mlp import make_rules
from golden.sbpca_unit import SBPCAUnitRule
from golden.train_backends import (Backend, CheckFailed, DriverApplier, TrainConfig,
                                   _rule_spec)

__all__ = ["RtlEngine", "RtlApplier", "build_rtl_backend", "check_top"]


def check_top(top, model, cfg: TrainConfig) -> None:
    """``ValueError`` (one line, naming the parameter) unless network top ``top`` was generated
    for ``model``'s layers and ``cfg``'s update parameters."""
    sizes = tuple(model.sizes)
    if tuple(top.sizes) != sizes:
        raise ValueError(f"sizes={','.join(map(str, sizes))}: the network top was generated "
                         f"for {','.join(map(str, top.sizes))}")
    ud = top.layers[0]
    if ud.k != cfg.k:
        raise ValueError(f"k={cfg.k}: the network top was generated for k={ud.k}")
    if ud.unit.b_max < cfg.batch:
        raise ValueError(f"batch={cfg.batch}: the network top takes batches up to "
                         f"{ud.unit.b_max}")
    if ud.model.bl != cfg.bl or ud.model.scheme != cfg.scheme:
        raise ValueError(f"bl={cfg.bl}, scheme={cfg.scheme!r}: the network top was generated "
                         f"for bl={ud.model.bl}, scheme={ud.model.scheme!r}")


class RtlEngine:
    """Update engine: layer ``l``'s batch through ``hosts[l]`` (an :class:`UpdateHost`); the
    captured update waits in :attr:`pending` for the applier."""

    def __init__(self, rules, hosts, applier: "RtlApplier"):
        self.rules, self.hosts, self.applier = list(rules), list(hosts), applier
        for layer, (rule, host) in enumerate(zip(self.rules, self.hosts)):
            if not isinstance(rule, SBPCAUnitRule) or host.model is not rule.model:
                raise ValueError(f"hosts[{layer}]: its model must be layer {layer}'s "
                                 f"fixed-point unit rule's model")
        self.pending = [None] * len(self.hosts)
        self.batches = [0] * len(self.hosts)
        self.unit_cycles = [0] * len(self.hosts)
        self._reset = False

    async def update(self, layer: int, xs, deltas):
        if not self._reset:                       # every layer's inputs low, one reset
            for host in self.hosts:
                await host.reset()
            self._reset = True
        rule, host = self.rules[layer], self.hosts[layer]
        first = rule.x_shift is None
        xq, dq = rule.begin(xs, deltas)
        if first:
            drv = self.applier.driver(layer)
            built = host.top.model
            if (built.gain_const, built.exponent - built.lr_shift) != \
                    (drv.gain_const, drv.exponent - drv.lr_shift):
                raise ValueError(f"lr={self.applier.lr!r}, dw_min={drv.dw_min!r}: the network "
                                 f"top's layer {layer} was generated for lr multiplier "
                                 f"{built.lr_mult} and dw_min={built.dw_min!r}")
            await host.set_lr_shift(drv.lr_shift)
            await host.load_model_state(rule.model)
        self.unit_cycles[layer] += await host.batch(xq, dq)
        self.pending[layer] = await host.update()
        self.batches[layer] += 1
        return rule.end()


class RtlApplier(DriverApplier):
    """Weight applier: the pulses the RTL put on layer ``l``'s lines into its array.

    The layer's driver model exists for its learning-rate split (and, with ``check``, drives the
    reference arrays: :attr:`reference`, a :class:`DriverApplier` on the same rules)."""

    def __init__(self, weights, rules, *, device: str, lr: float, bl: int, scheme: str,
                 seed: int, check: bool):
        super().__init__(weights, rules, device=device, lr=lr, bl=bl, scheme=scheme, seed=seed)
        self.engine = None
        self.reference = (DriverApplier(weights, rules, device=device, lr=lr, bl=bl,
                                        scheme=scheme, seed=seed) if check else None)
        self.cycles = [0] * len(self.arrays)
        self.clipped_lines = [0] * len(self.arrays)
        self.checked_batches = [0] * len(self.arrays)     # per layer

    def apply(self, layer: int, update, lr: float) -> None:
        if lr != self._lr:
            raise ValueError(f"lr={lr!r}: the driver was built for lr={self._lr!r}")
        upd = self.engine.pending[layer]
        self.engine.pending[layer] = None
        if upd is None:
            raise RuntimeError(f"layer {layer}: no captured update to apply")
        arr = self.arrays[layer]
        for rows, cols in upd.terms():
            arr.apply_pulses(rows, cols)
        arr.decay()
        self.cycles[layer] += upd.cycles
        self.readout_saturations[layer] += int(upd.saturated)
        self.clipped_lines[layer] += sum(upd.clip_lines)
        if self.reference is not None:
            self._check(layer, upd)

    def _check(self, layer: int, upd) -> None:
        ref = self.reference
        ref.apply(layer, None, self._lr)
        drive = ref.last_drive[layer]
        batch = self.engine.batches[layer] - 1
        where = {"layer": layer, "batch": batch}
        for r, term in enumerate(drive.terms):
            for side, got, want in (("row", upd.rows[r], term.row_pulses),
                                    ("column", upd.cols[r], term.col_pulses)):
                if not np.array_equal(got, want):
                    t, line = map(int, np.argwhere(got != want)[0])
                    raise CheckFailed(
                        f"check against fixed: layer {layer}, batch {batch}, term {r}, slot "
                        f"{t}, {side} line {line}: rtl pulse {int(got[t, line])}, fixed "
                        f"{int(want[t, line])}",
                        {**where, "term": r, "slot": t, "side": side, "line": line,
                         "rtl": int(got[t, line]), "fixed": int(want[t, line])})
        if upd.clip_lines and list(upd.clip_lines) != [t.plan.clipped_lines for t in drive.terms]:
            raise CheckFailed(f"check against fixed: layer {layer}, batch {batch}: clipped lines "
                              f"per term rtl {list(upd.clip_lines)}, fixed "
                              f"{[t.plan.clipped_lines for t in drive.terms]}",
                              {**where, "what": "clipped lines"})
        if upd.saturated != drive.readout_saturated:
            raise CheckFailed(f"check against fixed: layer {layer}, batch {batch}: readout "
                              f"saturated rtl {upd.saturated}, fixed {drive.readout_saturated}",
                              {**where, "what": "saturated"})
        a, b = self.arrays[layer], ref.arrays[layer]
        for what, x, y in (("weight", a.weights, b.weights),
                           ("device steps", a.device_steps, b.device_steps)):
            x, y = np.asarray(x), np.asarray(y)
            if not np.array_equal(x, y):
                i, j = map(int, np.argwhere(x != y)[0])
                raise CheckFailed(f"check against fixed: layer {layer}, batch {batch}: {what} "
                                  f"({i}, {j}): rtl {x[i, j]!r}, fixed {y[i, j]!r}",
                                  {**where, "what": what, "cell": [i, j],
                                   "rtl": float(x[i, j]), "fixed": float(y[i, j])})
        self.checked_batches[layer] += 1

    def driver_cycles(self) -> int:
        """Cycles from each batch's end to its ``update_done``, measured in simulation."""
        return sum(self.cycles)

    def driver_stats(self, layer: int) -> dict:
        drv = self.drivers[layer]
        if drv is None:
            return {}
        return {"cycles": self.cycles[layer], **self._driver_facts(layer),
                "clipped_lines": self.clipped_lines[layer],
                "unit_cycles": self.engine.unit_cycles[layer],
                "checked_batches": self.checked_batches[layer]}


def build_rtl_backend(model, cfg: TrainConfig, top, make_host) -> Backend:
    """The rtl backend for ``model`` on network top ``top``: ``make_host(layer, unit_driver,
    rule_model)`` returns layer ``layer``'s :class:`UpdateHost`."""
    check_top(top, model, cfg)
    rule, options = _rule_spec(cfg, "fixed")
    rules = make_rules(model, rule, rule_options=options, seed=cfg.seed)
    applier = RtlApplier(model.weights, rules, device=cfg.device, lr=cfg.lr, bl=cfg.bl,
                         scheme=cfg.scheme, seed=cfg.seed,
                         check=cfg.check_against == "fixed")
    hosts = [make_host(l, ud, rules[l].model) for l, ud in enumerate(top.layers)]
    engine = RtlEngine(rules, hosts, applier)
    applier.engine = engine
    return Backend("rtl", engine, applier, applier.arrays)
