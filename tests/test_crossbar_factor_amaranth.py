# amaranth: UnusedElaboratable=no
"""The FACTOR stage alone on the Amaranth simulator: every factor word it streams equals the
golden readout (:meth:`SBPCAUnitModel.readout_words`) as an integer, in the driver's beat order,
with idle rows and backpressure, states with and without R1's clamp; cycles to the first beat."""

import copy
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.unit_cases import bench_case, load_start
from hdl.crossbar_factor import CrossbarFactor
from hdl.designs import unused
from hdl.sbpca_unit import SBPCAUnit as _SBPCAUnit


def SBPCAUnit(**kw):
    """The unit, built for its facts (formats, golden model, a_bits) only."""
    return unused(_SBPCAUnit(**kw))


def kxk_value(model):
    """The FACTOR stage's ``kxk`` input of ``model``'s state (lower triangles zero, as the unit
    keeps them)."""
    k = model.k
    (ax, Tx), (ad, Td) = model.x_side, model.d_side
    tri = lambda T: [[int(T[i, j]) if j >= i else 0 for j in range(k)] for i in range(k)]
    return {"Tx": tri(Tx), "Td": tri(Td), "ax": [int(v) for v in ax],
            "ad": [int(v) for v in ad], "sigma": [int(v) for v in model.sigma]}


