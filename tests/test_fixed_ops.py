# amaranth: UnusedElaboratable=no
"""The hardware rounding step (hdl.fixed_ops) against the golden function, on the simulator."""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal, signed
from amaranth.sim import Simulator

from golden.fixed import FixedFormat, round_shift_saturate as ref_round_shift_saturate
from hdl.fixed_ops import (half_lsb, narrow_floor_shift, round_shift_saturate, shift_controls,
                           window_width)

WORD = FixedFormat(8, 7, rounding="half_up", overflow="saturate")
RAW_WIDTH = 14


class Step(Elaboratable):
    """The step on a ``RAW_WIDTH``-bit input, with a variable or a constant shift."""

    def __init__(self, shift=None, half_added=False, raw_width=RAW_WIDTH, fmt=WORD,
                 max_left=31, staged=False, less_one=False):
        self.raw = Signal(signed(raw_width))
        self.shift = Signal(signed(8)) if shift is None else shift
        self.half_added = half_added
        self.fmt, self.max_left = fmt, max_left
        self.word = Signal(signed(fmt.width))
        self.clamped = Signal()
        self.staged = staged          # a register as the step's ``stage`` (its width: cut_width)
        self.less_one = less_one      # the shift decoded by shift_controls from shift - 1
        self.cut_width = None

    def elaborate(self, platform):
        m = Module()
        kw = {} if isinstance(self.shift, int) else {"max_left": self.max_left}
        if self.staged:
            def stage(v):
                reg = Signal(v.shape(), name="cut")
                m.d.sync += reg.eq(v)
                self.cut_width = len(reg)
                return reg
            kw["stage"] = stage
        shift = self.shift
        if self.less_one:
            less = Signal(signed(len(self.shift) + 1))
            m.d.comb += less.eq(self.shift - 1)
            shift = shift_controls(m, less, len(self.raw), self.max_left, name="ctl",
                                   less_one=True)
        word, clamped = round_shift_saturate(m, self.raw, shift, self.fmt, name="step",
                                             half_added=self.half_added, **kw)
        m.d.comb += [self.word.eq(word), self.clamped.eq(clamped)]
        return m


def corner_values(shift):
    """Ties at +-0.5 LSB (and one either side), the saturation bounds exactly and one past
    them, the extreme inputs and zero."""
    lo, hi = -(1 << (RAW_WIDTH - 1)), (1 << (RAW_WIDTH - 1)) - 1
    values = {0, lo, hi, lo + 1, hi - 1, 1, -1}
    if shift > 0:
        half = 1 << (shift - 1)
        for n in range(-3, 3):
            for d in (-1, 0, 1):
                values.add((n << shift) + half + d)          # n + 0.5 LSB: a tie
    for bound in (WORD.max_raw, WORD.min_raw):
        for d in (-1, 0, 1):
            exact = (bound + d) << shift if shift >= 0 else (bound + d) >> -shift
            for e in (-1, 0, 1):
                values.add(exact + e)
    return sorted(v for v in values if lo <= v <= hi)


def width_cases(raw_width, fmt, shifts, *, seed):
    """``[(raw, shift)]`` for every shift of ``shifts``: the extremes of a ``raw_width``-bit
    input and around zero, every width of the input in both signs, ties at the word's bounds
    and at zero, and 8 random inputs."""
    lo, hi = -(1 << (raw_width - 1)), (1 << (raw_width - 1)) - 1
    rng = np.random.default_rng(seed)
    cases = []
    for s in shifts:
        values = {lo, hi, lo + 1, hi - 1, 0, 1, -1, 2, -2}
        for b in range(raw_width):             # every width of the input, both signs
            values |= {(1 << b) - 1, 1 << b, -(1 << b), -(1 << b) - 1}
        if 0 < s <= raw_width:                 # ties at the bounds of the word
            for bound in (fmt.max_raw, fmt.min_raw, 0):
                for d in (-1, 0, 1):
                    values.add((bound << s) + (1 << (s - 1)) + d)
        values |= {int(v) for v in rng.integers(lo, hi + 1, size=8)}
        cases += [(v, s) for v in sorted(values) if lo <= v <= hi]
    return cases


