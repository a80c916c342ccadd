# amaranth: UnusedElaboratable=no
"""Row-pass engine on the Amaranth simulator against ``golden.sbpca_unit.row_pass``."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.row_pass_cases import expected, random_params, random_rows
from golden.sbpca_unit import row_project
from hdl.row_pass import NORM, PROJECT, UPDATE, RowPass


def rtl_passes(rp, S, cases, modes=None):
    """Load ``S``, run one pass per case (inputs reloaded each time), read the rows back."""
    modes = modes or [UPDATE] * len(cases)
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
        for case, mode in zip(cases, modes):
            ctx.set(rp.mode, mode)
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
                        "norm2": ctx.get(rp.norm2),
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


@pytest.mark.parametrize("n, k, lanes", [(5, 2, 2), (7, 1, 3), (9, 4, 4), (6, 3, 1)])
def test_project_and_norm_programs_match_golden(n, k, lanes):
    """PROJECT: S^T inp and ||inp||^2, rows unchanged; NORM: ||inp||^2 alone; then UPDATE."""
    rp = RowPass(n=n, k=k, lanes=lanes, vec_width=12, coef_width=14, shift=10, gw=2)
    rng = np.random.default_rng(n + 7 * k + lanes)
    cases = [random_params(rp, rng) for _ in range(3)]
    for case in cases:
        case.a = np.zeros(k, np.int64)
    S = random_rows(n, k, 12, cases[0].a, rng)
    got = rtl_passes(rp, S, cases, modes=[PROJECT, NORM, UPDATE])
    p, norm2 = row_project(S, cases[0].inp)
    assert got[0]["proj"] == p.tolist() and got[0]["norm2"] == norm2
    assert np.array_equal(got[0]["rows"], S)                      # read-only
    assert got[0]["cycles"] == rp.cycles_for(PROJECT)
    _, norm2 = row_project(S, cases[1].inp, with_rows=False)
    assert got[1]["norm2"] == norm2 and got[1]["cycles"] == rp.cycles_for(NORM)
    assert np.array_equal(got[1]["rows"], S)
    new, gram, proj, _ = expected(rp, S, cases[2])
    assert np.array_equal(got[2]["rows"], new) and got[2]["gram"] == gram.tolist()


def test_derived_counts():
    rp = RowPass(n=784, k=4, lanes=8, vec_width=16, coef_width=18, shift=14, gw=2)
    assert rp.rows_per_lane == 98 and rp.slot_beats == 28
    assert rp.useful_macs == 784 * 28
    assert rp.useful_macs / (rp.lanes * rp.cycles) > 0.98
    assert rp.useful_macs_for(PROJECT) == 784 * 5 and rp.useful_macs_for(NORM) == 784
    assert rp.useful_macs_for(NORM) / (rp.lanes * rp.cycles_for(NORM)) > 0.8


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
