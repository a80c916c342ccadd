# amaranth: UnusedElaboratable=no
"""k x k engine on the Amaranth simulator against the micro-program's interpreter."""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from golden.fixed import FixedFormat
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats
from golden.unit_program import SEGMENTS, ProgramUnit, run_segment
from hdl import lane_port
from hdl.kxk_engine import KxkEngine
from hdl.mac_lane import MACLane

ACC, SUM = 44, 48
ARGS = dict(formats=UnitFormats.for_width(16), k=2, lanes=2, ns_steps=2, recip_steps=1,
            acc_width=ACC, sum_width=SUM)


def test_construction_exposes_parameters():
    eng = KxkEngine(**ARGS)
    assert (eng.k, eng.lanes, eng.ns_steps, eng.recip_steps) == (2, 2, 2, 1)
    assert (eng.acc_width, eng.sum_width, eng.a_bits, eng.alus) == (ACC, SUM, 5, 2)
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
        ref.overflow |= flag
        runs.append((segment, dict(inputs), dict(ref.regs), flag))

    ref._run = recording
    xs = F.x.quantize(np.clip(rng.normal(size=(samples, n_in)) * scale, -1, 1))[0]
    ds = F.d.quantize(np.clip(rng.normal(size=(samples, n_out)) * scale, -1, 1))[0]
    for i in range(samples):
        ref.sample(xs[i], ds[i], i + 1)
    return F, ref, initial, runs


@pytest.mark.parametrize("n_in, n_out, k, lanes, samples, scale, sigma0, ns_steps", [
    (12, 6, 1, 1, 3, 0.3, 0.3, 8),
    (20, 9, 3, 2, 2, 0.3, 0.3, 6),
    (16, 8, 4, 8, 2, 0.3, 0.3, 6),
    (16, 16, 2, 4, 2, 2.0, 1e-6, 8),   # saturating inputs; a tiny sigma overflows the seed
])
def test_engine_equals_interpreter(n_in, n_out, k, lanes, samples, scale, sigma0, ns_steps):
    F, ref, initial, runs = _recorded_run(n_in, n_out, k, samples, seed=n_in + k, scale=scale,
                                          sigma0=sigma0, ns_steps=ns_steps)
    eng = KxkEngine(formats=F, k=k, lanes=lanes, ns_steps=ns_steps, recip_steps=2,
                    acc_width=ACC, sum_width=SUM)
    dut = LaneHarness(eng)
    prog = eng.program
    state_names = {"Tx": "Tx", "Td": "Td", "ax": "ax", "ad": "ad", "sigma": "sig", "r": "r"}
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
            cycles = 1
            while not ctx.get(eng.done):
                await ctx.tick()
                cycles += 1
                assert cycles < 5000
            assert cycles == eng.cycles_for(segment), (segment, cycles)
            where = f"run {n} ({segment})"
            for field, prefix in state_names.items():
                for r in range(k):
                    if field in ("Tx", "Td"):
                        for j in range(r, k):
                            got = ctx.get(getattr(eng.state, field)[r][j])
                            assert got == after[f"{prefix}.{r}.{j}"], (where, field, r, j)
                    else:
                        got = ctx.get(getattr(eng.state, field)[r])
                        assert got == after[f"{prefix}.{r}"], (where, field, r)
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
    if sigma0 < 1e-3:
        assert log["flag"], "the overflowing seed must raise the flag"
