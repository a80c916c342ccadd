"""The static schedule replayed cycle by cycle equals the micro-program's interpreter."""

import numpy as np
import pytest

from golden.fixed import FixedFormat, round_shift_saturate
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats
from golden.unit_program import (SEGMENTS, Dot, Expo, Move, PostOp, ProgramUnit, Seed, Select,
                                 expo_fn, exponent, run_segment)


def round_word(value, shift, width):
    return round_shift_saturate(value, shift, FixedFormat(width, rounding="half_up",
                                                          overflow="saturate"))
from hdl.kxk_schedule import schedule_program


def replay(seg, regs, inputs, F, width, latency, post_stages=0, alu_stages=0, shift_lead=0):
    """Cycle-accurate replay: reads see the registers at the start of a cycle, writes land at
    its end; each lane keeps one accumulator. A Dot's result is written ``post_stages`` cycles
    after it lands, its variable shift's exponents read ``shift_lead`` cycles before; an ALU's
    result ``alu_stages`` cycles after its operands are read (a Move's exponents
    ``shift_lead`` cycles before that when ``alu_stages`` is 0). Cycle -1 sees the registers
    before the segment. Returns the clamp flag."""
    flag = False
    lanes = len(seg.beats[0]) if seg.beats else 0
    acc = [0] * lanes
    pending = {}                      # (cycle, lane) -> value travelling down the lane
    late = {}                         # cycle -> {register: value} written at its end
    snaps = {-1: dict(regs)}
    alu_lead = shift_lead if alu_stages == 0 else 0

    def val(name, snap):
        if name.startswith("#"):
            return int(name[1:])
        return inputs[name] if name in inputs else snap[name]

    for t in range(seg.cycles):
        snap = snaps[t] = dict(regs)
        writes = late.setdefault(t + post_stages, {})
        for lane in range(lanes):
            beat = seg.beats[t][lane]
            if beat is not None:
                op, j = beat
                if j == 0:
                    if isinstance(op.addend, tuple):
                        acc[lane] = val(op.addend[0], snap) << op.addend[1]
                    elif isinstance(op.addend, str):
                        acc[lane] = inputs[op.addend]
                    else:
                        acc[lane] = op.addend or 0
                a, b = op.terms[j]
                p = val(a, snap) * val(b, snap)
                acc[lane] += -p if op.sub else p
                if j == len(op.terms) - 1:
                    pending[(t + latency, lane)] = acc[lane]
            op = seg.posts[t][lane]
            if op is not None:
                value = pending.pop((t, lane))
                if op.kind == PostOp.ROUND:
                    early = snaps[t - shift_lead]
                    shift = op.shift + sum(s * early[e] for s, e in op.var)
                    writes[op.dst], c = round_word(value, shift, width)
                    flag |= c
                elif op.kind == PostOp.LOD:
                    writes[op.dst] = exponent(value, op.shift)
                else:
                    writes[op.dst] = int(0 < value < op.bound)
        alu_writes = late.setdefault(t + alu_stages, {})
        for op in seg.alu[t]:
            flag |= alu_op(op, snap, snaps[t - alu_lead], alu_writes, val, F, width)
        regs.update(late.pop(t, {}))
    assert not pending, "results still in flight at the segment end"
    assert not any(late.values()), "writes still in flight at the segment end"
    return flag


def alu_op(op, snap, early, writes, val, F, width):
    """One ALU operation (or None): reads ``snap`` (a Move's source and exponents ``early``),
    adds to ``writes``; returns the clamp."""
    flag = False
    if op is not None:
        if isinstance(op, Move):
            v = val(op.src, early)
            if op.kind == PostOp.ROUND:
                shift = op.shift + sum(s * early[e] for s, e in op.var)
                writes[op.dst], c = round_word(v, shift, width)
                flag |= c
            else:
                writes[op.dst] = exponent(v, op.shift)
        elif isinstance(op, Expo):
            writes[op.dst] = expo_fn(op.fn, snap[op.src])
        elif isinstance(op, Seed):
            fmt = F.recip
            shift = fmt.frac - (snap[op.exp] + 1)
            over, under = shift >= fmt.width - 1, shift < 0
            flag |= over or under
            raw = fmt.max_raw if over else (0 if under else 1 << shift)
            sig = snap[op.sig]
            writes[op.dst] = 0 if sig == 0 else (raw if sig > 0 else -raw)
        elif isinstance(op, Select):
            writes[op.dst] = snap[op.a] if snap[op.flag] else snap[op.b]
    return flag


