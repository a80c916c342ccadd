# amaranth: UnusedElaboratable=no
"""Row-pass engine on the Amaranth simulator against ``golden.sbpca_unit`` (``row_pass``,
``row_project``) and, for the lane port, ``golden.mac_lane.MACLaneModel``."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.ports_amaranth import watch_collisions
from cosim.row_pass_cases import (expected, input_beats, pass_plan, random_inputs,
                                  random_params, random_rows)
from golden.mac_lane import MACLaneModel
from golden.sbpca_unit import row_project
from hdl.row_pass import NORM, PROJECT, UPDATE, RowPass

WIDTHS = dict(vec_width=12, coef_width=14, shift=10, gw=2)


async def pulse(ctx, signal):
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)


async def load_rows(ctx, rp, rows, gaps, *, extra=0):
    """Write every bank's rows (last bank first), each followed by ``extra`` rows to drop."""
    for bank in reversed(range(len(rows))):
        ctx.set(rp.bank, bank)
        await pulse(ctx, rp.rewind)
        for row in list(rows[bank]) + [[-1] * rp.k] * extra:
            while gaps.random() < 0.3:
                await ctx.tick()
            ctx.set(rp.row_w.payload, [int(v) for v in row])
            ctx.set(rp.row_w.valid, 1)
            await ctx.tick()
            ctx.set(rp.row_w.valid, 0)


async def fill_buffer(ctx, rp, buf, beats, gaps):
    """Stream one buffer's ``inp_w`` beats with random idle cycles; ``ready`` must stay high
    until the last beat and be low after it."""
    ctx.set(rp.inp_buf, buf)
    await pulse(ctx, rp.inp_rewind)
    for beat in beats:
        while gaps.random() < 0.5:
            await ctx.tick()
        ctx.set(rp.inp_w.payload, beat)
        ctx.set(rp.inp_w.valid, 1)
        assert ctx.get(rp.inp_w.ready), "inp_w stalled while the buffer is not full"
        await ctx.tick()
        ctx.set(rp.inp_w.valid, 0)
    assert not ctx.get(rp.inp_w.ready), "inp_w ready after the buffer is full"


async def read_bank(ctx, rp, bank):
    ctx.set(rp.bank, bank)
    await pulse(ctx, rp.readout)
    ctx.set(rp.row_o.ready, 1)
    rows = []
    while len(rows) < rp.banks[bank]:
        await ctx.tick()
        if ctx.get(rp.row_o.valid):
            rows.append([int(v) for v in ctx.get(rp.row_o.payload)])
    ctx.set(rp.row_o.ready, 0)
    return np.array(rows, dtype=np.int64).reshape(-1, rp.k)


async def run_pass(ctx, rp, mode, bank, buf, case):
    """Start a pass; return its outputs and the cycles from ``start`` to ``done``."""
    ctx.set(rp.params, {"a": [int(v) for v in case.a],
                        "cT": [[int(v) for v in row] for row in case.cT],
                        "w": [int(v) for v in case.w]})
    ctx.set(rp.mode, mode)
    ctx.set(rp.bank, bank)
    ctx.set(rp.buf, buf)
    await pulse(ctx, rp.start)
    cycles = 1
    while not ctx.get(rp.done):
        await ctx.tick()
        cycles += 1
    npairs = rp.k * (rp.k + 1) // 2
    return {"cycles": cycles, "gram": [ctx.get(rp.gram[i]) for i in range(npairs)],
            "proj": [ctx.get(rp.proj[i]) for i in range(rp.k)], "norm2": ctx.get(rp.norm2),
            "saturated": bool(ctx.get(rp.saturated))}


def ref_session(rp, rows, inputs, plan, cases):
    """Golden outputs of each pass of ``plan`` and the final rows of every bank."""
    S = [r.copy() for r in rows]
    npairs = rp.k * (rp.k + 1) // 2
    out = []
    for (mode, bank, buf), case in zip(plan, cases):
        inp = inputs[buf][bank]
        if mode == UPDATE:
            S[bank], gram, proj, sat = expected(rp, S[bank], case, inp)
            out.append({"gram": gram.tolist(), "proj": proj.tolist(), "norm2": 0,
                        "saturated": sat})
        else:
            proj, norm2 = row_project(S[bank], inp, with_rows=(mode == PROJECT))
            out.append({"gram": [0] * npairs, "proj": proj.tolist(), "norm2": norm2,
                        "saturated": False})
    return out, S


