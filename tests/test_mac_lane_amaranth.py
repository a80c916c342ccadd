# amaranth: UnusedElaboratable=no
"""MAC lane on the Amaranth simulator against the golden model, and its construction errors."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.fixed import FixedFormat
from golden.mac_lane import MACLaneModel
from hdl.mac_lane import MACLane


def rtl_mac(lane, beats, *, idle, backpressure, seed):
    """Run beats ``(a, b, c, clear, last[, sub])`` through the lane; return results and cycles."""
    rng = random.Random(seed)
    results = []
    n_expected = sum(1 for beat in beats if beat[4])
    cycles = [0]

    async def producer(ctx):
        for a, b, c, clear, last, *sub in beats:
            while rng.random() < idle:
                await ctx.tick()
            ctx.set(lane.i.payload, {"a": a, "b": b, "c": c, "clear": clear, "last": last,
                                     "sub": sub[0] if sub else 0})
            ctx.set(lane.i.valid, 1)
            await ctx.tick().until(lane.i.ready)
            ctx.set(lane.i.valid, 0)

    async def consumer(ctx):
        while len(results) < n_expected:
            ready = rng.random() >= backpressure
            ctx.set(lane.o.ready, ready)
            *_, valid, payload = await ctx.tick().sample(lane.o.valid, lane.o.payload)
            cycles[0] += 1
            if ready and valid:
                results.append((payload.value, payload.overflow))
            assert cycles[0] < 20 * len(beats) + 50, "timeout"

    sim = Simulator(lane)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return results, cycles[0]


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_lane_matches_golden_with_stalls(overflow):
    fa, fb, facc = FixedFormat(8), FixedFormat(6), FixedFormat(15, overflow=overflow)
    lane = MACLane(fa, fb, facc)
    rng = np.random.default_rng(7)
    n = 400
    a = rng.integers(fa.min_raw, fa.max_raw + 1, n)
    b = rng.integers(fb.min_raw, fb.max_raw + 1, n)
    a[:40], b[:40] = fa.min_raw, fb.min_raw          # drive the accumulator into overflow
    clear = rng.random(n) < 0.08
    clear[0] = True
    last = rng.random(n) < 0.2
    last[-1] = True
    c = np.where(clear, rng.integers(facc.min_raw, facc.max_raw + 1, n), 0)
    sub = rng.random(n) < 0.3
    beats = list(zip(a.tolist(), b.tolist(), c.tolist(), clear.tolist(), last.tolist(),
                     sub.tolist()))
    got, _ = rtl_mac(lane, beats, idle=0.3, backpressure=0.3, seed=1)
    want = MACLaneModel(fa, fb, facc).run(a, b, c, clear, last, sub)
    assert [int(v) for v, _ in got] == want.values.tolist()
    assert [bool(f) for _, f in got] == want.overflow.tolist()
    assert want.overflow.any()


def test_full_throughput_one_pair_per_cycle():
    lane = MACLane(FixedFormat(8), FixedFormat(8), FixedFormat(16))
    n = 64
    beats = [(j % 100 - 50, 3, 0, j % 8 == 0, j % 8 == 7) for j in range(n)]
    got, cycles = rtl_mac(lane, beats, idle=0.0, backpressure=0.0, seed=0)
    assert len(got) == n // 8
    assert cycles == n + lane.latency


@pytest.mark.parametrize("args, message", [
    ((FixedFormat(16), FixedFormat(16), FixedFormat(31)),
     r"acc_width=31: accumulator narrower than the product \(a_width \+ b_width = 32\)"),
    ((FixedFormat(16, 15), FixedFormat(16, 15), FixedFormat(40, 20)),
     r"acc_frac=20: must equal a_frac \+ b_frac = 30"),
])
def test_construction_errors_name_parameter_and_value(args, message):
    with pytest.raises(ValueError, match=message):
        MACLane(*args)


def test_rejects_non_format():
    with pytest.raises(TypeError, match="a_format=16: must be a FixedFormat"):
        MACLane(16, FixedFormat(16), FixedFormat(32))


def test_properties_expose_parameters():
    lane = MACLane(FixedFormat(12), FixedFormat(10), FixedFormat(24, overflow="saturate"))
    assert lane.latency == 2
    assert lane.acc_format.saturate
    assert lane.i_layout.size == 12 + 10 + 24 + 3
    assert lane.o_layout.size == 24 + 1
