# amaranth: UnusedElaboratable=no
"""Row-pass engine on the Amaranth simulator against ``golden.sbpca_unit.row_pass``."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.row_pass_cases import expected, random_params, random_rows
from hdl.row_pass import RowPass


def rtl_passes(rp, S, cases):
    """Load ``S``, run one pass per case (inputs reloaded each time), read the rows back."""
    out = []

    async def tb(ctx):
        ctx.set(rp.rewind, 1)
        await ctx.tick()
        ctx.set(rp.rewind, 0)
        for row in S:
            ctx.set(rp.row_w.payload, [int(v) for v in row])
            ctx.set(rp.row_w.valid, 1)
            await ctx.tick()
        ctx.set(rp.row_w.valid, 0)
        for case in cases:
            ctx.set(rp.rewind, 1)
            await ctx.tick()
            ctx.set(rp.rewind, 0)
            for v in case.inp:
                ctx.set(rp.inp_w.payload, int(v))
                ctx.set(rp.inp_w.valid, 1)
                await ctx.tick()
            ctx.set(rp.inp_w.valid, 0)
            ctx.set(rp.params, {"a": [int(v) for v in case.a],
                                "cT": [[int(v) for v in row] for row in case.cT],
                                "w": [int(v) for v in case.w]})
            ctx.set(rp.start, 1)
            await ctx.tick()
            ctx.set(rp.start, 0)
            cycles = 1
            while not ctx.get(rp.done):
                await ctx.tick()
                cycles += 1
            npairs = rp.k * (rp.k + 1) // 2
            ctx.set(rp.readout, 1)
            await ctx.tick()
            ctx.set(rp.readout, 0)
            ctx.set(rp.row_o.ready, 1)
            rows = []
            while len(rows) < rp.n:
                await ctx.tick()
                if ctx.get(rp.row_o.valid):
                    rows.append([int(v) for v in ctx.get(rp.row_o.payload)])
            ctx.set(rp.row_o.ready, 0)
            out.append({"cycles": cycles, "rows": np.array(rows),
                        "gram": [ctx.get(rp.gram[i]) for i in range(npairs)],
                        "proj": [ctx.get(rp.proj[i]) for i in range(rp.k)],
                        "saturated": bool(ctx.get(rp.saturated))})

    sim = Simulator(rp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


@pytest.mark.parametrize("n, k, lanes", [(5, 2, 2), (7, 1, 3), (8, 3, 4), (6, 4, 1), (9, 2, 9)])
def test_row_pass_matches_golden(n, k, lanes):
    rp = RowPass(n=n, k=k, lanes=lanes, vec_width=12, coef_width=14, shift=10, gw=2)
    rng = np.random.default_rng(n * 100 + k * 10 + lanes)
    a0 = rng.integers(0, 3, k)
    S = random_rows(n, k, 12, a0, rng)
    cases = [random_params(rp, rng), random_params(rp, rng, loud=True)]
    cases[0].a = a0
    cases[1].a = np.zeros(k, np.int64)        # written-back rows may use the full word
    got = rtl_passes(rp, S, cases)
    for case, res in zip(cases, got):
        new, gram, proj, sat = expected(rp, S, case)
        assert np.array_equal(res["rows"], new)
        assert res["gram"] == gram.tolist()
        assert res["proj"] == proj.tolist()
        assert res["saturated"] == sat
        assert res["cycles"] == rp.cycles
        S = new
    assert got[1]["saturated"]


def test_derived_counts():
    rp = RowPass(n=784, k=4, lanes=8, vec_width=16, coef_width=18, shift=14, gw=2)
    assert rp.rows_per_lane == 98 and rp.slot_beats == 28
    assert rp.useful_macs == 784 * 28
    assert rp.useful_macs / (rp.lanes * rp.cycles) > 0.98


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0), "k=0: must be in \\[1, 16\\]"),
    (dict(lanes=9), "lanes=9: must be in \\[1, 8\\]"),
    (dict(coef_width=15), "coef_width=15: must be at least vec_width \\+ gw = 16"),
    (dict(shift=0), "shift=0: must be in"),
])
def test_bad_parameters(kwargs, message):
    args = dict(n=8, k=2, lanes=2, vec_width=14, coef_width=16, shift=10, gw=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        RowPass(**args)