def rtl_session(rp, rows, inputs, plan, cases, *, seed):
    """Load the rows, fill buffer 0, run ``plan`` while buffer 1 is filled during the first
    passes, read every bank back."""
    gaps = random.Random(seed)
    beats = [input_beats(rp, inp, np.random.default_rng(seed + buf))
             for buf, inp in enumerate(inputs)]
    state = {"go": False, "filled": False}
    out = {"passes": [], "rows": []}

    async def background_fill(ctx):
        while not state["go"]:
            await ctx.tick()
        await fill_buffer(ctx, rp, 1, beats[1], random.Random(seed + 7))
        state["filled"] = True

    async def tb(ctx):
        await load_rows(ctx, rp, rows, gaps, extra=1)
        await fill_buffer(ctx, rp, 0, beats[0], gaps)
        for (mode, bank, buf), case in zip(plan, cases):
            state["go"] = True                # buffer 1 streams in from the first start on
            while buf == 1 and not state["filled"]:
                await ctx.tick()
            out["passes"].append(await run_pass(ctx, rp, mode, bank, buf, case))
        out["rows"] = [await read_bank(ctx, rp, bank) for bank in range(len(rp.banks))]

    sim = Simulator(rp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.add_testbench(background_fill, background=True)
    sim.add_testbench(watch_collisions(rp), background=True)
    sim.run()
    return out


def check_session(rp, rows, inputs, plan, cases, *, seed):
    """Run ``plan`` on the RTL and on the golden model: every pass takes ``cycles_for`` cycles and
    gives the model's outputs, every bank ends with the model's rows. Returns the model's
    passes."""
    got = rtl_session(rp, rows, inputs, plan, cases, seed=seed)
    want, final = ref_session(rp, rows, inputs, plan, cases)
    for index, ((mode, bank, _), res, ref) in enumerate(zip(plan, got["passes"], want)):
        assert res["cycles"] == rp.cycles_for(mode, bank), f"pass {index}: {mode=} {bank=}"
        assert {key: res[key] for key in ref} == ref, f"pass {index}: {mode=} {bank=}"
    for bank in range(len(rows)):
        assert np.array_equal(got["rows"][bank], final[bank]), f"bank {bank}"
    return want


@pytest.mark.parametrize("banks, k, lanes, words", [
    ((5, 3), 2, 2, 1),
    ((7,), 1, 3, 3),                 # one bank (the single-matrix engine), k = 1 idle beats
    ((8, 5), 3, 4, 2),               # bank 0 fills its addresses: a dropped row would show
    ((6, 2), 4, 1, 1),               # one lane
    ((9, 4, 3), 2, 9, 3),            # more lanes than rows in banks 1 and 2
    ((10, 1, 4, 6), 2, 2, 2),        # four banks, one of a single row
])
def test_passes_match_golden(banks, k, lanes, words):
    """UPDATE on every bank and again on bank 0 (write-back, loud: saturates) reading buffer 0
    while buffer 1 fills; PROJECT and NORM on every bank reading buffer 1; rows read back."""
    rp = RowPass(banks=banks, k=k, lanes=lanes, words=words, **WIDTHS)
    rng = np.random.default_rng(sum(banks) * 100 + k * 10 + lanes)
    nb = len(banks)
    plan = pass_plan(rp, nb + 1)
    cases = [random_params(rp, rng, loud=(i == nb)) for i in range(len(plan))]
    for case in cases[nb:]:
        case.a = np.zeros(k, np.int64)        # written-back rows may use the full word
    rows = [random_rows(n, k, rp.vec_width, cases[b].a, rng) for b, n in enumerate(banks)]
    inputs = [random_inputs(rp, rng), random_inputs(rp, rng)]
    want = check_session(rp, rows, inputs, plan, cases, seed=lanes + k)
    assert want[nb]["saturated"]


@pytest.mark.parametrize("banks, k, lanes, words", [
    ((3,), 1, 3, 1),                 # k = 1 (the slot waits for the results), one row address
    ((9,), 1, 4, 2),                 # k = 1, a padded last row address (one row of four)
    ((4, 2), 3, 4, 4),               # bank 1: one row address, half of it padding
    ((5, 3), 2, 2, 2),               # k = 2: the last slot is as long as the wait for its result
    ((3, 2), 16, 2, 1),              # the largest rank
])
def test_slot_corners_back_to_back(banks, k, lanes, words):
    """Passes started in the cycle the previous one is done (once buffer 1 is full): two UPDATEs
    of bank 0 (the second reads the rows the first wrote back), the other banks, PROJECT and
    NORM, then UPDATE again after NORM (no sum of an earlier program may leak into the
    outputs); every pass's cycles are ``cycles_for``'s, every output and stored word the golden
    model's."""
    rp = RowPass(banks=banks, k=k, lanes=lanes, words=words, **WIDTHS)
    rng = np.random.default_rng(1000 * k + 10 * lanes + len(banks))
    nb = len(banks)
    plan = ([(UPDATE, 0, 0), (UPDATE, 0, 0)] + [(UPDATE, b, 0) for b in range(1, nb)]
            + [(PROJECT, b, 1) for b in range(nb)] + [(NORM, b, 1) for b in range(nb)]
            + [(UPDATE, nb - 1, 1), (PROJECT, 0, 0)])
    cases = [random_params(rp, rng) for _ in plan]
    for case in cases:
        case.a = np.zeros(k, np.int64)        # written-back rows may use the full word
    rows = [random_rows(n, k, rp.vec_width, cases[0].a, rng) for n in banks]
    inputs = [random_inputs(rp, rng), random_inputs(rp, rng)]
    want = check_session(rp, rows, inputs, plan, cases, seed=k)
    assert any(w["norm2"] for w in want) and any(any(w["gram"]) for w in want)


def test_input_words_of_a_bank_start_on_a_fresh_beat():
    """Bank 1's words start on a fresh beat: with 5 words in bank 0 and 4 words a beat, the
    second beat's last three words are dropped, not stored as bank 1's first words."""
    rp = RowPass(banks=(5, 6), k=1, lanes=4, words=4, **WIDTHS)
    assert [rp.input_beats(b) for b in range(2)] == [2, 2]
    rng = np.random.default_rng(5)
    plan = pass_plan(rp, 0)                               # PROJECT, NORM on both banks
    cases = [random_params(rp, rng) for _ in plan]
    rows = [random_rows(n, 1, rp.vec_width, [0], rng) for n in rp.banks]
    inputs = [random_inputs(rp, rng), random_inputs(rp, rng)]
    got = rtl_session(rp, rows, inputs, plan, cases, seed=2)
    want, _ = ref_session(rp, rows, inputs, plan, cases)
    assert [{key: r[key] for key in w} for r, w in zip(got["passes"], want)] == want


def test_row_writes_wait_for_a_readout():
    """Rows offered on ``row_w`` while a readout runs are not taken (``ready`` low) until its
    last row has been read (the cycle before it is on ``row_o``): the readout returns the rows
    as they were, no row memory reads the address it writes (the watcher), and the waiting rows
    are written after it, in order."""
    rp = RowPass(banks=(7, 3), k=2, lanes=3, **WIDTHS)
    rng = np.random.default_rng(11)
    old = [random_rows(n, 2, rp.vec_width, [0, 0], rng) for n in rp.banks]
    new = random_rows(7, 2, rp.vec_width, [0, 0], rng)
    got = {}

    async def tb(ctx):
        await load_rows(ctx, rp, old, random.Random(1))
        ctx.set(rp.bank, 0)
        await pulse(ctx, rp.rewind)                       # the next writes: bank 0 again
        ctx.set(rp.row_o.ready, 1)
        await pulse(ctx, rp.readout)
        readout, written, waited = [], 0, 0
        while written < len(new):
            ctx.set(rp.row_w.payload, [int(v) for v in new[written]])
            ctx.set(rp.row_w.valid, 1)
            ready = ctx.get(rp.row_w.ready)
            if ready:
                assert len(readout) >= rp.banks[0] - 1, "a row write taken during the readout"
                written += 1
            else:
                waited += 1
            await ctx.tick()
            if ctx.get(rp.row_o.valid) and ctx.get(rp.row_o.ready):
                readout.append([int(v) for v in ctx.get(rp.row_o.payload)])
        ctx.set(rp.row_w.valid, 0)
        got["readout"], got["waited"] = np.array(readout).reshape(-1, 2), waited
        got["after"] = await read_bank(ctx, rp, 0)

    sim = Simulator(rp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.add_testbench(watch_collisions(rp), background=True)
    sim.run()
    assert got["waited"] >= 2 * (rp.banks[0] - 1)         # a read every other cycle
    assert np.array_equal(got["readout"], old[0])
    assert np.array_equal(got["after"], new)


@pytest.mark.parametrize("port_lanes", [None, 2])
def test_lane_port_matches_mac_model(port_lanes):
    """Random external beats (sub, clear/last patterns, idle cycles) on every lane with a port
    against the lane model; results arrive ``lane_latency`` cycles after the beat; a pass started
    right after the last beat delivers the results in flight, ignores beats while busy, and is
    bit-exact (also when a lane has no port)."""
    rp = RowPass(banks=(6, 3), k=2, lanes=3, words=3, port_lanes=port_lanes, **WIDTHS)
    assert rp.lane_latency == 3
    assert rp.port_lanes == (port_lanes or 3) and len(rp.lane_i) == rp.port_lanes
    fa, fb, facc = rp.lane_formats
    rng = np.random.default_rng(11)
    L = rp.port_lanes

    def random_beat(valid, clear=None):
        return {"valid": int(valid), "a": int(rng.integers(fa.min_raw, fa.max_raw + 1)),
                "b": int(rng.integers(fb.min_raw, fb.max_raw + 1)),
                "c": int(rng.integers(facc.min_raw, facc.max_raw + 1)),
                "clear": int(rng.random() < 0.3) if clear is None else clear,
                "last": int(rng.random() < 0.4), "sub": int(rng.random() < 0.5)}

    case = random_params(rp, rng)
    case.a = np.zeros(rp.k, np.int64)
    rows = [random_rows(n, rp.k, rp.vec_width, case.a, rng) for n in rp.banks]
    inputs = [random_inputs(rp, rng), random_inputs(rp, rng)]
    taken = [[] for _ in range(L)]            # (cycle, beat) taken by each lane
    events = [[] for _ in range(L)]           # (cycle, value) seen on lane_o
    out = {}

    async def tb(ctx):
        await load_rows(ctx, rp, rows, random.Random(1))
        await fill_buffer(ctx, rp, 0, input_beats(rp, inputs[0], rng), random.Random(2))
        cycle = 0

        async def step(beats):
            nonlocal cycle
            for lane, beat in enumerate(beats):
                ctx.set(rp.lane_i[lane], beat)
                if beat["valid"] and not ctx.get(rp.busy):
                    taken[lane].append((cycle, beat))
                if ctx.get(rp.lane_o[lane].valid):
                    events[lane].append((cycle, ctx.get(rp.lane_o[lane].value)))
            await ctx.tick()
            cycle += 1

        for _ in range(150):                                   # random beats and idle cycles
            await step([random_beat(rng.random() < 0.7) for _ in range(L)])
        last = [dict(random_beat(True), last=1) for _ in range(L)]
        await step(last)                                       # the last beat: every lane emits
        # the pass starts in the next cycle, where one more beat is still taken (busy is low)
        ctx.set(rp.params, {"a": [0] * rp.k, "cT": [[int(v) for v in r] for r in case.cT],
                            "w": [int(v) for v in case.w]})
        ctx.set(rp.mode, UPDATE)
        ctx.set(rp.bank, 0)
        ctx.set(rp.buf, 0)
        ctx.set(rp.start, 1)
        await step([dict(random_beat(True), last=1) for _ in range(L)])
        ctx.set(rp.start, 0)
        start_cycle = out["start"] = cycle - 1
        while not ctx.get(rp.done):                            # beats while busy: ignored
            await step([random_beat(True) for _ in range(L)])
        out["cycles"] = cycle - start_cycle
        out["gram"] = [ctx.get(rp.gram[i]) for i in range(3)]
        out["proj"] = [ctx.get(rp.proj[i]) for i in range(2)]
        await step([random_beat(True, clear=1) for _ in range(L)])  # after the pass: clear
        for _ in range(60):
            await step([random_beat(rng.random() < 0.7) for _ in range(L)])
        for _ in range(rp.lane_latency + 1):
            await step([random_beat(False) for _ in range(L)])
        out["rows"] = await read_bank(ctx, rp, 0)

    sim = Simulator(rp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()

    model = MACLaneModel(fa, fb, facc)
    for lane in range(L):
        cycles = np.array([c for c, _ in taken[lane]])
        beats = [b for _, b in taken[lane]]
        res = model.run(*(np.array([b[f] for b in beats]) for f in ("a", "b", "c")),
                        clear=[b["clear"] for b in beats], last=[b["last"] for b in beats],
                        sub=[b["sub"] for b in beats])
        want = list(zip((cycles[res.beat] + rp.lane_latency).tolist(), res.values.tolist()))
        assert events[lane] == want, f"lane {lane}"
        # the results of the beats before and in the start cycle come while the pass runs
        start = out["start"]
        assert {start - 1, start} <= {c for c, _ in taken[lane]}
        assert {start + 2, start + 3} <= {c for c, _ in events[lane]}
    new, gram, proj, _ = expected(rp, rows[0], case, inputs[0][0])
    assert out["cycles"] == rp.cycles_for(UPDATE, 0)
    assert out["gram"] == gram.tolist() and out["proj"] == proj.tolist()
    assert np.array_equal(out["rows"], new)


def test_derived_counts():
    rp = RowPass(banks=(784, 100), k=4, lanes=8, words=8, vec_width=16, coef_width=18,
                 shift=14, gw=2)
    assert rp.banks == (784, 100) and rp.row_depth == 98 + 13
    assert [rp.rows_per_lane(b) for b in (0, 1)] == [98, 13]
    assert [rp.bank_base(b) for b in (0, 1)] == [0, 98]
    assert [rp.input_beats(b) for b in (0, 1)] == [98, 13]
    assert rp.slot_beats == 28 and rp.lane_latency == 3 and rp.pass_latency == 4
    assert rp.useful_macs_for(UPDATE, 0) == 784 * 28
    assert rp.useful_macs_for(UPDATE, 0) / (rp.lanes * rp.cycles_for(UPDATE, 0)) > 0.98
    assert rp.useful_macs_for(PROJECT, 1) == 100 * 5 and rp.useful_macs_for(NORM, 0) == 784
    assert rp.useful_macs_for(NORM, 0) / (rp.lanes * rp.cycles_for(NORM, 0)) > 0.8
    assert rp.first_slot_lengths == (14 + 3 + 1, 14) and rp.row0_beat == 3
    assert rp.reduced_sums == ((0, 10, 14), (13, 14, 14))
    # start, prefetch, first slot, 12 full slots, the last slot's first result, 14 sums, the tree
    assert rp.cycles_for(UPDATE, 1) == 1 + 1 + 14 + 12 * 28 + (4 + 1) + 14 + 1
    assert rp.cycles_for(UPDATE, 0) == 1 + 1 + 14 + 97 * 28 + (4 + 1) + 14 + 1
    assert rp.cycles_for(PROJECT, 1) == 1 + 1 + 12 * 5 + (4 + 1) + 5 + 1
    assert rp.cycles_for(NORM, 0) == 1 + 1 + 97 + (4 + 1) + 1 + 1
    assert rp.sum_width == rp.acc_width + 4


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(k=0), ValueError, "k=0: must be in \\[1, 16\\]"),
    (dict(lanes=9), ValueError, "lanes=9: must be in \\[1, 8\\]"),
    (dict(coef_width=15), ValueError, "coef_width=15: must be at least vec_width \\+ gw = 16"),
    (dict(shift=0), ValueError, "shift=0: must be in"),
    (dict(words=0), ValueError, "words=0: must be in \\[1, 2\\]"),
    (dict(words=3), ValueError, "words=3: must be in \\[1, 2\\]"),
    (dict(lanes=3, words=2), ValueError, "words=2: must divide lanes=3"),
    (dict(words=1.0), TypeError, "words=1.0: must be an integer"),
    (dict(port_lanes=0), ValueError, "port_lanes=0: must be in \\[1, 2\\]"),
    (dict(port_lanes=3), ValueError, "port_lanes=3: must be in \\[1, 2\\]"),
    (dict(banks=()), ValueError, "banks=\\(\\): must hold 1 to 4 row counts"),
    (dict(banks=(8, 4, 2, 2, 1)), ValueError, "banks=\\(8, 4, 2, 2, 1\\): must hold 1 to 4"),
    (dict(banks=(8, 0)), ValueError, "banks=\\(8, 0\\): row counts must be at least 1"),
    (dict(banks=8), TypeError, "banks=8: must be a tuple of row counts"),
    (dict(banks=(8, "4")), TypeError, "banks=\\(8, '4'\\): row counts must be integers"),
])
def test_bad_parameters(kwargs, error, message):
    args = dict(banks=(8, 4), k=2, lanes=2, vec_width=14, coef_width=16, shift=10, gw=2)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        RowPass(**args)


def test_bad_bank_or_mode_in_counts():
    rp = RowPass(banks=(8, 4), k=2, lanes=2, **WIDTHS)
    with pytest.raises(ValueError, match="bank=2: must be in \\[0, 1\\]"):
        rp.cycles_for(UPDATE, 2)
    with pytest.raises(ValueError, match="mode=3: must be in \\[0, 2\\]"):
        rp.useful_macs_for(3, 0)
