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

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

from hdl.designs import get_design, unused
from .scoreboard import compare_words
from .stream import StreamSink, StreamSource, never, pack_words, random_gaps, unpack_words
from .summary import record
from .unit_cases import make_stream, parse_batches, start_state

PERIOD_NS = 10


def _unit():
    with open(os.environ["SBPCA_DESIGN_JSON"]) as f:
        doc = json.load(f)
    unit, _ = get_design(doc["design"]).build(**doc["parameters"])
    return unused(unit)


def _now() -> int:
    return int(get_sim_time(unit="ns")) // PERIOD_NS


async def _start(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    for sig in (dut.samples__valid, dut.batch__valid, dut.load, dut.load_rows__valid,
                dut.readout, dut.rows_o__ready, dut.kxk_in, dut.samples__payload,
                dut.batch__payload, dut.load_rows__payload):
        sig.value = 0
    await reset(dut)


async def reset(dut, cycles=3):
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def wait_idle(dut, limit=1_000_000):
    for _ in range(limit):
        await ReadOnly()
        if not int(dut.busy.value):
            await RisingEdge(dut.clk)
            return
        await RisingEdge(dut.clk)
    raise AssertionError("unit stayed busy")


class Host:
    """Drives one unit and keeps its golden model in step."""

    def __init__(self, dut, unit, gaps: random.Random, idle: float):
        self.dut, self.unit, self.gaps = dut, unit, gaps
        self.model = unit.model
        self.layout = unit.kxk_engine.state_layout
        self.vw = unit.formats.vec.width
        self.xw = unit.formats.x.width
        self.idle = idle

    # -- state in and out ---------------------------------------------------------------------

    async def load(self, X0, D0, sigma0):
        dut, m, k = self.dut, self.model, self.unit.k
        m.load(X0, D0, sigma0)
        (ax, Tx), (ad, Td) = m.x_side, m.d_side
        tri = lambda T: [[int(T[i, j]) if j >= i else 0 for j in range(k)] for i in range(k)]
        dut.kxk_in.value = self.layout.const({
            "Tx": tri(Tx), "Td": tri(Td), "ax": [int(v) for v in ax],
            "ad": [int(v) for v in ad], "sigma": [int(v) for v in m.sigma],
            "r": [int(v) for v in m.r]}).as_bits()
        dut.load.value = 1
        await RisingEdge(dut.clk)
        dut.load.value = 0
        src = StreamSource(dut, "load_rows", dut.clk, idle=random_gaps(self.idle, self.gaps))
        src.send(pack_words(row, self.vw) for row in np.concatenate([m.Xs, m.Ds]))
        while not src.idle:
            await RisingEdge(dut.clk)
        src.stop()
        await wait_idle(dut)
        await ReadOnly()
        assert not int(dut.overflow.value), "overflow set after load"
        assert not int(dut.error.value), "error set after load"
        await RisingEdge(dut.clk)

    async def check_state(self, label):
        """Read every row back (random backpressure) and compare rows, k x k state, flag."""
        dut, unit, m, k = self.dut, self.unit, self.model, self.unit.k
        sink = StreamSink(dut, "rows_o", dut.clk, backpressure=random_gaps(0.3, self.gaps))
        dut.readout.value = 1
        await RisingEdge(dut.clk)
        dut.readout.value = 0
        rows = unit.n_in + unit.n_out
        for _ in range(50 * rows + 100):
            if len(sink.received) >= rows:
                break
            await RisingEdge(dut.clk)
        sink.stop()
        dut.rows_o__ready.value = 0
        assert len(sink.received) == rows, f"{label}: {len(sink.received)} of {rows} rows"
        await wait_idle(dut)
        await ReadOnly()
        got = [unpack_words(bits, self.vw, k) for _, bits in sink.received]
        want = np.concatenate([m.Xs, m.Ds])
        where = [f"{'X' if i // k < unit.n_in else 'Delta'} row "
                 f"{(i // k) % unit.n_in if i // k < unit.n_in else i // k - unit.n_in}, "
                 f"column {i % k}" for i in range(rows * k)]
        compare_words(f"{label}: rows", want, got, width=self.vw, where=where)
        st = self.layout.from_bits(dut.kxk.value.to_unsigned())
        (ax, Tx), (ad, Td) = m.x_side, m.d_side
        sw = unit.formats.mat.width
        for name, T in (("Tx", Tx), ("Td", Td)):
            pairs = [(i, j) for i in range(k) for j in range(i, k)]
            compare_words(f"{label}: {name}", [T[i, j] for i, j in pairs],
                          [int(st[name][i][j]) for i, j in pairs], width=sw,
                          where=[f"{name}[{i},{j}]" for i, j in pairs])
        for name, want_v in (("ax", ax), ("ad", ad), ("sigma", m.sigma), ("r", m.r)):
            compare_words(f"{label}: {name}", want_v, [int(st[name][i]) for i in range(k)],
                          width=sw)
        flag = bool(int(dut.overflow.value))
        assert flag == bool(m.overflow), f"{label}: overflow {flag}, golden {m.overflow}"
        await RisingEdge(dut.clk)

    # -- batches ------------------------------------------------------------------------------

    async def start_batch(self, B) -> int:
        """Offer ``B`` on ``batch`` until taken; return the cycle it was taken in."""
        dut = self.dut
        dut.batch__payload.value = B
        dut.batch__valid.value = 1
        while True:
            await RisingEdge(dut.clk)
            if int(dut.batch__ready.value):
                break
        dut.batch__valid.value = 0
        return _now()

    def beats(self, xs, ds):
        W = self.unit.words
        out = []
        for x, d in zip(xs, ds):
            for vec in (x, d):
                words = [int(v) for v in vec] + [0] * (-len(vec) % W)
                out += [pack_words(words[j:j + W], self.xw) for j in range(0, len(words), W)]
        return out

    async def batch(self, xs, ds, *, idle=None) -> int:
        """Run one batch; return its cycles from the ``batch`` beat to ``done``."""
        dut = self.dut
        idle = self.idle if idle is None else idle
        gaps = random_gaps(idle, self.gaps) if idle > 0 else never()
        src = StreamSource(dut, "samples", dut.clk, idle=gaps)
        src.send(self.beats(xs, ds))
        t0 = await self.start_batch(len(xs))
        while True:
            await RisingEdge(dut.done)
            await ReadOnly()
            if int(dut.done.value):
                break
        t1 = _now()
        await RisingEdge(dut.clk)
        assert src.idle, "done before every sample was taken"
        src.stop()
        dut.samples__valid.value = 0
        assert not int(dut.error.value), "error raised by a valid batch"
        self.model.batch(xs, ds)
        return t1 - t0

    async def invalid_batch(self, B):
        t0 = await self.start_batch(B)
        for _ in range(10):
            await ReadOnly()
            if int(self.dut.done.value):
                break
            await RisingEdge(self.dut.clk)
        else:
            raise AssertionError(f"no done after batch {B} (taken in cycle {t0})")
        assert int(self.dut.error.value), f"batch {B}: error not raised"
        await RisingEdge(self.dut.clk)


@cocotb.test()
async def batches_match_golden(dut):
    unit = _unit()
    seed = int(os.environ.get("SBPCA_SEED", "1"))
    kind = os.environ.get("SBPCA_UNIT_STREAM", "random")
    idle = float(os.environ.get("SBPCA_UNIT_IDLE", "0.3"))
    sizes = parse_batches(os.environ.get("SBPCA_UNIT_BATCHES", f"1,{unit.b_max},3"), unit.b_max,
                          name="SBPCA_UNIT_BATCHES")
    rng = np.random.default_rng(seed)
    host = Host(dut, unit, random.Random(seed), idle)
    dut._log.info("seed %d, stream %s, batches %s, (%d, %d) k %d lanes %d words %d", seed, kind,
                  sizes, unit.n_in, unit.n_out, unit.k, unit.lanes, unit.words)
    timing_sizes = [1, min(2, unit.b_max)]
    stream = make_stream(kind, unit.formats, unit.n_in, unit.n_out, sizes + timing_sizes, rng)
    await _start(dut)
    await host.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))

    await host.invalid_batch(0)
    if unit.b_max + 1 < 1 << len(dut.batch__payload):
        await host.invalid_batch(unit.b_max + 1)
    await host.check_state("after invalid batches")

    records = []
    for b, (xs, ds) in enumerate(stream[:len(sizes)]):
        cycles = await host.batch(xs, ds)
        await host.check_state(f"batch {b} (B={len(xs)}, {kind})")
        records.append({"B": len(xs), "cycles": cycles, "idle": idle,
                        "overflow": bool(host.model.overflow)})
        dut._log.info("batch %d: B=%d, %d cycles, overflow %s", b, len(xs), cycles,
                      host.model.overflow)

    timed = []
    for xs, ds in stream[len(sizes):]:
        timed.append(await host.batch(xs, ds, idle=0))
        records.append({"B": len(xs), "cycles": timed[-1], "idle": 0.0,
                        "overflow": bool(host.model.overflow)})
    await host.check_state("after the timing batches")
    extra = timing_sizes[1] - timing_sizes[0]
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
    if extra:
        assert timed[1] - timed[0] == extra * unit.cycles_per_sample, (
            f"steady state: {timed[1] - timed[0]} cycles for {extra} samples, "
            f"predicted {extra} x {unit.cycles_per_sample}")


