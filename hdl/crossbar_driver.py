"""Crossbar driver: the GAIN and SLOTS stages of :mod:`golden.driver`, one term at a time.

The contract is :mod:`golden.driver`'s docstring; the bit-exact reference is
:class:`golden.driver.model.CrossbarDriverModel`. This Component takes a term's factor words and
its ``sigma`` word, computes the plan (``Km``, ``sr``, ``sc``: :mod:`hdl.crossbar_driver_gain`,
five cycles) and drives the term's ``BL`` slots::

   i (G words per beat: R beats of d words, then C beats of x words)      i_sigma (sigma)
     |  running maxima d_max = max |d_i|, x_max = max |x_j| (the FACTOR stage's registers)
     v                                                                       |
   factor memory, R + C rows of G words (comb read, row c = load cycle c)   GAIN (5 cycles)
     |  lane g (G lanes):                                          Km, sr, sc, neg, skip
     |    v = |w| * (Km if row else 1)                    the lane's one multiply
     |    p = R4(v 2**-(sr if row else sc))               round half up, saturate at all ones
     |    stochastic:    draw_g = p_bits steps of LFSR g  pulse = draw_g < p | p == ones
     |    deterministic: n = R5(BL p); rows t < n; columns Bresenham acc_j (+2n, -2BL)
     v
   latches row_pulse/row_sign (n_out), col_pulse/col_sign (n_in)  ->  fire (fire_cycles)

Timing: the words are loaded first (``R + C`` beats on ``i``, one per cycle at most), then a
beat on ``i_sigma`` starts the term. From the cycle after that transfer ``busy`` is high for
``cycles_per_term = GAIN_CYCLES + BL (R + C + fire_cycles)`` cycles: five GAIN cycles, then per
slot ``R + C`` load cycles (rows first; load cycle ``c`` writes lines ``c G .. c G + G - 1`` of
its side) and ``fire_cycles`` cycles with ``fire`` high, during which the latches hold the
slot's pulses. The latches are single-buffered and the words must not change during a term:
``i`` is ready only between terms. (The FACTOR stage, which forms the words from the unit's
readout, is not part of this Component: the words come in on ``i``.)
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.check import check_choice, check_int
from golden.driver.lfsr import DEGREE, LANE_POLYS, MAX_DRAW_BITS, tap_mask
from golden.driver.model import LR_SHIFT_RANGE, SCHEMES, SlotSchedule
from golden.fixed import FixedFormat
from .crossbar_driver_gain import GAIN_STATES, build_gain, shift_width
from .fixed_ops import round_shift_saturate

__all__ = ["CrossbarDriver", "lfsr_draw_taps", "plan_fields", "LR_SHIFT_RANGE"]



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
        ports = {"lr_shift": In(signed(7))} if self._lr_shift_port else {}
        super().__init__({
            **ports,
            "i": In(stream.Signature(self.word_layout)),
            "i_sigma": In(stream.Signature(self.sigma_layout)),
            "plan": Out(self.plan_layout),
            "row_pulse": Out(self._n_out), "row_sign": Out(self._n_out),
            "col_pulse": Out(self._n_in), "col_sign": Out(self._n_in),
            "fire": Out(1), "busy": Out(1),
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
        vw, n_in, n_out = self._vec_width, self._n_in, self._n_out
        ones = (1 << P) - 1

        m.submodules.mem = mem = Memory(shape=unsigned(G * vw), depth=R + C, init=[])
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")

        # term registers (the GAIN stage's results) and counters
        gain = Signal(self._gain_bits)
        gain_exp = Signal(range(self._k_bits + 2))
        sr = Signal(signed(self._shift_width))
        sc = Signal(signed(self._shift_width))
        neg = Signal()
        skip = Signal()
        m.d.comb += [self.plan.gain.eq(gain), self.plan.gain_exp.eq(gain_exp),
                     self.plan.row_shift.eq(sr), self.plan.col_shift.eq(sc),
                     self.plan.neg.eq(neg), self.plan.skip.eq(skip)]
        sigma = Signal(signed(self._sigma_width))
        d_max = Signal(vw)
        x_max = Signal(vw)
        beat = Signal(range(R + C))
        c = Signal(range(R + C))          # load cycle in the slot
        t = Signal(range(max(2, BL)))     # slot
        f = Signal(range(max(2, self._fire_cycles)))
        loading = Signal()
        start = Signal()
        is_row = Signal()
        m.d.comb += [rp.addr.eq(c), is_row.eq(c < R)]

        # lanes: word, probability word, LFSR draw, pulse
        acc_bits = _bits(4 * BL)
        accs = [Signal(acc_bits, name=f"acc{j}", init=BL - 1) for j in range(n_in)]
        prob_fmt = FixedFormat(P + 1, P)
        pulses, signs, acc_new = [], [], []
        for g in range(G):
            w = Signal(signed(vw), name=f"w{g}")
            m.d.comb += w.eq(rp.data[g * vw:(g + 1) * vw].as_signed())
            absw = Signal(vw, name=f"absw{g}")
            m.d.comb += absw.eq(Mux(w < 0, -w, w))
            v = Signal(vw + self._gain_bits, name=f"v{g}")
            m.d.comb += v.eq(absw * Mux(is_row, gain, 1))
            word, _ = round_shift_saturate(m, Cat(v, Const(0, 1)).as_signed(),
                                           Mux(is_row, sr, sc), prob_fmt, name=f"p{g}",
                                           max_left=P + 2)
            p = Signal(P, name=f"p{g}")
            m.d.comb += p.eq(Mux(skip, 0, word[:P]))
            pulse = Signal(name=f"pulse{g}")
            if self._scheme == "stochastic":
                state = Signal(DEGREE, name=f"lfsr{g}", init=self._seeds[g])
                nxt = Signal(DEGREE, name=f"lfsr{g}_next")
                for k, srcs in enumerate(lfsr_draw_taps(LANE_POLYS[g], P)):
                    bit = Const(0, 1)
                    for s in srcs:
                        bit = bit ^ state[s]
                    m.d.comb += nxt[k].eq(bit)
                with m.If(loading):
                    m.d.sync += state.eq(nxt)
                m.d.comb += pulse.eq((nxt[:P] < p) | (p == ones))
                acc_new.append(None)
            else:
                n = Signal(range(BL + 1), name=f"n{g}")
                m.d.comb += n.eq(Mux(p == ones, BL, (p * BL + (1 << (P - 1))) >> P))
                lane_accs = [accs[cg * G + g] if cg * G + g < n_in else Const(0, acc_bits)
                             for cg in range(C)]
                a2 = Signal(acc_bits, name=f"a2_{g}")
                m.d.comb += a2.eq(Array(lane_accs)[c - R] + 2 * n)
                bres = Signal(name=f"bres{g}")
                m.d.comb += bres.eq(a2 >= 2 * BL)
                an = Signal(acc_bits, name=f"acc_new{g}")
                m.d.comb += an.eq(Mux(bres, a2 - 2 * BL, a2))
                acc_new.append(an)
                m.d.comb += pulse.eq(Mux(is_row, t < n, bres))
            pulses.append(pulse)
            signs.append((w < 0) ^ (is_row & neg))

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
                            if acc_new[g] is not None:
                                m.d.sync += accs[line].eq(acc_new[g])
        with m.If(start):
            m.d.sync += [a.eq(BL - 1) for a in accs]

        # the maxima over the lines that exist (words beyond them are ignored)
        in_words, in_row = Signal(), Signal()
        m.d.comb += in_row.eq(beat < R)
        run_d, run_x = d_max, x_max
        for g in range(G):
            raw = self.i.payload[g]
            mag = Signal(vw, name=f"mag{g}")
            m.d.comb += mag.eq(Mux(raw < 0, -raw, raw))
            row_ok = (beat != R - 1) if g >= n_out - (R - 1) * G else Const(1)
            col_ok = (beat != R + C - 1) if g >= n_in - (C - 1) * G else Const(1)
            nd = Signal(vw, name=f"dmax{g}")
            nx = Signal(vw, name=f"xmax{g}")
            m.d.comb += [nd.eq(Mux(in_row & row_ok & (mag > run_d), mag, run_d)),
                         nx.eq(Mux(~in_row & col_ok & (mag > run_x), mag, run_x))]
            run_d, run_x = nd, nx
        with m.If(in_words & self.i.valid):
            m.d.sync += [d_max.eq(run_d), x_max.eq(run_x)]

        gain_is = {name: Signal(name=f"is_{name.lower()}") for name in GAIN_STATES}
        build_gain(m, sigma=sigma, d_max=d_max, x_max=x_max, gain_const=self._gain_const,
                   exponent=self._exponent, p_bits=P, gain_bits=self._gain_bits,
                   vec_width=vw, sigma_width=self._sigma_width,
                   lr_shift=self.lr_shift if self._lr_shift_port else None, span=self._span,
                   out={"is": gain_is, "gain": gain, "gain_exp": gain_exp, "row_shift": sr,
                        "col_shift": sc, "neg": neg, "skip": skip})

        with m.FSM():
            with m.State("WORDS"):
                m.d.comb += [self.i.ready.eq(1), in_words.eq(1)]
                m.d.comb += [wp.addr.eq(beat), wp.data.eq(self.i.payload.as_value()),
                             wp.en.eq(self.i.valid)]
                with m.If(self.i.valid):
                    m.d.sync += beat.eq(Mux(beat == R + C - 1, 0, beat + 1))
                    with m.If(beat == R + C - 1):
                        m.next = "SIGMA"
            with m.State("SIGMA"):
                m.d.comb += [self.i_sigma.ready.eq(1), start.eq(self.i_sigma.valid)]
                with m.If(self.i_sigma.valid):
                    m.d.sync += [sigma.eq(self.i_sigma.payload.sigma), c.eq(0), t.eq(0),
                                 f.eq(0)]
                    m.next = GAIN_STATES[0]
            for k, name in enumerate(GAIN_STATES):
                with m.State(name):
                    m.d.comb += [gain_is[name].eq(1), self.busy.eq(1)]
                    m.next = GAIN_STATES[k + 1] if k + 1 < len(GAIN_STATES) else "LOAD"
            with m.State("LOAD"):
                m.d.comb += [loading.eq(1), self.busy.eq(1)]
                m.d.sync += c.eq(c + 1)
                with m.If(c == R + C - 1):
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
