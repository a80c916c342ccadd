# amaranth: UnusedElaboratable=no
"""k x k engine on the Amaranth simulator against the micro-program's interpreter."""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal, signed
from amaranth.sim import Simulator

from golden.fixed import FixedFormat
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats
from golden.unit_program import (SEGMENTS, Move, PostOp, ProgramUnit, build_program, run_segment,
                                 seed_word)
from hdl import kxk_engine, lane_port
from hdl.kxk_engine import KxkEngine
from hdl.mac_lane import MACLane

ACC, SUM = 44, 48
ARGS = dict(formats=UnitFormats.for_width(16), k=2, lanes=2, ns_steps=2, recip_steps=1,
            acc_width=ACC, sum_width=SUM)


def test_construction_exposes_parameters():
    eng = KxkEngine(**ARGS)
    assert (eng.k, eng.lanes, eng.ns_steps, eng.recip_steps) == (2, 2, 2, 1)
    assert (eng.acc_width, eng.sum_width, eng.a_bits, eng.alus) == (ACC, SUM, 5, 2)
    assert (eng.used_lanes, eng.movers, eng.general) == (2, 1, 2)
    assert (eng.shift_lead, eng.post_stages, eng.alu_stages) == (0, 0, 0)
    assert KxkEngine(**{**ARGS, "k": 4, "lanes": 8}).used_lanes == 4
    assert eng.lane_latency == lane_port.LATENCY == 3 and eng.word_width == 18
    assert eng.formats is ARGS["formats"]
    assert eng.lane_i.shape().elem_shape == lane_port.beat_layout(18, ACC)
    assert eng.lane_o.shape().elem_shape == lane_port.result_layout(ACC)
    narrowest = lane_port.lane_acc_width(18, 2)
    assert narrowest == 39 and KxkEngine(**{**ARGS, "acc_width": narrowest}).acc_width == 39


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(formats=16), TypeError, "formats=16: must be a UnitFormats"),
    (dict(k=0), ValueError, r"k=0: must be in \[1, 16\]"),
    (dict(k=17), ValueError, r"k=17: must be in \[1, 16\]"),
    (dict(k=2.0), TypeError, "k=2.0: must be an integer"),
    (dict(lanes=0), ValueError, "lanes=0: must be at least 1"),
    (dict(lanes=True), TypeError, "lanes=True: must be an integer"),
    (dict(ns_steps=0), ValueError, r"ns_steps=0: must be in \[1, 32\]"),
    (dict(recip_steps=9), ValueError, r"recip_steps=9: must be in \[1, 8\]"),
    (dict(recip_steps="2"), TypeError, "recip_steps='2': must be an integer"),
    (dict(lane_latency=0), ValueError, r"lane_latency=0: must be in \[1, 16\]"),
    (dict(a_bits=8), ValueError, r"a_bits=8: must be in \[1, 7\]"),
    (dict(alus=0), ValueError, r"alus=0: must be in \[1, 16\]"),
    (dict(used_lanes=0), ValueError, r"used_lanes=0: must be in \[1, 2\]"),
    (dict(used_lanes=3), ValueError, r"used_lanes=3: must be in \[1, 2\]"),
    (dict(movers=3), ValueError, r"movers=3: must be in \[1, 2\]"),
    (dict(general=3), ValueError, r"general=3: must be in \[1, 2\]"),
    (dict(shift_lead=2), ValueError, r"shift_lead=2: must be in \[0, 1\]"),
    (dict(post_stages=-1), ValueError, r"post_stages=-1: must be in \[0, 1\]"),
    (dict(post_stages=2), ValueError, r"post_stages=2: must be in \[0, 1\]"),
    (dict(alu_stages=3), ValueError, r"alu_stages=3: must be in \[0, 2\]"),
    (dict(alu_stages=True), TypeError, "alu_stages=True: must be an integer"),
    (dict(acc_width=None), TypeError, "acc_width=None: must be an integer"),
    (dict(acc_width=38), ValueError, r"acc_width=38: must be at least 2 \* 18 \+ bits\(k \+ 1\) "
                                     r"\+ 1 = 39 \(the lanes' sums of 18-bit words\)"),
    (dict(sum_width=43), ValueError, "sum_width=43: must be at least acc_width=44"),
    (dict(formats=UnitFormats.for_width(16).__class__(
        **{**UnitFormats.for_width(16).__dict__, "recip": FixedFormat(16, 5, "half_up",
                                                                      "saturate")})),
     ValueError, "recip.width=16: the k x k engine needs every scalar format 18 bits wide"),
])
def test_construction_errors_name_parameter_and_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        KxkEngine(**{**ARGS, **kwargs})


