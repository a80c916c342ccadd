# amaranth: UnusedElaboratable=no
"""The unit's ``overflow`` output on the Amaranth simulator, one saturation source at a time.

The flag is the OR of the row-pass engine's ``saturated`` (a stored word clamped) and the k x k
engine's flag (a k x k value clamped). A stream that saturates both cannot tell whether each
reaches the output, so each source gets a stream of its own (:mod:`cosim.unit_cases`):
``rows_saturate`` starts from a transform that does not normalize the stored rows (the only way
a stored word can saturate, see its doc) and ``kxk_saturate`` from a sigma of 1 LSB. The golden
model says which source it is (``overflow_sources``); the unit's flag must follow it after
every batch. The unit is loaded through its ports from the model's state, transforms included.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.unit_cases import load_start, make_stream, start_state
from hdl.sbpca_unit import SBPCAUnit

SMALL = dict(n_in=8, n_out=4, k=2, lanes=2, words=2, b_max=8)


def _beats(values, words):
    values = [int(v) for v in values] + [0] * (-len(values) % words)
    return [values[j:j + words] for j in range(0, len(values), words)]


def run_flags(unit, model, batches):
    """Load ``model``'s state into the unit, run ``batches``; return the unit's ``overflow``
    and ``sigma`` after load and after each batch (no idle cycles: the flag is the point)."""
    k = unit.k
    out = []

    async def tb(ctx):
        st = unit.kxk_in
        (ax, Tx), (ad, Td) = model.x_side, model.d_side
        for r in range(k):
            ctx.set(st.ax[r], int(ax[r]))
            ctx.set(st.ad[r], int(ad[r]))
            ctx.set(st.sigma[r], int(model.sigma[r]))
            ctx.set(st.r[r], int(model.r[r]))
            for j in range(r, k):
                ctx.set(st.Tx[r][j], int(Tx[r, j]))
                ctx.set(st.Td[r][j], int(Td[r, j]))
        ctx.set(unit.load, 1)
        await ctx.tick()
        ctx.set(unit.load, 0)
        for row in list(model.Xs) + list(model.Ds):
            ctx.set(unit.load_rows.payload, [int(v) for v in row])
            ctx.set(unit.load_rows.valid, 1)
            await ctx.tick().until(unit.load_rows.ready)
        ctx.set(unit.load_rows.valid, 0)
        while ctx.get(unit.busy):
            await ctx.tick()
        out.append((bool(ctx.get(unit.overflow)), None))
        for xs, ds in batches:
            ctx.set(unit.batch.payload, len(xs))
            ctx.set(unit.batch.valid, 1)
            await ctx.tick().until(unit.batch.ready)
            ctx.set(unit.batch.valid, 0)
            for x, d in zip(xs, ds):
                for beat in _beats(x, unit.words) + _beats(d, unit.words):
                    ctx.set(unit.samples.payload, beat)
                    ctx.set(unit.samples.valid, 1)
                    await ctx.tick().until(unit.samples.ready)
                    ctx.set(unit.samples.valid, 0)
            cycles = 0
            while not ctx.get(unit.done):
                await ctx.tick()
                cycles += 1
                assert cycles < 100_000, "no done"
            await ctx.tick()
            kx = ctx.get(unit.kxk)
            out.append((bool(ctx.get(unit.overflow)), [int(kx.sigma[r]) for r in range(k)]))

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


@pytest.mark.parametrize("kind, source", [("rows_saturate", ("rows",)),
                                          ("kxk_saturate", ("kxk",))])
def test_overflow_follows_each_source(kind, source):
    unit = SBPCAUnit(**SMALL)
    model = unit.model
    rng = np.random.default_rng(2)
    batches = make_stream(kind, unit.formats, unit.n_in, unit.n_out, [1, 2], rng)
    load_start(model, kind, start_state(unit.n_in, unit.n_out, unit.k, rng, kind=kind,
                                        formats=unit.formats))
    got = run_flags(unit, model, batches)
    assert got[0][0] is False, "overflow set after load"
    for b, ((xs, ds), (flag, sigma)) in enumerate(zip(batches, got[1:])):
        model.batch(xs, ds)
        assert model.overflow_sources == source, (b, model.overflow_sources)
        assert sigma == [int(v) for v in model.sigma], (b, sigma, model.sigma)
        assert flag == model.overflow, f"batch {b}: overflow {flag}, golden {source}"