def run(step, cases):
    got = []

    async def tb(ctx):
        for raw, shift in cases:
            ctx.set(step.raw, raw)
            if isinstance(step.shift, Signal):
                ctx.set(step.shift, shift)
            got.append((ctx.get(step.word), bool(ctx.get(step.clamped))))

    sim = Simulator(step)
    sim.add_testbench(tb)
    sim.run()
    assert len(got) == len(cases)
    return got


def test_variable_shift_equals_golden():
    shifts = list(range(-12, RAW_WIDTH + 4)) + [-40, 60, 127, -128]
    cases = [(raw, s) for s in shifts for raw in corner_values(max(min(s, 20), -20))]
    got = run(Step(), cases)
    for (raw, s), (word, clamped) in zip(cases, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, s, WORD), (raw, s)


def test_variable_shift_cut_by_a_register_equals_golden():
    """The step cut by a register (the k x k engine's ``post_stages``): a stream of inputs,
    each result read a cycle later with the next input already applied, against the golden
    function; the register holds the word's window only, not the full shifted value."""
    step = Step(raw_width=23, max_left=8, staged=True)
    cases = width_cases(23, WORD, list(range(-10, 26)) + [-100, 100], seed=5)
    got = []

    async def tb(ctx):
        ctx.set(step.raw, cases[0][0])
        ctx.set(step.shift, cases[0][1])
        for raw, shift in cases[1:] + [(0, 0)]:
            await ctx.tick()
            ctx.set(step.raw, raw)               # the next input already: the register holds
            ctx.set(step.shift, shift)           # the last one's window
            got.append((ctx.get(step.word), bool(ctx.get(step.clamped))))

    sim = Simulator(step)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert step.cut_width == window_width(WORD) + 1     # the window before its rounding bit
    for (raw, s), (word, clamped) in zip(cases, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, s, WORD), (raw, s)


@pytest.mark.parametrize("raw_width,word_width,max_left", [
    (5, 8, 8),        # the input narrower than the word
    (9, 8, 9),        # narrower than the shifted window (word + 2 bits)
    (14, 8, 8),       # the left shift capped at the word width (as the k x k engine's)
    (23, 6, 12),
])
def test_variable_shift_other_widths_equals_golden(raw_width, word_width, max_left):
    """Every shift the controls can take (and beyond), on corners of each shift and random
    inputs: the narrowed shift (only the word's window shifted, the rest decided from the
    input's sign bits) against the golden function."""
    fmt = FixedFormat(word_width, word_width - 1, rounding="half_up", overflow="saturate")
    cases = width_cases(raw_width, fmt, list(range(-max_left - 2, raw_width + 3)) + [-100, 100],
                        seed=raw_width)
    got = run(Step(raw_width=raw_width, fmt=fmt, max_left=max_left), cases)
    for (raw, s), (word, clamped) in zip(cases, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, s, fmt), (raw, s)


@pytest.mark.parametrize("raw_width,max_left", [(RAW_WIDTH, 31), (23, 8), (5, 8)])
def test_variable_shift_from_shift_less_one_equals_golden(raw_width, max_left):
    """The controls decoded from the shift minus one (``shift_controls(less_one=True)``: the
    bounds as bit tests against constants, the left shift the complement): every shift the
    8-bit input holds, on the corners of each, against the golden function; the clamps'
    bounds (``width``, ``-max_left``) and one either side among them."""
    cases = width_cases(raw_width, WORD, range(-128, 128), seed=raw_width + 1)
    got = run(Step(raw_width=raw_width, max_left=max_left, less_one=True), cases)
    for (raw, s), (word, clamped) in zip(cases, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, s, WORD), (raw, s)


