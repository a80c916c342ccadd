"""cocotb bench of the streaming-PCA unit (``hdl.sbpca_unit.SBPCAUnit``) against the golden model.

The golden model is :class:`golden.sbpca_unit.SBPCAUnitModel` in fixed point, built with the
unit's own parameters; every compared word is compared as an integer.

``batches_match_golden``
    1. A random orthonormal start state goes in (``kxk_in`` with ``load``, then every row on
       ``load_rows`` with random idle cycles).
    2. Invalid batch sizes (0, and ``b_max + 1`` where the port can carry it) raise ``error``
       and ``done`` without touching the state (checked by a readout).
    3. The batches of ``SBPCA_UNIT_BATCHES`` (comma-separated sizes) from stream
       ``SBPCA_UNIT_STREAM`` (:mod:`cosim.unit_cases`) run one after the other on the stored
       state (warm start), with random idle cycles on ``samples`` (probability
       ``SBPCA_UNIT_IDLE``, default 0.3) and random backpressure on ``rows_o`` at readout. After
       each batch every stored row, the k x k state and the overflow flag are compared.
    4. Two batches (1 and ``min(2, b_max)`` samples) without idle cycles measure the steady
       state: their cycle difference must be ``SBPCAUnit.cycles_per_sample`` per extra sample.
``reset_mid_batch``
    A batch is interrupted by reset in the middle of a sample; the unit must come back idle, take
    a new start state and run a batch that matches the golden model from that state.

The summary (``SBPCA_SUMMARY``) records each batch's size and cycles and the steady-state
figures, for ``sbpca bench unit``.
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np

from hdl.designs import get_design, unused
from .ports_cocotb import CocotbPorts
from .summary import record
from .unit_cases import bench_case, load_start, make_stream, parse_batches, start_state
from .unit_host import UnitHost

PERIOD_NS = 10


def _unit():
    with open(os.environ["SBPCA_DESIGN_JSON"]) as f:
        doc = json.load(f)
    unit, _ = get_design(doc["design"]).build(**doc["parameters"])
    return unused(unit)


async def _start(dut, unit, seed, idle) -> UnitHost:
    ports = CocotbPorts(dut, period_ns=PERIOD_NS)
    host = UnitHost(ports, unit, rng=random.Random(seed), idle=idle, backpressure=0.3)
    ports.start_clock()
    await host.reset()
    return host


@cocotb.test()
async def batches_match_golden(dut):
    unit = _unit()
    seed = int(os.environ.get("SBPCA_SEED", "1"))
    kind = os.environ.get("SBPCA_UNIT_STREAM", "random")
    idle = float(os.environ.get("SBPCA_UNIT_IDLE", "0.3"))
    sizes = parse_batches(os.environ.get("SBPCA_UNIT_BATCHES", f"1,{unit.b_max},3"), unit.b_max,
                          name="SBPCA_UNIT_BATCHES")
    dut._log.info("seed %d, stream %s, batches %s, (%d, %d) k %d lanes %d words %d", seed, kind,
                  sizes, unit.n_in, unit.n_out, unit.k, unit.lanes, unit.words)
    t = time.perf_counter()
    stream, timing_stream, start = bench_case(unit, kind, sizes, seed)
    stream_seconds = time.perf_counter() - t
    host = await _start(dut, unit, seed, idle)
    load_start(host.model, kind, start)         # the stream's start state and transforms
    await host.load_model_state(host.model)

    await host.invalid_batch(0)
    if unit.b_max + 1 < 1 << len(dut.batch__payload):
        await host.invalid_batch(unit.b_max + 1)
    await host.check_state("after invalid batches")

    records = []
    for b, (xs, ds) in enumerate(stream):
        beats = host.beats(xs, ds)
        t = time.perf_counter()
        cycles = await host.batch(xs, ds, beats=beats, model=False)
        seconds = time.perf_counter() - t
        host.model.batch(xs, ds)
        await host.check_state(f"batch {b} (B={len(xs)}, {kind})")
        records.append({"B": len(xs), "cycles": cycles, "idle": idle, "seconds": seconds,
                        "overflow": bool(host.model.overflow)})
        dut._log.info("batch %d: B=%d, %d cycles, overflow %s", b, len(xs), cycles,
                      host.model.overflow)

    timed = []
    for xs, ds in timing_stream:
        timed.append(await host.batch(xs, ds, idle=0))
        records.append({"B": len(xs), "cycles": timed[-1], "idle": 0.0,
                        "overflow": bool(host.model.overflow)})
    await host.check_state("after the timing batches")
    extra = len(timing_stream[1][0]) - len(timing_stream[0][0])
    per_sample = (timed[1] - timed[0]) / extra if extra else None
    record("batches", records)
    useful = unit.useful_macs_per_sample
    record("steady", {"cycles_per_sample": per_sample, "first_sample_cycles": timed[0],
                      "predicted_cycles_per_sample": unit.cycles_per_sample,
                      "useful_macs_per_sample": useful, "lanes": unit.lanes,
                      "lane_utilization": (useful / (unit.lanes * per_sample)
                                           if per_sample else None),
                      "memory": unit.memory_words(),
                      "samples": sum(r["B"] for r in records)})
    record("seconds", {"stream": stream_seconds,
                       "batches": sum(r["seconds"] for r in records if "seconds" in r)})
    if extra:
        assert timed[1] - timed[0] == extra * unit.cycles_per_sample, (
            f"steady state: {timed[1] - timed[0]} cycles for {extra} samples, "
            f"predicted {extra} x {unit.cycles_per_sample}")


@cocotb.test()
async def reset_mid_batch(dut):
    unit = _unit()
    seed = int(os.environ.get("SBPCA_SEED", "1")) + 101
    rng = np.random.default_rng(seed)
    host = await _start(dut, unit, seed, 0.2)
    ports = host.ports
    await host.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))
    B = min(2, unit.b_max)
    (xs, ds), (xs2, ds2) = make_stream("random", unit.formats, unit.n_in, unit.n_out, [B, B], rng)
    sender = cocotb.start_soon(ports.send("samples", host.beats(xs, ds), lambda: 0))
    await host.start_batch(B)
    await ports.cycles(unit.cycles_per_sample // 2 + 3 * unit.n_in // unit.words)
    await ports.settle()
    assert ports.get("busy"), "the batch ended before the reset"
    await ports.cycles(1)
    sender.cancel()
    await host.reset()
    await ports.settle()
    for name in ("busy", "done", "error", "overflow", "rows_o__valid"):
        assert not ports.get(name), f"{name} high after reset"
    assert ports.get("batch__ready"), "batch not ready after reset"
    await ports.cycles(1)
    await host.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))
    await host.batch(xs2, ds2)
    await host.check_state("batch after reset")