class LaneHarness(Elaboratable):
    """The engine with its own lanes behind an operand register (the row pass's lane port)."""

    def __init__(self, engine):
        self.engine = engine

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self.engine
        W = e.program.word_width
        for l in range(len(e.lane_i)):
            mac = MACLane(FixedFormat(W), FixedFormat(W), FixedFormat(ACC))
            m.submodules[f"lane{l}"] = mac
            beat = e.lane_i[l]
            m.d.sync += [mac.i.valid.eq(beat.valid), mac.i.payload.a.eq(beat.a),
                         mac.i.payload.b.eq(beat.b), mac.i.payload.c.eq(beat.c),
                         mac.i.payload.clear.eq(beat.clear), mac.i.payload.last.eq(beat.last),
                         mac.i.payload.sub.eq(beat.sub)]
            m.d.comb += [mac.o.ready.eq(1), e.lane_o[l].valid.eq(mac.o.valid),
                         e.lane_o[l].value.eq(mac.o.payload.value)]
        return m


def _recorded_run(n_in, n_out, k, samples, seed, scale=0.3, sigma0=0.3, ns_steps=8):
    """Run the program unit; return the initial registers and, per segment run, its inputs,
    registers after, and the interpreter's clamp flag."""
    rng = np.random.default_rng(seed)
    F = UnitFormats.for_width(16)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=F, b_max=8, ns_steps=ns_steps)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               sigma0)
    ref = ProgramUnit(model)
    ref.load_from(model)
    initial = dict(ref.regs)
    runs = []

    def recording(segment, inputs):
        flag = run_segment(ref.prog, segment, ref.regs, inputs, F)
        ref.kxk_saturated |= flag
        runs.append((segment, dict(inputs), dict(ref.regs), flag))

    ref._run = recording
    xs = F.x.quantize(np.clip(rng.normal(size=(samples, n_in)) * scale, -1, 1))[0]
    ds = F.d.quantize(np.clip(rng.normal(size=(samples, n_out)) * scale, -1, 1))[0]
    for i in range(samples):
        ref.sample(xs[i], ds[i], i + 1)
    return F, ref, initial, runs


STATE = {"Tx": "Tx", "Td": "Td", "ax": "ax", "ad": "ad", "sigma": "sig", "r": "r"}


def play(eng, initial, runs):
    """Load the registers ``initial`` into the engine, run each ``(segment, inputs, after,
    clamp)`` of ``runs`` and compare the engine's visible state (k x k state, the next pass's
    ``w`` and ``cT``, the sticky flag) with the interpreter's registers ``after``; return the
    flag at the end."""
    prog = eng.program
    k = prog.k
    dut = LaneHarness(eng)
    log = {}

    async def tb(ctx):
        st = eng.state_in
        for r in range(k):
            ctx.set(st.ax[r], initial[f"ax.{r}"])
            ctx.set(st.ad[r], initial[f"ad.{r}"])
            ctx.set(st.sigma[r], initial[f"sig.{r}"])
            ctx.set(st.r[r], initial[f"r.{r}"])
            for j in range(r, k):
                ctx.set(st.Tx[r][j], initial[f"Tx.{r}.{j}"])
                ctx.set(st.Td[r][j], initial[f"Td.{r}.{j}"])
        ctx.set(eng.load, 1)
        await ctx.tick()
        ctx.set(eng.load, 0)
        flag = False
        for n, (segment, inputs, after, clamp) in enumerate(runs):
            flag |= clamp
            ctx.set(eng.c, inputs["c"])
            ctx.set(eng.oc, inputs["oc"])
            ctx.set(eng.cc, inputs["cc"])
            idx = 0
            for i in range(k):
                for j in range(i, k):
                    ctx.set(eng.gram[idx], inputs.get(f"G.{i}.{j}", 0))
                    idx += 1
            for r in range(k):
                ctx.set(eng.proj[r], inputs.get(f"p.{r}", 0))
            ctx.set(eng.norm2, inputs.get("n2", 0))
            ctx.set(eng.segment, SEGMENTS.index(segment))
            ctx.set(eng.start, 1)
            await ctx.tick()
            ctx.set(eng.start, 0)
            # the segment is read only with start
            ctx.set(eng.segment, (SEGMENTS.index(segment) + 1) % len(SEGMENTS))
            cycles = 1
            while not ctx.get(eng.done):
                await ctx.tick()
                cycles += 1
                assert cycles < 5000
            assert cycles == eng.cycles_for(segment), (segment, cycles)
            where = f"run {n} ({segment})"
            for field, prefix in STATE.items():
                for r in range(k):
                    if field in ("Tx", "Td"):
                        for j in range(r, k):
                            got = ctx.get(getattr(eng.state, field)[r][j])
                            want = after[f"{prefix}.{r}.{j}"]
                            assert got == want, (where, field, r, j, got, want)
                    else:
                        got = ctx.get(getattr(eng.state, field)[r])
                        want = after[f"{prefix}.{r}"]
                        assert got == want, (where, field, r, got, want)
            if segment in ("pre_x", "post_x"):
                for q in range(k):
                    assert ctx.get(eng.w[q]) == after[prog.params["w"][q]], (where, "w", q)
                    for r in range(q, k):
                        want = after[prog.params["cT"][q][r]]
                        assert ctx.get(eng.cT[q][r]) == want, (where, "cT", q, r)
            assert ctx.get(eng.overflow) == flag, where
        log["flag"] = flag

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return log["flag"]