@pytest.mark.parametrize("shift", [-3, 0, 1, 2, 6, RAW_WIDTH - 1, RAW_WIDTH + 2])
def test_constant_shift_equals_golden(shift):
    cases = [(raw, shift) for raw in corner_values(shift)]
    got = run(Step(shift), cases)
    for (raw, s), (word, clamped) in zip(cases, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, s, WORD), (raw, s)


class NarrowStep(Elaboratable):
    """A constant right shift by ``shift`` as the k x k engine's constant-shift lanes build it:
    the floor shift by ``shift - 1`` narrowed to the word's window, then the rounding by 1."""

    def __init__(self, shift, raw_width, fmt):
        self.shift, self.fmt = shift, fmt
        self.raw = Signal(signed(raw_width))
        self.word = Signal(signed(fmt.width))
        self.clamped = Signal()

    def elaborate(self, platform):
        m = Module()
        pre = narrow_floor_shift(m, self.raw, self.shift - 1, window_width(self.fmt), name="n")
        word, clamped = round_shift_saturate(m, pre, 1, self.fmt, name="step")
        m.d.comb += [self.word.eq(word), self.clamped.eq(clamped)]
        return m


@pytest.mark.parametrize("raw_width", [6, 11, 23])
def test_narrow_floor_shift_rounds_as_golden(raw_width):
    """Narrowed first (the value, or the extreme of its sign when it leaves the window), the
    constant rounding gives the full value's word and flag: every width of the input, both
    signs, the ties at the bounds."""
    fmt = FixedFormat(6, 5, rounding="half_up", overflow="saturate")
    lo, hi = -(1 << (raw_width - 1)), (1 << (raw_width - 1)) - 1
    for shift in range(1, raw_width + 2):
        values = {lo, hi, 0, 1, -1}
        for b in range(raw_width):
            values |= {(1 << b) - 1, 1 << b, -(1 << b), -(1 << b) - 1}
        for bound in (fmt.max_raw, fmt.min_raw):
            for d in (-1, 0, 1):
                values.add((bound << shift) + (1 << (shift - 1)) + d)
        raws = sorted(v for v in values if lo <= v <= hi)
        got = run(NarrowStep(shift, raw_width, fmt), [(v, shift) for v in raws])
        assert got == [ref_round_shift_saturate(v, shift, fmt) for v in raws], shift


@pytest.mark.parametrize("shift", [1, 3, 6])
def test_half_added_upstream_equals_golden(shift):
    """The row pass adds half an LSB as the MAC lane's addend: the step shifts and clamps."""
    half = half_lsb(shift, RAW_WIDTH).value
    assert half == 1 << (shift - 1)
    lo, hi = -(1 << (RAW_WIDTH - 1)), (1 << (RAW_WIDTH - 1)) - 1
    raws = [v for v in corner_values(shift) if lo <= v + half <= hi]
    got = run(Step(shift, half_added=True), [(v + half, shift) for v in raws])
    for raw, (word, clamped) in zip(raws, got):
        assert (word, clamped) == ref_round_shift_saturate(raw, shift, WORD), raw


def test_parameters_are_checked():
    m = Module()
    raw = Signal(signed(8))
    with pytest.raises(TypeError, match="fmt=8: must be a FixedFormat"):
        round_shift_saturate(m, raw, 1, 8, name="x")
    with pytest.raises(ValueError, match="half_added=True: only with a constant shift"):
        round_shift_saturate(m, raw, Signal(signed(4)), WORD, name="x", half_added=True)
    with pytest.raises(ValueError, match="shift=0: half_added needs a right shift"):
        round_shift_saturate(m, raw, 0, WORD, name="x", half_added=True)
    with pytest.raises(ValueError, match="max_left=7: must be at least 8"):
        round_shift_saturate(m, raw, Signal(signed(4)), WORD, name="x", max_left=7)
    with pytest.raises(ValueError, match="shift=0: must be at least 1"):
        half_lsb(0, 8)
