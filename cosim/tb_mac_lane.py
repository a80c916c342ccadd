"""cocotb bench of the MAC lane (``hdl.mac_lane.MACLane``) against ``golden.mac_lane.MACLaneModel``.

Run through :func:`cosim.runner.run_cocotb`, which generates the Verilog and passes the design's
JSON file (``SBPCA_DESIGN_JSON``) and the seed (``SBPCA_SEED``). Every result word is compared
with the golden model as an integer.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from golden.mac_lane import MACLaneModel
from hdl.designs import get_design
from .scoreboard import compare_words
from .stream import StreamSink, StreamSource, pack, random_gaps, unpack
from .summary import record

N_RANDOM = int(os.environ.get("SBPCA_MAC_BEATS", "10000"))
#: Self-check of the bench: add one LSB to one expected word, so the comparison must fail.
INJECT_ERROR = os.environ.get("SBPCA_INJECT_ERROR") == "1"


class MACLaneTB:
    """Clock, reset, source, sink and golden model of one MAC-lane run."""

    def __init__(self, dut, *, idle: float, backpressure: float, salt: int):
        doc = json.load(open(os.environ["SBPCA_DESIGN_JSON"]))
        self.lane, _ = get_design(doc["design"]).build(**doc["parameters"])
        self.model = MACLaneModel(self.lane.a_format, self.lane.b_format, self.lane.acc_format)
        self.seed = int(os.environ.get("SBPCA_SEED", "1")) * 1000 + salt
        self.rng = random.Random(self.seed)
        self.np_rng = np.random.default_rng(self.seed)
        self.dut = dut
        self.idle = idle
        self.backpressure = backpressure
        dut._log.info("seed %d, idle %.2f, backpressure %.2f", self.seed, idle, backpressure)
        Clock(dut.clk, 10, unit="ns", impl="gpi").start()

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.i__valid.value = 0
        self.dut.o__ready.value = 0
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        gaps = lambda p: random_gaps(p, self.rng) if p > 0 else None  # noqa: E731
        self.source = StreamSource(self.dut, "i", self.dut.clk, idle=gaps(self.idle))
        self.sink = StreamSink(self.dut, "o", self.dut.clk, backpressure=gaps(self.backpressure))

    async def run(self, a, b, c, clear, last, *, name: str):
        """Send the beats, collect the results and compare them with the golden model."""
        expected = self.model.run(a, b, c, clear, last)
        if INJECT_ERROR and len(expected.values):
            expected.values[len(expected.values) // 2] += 1
        layout = self.lane.i_layout
        self.source.send(pack(layout, a=a[j], b=b[j], c=c[j], clear=clear[j], last=last[j])
                         for j in range(len(a)))
        budget = 20 * len(a) + 100
        start = self.sink.cycle
        while len(self.sink.received) < len(expected.values) or not self.source.idle:
            await RisingEdge(self.dut.clk)
            assert self.sink.cycle - start < budget, \
                f"{name}: timeout, {len(self.sink.received)} of {len(expected.values)} results"
        await ClockCycles(self.dut.clk, 2 * self.lane.latency + 2)
        got = [unpack(self.lane.o_layout, bits) for _, bits in self.sink.received]
        assert len(got) == len(expected.values), \
            f"{name}: {len(got)} results, expected {len(expected.values)}"
        where = [f"{name}: result {i} (beat {expected.beat[i]})" for i in range(len(got))]
        fmt = self.lane.acc_format
        compare_words(f"{name} value", expected.values, [g["value"] for g in got],
                      width=fmt.width, frac=fmt.frac, where=where)
        compare_words(f"{name} overflow", expected.overflow.astype(int),
                      [g["overflow"] for g in got], width=1, where=where)
        cycles = self.sink.received[-1][0] - start if got else 0   # first queue to last result
        record(name, {"beats": len(a), "results": len(got), "cycles": cycles,
                      "input_stall_cycles": self.source.stalled_cycles,
                      "overflows": int(expected.overflow.sum()), "seed": self.seed})
        return expected, cycles

    def random_operands(self, n):
        fa, fb = self.lane.a_format, self.lane.b_format
        a = self.np_rng.integers(fa.min_raw, fa.max_raw + 1, n)
        b = self.np_rng.integers(fb.min_raw, fb.max_raw + 1, n)
        return a, b


@cocotb.test()
async def random_stream_with_stalls(dut):
    """N_RANDOM random pairs in sums of random length, random addends, idle and backpressure."""
    tb = MACLaneTB(dut, idle=0.3, backpressure=0.3, salt=1)
    await tb.reset()
    n = N_RANDOM
    a, b = tb.random_operands(n)
    clear = tb.np_rng.random(n) < 1 / 12
    clear[0] = True
    last = np.roll(clear, -1)           # most sums end right before the next clear ...
    last |= tb.np_rng.random(n) < 1 / 40  # ... some emit a partial sum and keep going
    last[-1] = True
    fmt = tb.lane.acc_format
    c = np.where(tb.np_rng.random(n) < 0.25,
                 tb.np_rng.integers(fmt.min_raw, fmt.max_raw + 1, n), 0)
    c[~clear] = 0
    await tb.run(a, b, c, clear, last, name="random")


@cocotb.test()
async def edge_cases(dut):
    """Most negative x most negative, accumulator overflow both ways, extreme addends."""
    tb = MACLaneTB(dut, idle=0.2, backpressure=0.4, salt=2)
    await tb.reset()
    fa, fb, fmt = tb.lane.a_format, tb.lane.b_format, tb.lane.acc_format
    beats = []   # (a, b, c, clear, last)
    # Long runs of extreme products: overflow after 2**(acc_w - a_w - b_w + 1) of them.
    run = min(2 ** (fmt.width - fa.width - fb.width + 1) + 8, 600)
    for pa, pb in ((fa.min_raw, fb.min_raw), (fa.min_raw, fb.max_raw), (fa.max_raw, fb.max_raw)):
        beats += [(pa, pb, 0, j == 0, j % 7 == 6 or j == run - 1) for j in range(run)]
    # Single-beat multiply-adds with extreme addends, in and out of range.
    for pa, pb, pc in ((fa.min_raw, fb.min_raw, 0), (fa.min_raw, fb.min_raw, fmt.max_raw),
                       (fa.min_raw, fb.max_raw, fmt.min_raw), (1, 1, fmt.max_raw),
                       (-1, 1, fmt.min_raw), (0, 0, fmt.min_raw), (fa.max_raw, fb.min_raw, 0)):
        beats.append((pa, pb, pc, True, True))
    # A clear in the middle of a sum, and a sum continued past two emits.
    beats += [(3, 5, 0, True, False), (7, -2, 11, True, True), (fa.max_raw, 2, 0, False, True),
              (-4, fb.max_raw, 0, False, True)]
    a, b, c, clear, last = (np.array(col) for col in zip(*beats))
    expected, _ = await tb.run(a, b, c, clear.astype(bool), last.astype(bool), name="edges")
    assert expected.overflow.any(), "edge stimulus did not reach an overflow"
    mn = fa.min_raw * fb.min_raw
    assert mn in expected.values or (fmt.saturate and fmt.max_raw in expected.values)


@cocotb.test()
async def full_throughput(dut):
    """Without idle or backpressure the lane takes one pair per cycle and never stalls."""
    tb = MACLaneTB(dut, idle=0.0, backpressure=0.0, salt=3)
    await tb.reset()
    n = 2000
    a, b = tb.random_operands(n)
    clear = np.zeros(n, bool)
    clear[::16] = True
    last = np.roll(clear, -1)
    _, cycles = await tb.run(a, b, np.zeros(n, np.int64), clear, last, name="throughput")
    assert tb.source.stalled_cycles == 0, f"input stalled {tb.source.stalled_cycles} cycles"
    # The sink counts from the cycle the first beat is queued: n transfers plus the pipeline.
    assert cycles <= n + tb.lane.latency + 3, f"{n} pairs took {cycles} cycles"