def _engine(F, k, lanes, ns_steps=6, **kwargs):
    return KxkEngine(formats=F, k=k, lanes=lanes, ns_steps=ns_steps, recip_steps=2,
                     acc_width=ACC, sum_width=SUM, **kwargs)


@pytest.mark.parametrize("n_in, n_out, k, lanes, samples, scale, sigma0, ns_steps, kwargs", [
    (12, 6, 1, 1, 3, 0.3, 0.3, 8, {}),
    (20, 9, 3, 2, 2, 0.3, 0.3, 6, {}),
    (16, 8, 4, 8, 2, 0.3, 0.3, 6, {}),
    (16, 8, 4, 8, 2, 0.3, 0.3, 6, dict(used_lanes=8, alus=4, movers=4, general=8)),
    (20, 9, 3, 3, 2, 0.3, 0.3, 6, dict(used_lanes=2, alus=3, movers=2)),
    (16, 8, 4, 6, 2, 0.3, 0.3, 6, dict(used_lanes=5, general=1)),
    (16, 16, 2, 4, 2, 2.0, 1e-6, 8, {}),   # saturating inputs
])
def test_engine_equals_interpreter(n_in, n_out, k, lanes, samples, scale, sigma0, ns_steps,
                                   kwargs):
    F, ref, initial, runs = _recorded_run(n_in, n_out, k, samples, seed=n_in + k, scale=scale,
                                          sigma0=sigma0, ns_steps=ns_steps)
    eng = _engine(F, k, lanes, ns_steps, **kwargs)
    flag = play(eng, initial, runs)
    if scale > 1:
        assert flag, "saturating inputs must raise the flag"


@pytest.mark.parametrize("width, scalar", [(16, 18), (12, 12), (24, 30)])
def test_seed_equals_the_golden_seed_for_every_exponent(width, scalar):
    """The ALU's adder-free seed against ``golden.unit_program.seed_word`` for every exponent
    the 8-bit register holds (saturated, flushed and every power of two in between) and the
    word's signs and zero (the range corners no recorded run reaches)."""
    F = UnitFormats.for_width(width, scalar)
    eng = KxkEngine(formats=F, k=2, lanes=2, ns_steps=6, recip_steps=2, acc_width=2 * scalar + 4,
                    sum_width=2 * scalar + 8)
    W = eng.word_width
    m = Module()
    e = Signal(signed(kxk_engine.E_BITS))
    sig = Signal(signed(W))
    word, clamped = eng.seed(m, e, sig, "t")
    fmt = F.recip
    cases = [(ev, sv) for ev in range(-128, 128) for sv in (-(1 << (W - 1)), -3, 0, 1, fmt.max_raw)]
    seen = set()

    async def tb(ctx):
        for ev, sv in cases:
            ctx.set(e, ev)
            ctx.set(sig, sv)
            want = seed_word(fmt, ev, sv)
            got = (ctx.get(word), bool(ctx.get(clamped)))
            assert got == want, (ev, sv, got, want)
            seen.add(want[1])

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert seen == {False, True}


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 9, 12])
def test_magnitude_leading_one_of_every_value(width):
    """The carry-free leading-one detect of ``|value|`` (no negation: the index of
    ``value ^ sign`` plus one when that is ones from its top down) against Python's
    ``bit_length`` for every value of a signed ``width``-bit word: the most negative value (its
    magnitude one bit wider than the rest), ``-1`` (``value ^ sign = 0``), the negated powers of
    two (the carry) and zero."""
    m = Module()
    v = Signal(signed(width))
    lod, zero = KxkEngine.magnitude_leading_one(m, v, "t")
    values = range(-(1 << (width - 1)), 1 << (width - 1))

    async def tb(ctx):
        for x in values:
            ctx.set(v, x)
            want = (max(abs(x).bit_length() - 1, 0), x == 0)
            assert (ctx.get(lod), bool(ctx.get(zero))) == want, x

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


