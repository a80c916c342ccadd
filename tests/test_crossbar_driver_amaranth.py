# amaranth: UnusedElaboratable=no
"""Crossbar driver on the Amaranth simulator against ``CrossbarDriverModel``: every slot's
pulses of every term as integers, both schemes, several seeds, clipped and zero terms, the clip
outputs against the model's ``TermPlan``, cycles."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.driver_cases import boundary_term, rounded_word
from golden.driver import CrossbarDriverModel
from golden.driver.lfsr import LANE_POLYS, lfsr_step, tap_mask
from hdl.crossbar_driver import CrossbarDriver, lfsr_draw_taps, plan_fields

CLIP_FIELDS = ("clip_lines", "clip", "clipped_terms")


def make_model(n_in=11, n_out=7, **kw):
    kw.setdefault("dw_min", 2e-4)
    kw.setdefault("group", 4)
    kw.setdefault("bl", 9)
    return CrossbarDriverModel(n_in, n_out, **kw)


def random_terms(model, rng, n):
    """``n`` terms ``(x_words, d_words, sigma_word)``: random, then ``sigma``, ``x`` and ``d`` 0 in
    terms 1, 2 and 3 (skipped terms)."""
    F = model.formats
    terms = []
    for r in range(n):
        scale = 1 << int(rng.integers(4, F.vec.width))
        x = rng.integers(-scale, scale, model.n_in).clip(F.vec.min_raw, F.vec.max_raw)
        d = rng.integers(-scale, scale, model.n_out).clip(F.vec.min_raw, F.vec.max_raw)
        s = int(rng.integers(F.sigma.min_raw, F.sigma.max_raw + 1) >> int(rng.integers(0, 12)))
        if r == 1:
            s = 0
        if r == 2:
            x = np.zeros_like(x)
        if r == 3:
            d = np.zeros_like(d)
        terms.append((x, d, s))
    return terms


def group_words(words, G, groups):
    """Beats of ``G`` words; the lanes beyond the lines carry the largest magnitude (ignored by
    the driver: not part of the maxima)."""
    w = np.full(G * groups, -(1 << 15), np.int64)
    w[:len(words)] = words
    return [w[b * G:(b + 1) * G].tolist() for b in range(groups)]


def bits_of(value, n):
    return np.array([(value >> j) & 1 for j in range(n)], np.int64)


def rtl_drive(dut, terms_plans, *, idle=0.0, seed=0, lr_shift=None):
    """Run the terms through the driver; return per term the (rows, cols) int8 pulses of each
    slot (sampled in the first fire cycle), the busy cycles and the ``plan`` output's fields
    with the clip outputs (``CLIP_FIELDS``, sampled in every fire cycle and once after ``busy``
    falls: they must not change). ``lr_shift``: the value of the driver's run-time ``lr_shift``
    port."""
    rng = random.Random(seed)
    G = dut.group
    out = []

    async def tb(ctx):
        if lr_shift is not None:
            ctx.set(dut.lr_shift, lr_shift)
        for x, d, plan in terms_plans:
            beats = group_words(d, G, dut.row_groups) + group_words(x, G, dut.col_groups)
            for b in beats:
                while rng.random() < idle:
                    await ctx.tick()
                ctx.set(dut.i.payload, b)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)
            while rng.random() < idle:
                await ctx.tick()
            ctx.set(dut.i_sigma.payload, {"sigma": plan.sigma})
            ctx.set(dut.i_sigma.valid, 1)
            await ctx.tick().until(dut.i_sigma.ready)
            ctx.set(dut.i_sigma.valid, 0)
            rows, cols, busy, prev_fire, fields = [], [], 0, 0, None
            while True:
                b, fire = ctx.get(dut.busy), ctx.get(dut.fire)
                if not b:
                    break
                busy += 1
                if fire:
                    clip = {k: int(ctx.get(getattr(dut, k))) for k in CLIP_FIELDS}
                    assert fields is None or clip == {k: fields[k] for k in CLIP_FIELDS}, \
                        f"clip outputs changed within a term: {clip}"
                if fire and not prev_fire and fields is None:
                    got = ctx.get(dut.plan)
                    fields = {k: int(getattr(got, k)) for k in plan_fields(plan)} | clip
                if fire and not prev_fire:
                    rs = 1 - 2 * bits_of(ctx.get(dut.row_sign), dut.n_out)
                    cs = 1 - 2 * bits_of(ctx.get(dut.col_sign), dut.n_in)
                    rows.append(bits_of(ctx.get(dut.row_pulse), dut.n_out) * rs)
                    cols.append(bits_of(ctx.get(dut.col_pulse), dut.n_in) * cs)
                prev_fire = fire
                await ctx.tick()
                assert busy < 100 * dut.term_cycles, "timeout"
            after = {k: int(ctx.get(getattr(dut, k))) for k in CLIP_FIELDS}
            assert after == {k: fields[k] for k in CLIP_FIELDS}, f"clip outputs after: {after}"
            out.append((np.array(rows), np.array(cols), busy, fields))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


def check_terms(model, dut, terms, **kw):
    plans, want = [], []
    for r, (x, d, s) in enumerate(terms):
        plan = model.plan(x, d, s, r)
        plans.append((x, d, plan))
        want.append(model.pulses(plan))
    got = rtl_drive(dut, plans, **kw)
    clipped_terms = 0
    for r, ((wr, wc), (gr, gc, busy, fields), (_, _, plan)) in enumerate(zip(want, got, plans)):
        clipped_terms += plan.clip
        check_plan(plan, fields, r, clipped_terms)
        assert gr.shape == wr.shape and gc.shape == wc.shape, f"term {r}: slots {gr.shape}"
        for t in range(model.bl):
            assert gr[t].tolist() == wr[t].tolist(), f"term {r} slot {t} rows"
            assert gc[t].tolist() == wc[t].tolist(), f"term {r} slot {t} cols"
        assert busy == model.cycles_per_term == dut.term_cycles
    return [p for _, _, p in plans]


def check_plan(plan, fields, r, clipped_terms):
    """The GAIN stage's registers equal the model's plan (signs only for a skipped term, whose
    shifts are don't-cares); the clip outputs its clipped lines, and ``clipped_terms`` the
    clipped terms so far."""
    want = plan_fields(plan)
    keys = ("neg", "skip") if plan.skipped else tuple(want)
    assert {k: fields[k] for k in keys} == {k: want[k] for k in keys}, f"term {r}: plan"
    clip = {"clip_lines": plan.clipped_lines, "clip": int(plan.clip),
            "clipped_terms": clipped_terms}
    got = {k: fields[k] for k in CLIP_FIELDS}
    assert got == clip, f"term {r}: clip outputs {got}, model {clip}"


def carry_sigmas(model, n):
    """The first ``n`` sigma words whose gain rounding carries to ``2**gain_bits`` (R3's
    renormalization; none for some constants)."""
    out, gb = [], model.gain_bits
    for s in range(1, model.formats.sigma.max_raw + 1):
        K = model.gain_const * s
        kx = max(0, K.bit_length() - gb)
        if (K + ((1 << kx) >> 1)) >> kx >> gb:
            out.append(s)
            if len(out) == n:
                break
    return out


def test_lfsr_unrolling_matches_the_bit_serial_reference():
    rng = np.random.default_rng(3)
    for g in (0, 5, 21, 22, 63):
        taps = lfsr_draw_taps(LANE_POLYS[g], 16)
        for _ in range(20):
            s = int(rng.integers(1, 1 << 32))
            ref = s
            for _ in range(16):
                ref = lfsr_step(ref, tap_mask(LANE_POLYS[g]))
            got = sum((sum(s >> b & 1 for b in srcs) & 1) << k for k, srcs in enumerate(taps))
            assert got == ref


@pytest.mark.parametrize("scheme", ["stochastic", "deterministic"])
@pytest.mark.parametrize("seed", [0, 7])
def test_slots_match_model(scheme, seed):
    model = make_model(scheme=scheme, seed=seed)
    dut = CrossbarDriver.for_model(model)
    terms = random_terms(model, np.random.default_rng(seed + 100), 5)
    plans = check_terms(model, dut, terms, idle=0.3, seed=seed)
    assert [p.skipped for p in plans] == [False, True, True, True, False]


@pytest.mark.parametrize("scheme", ["stochastic", "deterministic"])
def test_clipped_lines_and_exact_groups(scheme):
    # n_in, n_out multiples of G; a large learning rate so both sides clip
    model = make_model(8, 4, scheme=scheme, lr=0.5, dw_min=1e-4, fire_cycles=2, seed=3)
    dut = CrossbarDriver.for_model(model)
    F = model.formats
    x = np.array([F.vec.max_raw, -F.vec.max_raw, 1 << 13, -(1 << 10), 5, 0, -1, F.vec.min_raw])
    d = np.array([F.vec.min_raw, 1 << 12, -300, 1])
    terms = [(x, d, F.sigma.max_raw), (x, d, F.sigma.min_raw), (x, d, 1)]
    plans = check_terms(model, dut, terms)
    assert [p.clip for p in plans] == [True, True, False]
    assert plans[0].clipped_rows.any() and plans[0].clipped_cols.any()


@pytest.mark.parametrize("scheme", ["stochastic", "deterministic"])
@pytest.mark.parametrize("p_bits", [8, 16])
def test_clip_boundary(scheme, p_bits):
    """A word rounding to exactly 2**p_bits is probability 1 (all ones) and not clipped; one
    rounding just above is clipped: the count tells "clipped" from the saturation of the word.
    Terms: boundary terms (both sides where the shifts allow), a random term in between."""
    model = make_model(scheme=scheme, p_bits=p_bits, seed=5)
    dut = CrossbarDriver.for_model(model)
    rng = np.random.default_rng(40 + p_bits)
    terms, sides = [], set()
    for r in range(4):
        x, d, s, found = boundary_term(model, rng)
        plan = model.plan(x, d, s)
        for side, (exact, above) in found.items():
            words = plan.p_rows if side == "rows" else plan.p_cols
            clipped = plan.clipped_rows if side == "rows" else plan.clipped_cols
            mags = np.abs(d if side == "rows" else x)
            mult, shift = ((plan.gain, plan.row_shift) if side == "rows" else
                           (1, plan.col_shift))
            assert rounded_word(mags[exact], mult, shift) == 1 << p_bits
            assert words[exact] == words[above] == plan.ones
            assert not clipped[exact] and clipped[above]
            sides.add(side)
        terms.append((x, d, s))
    terms.insert(2, random_terms(model, rng, 1)[0])
    plans = check_terms(model, dut, terms, idle=0.2, seed=p_bits)
    assert sides == ({"rows", "cols"} if p_bits == 8 else {"cols"})
    assert all(plans[r].clip for r in (0, 1, 3, 4))


def test_even_bl_bresenham_ties():
    # with an even BL the Bresenham start BL - 1 decides ties (odd BL has none)
    model = make_model(9, 5, scheme="deterministic", bl=8, group=3, seed=2)
    dut = CrossbarDriver.for_model(model)
    check_terms(model, dut, random_terms(model, np.random.default_rng(9), 4))


def test_widest_group_maxima_in_time():
    """G = 64: the maxima tree's six levels are final when GAIN first reads them, with the
    ``sigma`` beat right after the last word."""
    model = make_model(70, 65, group=64, bl=2, seed=13)
    dut = CrossbarDriver.for_model(model)
    F = model.formats
    terms = []
    for x, d, s in random_terms(model, np.random.default_rng(8), 5):
        x, d = x.copy(), d.copy()
        x[-1], d[-1] = F.vec.max_raw, F.vec.min_raw     # the maxima in the last beats
        terms.append((x, d, s))
    check_terms(model, dut, terms)


@pytest.mark.parametrize("scheme, p_bits", [("stochastic", 16), ("deterministic", 3),
                                            ("stochastic", 2)])
def test_wider_group_than_lines(scheme, p_bits):
    """One row group and one column group (the Bresenham ring of one accumulator), narrow
    probability words."""
    model = make_model(3, 2, group=8, bl=5, seed=11, scheme=scheme, p_bits=p_bits)
    dut = CrossbarDriver.for_model(model)
    check_terms(model, dut, random_terms(model, np.random.default_rng(5), 6))


@pytest.mark.parametrize("lr, dw_min, gain_bits, carries", [
    (2.0 ** -4, 2e-4, 16, True), (0.75, 3e-6, 16, False), (2.0 ** -20, 0.05, 8, True),
    (3.0, 1e-3, 24, False)])
def test_gain_stage_matches_plan(lr, dw_min, gain_bits, carries):
    """Many terms of one slot: the GAIN registers against ``plan`` (extreme sigma, maxima)."""
    model = make_model(3, 2, group=2, bl=1, lr=lr, dw_min=dw_min, gain_bits=gain_bits)
    dut = CrossbarDriver.for_model(model)
    F = model.formats
    rng = np.random.default_rng(int(gain_bits))
    sigmas = [F.sigma.min_raw, F.sigma.max_raw, 1, -1, 2, 3, 1 << 16, -(1 << 11)]
    sigmas += [-s for s in carry_sigmas(model, 3)]
    terms = []
    for r in range(60):
        s = sigmas[r] if r < len(sigmas) else int(rng.integers(F.sigma.min_raw,
                                                               F.sigma.max_raw + 1)
                                                  >> int(rng.integers(0, 17)))
        ex = [F.vec.min_raw, F.vec.max_raw, 1, -1, 0]
        x = rng.choice(ex, 3) if r % 3 == 0 else rng.integers(-(1 << 15), 1 << 15, 3) >> \
            int(rng.integers(0, 15))
        d = rng.choice(ex, 2) if r % 4 == 1 else rng.integers(-(1 << 15), 1 << 15, 2) >> \
            int(rng.integers(0, 15))
        terms.append((x, d, s))
    plans = check_terms(model, dut, terms)
    assert sum(not p.skipped for p in plans) > 40
    assert bool(carry_sigmas(model, 1)) == carries     # R3's carry was exercised where it exists


@pytest.mark.parametrize("lr", [2.0 ** -4, 2.0 ** -9, 2.0 ** 3, 2.0 ** -30])
def test_run_time_lr_shift(lr):
    """One design with the ``lr_shift`` port (built for lr = 2**-1) drives terms planned for
    other powers of two exactly as their own models do; the port's value is the model's
    ``lr_shift``."""
    base = make_model(5, 3, group=2, bl=4, lr=0.5, seed=4)
    dut = CrossbarDriver.for_model(base, lr_shift_port=True)
    model = make_model(5, 3, group=2, bl=4, lr=lr, seed=4)
    assert model.gain_const == base.gain_const
    terms = random_terms(model, np.random.default_rng(21), 5)
    plans = [(x, d, model.plan(x, d, s, r)) for r, (x, d, s) in enumerate(terms)]
    want = [model.pulses(p) for _, _, p in plans]
    got = rtl_drive(dut, plans, lr_shift=model.lr_shift)
    clipped_terms = 0
    for r, ((wr, wc), (gr, gc, _, fields), (_, _, plan)) in enumerate(zip(want, got, plans)):
        clipped_terms += plan.clip
        check_plan(plan, fields, r, clipped_terms)
        assert gr.tolist() == wr.tolist() and gc.tolist() == wc.tolist(), f"term {r}"


def test_construction_errors():
    k = dict(gain_const=45, exponent=60)
    with pytest.raises(ValueError, match="group=65"):
        CrossbarDriver(4, 4, group=65, **k)
    with pytest.raises(ValueError, match="seeds: 2 start states"):
        CrossbarDriver(4, 4, group=3, seeds=(1, 2), **k)
    with pytest.raises(ValueError, match="scheme"):
        CrossbarDriver(4, 4, scheme="bresenham", **k)
    with pytest.raises(TypeError, match="n_in"):
        CrossbarDriver(4.0, 4, **k)
    with pytest.raises(ValueError, match="gain_const=0"):
        CrossbarDriver(4, 4, gain_const=0, exponent=60)


@pytest.mark.parametrize("params", [dict(), dict(n_in=5, n_out=3, group=3, bl=8,
                                                 scheme="deterministic", fire_cycles=3)],
                         ids=["default", "det-small"])
def test_lint_clean(params, tmp_path):
    from hdl.generate import generate
    from synth.lint import forbidden_operators, lint_verilog

    doc = generate("crossbar_driver", tmp_path, **params)
    assert lint_verilog(doc["verilog"], doc["top"]) == []
    assert forbidden_operators(open(doc["verilog"]).read()) == []
