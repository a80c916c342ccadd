"""cocotb bench: train an MLP whose output layer's updates come from the co-simulated unit.

The generated unit is the output layer of ``digits -> SBPCA_TRAIN_HIDDEN -> 10``; the loop is
:func:`golden.mlp.train_async` with a :class:`cosim.unit_engine.UnitEngine` (the RTL for the
output layer, the golden fixed-point unit rule for the hidden layer). After every batch the
unit's state equals the model's word for word; at the end the network's weights must equal, bit
for bit, those of the same run trained by :func:`golden.mlp.train` on the golden rules alone.
``SBPCA_TRAIN_BATCHES`` limits the run to its first batches (Icarus is slow).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np

from golden.data import load_digits
from golden.mlp import MLP, make_rules, train, train_async
from golden.sbpca_unit import SBPCAUnitRule
from hdl.designs import get_design, unused
from .ports_cocotb import CocotbPorts
from .summary import record
from .unit_engine import UnitEngine
from .unit_host import UnitHost


class _Stop(Exception):
    pass


@cocotb.test()
async def train_through_the_unit(dut):
    with open(os.environ["SBPCA_DESIGN_JSON"]) as f:
        p = json.load(f)["parameters"]
    unit, _ = get_design("unit").build(**p)
    unused(unit)
    limit = int(os.environ.get("SBPCA_TRAIN_BATCHES", "0")) or None
    data = load_digits()
    sizes = (data.n_features, p["n_in"], data.n_classes)
    opts = dict(k=p["k"], width=p["width"], scalar_width=p["scalar_width"],
                schedule=p["schedule"], shift_s=p["shift_s"], ns_steps=p["ns_steps"],
                recip_steps=p["recip_steps"], b_max=p["b_max"])
    rule = lambda n_in, n_out, *, rng: SBPCAUnitRule(n_in, n_out, rng=rng, **opts)
    run = dict(lr=0.1, batch_size=p["b_max"], epochs=1, seed=3)

    def stopper():
        count = [0]

        def on_batch(*_):
            count[0] += 1
            if limit is not None and count[0] >= limit:
                raise _Stop
        return on_batch

    # the reference: the golden rules alone
    ref = MLP(sizes, seed=3)
    try:
        train(ref, data, rule, on_batch=stopper(), **run)
    except _Stop:
        pass

    net = MLP(sizes, seed=3)
    rules = make_rules(net, rule, seed=run["seed"])
    ports = CocotbPorts(dut)
    host = UnitHost(ports, unit, model=rules[1].model, rng=random.Random(1))
    ports.start_clock()
    await host.reset()
    engine = UnitEngine(rules, {1: host})
    try:
        await train_async(net, data, engine=engine, on_batch=stopper(), **run)
    except _Stop:
        pass
    for l, (w, w_ref) in enumerate(zip(net.weights + net.biases, ref.weights + ref.biases)):
        assert np.array_equal(w, w_ref), f"parameter {l}: training through the RTL differs"
    acc = net.accuracy(data.x_test, data.y_test)
    record("train", {"batches": engine.batches[1], "cycles": engine.cycles[1],
                     "test_accuracy": acc})
    dut._log.info("%d batches through the unit, %d cycles, test accuracy %.3f",
                  engine.batches[1], engine.cycles[1], acc)