PIPELINES = [dict(shift_lead=1), dict(post_stages=1), dict(alu_stages=1), dict(alu_stages=2),
             dict(shift_lead=1, post_stages=1, alu_stages=2), dict(shift_lead=1, alu_stages=1),
             dict(rom_stage=1), dict(rom_stage=1, operand_banks=1),
             dict(shift_lead=1, post_stages=1, alu_stages=2, rom_stage=1, operand_banks=2)]


@pytest.mark.parametrize("pipe", PIPELINES, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
@pytest.mark.parametrize("n_in, n_out, k, lanes, kwargs", [
    (16, 8, 4, 8, {}),
    (20, 9, 3, 3, dict(used_lanes=2, alus=3, movers=2)),
    (12, 6, 1, 1, {}),
])
def test_pipelined_engine_equals_interpreter(pipe, n_in, n_out, k, lanes, kwargs):
    """Each extra pipeline stage, carried in the schedule, keeps the engine bit-exact; ``play``
    also checks that every segment takes ``cycles_for`` cycles."""
    F, ref, initial, runs = _recorded_run(n_in, n_out, k, 2, seed=n_in + k, ns_steps=6)
    eng = _engine(F, k, lanes, 6, **kwargs, **pipe)
    for name, v in pipe.items():
        assert getattr(eng, name) == v
        if name not in ("rom_stage", "operand_banks"):       # the engine's, not the schedule's
            assert getattr(eng.schedule, name) == v
    play(eng, initial, runs)


def test_pipeline_stages_cost_cycles_in_the_schedule():
    """A stage after the lanes lengthens the segments; a shift lead costs at most a few cycles."""
    F = UnitFormats.for_width(16)
    base = _engine(F, 4, 8)
    cycles = lambda e: sum(e.cycles_for(s) for s in SEGMENTS)
    assert cycles(_engine(F, 4, 8, post_stages=1)) > cycles(base)
    assert cycles(_engine(F, 4, 8, alu_stages=1)) >= cycles(base)
    assert cycles(_engine(F, 4, 8, shift_lead=1)) - cycles(base) <= 4


def _interpret(prog, F, regs, segments):
    """Runs ``[(segment, inputs, registers after, clamp)]`` of the interpreter from ``regs``."""
    regs = dict(regs)
    runs = []
    for segment, inputs in segments:
        clamp = run_segment(prog, segment, regs, inputs, F)
        runs.append((segment, dict(inputs), dict(regs), clamp))
    return runs


def _loaded_regs(F, k, n_in=8, n_out=8, sigma_raw=None, seed=0):
    """The interpreter's registers after a load of a random orthonormal state (``sigma`` raw
    words per column when given)."""
    rng = np.random.default_rng(seed)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=F, b_max=8)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               0.25)
    if sigma_raw is not None:
        model.sigma = np.asarray(sigma_raw, np.int64)
    ref = ProgramUnit(model)
    ref.load_from(model)
    return ref, dict(ref.regs)


TABLES = {"c": 8192, "oc": 8192, "cc": 65536}      # sample 1 of a batch: c = 1 - c = 1/2