@cocotb.test()
async def reset_mid_batch(dut):
    unit = _unit()
    seed = int(os.environ.get("SBPCA_SEED", "1")) + 101
    rng = np.random.default_rng(seed)
    host = Host(dut, unit, random.Random(seed), 0.2)
    await _start(dut)
    await host.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))
    B = min(2, unit.b_max)
    (xs, ds), (xs2, ds2) = make_stream("random", unit.formats, unit.n_in, unit.n_out, [B, B], rng)
    src = StreamSource(dut, "samples", dut.clk)
    src.send(host.beats(xs, ds))
    await host.start_batch(B)
    await ClockCycles(dut.clk, unit.cycles_per_sample // 2 + 3 * unit.n_in // unit.words)
    await ReadOnly()
    assert int(dut.busy.value), "the batch ended before the reset"
    await RisingEdge(dut.clk)
    src.stop()
    dut.samples__valid.value = 0
    await reset(dut)
    await ReadOnly()
    for name in ("busy", "done", "error", "overflow", "rows_o__valid"):
        assert not int(getattr(dut, name).value), f"{name} high after reset"
    assert int(dut.batch__ready.value), "batch not ready after reset"
    await RisingEdge(dut.clk)
    await host.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))
    await host.batch(xs2, ds2)
    await host.check_state("batch after reset")