def expected_beats(model, G):
    """Per term: the ``R`` Delta beats then the ``C`` x beats of ``G`` words, and sigma; lanes
    beyond the lines are don't-cares (None)."""
    sigma, X, D, saturated = model.readout_words()
    out = []
    for r in range(model.k):
        beats = []
        for words in (D[:, r], X[:, r]):
            for b in range(-(-len(words) // G)):
                chunk = [int(w) for w in words[b * G:(b + 1) * G]]
                beats.append(chunk + [None] * (G - len(chunk)))
        out.append((beats, int(sigma[r])))
    return out, saturated


def run_factor(dut, model, *, idle=0.0, backpressure=0.0, seed=0):
    rng = random.Random(seed)
    rows = np.concatenate([model.Xs, model.Ds])
    got = {"beats": [], "sigma": [], "first_beat": None, "saturated": None}

    async def feed(ctx):
        ctx.set(dut.kxk, kxk_value(model))
        t = 0
        for i, row in enumerate(rows):
            while rng.random() < idle:
                await ctx.tick()
            ctx.set(dut.rows.payload, [int(v) for v in row])
            ctx.set(dut.rows.valid, 1)
            await ctx.tick().until(dut.rows.ready)
            ctx.set(dut.rows.valid, 0)

    async def drain(ctx):
        t, started = 0, None
        per_term = dut.row_groups + dut.col_groups
        for r in range(dut.k):
            beats = []
            while len(beats) < per_term:
                take = not (backpressure and rng.random() < backpressure)
                ctx.set(dut.o.ready, int(take))
                if started is None and ctx.get(dut.rows.valid) and ctx.get(dut.rows.ready):
                    started = t
                if take and ctx.get(dut.o.valid):
                    if got["first_beat"] is None:
                        got["first_beat"] = t - started
                    beats.append([int(v) for v in ctx.get(dut.o.payload)])
                await ctx.tick()
                t += 1
                assert t < 100_000, "timeout"
            ctx.set(dut.o.ready, 0)
            ctx.set(dut.o_sigma.ready, 1)
            while not ctx.get(dut.o_sigma.valid):
                assert not ctx.get(dut.o.valid), "a word beat beyond the term"
                await ctx.tick()
            got["sigma"].append(int(ctx.get(dut.o_sigma.payload.sigma)))
            await ctx.tick()
            ctx.set(dut.o_sigma.ready, 0)
            got["beats"].append(beats)
        got["saturated"] = bool(ctx.get(dut.saturated))
        await ctx.tick()
        assert not ctx.get(dut.busy), "busy after the last term"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(drain)
    sim.run()
    return got


def check(model, dut, **kw):
    want, saturated = expected_beats(model, dut.group)
    got = run_factor(dut, model, **kw)
    for r, ((beats, sigma), g) in enumerate(zip(want, got["beats"])):
        assert len(g) == len(beats), f"term {r}: {len(g)} beats"
        for b, (w, gb) in enumerate(zip(beats, g)):
            keep = [i for i, v in enumerate(w) if v is not None]
            assert [gb[i] for i in keep] == [w[i] for i in keep], f"term {r} beat {b}"
        assert got["sigma"][r] == sigma, f"term {r}: sigma"
    assert got["saturated"] == saturated
    return got


def factor_for(unit, G):
    F = unit.formats
    return CrossbarFactor(n_in=unit.n_in, n_out=unit.n_out, k=unit.k, vec_width=F.vec.width,
                          mat_width=F.mat.width, mat_frac=F.mat.frac,
                          a_bits=unit.kxk_engine.a_bits, group=G)


def states(unit, kind, n, seed):
    """Golden states after each of ``n`` batches of stream ``kind``."""
    batches, _, start = bench_case(unit, kind, [unit.b_max] * n, seed)
    model = copy.deepcopy(unit.model)
    load_start(model, kind, start)
    for xs, ds in batches:
        model.batch(xs, ds)
        yield copy.deepcopy(model)


@pytest.mark.parametrize("kind", ["random", "zeros", "kxk_saturate", "rows_saturate"])
@pytest.mark.parametrize("k, G", [(2, 3), (3, 8), (4, 2)])
def test_words_match_the_golden_readout(kind, k, G):
    unit = SBPCAUnit(n_in=10, n_out=7, k=k, lanes=2, words=1, b_max=3)
    dut = factor_for(unit, G)
    for i, model in enumerate(states(unit, kind, 2, seed=k * 10 + G)):
        check(model, dut, idle=0.2, backpressure=0.3, seed=i)


def test_clamped_words_and_the_flag():
    """Nearly parallel stored columns: after one sample some factor word reaches 1 and clamps."""
    unit = SBPCAUnit(n_in=6, n_out=5, k=2, lanes=2, words=1, b_max=2)
    model = copy.deepcopy(unit.model)
    e = np.eye(6)
    X0 = np.stack([e[0], e[0] + 1e-2 * e[1]], 1)
    D0 = np.stack([e[0, :5], e[0, :5] + 1e-2 * e[1, :5]], 1)
    model.load(X0, D0, 1.0)
    model.batch(np.zeros((1, 6), np.int64), np.zeros((1, 5), np.int64))
    assert model.readout_words()[3]
    check(model, factor_for(unit, 4))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_cycles_to_the_first_beat(k):
    unit = SBPCAUnit(n_in=9, n_out=4, k=k, lanes=2, words=1, b_max=2)
    dut = factor_for(unit, 4)
    model = next(states(unit, "random", 1, seed=k))
    got = check(model, dut)
    assert got["first_beat"] == dut.factor_cycles


def test_construction_errors():
    with pytest.raises(ValueError, match="group=0"):
        CrossbarFactor(n_in=4, n_out=4, k=2, group=0)
    with pytest.raises(ValueError, match="mat_frac=18"):
        CrossbarFactor(n_in=4, n_out=4, k=2, mat_frac=18)


def test_rounding_corners():
    """Directed words at R1's rounding boundaries: sums whose dropped bits are just below, at
    and just above half an LSB, both signs, and a shift by the column exponent."""
    unit = SBPCAUnit(n_in=8, n_out=4, k=2, lanes=2, words=1, b_max=2)
    model = copy.deepcopy(unit.model)
    model.load(np.eye(8)[:, :2], np.eye(4)[:, :2], 1.0)
    half = 1 << (unit.formats.mat.frac - 1)
    corners = [half - 1, half, half + 1, -half + 1, -half, -half - 1, 3 * half, -3 * half]
    model.Xs = np.array([[c, (c >> 1) + 1] for c in corners], np.int64)
    model.Ds = np.array([[half - 1, -half], [half, 1], [-half, half + 1], [0, -1]], np.int64)
    one = 1                                       # raw transform words: products keep the
    model.x_side = (np.array([0, 1]), np.array([[one, one], [0, one]]))   # dropped bits
    model.d_side = (np.array([1, 0]), np.array([[one, -one], [0, 2 * one]]))
    model.sigma = np.array([5, -7], np.int64)
    check(model, factor_for(unit, 3))
