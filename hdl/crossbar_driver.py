"""Crossbar driver: the GAIN, PLAN and SLOTS stages of :mod:`golden.driver`, one term at a time.

The contract is :mod:`golden.driver`'s docstring; the bit-exact reference is
:class:`golden.driver.model.CrossbarDriverModel`. This Component takes a term's factor words and
its ``sigma`` word, computes the plan (``Km``, ``sr``, ``sc``: :mod:`hdl.crossbar_driver_gain`),
turns the words into the term's probability words once (PLAN), and drives its ``BL`` slots::

   i (G words per beat: R beats of d words, then C beats of x words)       i_sigma (sigma)
     +--> |w| per lane --> max tree (a register a level) --> d_max, x_max         |
     v                                                                            v
   factor memory, R + C rows of G words                         GAIN (GAIN_CYCLES, pipelined)
     |  PLAN pass, once per term (R + C reads, PLAN_LATENCY stages):  Km, sr, sc, neg, skip
     |    read -> |w|, sign -> v = |w| * (Km if row else 1) -> coarse shift -> fine shift
     |         -> round half up -> saturate, clip flag -> (n = R5(BL p)) -> line memory
     |                                                   -> clip count (popcount, add)
     v
   line memory, R + C rows of G line words (p or n, sign)
     |  SLOTS, per slot: load cycle c reads row c (read issued a cycle ahead)
     |    stochastic:    pulse = draw_g < p     (draw_g a register: the LFSR runs p_bits ahead)
     |    deterministic: rows t < n; columns Bresenham acc (a ring of C accumulators per lane)
     v
   latches row_pulse/row_sign (n_out), col_pulse/col_sign (n_in)  ->  fire (fire_cycles)

Timing: the words are loaded first (``R + C`` beats on ``i``, one per cycle at most), then a
beat on ``i_sigma`` starts the term. From the cycle after that transfer ``busy`` is high for
``cycles_per_term = GAIN_CYCLES + (R + C + PLAN_LATENCY) + BL (R + C + fire_cycles)`` cycles
(:class:`golden.driver.model.SlotSchedule`): the GAIN cycles, the PLAN pass, then per slot
``R + C`` load cycles (rows first; load cycle ``c`` writes lines ``c G .. c G + G - 1`` of its
side) and ``fire_cycles`` cycles with ``fire`` high, during which the latches hold the slot's
pulses. Every path is one short operation between registers: the multiplies (one per lane, used
only in the PLAN pass, and two in GAIN) have registered operands and results, shifters are
split in two, leading-one detects are trees, and the maxima of the words are a tree with a
register per level (final before the first GAIN cycle that reads them; checked at
construction). The latches are single-buffered and the words must not change during a term:
``i`` is ready only between terms. (The FACTOR stage, which forms the words from the unit's
readout, is not part of this Component: the words come in on ``i``.)
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.check import check_choice, check_int
from golden.driver.lfsr import DEGREE, LANE_POLYS, MAX_DRAW_BITS, lfsr_step, tap_mask
from golden.driver.model import LR_SHIFT_RANGE, PLAN_LATENCY, SCHEMES, SlotSchedule
from .crossbar_driver_gain import GAIN_STATES, MAXIMA_FIRST_READ, build_gain, shift_width

__all__ = ["CrossbarDriver", "lfsr_draw_taps", "plan_fields", "LR_SHIFT_RANGE"]

#: Width of the ``clipped_terms`` counter (it wraps).
CLIPPED_TERMS_BITS = 16


def lfsr_draw_taps(taps, bits: int) -> tuple:
    """For each bit of the state after ``bits`` steps of the lane LFSR with middle exponents
    ``taps``, the old-state bits whose XOR it is (generation-time unrolling of
    :func:`golden.driver.lfsr.lfsr_step`)."""
    mask = tap_mask(taps)
    state = [frozenset([k]) for k in range(DEGREE)]      # state[k]: old bits XORed into bit k
    for _ in range(bits):
        new = frozenset()
        for k in range(DEGREE):
            if mask >> k & 1:
                new = new ^ state[k]
        state = [new] + state[:-1]
    return tuple(tuple(sorted(s)) for s in state)


def plan_fields(plan) -> dict:
    """The :attr:`CrossbarDriver.plan` fields a :class:`golden.driver.model.TermPlan` gives."""
    return {"gain": plan.gain, "gain_exp": plan.gain_exp, "row_shift": plan.row_shift,
            "col_shift": plan.col_shift, "neg": int(plan.sigma < 0), "skip": int(plan.skipped)}


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def _draw_state(seed: int, taps, bits: int) -> int:
    """The lane's state after its first draw: ``bits`` steps from ``seed`` (the RTL keeps the
    LFSR one draw ahead, so a draw is a register, not an XOR tree)."""
    mask, state = tap_mask(taps), seed
    for _ in range(bits):
        state = lfsr_step(state, mask)
    return state


def _xor_step(m, state, taps, bits: int, name: str):
    """``bits`` LFSR steps of ``state`` as XORs of its bits (:func:`lfsr_draw_taps`)."""
    nxt = Signal(DEGREE, name=name)
    for k, srcs in enumerate(lfsr_draw_taps(taps, bits)):
        bit = Const(0, 1)
        for s in srcs:
            bit = bit ^ state[s]
        m.d.comb += nxt[k].eq(bit)
    return nxt


def _max_tree(m, values, name: str):
    """The maximum of unsigned ``values``, a register after every level of the tree: returns
    ``(value, levels)``; every value reaches the top ``levels`` cycles later."""
    level = 0
    while len(values) > 1:
        nxt = []
        for j in range(0, len(values) - 1, 2):
            a, b = values[j], values[j + 1]
            r = Signal(len(a), name=f"{name}_l{level}_{j // 2}")
            m.d.sync += r.eq(Mux(a > b, a, b))
            nxt.append(r)
        if len(values) % 2:                   # delayed too: the levels stay aligned
            r = Signal(len(values[-1]), name=f"{name}_l{level}_{len(values) // 2}")
            m.d.sync += r.eq(values[-1])
            nxt.append(r)
        values, level = nxt, level + 1
    return values[0], level


def _popcount(m, bits, name: str):
    """The number of set bits, an adder tree (log depth)."""
    vals = [b for b in bits]
    while len(vals) > 1:
        nxt = [vals[j] + vals[j + 1] for j in range(0, len(vals) - 1, 2)]
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    out = Signal(range(len(bits) + 1), name=name)
    m.d.comb += out.eq(vals[0])
    return out


class CrossbarDriver(wiring.Component):
    """Drive one crossbar term per ``sigma`` beat: plan its gain, then pulse its slots.

    Parameters
    ----------
    n_in, n_out : int
        Column lines (x side) and row lines (delta side).
    vec_width, sigma_width : int
        Widths of the factor words and of the ``sigma`` word (signed).
    gain_const, exponent : int
        The generation-time constants ``C = lr_mult M`` and ``E``
        (:attr:`CrossbarDriverModel.gain_const`, :attr:`~CrossbarDriverModel.exponent`).
    bl : int
        Slots per term.
    p_bits, gain_bits : int
        Probability word width and gain mantissa width.
    group : int
        Latch lanes ``G``, one LFSR each (``LANE_POLYS[g]``).
    fire_cycles : int
        Cycles of ``fire`` per slot.
    scheme : {"stochastic", "deterministic"}
    seeds : tuple of int
        The ``G`` lanes' LFSR start states (:attr:`CrossbarDriverModel.lane_seeds`; default
        ``1 .. G``).
    lr_shift_port : bool
        Give the design a run-time ``lr_shift`` input (:data:`LR_SHIFT_RANGE`): the learning
        rate is then ``lr_mult 2**-lr_shift`` with ``lr_mult`` folded into ``gain_const`` at
        generation time, and ``exponent`` is ``E`` for ``lr_shift = 0``
        (``CrossbarDriverModel.exponent - CrossbarDriverModel.lr_shift``). A host whose input
        scales are known only at run time (the training harness) sets it once per run.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(vec_width), group)))
        Factor words of a term: ``R`` beats of ``D[:, r]`` (beat ``b`` lane ``g`` is row
        ``b G + g``), then ``C`` beats of ``X[:, r]``; words beyond the lines are ignored.
    i_sigma : In(stream.Signature(sigma_layout))
        ``{sigma}``: the term's ``sigma`` word; its transfer starts the term.
    plan : Out(plan_layout)
        The GAIN stage's registers ``{gain, gain_exp, row_shift, col_shift, neg, skip}``
        (``Km``, ``kx``, ``sr``, ``sc``, ``sigma < 0``, skipped term), valid from the first
        load cycle to the end of the term.
    clip_lines : Out(range(n_in + n_out + 1))
        The term's clipped lines (:attr:`golden.driver.model.TermPlan.clipped_lines`: rows and
        columns whose wanted probability exceeds 1, i.e. whose rounded word exceeds
        ``2**p_bits``; exactly ``2**p_bits`` is probability 1, not clipped), valid from the
        term's first load cycle until the next ``sigma`` transfer (0 from that transfer until
        the next term's first load cycle).
    clip : Out(1)
        ``clip_lines != 0`` (:attr:`~golden.driver.model.TermPlan.clip`), valid likewise.
    clipped_terms : Out(16)
        Terms with ``clip`` since reset, modulo ``2**16`` (the model's
        ``stats()["clipped_terms"]``); it counts a term in its first load cycle.
    row_pulse, row_sign : Out(n_out)
    col_pulse, col_sign : Out(n_in)
        The latches: pulse bits and sign bits (1 = negative pulse).
    fire : Out(1)
        High during the slot's fire cycles; the latches hold that slot's pulses.
    busy : Out(1)
        A term is running (high for :attr:`term_cycles` cycles).
    lr_shift : In(signed(7))
        Only with ``lr_shift_port``: held constant while a term runs.
    """

    def __init__(self, n_in, n_out, *, gain_const, exponent, vec_width=16, sigma_width=18,
                 bl=31, p_bits=16, gain_bits=16, group=8, fire_cycles=1, scheme="stochastic",
                 seeds=None, lr_shift_port=False):
        self._n_in = check_int("n_in", n_in, minimum=1)
        self._n_out = check_int("n_out", n_out, minimum=1)
        self._vec_width = check_int("vec_width", vec_width, minimum=2, maximum=30)
        self._bl = check_int("bl", bl, minimum=1, maximum=1023)
        self._p_bits = check_int("p_bits", p_bits, minimum=2, maximum=MAX_DRAW_BITS)
        self._gain_bits = check_int("gain_bits", gain_bits, minimum=4, maximum=24)
        self._sigma_width = check_int("sigma_width", sigma_width, minimum=2, maximum=30)
        self._gain_const = check_int("gain_const", gain_const, minimum=1, maximum=(1 << 32) - 1)
        self._exponent = check_int("exponent", exponent, minimum=-256, maximum=256)
        k_bits = self._gain_const.bit_length() + self._sigma_width - 1
        self._lr_shift_port = bool(lr_shift_port)
        self._span = LR_SHIFT_RANGE if self._lr_shift_port else (0, 0)
        self._shift_width = shift_width(exponent=self._exponent, p_bits=self._p_bits,
                                        k_bits=k_bits, vec_width=self._vec_width,
                                        gain_bits=self._gain_bits, span=self._span)
        self._k_bits = k_bits
        self._group = check_int("group", group, minimum=1, maximum=len(LANE_POLYS))
        self._fire_cycles = check_int("fire_cycles", fire_cycles, minimum=1, maximum=1 << 16)
        self._scheme = check_choice("scheme", scheme, SCHEMES)
        if seeds is None:
            seeds = tuple(range(1, self._group + 1))
        seeds = tuple(check_int(f"seeds[{g}]", s, minimum=1, maximum=(1 << DEGREE) - 1)
                      for g, s in enumerate(seeds))
        if len(seeds) != self._group:
            raise ValueError(f"seeds: {len(seeds)} start states for group={self._group} lanes")
        self._seeds = seeds
        # the maxima are final 2 + levels cycles after the last word's transfer, GAIN reads
        # them 2 + MAXIMA_FIRST_READ cycles after it at the earliest (true for group <= 64)
        if (self._group - 1).bit_length() > MAXIMA_FIRST_READ:
            raise ValueError(f"group={self._group}: the maxima tree is later than GAIN")
        ports = {"lr_shift": In(signed(7))} if self._lr_shift_port else {}
        super().__init__({
            **ports,
            "i": In(stream.Signature(self.word_layout)),
            "i_sigma": In(stream.Signature(self.sigma_layout)),
            "plan": Out(self.plan_layout),
            "row_pulse": Out(self._n_out), "row_sign": Out(self._n_out),
            "col_pulse": Out(self._n_in), "col_sign": Out(self._n_in),
            "fire": Out(1), "busy": Out(1),
            "clip_lines": Out(range(self._n_in + self._n_out + 1)), "clip": Out(1),
            "clipped_terms": Out(CLIPPED_TERMS_BITS),
        })

    @classmethod
    def for_model(cls, model, **overrides):
        """The driver with ``model``'s (a :class:`CrossbarDriverModel`) parameters; with
        ``lr_shift_port=True`` the exponent is the model's for ``lr_shift = 0`` (the host sets
        the port to :attr:`CrossbarDriverModel.lr_shift`)."""
        base = model.exponent - (model.lr_shift if overrides.get("lr_shift_port") else 0)
        kw = dict(gain_const=model.gain_const, exponent=base,
                  vec_width=model.formats.vec.width, sigma_width=model.formats.sigma.width,
                  bl=model.bl, p_bits=model.p_bits, gain_bits=model.gain_bits,
                  group=model.group, fire_cycles=model.fire_cycles, scheme=model.scheme,
                  seeds=model.lane_seeds)
        kw.update(overrides)
        return cls(model.n_in, model.n_out, **kw)

    n_in = property(lambda self: self._n_in)
    n_out = property(lambda self: self._n_out)
    bl = property(lambda self: self._bl)
    p_bits = property(lambda self: self._p_bits)
    group = property(lambda self: self._group)
    fire_cycles = property(lambda self: self._fire_cycles)
    scheme = property(lambda self: self._scheme)
    seeds = property(lambda self: self._seeds)
    lr_shift_port = property(lambda self: self._lr_shift_port)

    @property
    def schedule(self):
        """The term's cycle schedule, the golden model's (:class:`golden.driver.SlotSchedule`):
        ``busy`` is high for its ``cycles_per_term`` cycles (measured by the tests)."""
        return SlotSchedule.of(self._n_in, self._n_out, self._group, self._bl, self._fire_cycles)

    row_groups = property(lambda self: self.schedule.row_groups)
    col_groups = property(lambda self: self.schedule.col_groups)
    load_cycles = property(lambda self: self.schedule.load_cycles)
    slot_cycles = property(lambda self: self.schedule.slot_cycles)
    term_cycles = property(lambda self: self.schedule.cycles_per_term)

    @property
    def sigma_layout(self) -> data.StructLayout:
        return data.StructLayout({"sigma": signed(self._sigma_width)})

    @property
    def word_layout(self) -> data.ArrayLayout:
        return data.ArrayLayout(signed(self._vec_width), self._group)

    @property
    def plan_layout(self) -> data.StructLayout:
        return data.StructLayout({
            "gain": unsigned(self._gain_bits),
            "gain_exp": range(self._k_bits + 2),
            "row_shift": signed(self._shift_width),
            "col_shift": signed(self._shift_width),
            "neg": unsigned(1),
            "skip": unsigned(1),
        })

    @property
    def parameters(self) -> dict:
        return {"n_in": self._n_in, "n_out": self._n_out, "vec_width": self._vec_width,
                "bl": self._bl, "p_bits": self._p_bits, "gain_bits": self._gain_bits,
                "sigma_width": self._sigma_width, "gain_const": self._gain_const,
                "exponent": self._exponent, "group": self._group,
                "fire_cycles": self._fire_cycles, "scheme": self._scheme,
                "seeds": list(self._seeds), "lr_shift_port": self._lr_shift_port}

    def elaborate(self, platform):
        m = Module()
        G, R, C, P, BL = self._group, self.row_groups, self.col_groups, self._p_bits, self._bl
        vw, gb, n_in, n_out = self._vec_width, self._gain_bits, self._n_in, self._n_out
        RC, LAT = R + C, PLAN_LATENCY
        det = self._scheme == "deterministic"
        ones = (1 << P) - 1

        # factor memory (WORDS writes, PLAN reads) and line memory (PLAN writes, SLOTS reads)
        val_bits = _bits(BL) if det else P + 1        # n, or p with all ones as 2**p_bits
        lw = val_bits + 1                             # and the sign
        m.submodules.mem = mem = Memory(shape=unsigned(G * vw), depth=RC, init=[])
        wp = mem.write_port()
        frp = mem.read_port()
        m.submodules.lines = lines = Memory(shape=unsigned(G * lw), depth=RC, init=[])
        lwp = lines.write_port()
        lrp = lines.read_port()

        # term registers (the GAIN stage's results) and counters
        gain = Signal(gb)
        gain_exp = Signal(range(self._k_bits + 2))
        sr = Signal(signed(self._shift_width))
        sc = Signal(signed(self._shift_width))
        neg = Signal()
        skip = Signal()
        m.d.comb += [self.plan.gain.eq(gain), self.plan.gain_exp.eq(gain_exp),
                     self.plan.row_shift.eq(sr), self.plan.col_shift.eq(sc),
                     self.plan.neg.eq(neg), self.plan.skip.eq(skip)]
        abs_sigma = Signal(self._sigma_width)
        sigma_zero = Signal()
        d_max = Signal(vw)
        x_max = Signal(vw)
        beat = Signal(range(RC))
        c = Signal(range(RC))             # load cycle in the slot
        t = Signal(range(max(2, BL)))     # slot
        f = Signal(range(max(2, self._fire_cycles)))
        pc = Signal(range(RC + LAT))      # PLAN cycle
        planning = Signal()
        loading = Signal()
        start = Signal()
        in_words = Signal()

        # -- the maxima of the words: |w| registered, then a tree with a register per level;
        # a beat is all rows or all columns, so one tree serves both, its side travelling along
        take = Signal()
        in_row = Signal()
        m.d.comb += [take.eq(in_words & self.i.valid), in_row.eq(beat < R)]
        mags = []
        for g in range(G):
            raw = self.i.payload[g]
            row_ok = (beat != R - 1) if g >= n_out - (R - 1) * G else Const(1)
            col_ok = (beat != RC - 1) if g >= n_in - (C - 1) * G else Const(1)
            mag = Signal(vw, name=f"mag{g}")
            m.d.sync += mag.eq(Mux(take & Mux(in_row, row_ok, col_ok),
                                   Mux(raw < 0, -raw, raw), 0))
            mags.append(mag)
        top, levels = _max_tree(m, mags, "wmax")
        top_row = in_row
        for k in range(levels + 1):
            nxt = Signal(name=f"wmax_row{k}")
            m.d.sync += nxt.eq(top_row)
            top_row = nxt
        with m.If(top_row):
            m.d.sync += d_max.eq(Mux(top > d_max, top, d_max))
        with m.Else():
            m.d.sync += x_max.eq(Mux(top > x_max, top, x_max))

        # -- GAIN
        gain_is = {name: Signal(name=f"is_{name.lower()}") for name in GAIN_STATES}
        build_gain(m, abs_sigma=abs_sigma, sigma_zero=sigma_zero, d_max=d_max, x_max=x_max,
                   gain_const=self._gain_const, exponent=self._exponent, p_bits=P,
                   gain_bits=gb, vec_width=vw, sigma_width=self._sigma_width,
                   lr_shift=self.lr_shift if self._lr_shift_port else None, span=self._span,
                   out={"is": gain_is, "gain": gain, "gain_exp": gain_exp, "row_shift": sr,
                        "col_shift": sc, "skip": skip})

        # -- PLAN: one pass over the words, a stage a cycle; tags (valid, row) travel along
        VW = vw - 1 + gb                  # |w| Km < 2**VW
        L0 = P + 2                        # left shifts beyond P + 2 saturate anyway
        amt_bits = _bits(L0 + VW)
        ctrl = {}
        for side, s in (("r", sr), ("c", sc)):
            # v 2**-s as one right shift of v 2**L0: by L0 + s - 1 (then the rounding's >> 1)
            # or by L0 + s >= 0 (s <= 0, exact); two register steps (sr, sc are settled a
            # cycle before PLAN, amt from its third cycle, when pick first reads it)
            right = Signal(name=f"plan_right_{side}")
            rs = Signal(range(VW + 1), name=f"plan_rs_{side}")
            ls = Signal(range(L0 + 1), name=f"plan_ls_{side}")
            amt = Signal(amt_bits, name=f"plan_amt_{side}")
            m.d.sync += [right.eq(s > 0), rs.eq(Mux(s > VW + 1, VW, s - 1)),
                         ls.eq(Mux(s < -L0, L0, -s)),
                         amt.eq(Mux(right, L0 + rs, L0 - ls))]
            ctrl[side] = (amt, right)
        tv = [Signal(name=f"plan_v{k}") for k in range(LAT + 1)]
        tc = [Signal(range(RC), name=f"plan_c{k}") for k in range(LAT + 1)]
        m.d.comb += [tv[0].eq(planning & (pc < RC)), tc[0].eq(pc), frp.addr.eq(pc)]
        for k in range(1, LAT + 1):
            m.d.sync += [tv[k].eq(tv[k - 1]), tc[k].eq(tc[k - 1])]
        is_r = [Signal(name=f"plan_row{k}") for k in range(LAT + 1)]
        m.d.comb += is_r[0].eq(pc < R)
        m.d.sync += [is_r[k].eq(is_r[k - 1]) for k in range(1, LAT + 1)]

        def pick(k, which):
            """The side's shift control for stage ``k``, selected a stage ahead (the controls
            are settled from PLAN's third cycle, when the first row is in stage 2)."""
            r = Signal(len(ctrl["r"][which]), name=f"plan_ctrl{which}_{k}")
            m.d.sync += r.eq(Mux(is_r[k - 1], ctrl["r"][which], ctrl["c"][which]))
            return r

        op = Signal(gb, name="plan_op")
        m.d.sync += op.eq(Mux(is_r[1], gain, 1))
        shift_c = Signal(amt_bits, name="plan_coarse")
        m.d.comb += shift_c.eq(Cat(Const(0, 3), pick(3, 0)[3:]))
        shift_f, rounds = pick(4, 0)[:3], pick(5, 1)
        line_words, clips = [], []
        for g in range(G):
            w = Signal(signed(vw), name=f"w{g}")
            m.d.comb += w.eq(frp.data[g * vw:(g + 1) * vw].as_signed())
            absw = Signal(vw, name=f"absw{g}")          # stage 1
            sgn = [Signal(name=f"sgn{g}_{k}") for k in range(2, 9)]   # sgn[k - 2]: stage k
            m.d.sync += [absw.eq(Mux(w < 0, -w, w)), sgn[0].eq((w < 0) ^ (is_r[1] & neg))]
            m.d.sync += [sgn[k].eq(sgn[k - 1]) for k in range(1, len(sgn))]
            v = Signal(VW, name=f"v{g}")                 # stage 2: the lane's multiply
            m.d.sync += v.eq(absw * op)
            hi3 = P + 10
            u3 = Signal(hi3, name=f"u3_{g}")             # stage 3: coarse shift (multiples of 8)
            big3 = Signal(name=f"big3_{g}")
            sh3 = Signal(VW + L0, name=f"sh3_{g}")
            m.d.comb += sh3.eq(Cat(Const(0, L0), v) >> shift_c)
            m.d.sync += [u3.eq(sh3[:hi3]), big3.eq(sh3[hi3:] != 0)]
            u4 = Signal(P + 3, name=f"u4_{g}")           # stage 4: fine shift (0 .. 7)
            big4 = Signal(name=f"big4_{g}")
            sh4 = Signal(hi3, name=f"sh4_{g}")
            m.d.comb += sh4.eq(u3 >> shift_f)
            m.d.sync += [u4.eq(sh4[:P + 3]), big4.eq(big3 | (sh4[P + 3:] != 0))]
            q = Signal(P + 3, name=f"q{g}")              # stage 5: round half up (R4)
            big5 = Signal(name=f"big5_{g}")
            m.d.sync += [q.eq(Mux(rounds, (u4 + 1) >> 1, u4)), big5.eq(big4)]
            full = Signal(P + 1, name=f"p{g}")           # stage 6: saturate, clip flag
            clip = Signal(name=f"clip{g}")
            row_ok = (tc[6] != R - 1) if g >= n_out - (R - 1) * G else Const(1)
            col_ok = (tc[6] != RC - 1) if g >= n_in - (C - 1) * G else Const(1)
            exists = tv[6] & ~skip & Mux(is_r[6], row_ok, col_ok)
            always = big5 | (q >= ones)
            m.d.sync += [full.eq(Mux(skip, 0, Mux(always, 1 << P, q))),
                         clip.eq(exists & (big5 | (q > (1 << P))))]
            if det:                  # stages 7, 8: R5, n = round(BL p) (a registered product)
                prod = Signal(P + 1 + _bits(BL), name=f"bl_p{g}")
                m.d.sync += prod.eq(full * BL)
                n = Signal(val_bits, name=f"n{g}")
                m.d.comb += n.eq((prod + (1 << (P - 1))) >> P)
                line_words.append(Cat(n, sgn[8 - 2]))
                clip7 = Signal(name=f"clip7_{g}")
                m.d.sync += clip7.eq(clip)
                clips.append(clip7)
            else:
                line_words.append(Cat(full, sgn[7 - 2]))
                clips.append(clip)
        # the line words are written at stage `write`, their clip bits counted there and
        # added up a stage later (PLAN_LATENCY = 9 covers both schemes: stochastic idles)
        write = 8 if det else 7
        m.d.comb += [lwp.addr.eq(tc[write]), lwp.en.eq(tv[write]),
                     lwp.data.eq(Cat(*line_words))]
        count = Signal(range(G + 1), name="plan_clips")
        m.d.sync += count.eq(Mux(tv[write], _popcount(m, clips, "plan_popcount"), 0))
        clip_lines = Signal(range(n_in + n_out + 1))
        with m.If(start):
            m.d.sync += clip_lines.eq(0)
        with m.Else():
            m.d.sync += clip_lines.eq(clip_lines + count)
        clipped_terms = Signal(CLIPPED_TERMS_BITS)
        with m.If(loading & (c == 0) & (t == 0) & (clip_lines != 0)):
            m.d.sync += clipped_terms.eq(clipped_terms + 1)
        m.d.comb += [self.clip_lines.eq(clip_lines), self.clip.eq(clip_lines != 0),
                     self.clipped_terms.eq(clipped_terms)]

        # -- SLOTS: load cycle c uses line row c, whose read was issued in the cycle before
        is_row = Signal()
        m.d.comb += [is_row.eq(c < R),
                     lrp.addr.eq(Mux(loading & (c != RC - 1), c + 1, 0))]
        acc_bits = _bits(4 * BL)
        pulses, signs = [], []
        for g in range(G):
            word = lrp.data[g * lw:(g + 1) * lw]
            val, sgn = word[:val_bits], word[val_bits]
            pulse = Signal(name=f"pulse{g}")
            if det:
                ring = [Signal(acc_bits, name=f"acc{g}_{k}", init=BL - 1) for k in range(C)]
                a2 = Signal(acc_bits, name=f"a2_{g}")
                m.d.comb += a2.eq(ring[0] + 2 * val)
                bres = Signal(name=f"bres{g}")
                m.d.comb += bres.eq(a2 >= 2 * BL)
                with m.If(loading & ~is_row):            # the ring turns once per slot
                    m.d.sync += [ring[k].eq(ring[k + 1]) for k in range(C - 1)]
                    m.d.sync += ring[-1].eq(Mux(bres, a2 - 2 * BL, a2))
                with m.If(start):
                    m.d.sync += [a.eq(BL - 1) for a in ring]
                m.d.comb += pulse.eq(Mux(is_row, t < val, bres))
            else:
                taps = LANE_POLYS[g]
                draw = Signal(DEGREE, name=f"lfsr{g}", init=_draw_state(self._seeds[g], taps, P))
                with m.If(loading):
                    m.d.sync += draw.eq(_xor_step(m, draw, taps, P, f"lfsr{g}_next"))
                m.d.comb += pulse.eq(draw[:P] < val)
            pulses.append(pulse)
            signs.append(sgn)

        # latches: load cycle c writes lane g into line c G + g of its side
        with m.If(loading):
            for rg in range(R):
                with m.If(c == rg):
                    for g in range(G):
                        line = rg * G + g
                        if line < n_out:
                            m.d.sync += [self.row_pulse[line].eq(pulses[g]),
                                         self.row_sign[line].eq(signs[g])]
            for cg in range(C):
                with m.If(c == R + cg):
                    for g in range(G):
                        line = cg * G + g
                        if line < n_in:
                            m.d.sync += [self.col_pulse[line].eq(pulses[g]),
                                         self.col_sign[line].eq(signs[g])]

        with m.FSM():
            with m.State("WORDS"):
                m.d.comb += [self.i.ready.eq(1), in_words.eq(1)]
                m.d.comb += [wp.addr.eq(beat), wp.data.eq(self.i.payload.as_value()),
                             wp.en.eq(self.i.valid)]
                with m.If(self.i.valid):
                    m.d.sync += beat.eq(Mux(beat == RC - 1, 0, beat + 1))
                    with m.If(beat == RC - 1):
                        m.next = "SIGMA"
            with m.State("SIGMA"):
                m.d.comb += [self.i_sigma.ready.eq(1), start.eq(self.i_sigma.valid)]
                s_in = self.i_sigma.payload.sigma
                with m.If(self.i_sigma.valid):
                    m.d.sync += [abs_sigma.eq(Mux(s_in < 0, -s_in, s_in)), neg.eq(s_in < 0),
                                 sigma_zero.eq(s_in == 0), c.eq(0), t.eq(0), f.eq(0),
                                 pc.eq(0)]
                    m.next = GAIN_STATES[0]
            for k, name in enumerate(GAIN_STATES):
                with m.State(name):
                    m.d.comb += [gain_is[name].eq(1), self.busy.eq(1)]
                    m.next = GAIN_STATES[k + 1] if k + 1 < len(GAIN_STATES) else "PLAN"
            with m.State("PLAN"):
                m.d.comb += [planning.eq(1), self.busy.eq(1)]
                m.d.sync += pc.eq(pc + 1)
                with m.If(pc == RC + LAT - 1):
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += [loading.eq(1), self.busy.eq(1)]
                m.d.sync += c.eq(c + 1)
                with m.If(c == RC - 1):
                    m.d.sync += c.eq(0)
                    m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += [self.fire.eq(1), self.busy.eq(1)]
                m.d.sync += f.eq(f + 1)
                with m.If(f == self._fire_cycles - 1):
                    m.d.sync += [f.eq(0), t.eq(t + 1)]
                    with m.If(t == BL - 1):
                        m.d.sync += [t.eq(0), d_max.eq(0), x_max.eq(0)]
                        m.next = "WORDS"
                    with m.Else():
                        m.next = "LOAD"
        return m
