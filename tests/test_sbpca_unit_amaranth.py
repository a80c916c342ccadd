# amaranth: UnusedElaboratable=no
"""The whole unit on the Amaranth simulator against the golden fixed-point model."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel
from hdl.sbpca_unit import SBPCAUnit


def _beats(values, words):
    """Input words in beats of ``words`` (the last one padded with zeros)."""
    values = [int(v) for v in values]
    values += [0] * (-len(values) % words)
    return [values[j:j + words] for j in range(0, len(values), words)]


def run_unit(unit, model, batches, *, seed, idle=0.2, backpressure=0.2):
    """Load the model's state into the unit, run ``batches`` [(xs, ds)], read the state back
    after each batch. Returns ``[(rows, kxk, overflow, cycles)]``."""
    rng = random.Random(seed)
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
        for xs, ds in batches:
            ctx.set(unit.batch.payload, len(xs))
            ctx.set(unit.batch.valid, 1)
            await ctx.tick().until(unit.batch.ready)
            ctx.set(unit.batch.valid, 0)
            start = 0
            for x, d in zip(xs, ds):
                for beat in _beats(x, unit.words) + _beats(d, unit.words):
                    while rng.random() < idle:
                        await ctx.tick()
                        start += 1
                    ctx.set(unit.samples.payload, beat)
                    ctx.set(unit.samples.valid, 1)
                    await ctx.tick().until(unit.samples.ready)
                    ctx.set(unit.samples.valid, 0)
            cycles = 0
            while not ctx.get(unit.done):
                await ctx.tick()
                cycles += 1
                assert cycles < 200_000, "timeout"
            await ctx.tick()
            ctx.set(unit.readout, 1)
            await ctx.tick()
            ctx.set(unit.readout, 0)
            rows = []
            while len(rows) < unit.n_in + unit.n_out:
                ready = rng.random() >= backpressure
                ctx.set(unit.rows_o.ready, ready)
                *_, valid, payload = await ctx.tick().sample(unit.rows_o.valid,
                                                             unit.rows_o.payload)
                if ready and valid:
                    rows.append([int(payload[q]) for q in range(k)])
            ctx.set(unit.rows_o.ready, 0)
            while ctx.get(unit.busy):
                await ctx.tick()
            kx = ctx.get(unit.kxk)
            state = {"Tx": [[int(kx.Tx[i][j]) for j in range(k)] for i in range(k)],
                     "Td": [[int(kx.Td[i][j]) for j in range(k)] for i in range(k)],
                     "ax": [int(kx.ax[r]) for r in range(k)],
                     "ad": [int(kx.ad[r]) for r in range(k)],
                     "sigma": [int(kx.sigma[r]) for r in range(k)],
                     "r": [int(kx.r[r]) for r in range(k)]}
            out.append((rows, state, bool(ctx.get(unit.overflow)), cycles))

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


def compare(model, rows, state, overflow, where):
    k = model.k
    want_rows = np.concatenate([model.Xs, model.Ds])
    got_rows = np.array(rows)
    bad = np.argwhere(got_rows != want_rows)
    assert bad.size == 0, (f"{where}: row {bad[0][0]} word {bad[0][1]}: "
                           f"{got_rows[tuple(bad[0])]:#x} != {want_rows[tuple(bad[0])]:#x}")
    (ax, Tx), (ad, Td) = model.x_side, model.d_side
    want = {"Tx": np.triu(Tx), "Td": np.triu(Td), "ax": ax, "ad": ad, "sigma": model.sigma,
            "r": model.r}
    for name, value in want.items():
        got = np.triu(np.array(state[name])) if name in ("Tx", "Td") else np.array(state[name])
        assert np.array_equal(got, np.asarray(value).reshape(got.shape)), (where, name, got,
                                                                           value)
    assert overflow == model.overflow, where
    assert k == len(state["sigma"])


@pytest.mark.parametrize("n_in, n_out, k, lanes, words, sizes", [
    (8, 4, 1, 1, 1, (3, 1, 4)),
    (12, 7, 2, 4, 2, (4, 2)),
])
def test_unit_equals_model(n_in, n_out, k, lanes, words, sizes):
    unit = SBPCAUnit(n_in=n_in, n_out=n_out, k=k, lanes=lanes, words=words, b_max=4)
    rng = np.random.default_rng(n_in)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=unit.formats, b_max=4)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               0.3)
    F = unit.formats
    batches = [(F.x.quantize(rng.normal(size=(B, n_in)) * 0.3)[0],
                F.d.quantize(rng.normal(size=(B, n_out)) * 0.3)[0]) for B in sizes]
    got = run_unit(unit, model, batches, seed=1)
    for b, ((xs, ds), (rows, state, overflow, cycles)) in enumerate(zip(batches, got)):
        model.batch(xs, ds)
        compare(model, rows, state, overflow, f"batch {b}")


def test_construction_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"k=5: must be in \[1, 4\]"):
        SBPCAUnit(n_in=8, n_out=4, k=5, lanes=1)
    with pytest.raises(ValueError, match=r"words=3: must divide lanes=4"):
        SBPCAUnit(n_in=8, n_out=8, k=1, lanes=4, words=3)
    with pytest.raises(ValueError, match=r"schedule='x'"):
        SBPCAUnit(n_in=8, n_out=8, k=1, lanes=1, schedule="x")