PIPES = {"none": {}, "lead": dict(shift_lead=1), "post": dict(post_stages=1),
         "alu1": dict(alu_stages=1), "alu2": dict(alu_stages=2),
         "all": dict(shift_lead=1, post_stages=2, alu_stages=2)}


@pytest.mark.parametrize("pipe", list(PIPES))
@pytest.mark.parametrize("k, lanes, alus, movers, general", [
    (1, 1, 1, 1, 1), (2, 4, 2, 2, 4), (3, 2, 1, 1, 2), (4, 8, 4, 4, 8), (4, 4, 2, 1, 2),
    (4, 4, 2, 1, 1)])
def test_schedule_replay_equals_interpreter(k, lanes, alus, movers, general, pipe):
    rng = np.random.default_rng(k * 10 + lanes)
    F = UnitFormats.for_width(16)
    model = SBPCAUnitModel(24, 10, k=k, formats=F, b_max=8)
    model.load(qr_signfix(rng.normal(size=(24, k))), qr_signfix(rng.normal(size=(10, k))), 0.3)
    ref = ProgramUnit(model)
    ref.load_from(model)
    sched = schedule_program(ref.prog, lanes=lanes, latency=3, alus=alus, movers=movers,
                             general=general, **PIPES[pipe])
    assert all(not isinstance(op, Move) for seg in sched.segments.values() for ops in seg.alu
               for op in ops[movers:])
    # past the general lanes, results are only rounded by a constant right shift
    assert all(op.kind == PostOp.ROUND and not op.var and op.shift >= 1
               for seg in sched.segments.values() for ops in seg.posts
               for op in ops[general:] if op is not None)
    # feed both the same segment inputs: record them from the reference run
    seen = []
    original = ref._run

    def recording(segment, inputs):
        seen.append((segment, dict(inputs), dict(ref.regs)))
        original(segment, inputs)

    ref._run = recording
    xs = F.x.quantize(rng.normal(size=(6, 24)) * 0.3)[0]
    ds = F.d.quantize(rng.normal(size=(6, 10)) * 0.3)[0]
    for i in range(6):
        ref.sample(xs[i], ds[i], i + 1)
    assert [s for s, _, _ in seen[:4]] == list(SEGMENTS)
    for segment, inputs, before in seen:
        want = dict(before)
        run_segment(ref.prog, segment, want, inputs, F)
        got = dict(before)
        replay(sched.segments[segment], got, inputs, F, ref.prog.word_width, 3, **PIPES[pipe])
        diff = [n for n in want if want[n] != got.get(n)]
        assert not diff, f"{segment}: {diff[:5]}"


def test_schedule_counts_every_multiply_once():
    F = UnitFormats.for_width(16)
    model = SBPCAUnitModel(24, 10, k=4, formats=F, b_max=8)
    prog = ProgramUnit(model).prog
    sched = schedule_program(prog, lanes=8, latency=3)
    assert sched.macs() == prog.macs()
    for seg in sched.segments.values():
        assert sum(b is not None for row in seg.beats for b in row) == seg.macs
        assert sum(isinstance(op, Dot) for row in seg.posts for op in row) == \
            sum(1 for row in seg.beats for b in row if b is not None and
                b[1] == len(b[0].terms) - 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(movers=0), "movers=0: must be 1..alus=2"),
    (dict(movers=3), "movers=3: must be 1..alus=2"),
    (dict(general=0), "general=0: must be 1..lanes=2"),
    (dict(general=3), "general=3: must be 1..lanes=2"),
    (dict(post_stages=3), "post_stages=3: must be 0..2"),
    (dict(alu_stages=-1), "alu_stages=-1: must be 0..2"),
    (dict(shift_lead=2), "shift_lead=2: must be 0..1")])
def test_schedule_rejects_units_beyond_the_lanes_and_alus(kwargs, message):
    prog = ProgramUnit(SBPCAUnitModel(24, 10, k=2, formats=UnitFormats.for_width(16),
                                      b_max=8)).prog
    with pytest.raises(ValueError, match=message):
        schedule_program(prog, lanes=2, latency=3, alus=2, **kwargs)