@pytest.mark.parametrize("sigma_lsb", [(1, -2, 3, -1), (2, -3, -2, 3), (0, 4, -1, 1)])
def test_reciprocal_seed_at_its_overflow_bound(sigma_lsb):
    """The seed ``2**-(e + 1)`` of ``e = floor(log2 sigma)`` overflows the reciprocal format
    exactly when ``fr - (e + 1) >= recip.width - 1``, that is ``e <= fr - recip.width`` (-11 with
    the default formats): at ``|sigma|`` = 1 LSB of the sigma format, its smallest non-zero
    value, and not at 2 or 3 LSB (``e`` = -10, bound - 1). Reached by a load (``r = 0`` re-seeds),
    so the edge is a state the unit can be in; both sides are checked, both signs, and zero."""
    F = UnitFormats.for_width(16)
    fr, rw = F.recip.frac, F.recip.width
    # the seed's shift at 1 LSB (e = -sigma.frac) is exactly the bound
    assert fr - (-F.sigma.frac + 1) == rw - 1
    k = len(sigma_lsb)
    ref, regs = _loaded_regs(F, k, sigma_raw=sigma_lsb)
    zeros = {f"p.{r}": 0 for r in range(k)} | {"n2": 0}
    runs = _interpret(ref.prog, F, regs, [("norm_x", TABLES | {"n2": 0}),
                                          ("pre_x", TABLES | zeros)])
    seeds = [runs[-1][2][f"seed.{r}"] for r in range(k)]
    for r, s in enumerate(sigma_lsb):
        if abs(s) == 1:
            assert seeds[r] == np.sign(s) * F.recip.max_raw      # 2**10 does not fit: clamped
        elif s:
            e = int(np.log2(abs(s))) - F.sigma.frac
            assert seeds[r] == np.sign(s) * (1 << (fr - e - 1))
        else:
            assert seeds[r] == 0
    # zero inputs: the seeds are the only values that can clamp in these two segments
    assert runs[-1][3] == any(abs(s) == 1 for s in sigma_lsb)
    play(_engine(F, k, lanes=2), regs, runs)


def test_alu_leading_one_of_zero(monkeypatch):
    """The ALU's leading-one detect (``Move(kind=PostOp.LOD)``) gives 0 for a zero operand, as the
    interpreter's :func:`golden.unit_program.exponent` does.

    In the unit's program its results only feed ``Expo(fn="a")`` (the column exponent of a Gram
    diagonal) and ``Seed`` (of sigma), and both map an exponent of 0 or 1 from a zero operand to
    the same value (``a = 0``; the seed of a zero sigma is 0 and cannot clamp), so the unit's
    outputs cannot show the detect of zero. This test plays a program with a probe appended to
    the ``norm_x`` segment that turns the detect's result into a word the test reads
    (``r.0 = 1 << lod(n2)``), for ``n2`` = 0 and a few powers of two around it."""
    F = UnitFormats.for_width(16)
    k = 2
    real = build_program(F, k, ns_steps=6, recip_steps=2)
    segments = dict(real.segments)
    segments["norm_x"] = real.segments["norm_x"] + [
        Move("lodp", "n2", kind=PostOp.LOD, shift=0),
        Move("r.0", "#1", var=((-1, "lodp"),))]               # 1 << lodp, a word
    probe = replace(real, segments=segments, exps=real.exps + ["lodp"])
    monkeypatch.setattr(kxk_engine, "build_program", lambda *args, **kwargs: probe)
    ref, regs = _loaded_regs(F, k)
    runs = _interpret(probe, F, regs, [("norm_x", TABLES | {"n2": n2})
                                       for n2 in (0, 1, 2, 3, 0, 6, 1 << 12, 0)])
    assert [after["r.0"] for _, _, after, _ in runs] == [1, 1, 2, 2, 1, 4, 1 << 12, 1]
    play(_engine(F, k, lanes=2), regs, runs)
    # the engine was built from the probe program (and not the real one)
    assert kxk_engine.KxkEngine(formats=F, k=k, lanes=2, ns_steps=6, recip_steps=2,
                                acc_width=ACC, sum_width=SUM).program is probe


def test_zero_gram_column_and_zero_sigma():
    """The unit's own detects of zero: a zero column of the stored rows (``G_00 = 0`` after an
    UPDATE pass of a loaded zero column with a zero input) and a zero sigma (loaded), through
    the real program, engine against interpreter."""
    F = UnitFormats.for_width(16)
    k = 4                               # T starts at 1/2: a zero column's T_00 stays in range
    ref, regs = _loaded_regs(F, k, sigma_raw=[0, 512, 0, -512])
    rng = np.random.default_rng(4)
    S = F.vec.quantize(qr_signfix(rng.normal(size=(8, k))))[0]
    S[:, 0] = 0
    G = S.T @ S
    gram = {f"G.{i}.{j}": int(G[i, j]) for i in range(k) for j in range(i, k)}
    proj = {f"p.{r}": int(v) for r, v in enumerate(rng.integers(-1 << 20, 1 << 20, k))}
    runs = _interpret(ref.prog, F, regs, [
        ("norm_x", TABLES | {"n2": 1 << 28}),
        ("pre_x", TABLES | proj | {"n2": 1 << 28}),
        ("post_x", TABLES | gram | proj),
        ("post_d", TABLES | gram | proj)])
    assert runs[2][2]["ax.0"] == 0 and not any(run[3] for run in runs)
    play(_engine(F, k, lanes=4), regs, runs)
