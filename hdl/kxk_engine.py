"""k x k engine: the unit's scalar work (:mod:`golden.unit_program`) played back on borrowed lanes.

The micro-program (reciprocal, projections, column shifts, update coefficients, Newton-Schulz
normalization, sigma) is scheduled at generation time (:mod:`hdl.kxk_schedule`); this engine
holds the registers, a ROM with one word per cycle, and the post-operation units. Its only
multipliers are the row-pass engine's MAC lanes, lent through ``lane_i``/``lane_o`` while no
row pass runs::

                       ROM word of cycle t (per lane: beat, post; ALU op)
                         |                         |                    |
    registers --[operand mux a, b; addend c]--> lane_i[l] ... lane_o[l] (lane_latency later)
        ^                                                     |
        |                        [post: round + saturate | lod | range]  (word, exponent, flag)
        |                         (PostOp; round + saturate: hdl.fixed_ops.round_shift_saturate)
        +-----------------------------------------------------+
        +--- ALU (AluOp): move (round / lod of a row-pass sum), exponent fns, seed, select

Area: the program runs on the first ``used_lanes`` lanes (default 4 of the unit's 8: its
dependency chains leave more lanes mostly idle), and only the first ``general`` of those
(default 2) and the first ``movers`` ALUs (default 1) carry the variable-shift rounding and
leading-one units; the scheduler places each operation on a lane that can finish it
(:mod:`hdl.kxk_schedule`). Each lane's operand multiplexers select only among the registers
its operations read (:class:`hdl.kxk_rom.RomImage`); addends shifted by a constant share one
word-wide multiplexer.

Timing: ``start`` with ``segment`` reads that segment's first ROM word in the same cycle and
plays one word per cycle from the next (with ``rom_stage``, from the cycle after: the word passes
the ROM's output register first; ``segment`` is read only with ``start``); ``done`` pulses in the
cycle after the last word (its writes have landed): ``cycles_for(segment)`` cycles from
``start`` to ``done``.
The register file is flip-flops: ``Tx``, ``Td``, ``ax``, ``ad``, ``sigma``, ``r`` persist (the
unit's k x k state, ``state``/``state_in``/``load``), the rest are scratch. With
``operand_banks``, each lane operand reads the registers the program writes (not the persistent
ones) from a small memory of its own (LUT RAM read combinationally, or block RAM read a cycle
ahead with the written word passed through), a mirror that takes every write of those
registers (:mod:`hdl.kxk_banks`); its multiplexer keeps one input for the bank and the other
registers. Each bank's write (enable, writer, address) is a field of the ROM word of that cycle.
``cT``, ``w``, ``ax``, ``ad`` feed the row pass's coefficients. ``overflow`` is sticky from
``load``.

Pipeline (for the clock rate; each option's latency is carried by the schedule, so the program's
results are the same, only ``cycles_for`` changes)::

    shift_lead = 1   [ROM word t-1: post / Move fields] -> exponents, shift +- v1 +- v2, decode,
                     Move source mux -> || -> cycle t: the post-operation starts from registers
    post_stages = 1  lane result -> shift (round) | lod | range -> || -> + 1, clamp, write (Dots +1)
    alu_stages >= 1  ALU operands (source, exponents, words, flag) -> || -> ALU op, write (+1)
    alu_stages = 2   ... -> shift | lod, exponent fns, seed, select -> || -> + 1, clamp, write (+2)
    rom_stage = 1    ROM read data -> || -> every field of the word (each segment + 1 cycle)

``||`` is a register; ``+ 1`` the variable shift's rounding bit (:mod:`hdl.fixed_ops`: the
window is cut before it). A variable shift's sum is formed less one in carry-save form and
decoded by bit tests against constants (:func:`hdl.fixed_ops.shift_controls` with
``less_one``), and the leading-one detect of ``|value|`` works on ``value ^ sign`` (no
negation): neither has a carry chain before the register it feeds but the sum's one. A shift
lead costs the schedule little (exponents are read a cycle earlier; the first word's lead fields
come from a table by ``segment``, the row pass's sums holding from its ``done``); the stages add
their cycles to every dependency chain through a Dot or an ALU operation.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.check import check_instance, check_int
from golden.sbpca_unit import NS_STEPS_RANGE, RECIP_STEPS_RANGE, UnitFormats
from golden.unit_program import SEGMENTS, Dot, PostOp, build_program
from . import lane_port
from .fixed_ops import (ShiftControls, narrow_floor_shift, round_shift_saturate, shift_controls,
                        window_width)
from .kxk_banks import FIELDS, bank_entry, check_plan, plan_banks
from .kxk_rom import AluOp, RomImage
from .kxk_schedule import schedule_program

__all__ = ["KxkEngine", "E_BITS", "default_used_lanes", "segment_cycles"]

#: Width of the exponent registers (signed).
E_BITS = 8


def default_used_lanes(lanes: int) -> int:
    """The lanes the micro-program runs on by default, of ``lanes`` borrowed: at most 4."""
    return min(lanes, 4)


def segment_cycles(words: int, rom_stage: int) -> int:
    """Cycles from ``start`` to ``done`` of a segment of ``words`` ROM words: the start cycle,
    the words, and one more with a ``rom_stage`` (the first word passes the ROM's register)."""
    return words + 1 + rom_stage


class KxkEngine(wiring.Component):
    """Run the micro-program's segments on ``lanes`` borrowed MAC lanes.

    Parameters
    ----------
    formats : UnitFormats
        The unit's formats; every scalar format has the word width ``formats.mat.width``.
    k : int
        Rank, 1..16.
    lanes : int
        Borrowed MAC lanes, at least 1.
    ns_steps, recip_steps : int
        Newton-Schulz steps (1..32) and Newton-Raphson steps (1..8), as the golden model.
    acc_width, sum_width : int
        The lanes' accumulator width (at least :func:`hdl.lane_port.lane_acc_width` of the word
        width and ``k``) and the row pass's sum width (at least ``acc_width``): ``RowPass``
        properties.
    lane_latency : int
        Cycles from a beat on ``lane_i`` to its result on ``lane_o``, 1..16 (default
        :data:`hdl.lane_port.LATENCY`).
    a_bits : int
        Width of the ``ax``/``ad`` outputs (the row pass's column exponents), 1..7.
    alus : int
        Operations without a multiply per cycle, 1..16 (default ``min(k, 2)``).
    used_lanes : int
        Lanes the micro-program is scheduled on, the first ``1..lanes`` (default
        ``min(lanes, 4)``): each used lane costs an operand multiplexer and a post-operation
        unit, while the program's dependency chains leave more lanes mostly idle.
    movers : int
        ALUs with a rounding and leading-one unit for ``Move`` operations (the wide row-pass
        sums), the first ``1..alus`` (default 1).
    general : int
        Used lanes with a general post-operation unit (variable shift, leading-one detect, range
        test), the first ``1..used_lanes`` (default ``min(used_lanes, 2)``); the others only
        round by the few constant shifts their operations use.
    shift_lead : int
        0 or 1: compute the post-operations' and Moves' shifts (and select a Move's source) a
        cycle ahead, from a ROM word ahead (module docstring; default 0).
    post_stages : int
        0 or 1: a register between a lane result's shift and its clamp and write (default 0).
    alu_stages : int
        0..2: registers after the ALUs' operand selection (1) and in their post-operation (2)
        (default 0).
    operand_banks : int
        0: register multiplexers only (default); 1: the lane operands read the registers the
        program writes from LUT RAM banks (module docstring); 2: from block RAM banks (read a
        cycle ahead, the address a ROM word early). Same schedule, cycles and results.
    rom_stage : int
        0 or 1: a register after the ROM's read data (a block RAM's clock-to-output, about 6 ns
        on ECP5, then no longer starts every path that reads a ROM field); each segment then
        starts a cycle later, ``cycles_for`` one more (default 0).

    Raises
    ------
    TypeError, ValueError
        On a parameter of the wrong type or value; the message names the parameter and value.

    Members
    -------
    start : In(1), segment : In(2)
        Run segment ``SEGMENTS[segment]`` (ignored while busy).
    busy, done : Out(1)
    c, oc : In(signed(word))
        The schedule constants of the current sample; ``cc`` : the column-bound constant.
    gram, proj, norm2 : In
        The row pass's sums (valid while a segment that reads them runs).
    lane_i : Out(ArrayLayout(beat_layout, lanes)), lane_o : In(ArrayLayout(result_layout, lanes))
        The lane port (:mod:`hdl.lane_port`, operands ``word_width``, sums ``acc_width``); lane
        ``l >= used_lanes`` repeats lane ``l mod used_lanes``'s beats and its results are not
        read.
    cT, w, ax, ad : Out
        Coefficients of the next row pass.
    load : In(1), state_in : In(state_layout), state : Out(state_layout)
        The persistent k x k state; ``load`` (when idle) also clears ``overflow``.
    overflow : Out(1)
    """

    def __init__(self, *, formats: UnitFormats, k, lanes, ns_steps, recip_steps, acc_width,
                 sum_width, lane_latency=lane_port.LATENCY, a_bits=5, alus=None,
                 used_lanes=None, movers=1, general=None, shift_lead=0, post_stages=0,
                 alu_stages=0, operand_banks=0, rom_stage=0):
        self._F = check_instance("formats", formats, UnitFormats)
        formats.check()
        self._k = check_int("k", k, 1, 16)
        self._lanes = check_int("lanes", lanes, minimum=1)
        self._ns_steps = check_int("ns_steps", ns_steps, *NS_STEPS_RANGE)
        self._recip_steps = check_int("recip_steps", recip_steps, *RECIP_STEPS_RANGE)
        self._lane_latency = check_int("lane_latency", lane_latency, 1, 16)
        self._a_bits = check_int("a_bits", a_bits, 1, E_BITS - 1)
        self._alus = min(k, 2) if alus is None else check_int("alus", alus, 1, 16)
        self._used = (default_used_lanes(lanes) if used_lanes is None
                      else check_int("used_lanes", used_lanes, 1, lanes))
        self._movers = check_int("movers", movers, 1, self._alus)
        self._general = (min(self._used, 2) if general is None
                         else check_int("general", general, 1, self._used))
        self._shift_lead = check_int("shift_lead", shift_lead, 0, min(1, lane_latency))
        self._post_stages = check_int("post_stages", post_stages, 0, 1)
        self._alu_stages = check_int("alu_stages", alu_stages, 0, 2)
        self._operand_banks = check_int("operand_banks", operand_banks, 0, 2)
        self._rom_stage = check_int("rom_stage", rom_stage, 0, 1)
        word = formats.mat.width
        need = lane_port.lane_acc_width(word, k)
        self._acc_width = check_int("acc_width", acc_width, minimum=1)
        if acc_width < need:
            raise ValueError(f"acc_width={acc_width}: must be at least 2 * {word} + "
                             f"bits(k + 1) + 1 = {need} (the lanes' sums of {word}-bit words)")
        self._sum_width = check_int("sum_width", sum_width, minimum=1)
        if sum_width < acc_width:
            raise ValueError(f"sum_width={sum_width}: must be at least acc_width={acc_width}")
        self._prog = build_program(formats, k, ns_steps=ns_steps, recip_steps=recip_steps)
        self._sched = schedule_program(self._prog, lanes=self._used, latency=lane_latency,
                                       alus=self._alus, movers=self._movers,
                                       general=self._general, post_stages=post_stages,
                                       alu_stages=alu_stages, shift_lead=shift_lead)
        self._banks = (plan_banks(self._sched, self._prog.words, persistent=self.persistent)
                       if operand_banks else {})
        check_plan(self._sched, self._banks)
        self._word = self._prog.word_width
        fm, fb = formats.mat.frac, formats.bound.frac
        self._cc_width = 2 * self._word - (2 * fm - 2 * fb) + 1
        w, npairs = self._word, k * (k + 1) // 2
        super().__init__({
            "start": In(1), "segment": In(2), "busy": Out(1), "done": Out(1),
            "c": In(signed(w)), "oc": In(signed(w)), "cc": In(signed(self._cc_width)),
            "gram": In(data.ArrayLayout(signed(sum_width), npairs)),
            "proj": In(data.ArrayLayout(signed(sum_width), k)),
            "norm2": In(signed(sum_width)),
            "lane_i": Out(data.ArrayLayout(lane_port.beat_layout(w, acc_width), lanes)),
            "lane_o": In(data.ArrayLayout(lane_port.result_layout(acc_width), lanes)),
            "cT": Out(data.ArrayLayout(data.ArrayLayout(signed(w), k), k)),
            "w": Out(data.ArrayLayout(signed(w), k)),
            "ax": Out(data.ArrayLayout(unsigned(a_bits), k)),
            "ad": Out(data.ArrayLayout(unsigned(a_bits), k)),
            "load": In(1), "state_in": In(self.state_layout), "state": Out(self.state_layout),
            "overflow": Out(1),
        })

    # -- parameters and facts ------------------------------------------------------------------

    formats = property(lambda self: self._F)
    k = property(lambda self: self._k)
    lanes = property(lambda self: self._lanes)
    ns_steps = property(lambda self: self._ns_steps)
    recip_steps = property(lambda self: self._recip_steps)
    acc_width = property(lambda self: self._acc_width)
    sum_width = property(lambda self: self._sum_width)
    lane_latency = property(lambda self: self._lane_latency)
    a_bits = property(lambda self: self._a_bits)
    alus = property(lambda self: self._alus)
    used_lanes = property(lambda self: self._used)
    movers = property(lambda self: self._movers)
    general = property(lambda self: self._general)
    shift_lead = property(lambda self: self._shift_lead)
    post_stages = property(lambda self: self._post_stages)
    alu_stages = property(lambda self: self._alu_stages)
    operand_banks = property(lambda self: self._operand_banks)
    rom_stage = property(lambda self: self._rom_stage)

    @property
    def word_width(self) -> int:
        """Width of every word register and of the lanes' operands."""
        return self._word

    @property
    def program(self):
        return self._prog

    @property
    def schedule(self):
        return self._sched

    @property
    def persistent(self) -> set:
        """The word registers ``load`` writes from ``state_in`` (never in an operand bank)."""
        k = self._k
        return ({f"T{s}.{i}.{j}" for s in "xd" for i in range(k) for j in range(i, k)}
                | {f"{n}.{r}" for n in ("sig", "r") for r in range(k)})

    @property
    def banks(self) -> dict:
        """``{(lane, field): [[register, ...], ...]}``: the lane operands' banks
        (:func:`hdl.kxk_banks.plan_banks`, planned once at construction; empty without
        ``operand_banks``)."""
        return self._banks

    def cycles_for(self, segment: str) -> int:
        """Cycles from ``start`` to ``done`` of a segment (start + words, + 1 with a
        ``rom_stage``; the first word is read from the ROM in the cycle ``start`` is taken)."""
        return segment_cycles(self._sched.segments[segment].cycles, self._rom_stage)

    @property
    def cc_width(self) -> int:
        return self._cc_width

    @property
    def state_layout(self):
        k, w = self._k, self._word
        mat = data.ArrayLayout(data.ArrayLayout(signed(w), k), k)
        vec = data.ArrayLayout(signed(w), k)
        exp = data.ArrayLayout(unsigned(self._a_bits), k)
        return data.StructLayout({"Tx": mat, "Td": mat, "ax": exp, "ad": exp, "sigma": vec,
                                  "r": vec})

    # -- elaboration -------------------------------------------------------------------------

    @staticmethod
    def _reg(m, value, name):
        """A register of ``value`` (its shape, a layout or enum kept): one pipeline stage."""
        shape = value.shape() if hasattr(value, "shape") else Value.cast(value).shape()
        reg = Signal(shape, name=name)
        m.d.sync += reg.eq(value)
        return reg

    def _regs(self, m, values, name):
        return {key: self._reg(m, v, f"{name}_{key}") for key, v in values.items()}

    def _post(self, m, value, shift, name, stage=None):
        """The post-operations of ``value`` (signed, ``len(value)`` bits) with the variable
        ``shift``: round-and-saturate into a word (:func:`hdl.fixed_ops.round_shift_saturate`,
        a ``ROUND`` op; ``stage``: its pipeline cut) and the leading-one detect (``LOD``).
        Returns ``(word, clamped, lod, zero)``; the exponent ``lod`` still needs ``- frac``."""
        width = len(value)
        # a left shift by the word width saturates any nonzero word (by one bit less, -1 lands
        # on the minimum unclamped): no need to build more
        word, clamped = round_shift_saturate(m, value, shift, self._prog.word_format, name=name,
                                             max_left=self._word, stage=stage)
        lod, zero = self.magnitude_leading_one(m, value, name)
        return word, clamped, lod, zero

    @staticmethod
    def magnitude_leading_one(m, value, name):
        """``(index of the highest one of |value|, value == 0)`` of a signed ``value``, without
        the negation's carry chain: of ``x = value ^ sign`` (``|value| - 1`` when negative) a
        tree of (any, index, all ones, ones from the highest one down) nodes, each taking its
        upper half's index when that half has a one (depth ``log2`` of the width). When
        ``value < 0``, ``|value| = x + 1`` carries into the next bit exactly when ``x`` is ones
        from its highest one down (``-1``: ``x = 0``, index 0), so the index is that of ``x``
        plus that flag."""
        value = Value.cast(value)
        n = len(value)
        sign = value[-1]
        x = Signal(max(n - 1, 1), name=f"{name}_ones")
        m.d.comb += x.eq(value[:n - 1] ^ sign.replicate(n - 1) if n > 1 else 0)
        levels = max(1, (len(x) - 1).bit_length())
        # leaves: (any, index, full, run): a one bit is ones from its top down; so is no one
        nodes = [(x[i], Const(0, 0), x[i], Const(1, 1)) if i < len(x)
                 else (Const(0, 1), Const(0, 0), Const(0, 1), Const(1, 1))
                 for i in range(1 << levels)]
        for level in range(levels):
            nxt = []
            for j in range(0, len(nodes), 2):
                (lo_any, lo_idx, lo_full, lo_run), (hi_any, hi_idx, hi_full, hi_run) = \
                    nodes[j], nodes[j + 1]
                tag = f"{name}_lod{level}_{j // 2}"
                any_, full, run = (Signal(name=f"{tag}_{t}") for t in ("any", "full", "run"))
                idx = Signal(level + 1, name=f"{tag}_idx")
                m.d.comb += [any_.eq(lo_any | hi_any), full.eq(lo_full & hi_full),
                             run.eq(Mux(hi_any, hi_run & lo_full, lo_run)),
                             idx.eq(Mux(hi_any, Cat(hi_idx, Const(1, 1)),
                                        Cat(lo_idx, Const(0, 1))))]
                nxt.append((any_, idx, full, run))
            nodes = nxt
        top_any, top_idx, _, top_run = nodes[0]
        lod = Signal(signed(E_BITS), name=f"{name}_lod")
        zero = Signal(name=f"{name}_zero")
        m.d.comb += [lod.eq(top_idx + (sign & top_any & top_run)), zero.eq(~sign & ~top_any)]
        return lod, zero

    def seed(self, m, e, sig, name):
        """``(word, clamped)`` of a ``Seed`` of the exponent ``e`` and the word ``sig``
        (:func:`golden.unit_program.seed_word`: ``sign(sig) 2**s`` in the reciprocal format,
        ``s = frac - (e + 1)``, saturated or flushed outside ``0 <= s < width - 1``) without an
        adder: ``s`` is never formed; each bit of ``2**s`` (``s == i``) and of ``-2**s`` (the
        bits from ``s`` up, ``i >= s``) is a comparison of ``e`` with a constant, where
        ``frac - (e + 1)`` then comparisons then a negation chained three carry chains."""
        fmt, W = self._F.recip, self._word
        fr, rw = fmt.frac, fmt.width
        over, under = Signal(name=f"{name}_over"), Signal(name=f"{name}_under")
        power = Signal(signed(W), name=f"{name}_power")           # 2**s, 0 outside the range
        tail = Signal(signed(W), name=f"{name}_tail")             # -2**s inside the range
        m.d.comb += [over.eq(e <= fr - rw), under.eq(e >= fr),   # s >= rw - 1, s < 0
                     power.eq(Cat(*(e == fr - 1 - i for i in range(rw - 1)))),
                     tail.eq(Cat(*(e >= fr - 1 - i for i in range(W))))]
        pos, neg = Signal(signed(W), name=f"{name}_pos"), Signal(signed(W), name=f"{name}_neg")
        m.d.comb += [pos.eq(Mux(over, fmt.max_raw, power)),
                     neg.eq(Mux(under, 0, Mux(over, Const(-fmt.max_raw, signed(W)), tail)))]
        word = Signal(signed(W), name=f"{name}_seed")
        m.d.comb += word.eq(Mux(sig == 0, 0, Mux(sig > 0, pos, neg)))
        return word, over | under

    def _round_by(self, m, value, shift, shifts, name, stage=None):
        """Round-and-saturate ``value`` into a word by one of the constant right shifts
        ``shifts`` (each at least 1), the one equal to ``shift``: an exact floor shift by
        ``shift - 1`` picked from a few, then the rounding point by one bit
        (``((v >> (s - 1)) + 1) >> 1 == (v + 2**(s - 1)) >> s``, :mod:`hdl.fixed_ops`)."""
        # only the word's window (and whether the value leaves it) is selected and registered
        nw = window_width(self._prog.word_format)
        pre = Signal(signed(min(len(value), nw)), name=f"{name}_pre")
        with m.Switch(shift):
            for sh in shifts:
                with m.Case(sh):
                    m.d.comb += pre.eq(narrow_floor_shift(m, value, sh - 1, len(pre),
                                                          name=f"{name}_s{sh}"))
        return round_shift_saturate(m, pre, 1, self._prog.word_format, name=name, stage=stage)

    def _addend(self, m, table, index, value, name):
        """The addend ``table[index]`` (``{addend: index}``, :class:`hdl.kxk_rom.RomImage`).

        Most addends are a word register shifted left by a constant (or a constant that is
        one): those share one word-wide multiplexer, and only the few distinct shifts and the
        wide inputs (``cc``) are selected at the accumulator's width."""
        W = self._word
        lo, hi = -(1 << (W - 1)), 1 << (W - 1)
        shifts = sorted({a[1] for a in table if isinstance(a, tuple)} | {0})
        narrow, wide = {}, []          # index -> (word, shift); wide: [(index, value)]
        for add, i in table.items():
            if add is None:
                narrow[i] = (Const(0, signed(2)), 0)
            elif isinstance(add, tuple) and len(value(add[0])) <= W:
                narrow[i] = (value(add[0]), add[1])
            elif isinstance(add, int):
                fit = [sh for sh in reversed(shifts)
                       if add % (1 << sh) == 0 and lo <= add >> sh < hi]
                if fit:
                    narrow[i] = (Const(add >> fit[0], signed(W)), fit[0])
                else:
                    wide.append((i, Const(add, signed(max(2, abs(add).bit_length() + 2)))))
            elif isinstance(add, tuple):
                wide.append((i, value(add[0]) << add[1]))
            else:
                wide.append((i, value(add)))
        options = [("shift", sh) for sh in shifts] + [("wide", i) for i, _ in wide]
        word = Signal(signed(W), name=f"{name}_cw")
        sel = Signal(range(max(2, len(options))), name=f"{name}_csel")
        with m.Switch(index):
            for i, (v, sh) in narrow.items():
                with m.Case(i):
                    m.d.comb += [word.eq(v), sel.eq(options.index(("shift", sh)))]
            for i, _ in wide:
                with m.Case(i):
                    m.d.comb += sel.eq(options.index(("wide", i)))
        return Array([word << sh for sh in shifts] + [v for _, v in wide])[sel]

    def elaborate(self, platform):
        m = Module()
        F, k, L, W = self._F, self._k, self._lanes, self._word
        prog, sched = self._prog, self._sched
        banks = self._banks
        bram = self._operand_banks == 2          # block RAM: read a cycle ahead
        image = RomImage(sched, lanes=self._used, alus=self._alus, banks=banks,
                         bank_read_lead=int(bram))
        lanes_t, alus_t, words, base = image.lanes, image.alus, image.words, image.base
        rom = Memory(shape=image.layout, depth=max(1, len(words)), init=words)
        m.submodules.rom = rom
        rp = rom.read_port()

        # ---- registers
        regs = {}
        for name in prog.words:
            regs[name] = Signal(signed(W), name=name.replace(".", "_"))
        for name in prog.exps:
            regs[name] = Signal(signed(E_BITS), name=name.replace(".", "_"))
        for name in prog.flags:
            regs[name] = Signal(name=name.replace(".", "_"))
        sources = {"c": self.c, "oc": self.oc, "cc": self.cc, "n2": self.norm2}
        for r in range(k):
            sources[f"p.{r}"] = self.proj[r]
        idx = 0
        for i in range(k):
            for j in range(i, k):
                sources[f"G.{i}.{j}"] = self.gram[idx]
                idx += 1

        def value(name):
            if name is None or name in ("-",):
                return Const(0, signed(2))
            if isinstance(name, str) and name.startswith("#"):
                v = int(name[1:])
                return Const(v, signed(max(2, v.bit_length() + 1)))
            return sources[name] if name in sources else regs[name]

        # ---- sequencing
        RS = self._rom_stage
        busy = Signal()
        pre = Signal()                           # rom_stage: the first word is in the register
        pc = Signal(range(len(words) + 2))
        left = Signal(range(max(s.cycles for s in sched.segments.values()) + 2))
        go = Signal()                            # start taken: the first word is read now
        m.d.comb += [self.busy.eq(busy | pre), go.eq(self.start & ~busy & ~pre), rp.en.eq(1)]
        first = Array(Const(base[s]) for s in SEGMENTS)[self.segment]
        m.d.comb += rp.addr.eq(Mux(go, first, pc))
        m.d.sync += self.done.eq(0)
        run = Signal()                           # the ROM word (``word``) is live this cycle
        m.d.comb += run.eq(busy)
        with m.If(go):
            count = Array(Const(sched.segments[s].cycles) for s in SEGMENTS)[self.segment]
            m.d.sync += [pc.eq(first + 1), left.eq(count)]
            if RS:
                m.d.sync += pre.eq(1)
            else:
                with m.If(count == 0):
                    m.d.sync += self.done.eq(1)
                with m.Else():
                    m.d.sync += busy.eq(1)
        if RS:
            with m.If(pre):
                m.d.sync += [pre.eq(0), pc.eq(pc + 1)]
                with m.If(left == 0):
                    m.d.sync += self.done.eq(1)
                with m.Else():
                    m.d.sync += busy.eq(1)
        with m.If(busy):
            m.d.sync += [pc.eq(pc + 1), left.eq(left - 1)]
            with m.If(left == 1):
                m.d.sync += [busy.eq(0), self.done.eq(1)]
        if RS:                                   # the ROM's read data registered
            word = Signal(image.layout, name="rom_word")
            m.d.sync += word.eq(rp.data)
        else:
            word = rp.data
        flag = Signal()
        clamps = []

        # ---- the pipeline (module docstring): with a shift lead, the fields of the next cycle's
        # results and ALU shifts are a word ahead in the ROM, the first word's in image.lead
        lead, P, A = self._shift_lead, self._post_stages, self._alu_stages
        alu_lead = lead if A == 0 else 0
        ahead = None
        if lead or bram:
            ahead = Signal(image.layout)
            lead_word = Signal(image.layout)
            segment = self.segment
            if RS:                               # the first word's leads a cycle after start
                segment = Signal.like(self.segment, name="segment_q")
                with m.If(go):
                    m.d.sync += segment.eq(self.segment)
            with m.Switch(segment):
                for i, name in enumerate(SEGMENTS):
                    with m.Case(i):
                        m.d.comb += lead_word.eq(image.layout.const(image.lead[name]))
            m.d.comb += ahead.eq(Mux(pre if RS else go, lead_word, word))

        def var_shift(f, evals, width, name):
            """The controls (:func:`hdl.fixed_ops.shift_controls`, a ``width``-bit value) of
            ``shift +- v1 +- v2`` of the shift fields ``f`` (exponents read now): ``-v`` is
            ``~v + 1``, the ``+ 1`` already in the ROM's ``shift`` (:mod:`hdl.kxk_rom`). The
            sum is formed less one (what the controls take without a carry chain after it), in
            carry-save form first: two layers of full adders (the first with the constant
            ``-1``), then one carry chain; 10 bits hold every sum of three 8-bit words."""
            v1, v2 = Array(evals)[f.v1], Array(evals)[f.v2]
            n = 10
            a, b, c = (Signal(signed(n), name=f"{name}_{t}") for t in ("s", "v1", "v2"))
            m.d.comb += [a.eq(f.shift), b.eq(Mux(f.v1n, ~v1, v1)), c.eq(Mux(f.v2n, ~v2, v2))]
            s1, c1 = ~(a ^ b), (a | b) << 1                    # a + b - 1
            s2 = Signal(n, name=f"{name}_cs_s")
            c2 = Signal(n, name=f"{name}_cs_c")
            m.d.comb += [s2.eq(s1 ^ c1 ^ c), c2.eq(((s1 & c1) | (s1 & c) | (c1 & c)) << 1)]
            less_one = Signal(signed(n), name=f"{name}_less_one")
            m.d.comb += less_one.eq(s2 + c2)
            return shift_controls(m, less_one, width, W, name=name, less_one=True)

        def cut(name):
            return (lambda v: self._reg(m, v, name)) if P else None

        # ---- lanes: beats out, posts in
        writers = {}                             # ("lane", l) / ("alu", u): the word written
        bank_ports = {}                          # (lane, field, bank): write port
        for l, tab in enumerate(lanes_t):
            b = word[f"b{l}"]
            beat = self.lane_i[l]
            vals = {}
            for f in FIELDS:
                reads = {}                       # the operand's banks, all read at b[f + "a"]
                for i, members in enumerate(banks.get((l, f), ())):
                    mem = Memory(shape=signed(W), depth=len(members), init=[],
                                 attrs={"ram_style": "block"} if bram else None)
                    m.submodules[f"bank{l}{f}{i}"] = mem
                    wp = bank_ports[(l, f, i)] = mem.write_port()
                    if bram:                     # the address a word early, written data through
                        rd = mem.read_port(transparent_for=(wp,))
                        m.d.comb += [rd.addr.eq(ahead[f"r{l}"][f + "a"]), rd.en.eq(1)]
                    else:
                        rd = mem.read_port(domain="comb")
                        m.d.comb += rd.addr.eq(b[f + "a"])
                    reads[bank_entry(i)] = rd.data
                vals[f] = [reads[n] if n in reads else value(n) for n in tab[f]]
            a_vals, b_vals = vals["a"], vals["b"]
            m.d.comb += [
                beat.valid.eq(run & b.valid),
                beat.a.eq(Array(a_vals)[b.a]),
                beat.b.eq(Array(b_vals)[b.b]),
                beat.c.eq(self._addend(m, tab["c"], b.c, value, f"lane{l}")),
                beat.clear.eq(b.clear), beat.last.eq(b.last), beat.sub.eq(b.sub),
            ]
            res = self.lane_o[l].value
            general = l < self._general
            evals = [value(e) for e in tab["e"]]
            if lead:                             # this cycle's fields and shift, registered
                early = ahead[f"p{l}"]
                p = self._reg(m, early, f"post{l}_p")
                m.d.sync += p.valid.eq(run & early.valid)
                live = p.valid
                if general:                      # the shift decoded a cycle ahead too
                    ctl = var_shift(early, evals, len(res), f"post{l}_early")
                    shift = ShiftControls(*(self._reg(m, c, f"post{l}_{n}")
                                            for n, c in ctl._asdict().items()))
            else:
                p = word[f"p{l}"]
                live = run & p.valid
                if general:
                    shift = var_shift(p, evals, len(res), f"post{l}_shift")
            flags = {}
            if general:
                rword, clamped, lod, zero = self._post(m, res, shift, f"post{l}",
                                                       stage=cut(f"post{l}_cut"))
                for name in tab["d"]:
                    if name in prog.flags:
                        bound = next(op.bound for s in SEGMENTS for op in prog.segments[s]
                                     if isinstance(op, Dot) and op.dst == name)
                        flags[name] = (res > 0) & (res < bound)
            else:                                # only roundings by the constants tab["s"]
                rword, clamped = self._round_by(m, res, p.shift, tab["s"], f"post{l}",
                                                stage=cut(f"post{l}_cut"))
                lod = zero = None
            if P:                                # the write a stage later
                late = self._regs(m, {"p": p, "live": live}, f"post{l}_s1")
                p, live = late["p"], late["live"]
                if general:
                    lod, zero = self._reg(m, lod, f"post{l}_lod_s1"), self._reg(
                        m, zero, f"post{l}_zero_s1")
                flags = self._regs(m, flags, f"post{l}_flag_s1")
            with m.If(live):
                with m.Switch(p.dst):
                    for name, i in tab["d"].items():
                        if name == "-":
                            continue
                        with m.Case(i):
                            if name in prog.words:
                                m.d.sync += regs[name].eq(rword)
                            elif name in prog.exps:
                                m.d.sync += regs[name].eq(Mux(zero, 0, lod - p.shift))
                            else:
                                m.d.sync += regs[name].eq(flags[name])
            clamps.append(live & (p.kind == PostOp.ROUND) & clamped)
            writers[("lane", l)] = rword

        # lanes past the used ones repeat a used lane's beats, their results ignored (a lane's
        # accumulator is cleared by the next sum on it): left idle, their constant port made
        # Yosys 0.70's synth_ecp5 (ABC9 reintegration) fail an assertion on the unit, which now
        # gives only the used lanes a port (RowPass(port_lanes=...))
        for l in range(self._used, L):
            m.d.comb += self.lane_i[l].eq(self.lane_i[l % self._used])

        # ---- ALUs: issue (operands read), [stage], post-operation, [stage], write
        for u, alu_t in enumerate(alus_t):
            a = word[f"alu{u}"]
            mover = u < self._movers
            avals = [value(e) for e in alu_t["v"]]
            srcs = Array(value(n) for n in alu_t["src"])
            src = Signal(signed(max(self._sum_width, W) + 1), name=f"alu{u}_src")
            if alu_lead:                         # this cycle's Move fields, registered
                early = ahead[f"alu{u}"]
                a_shift = self._reg(m, early.shift, f"alu{u}_shift")
                if mover:
                    ctl = var_shift(early, avals, len(src), f"alu{u}_early")
                    ashift = ShiftControls(*(self._reg(m, c, f"alu{u}_{n}")
                                             for n, c in ctl._asdict().items()))
                    m.d.sync += src.eq(srcs[early.src])
            else:
                a_shift = a.shift
                if mover:
                    ashift = var_shift(a, avals, len(src), f"alu{u}_ashift")
                    m.d.comb += src.eq(srcs[a.src])
            issue = {"op": a.op, "dst": a.dst, "shift": a_shift,
                     "e_in": Array(value(e) for e in alu_t["e"])[a.e],
                     "w1": Array(value(n) for n in alu_t["w"])[a.w1],
                     "w2": Array(value(n) for n in alu_t["w"])[a.w2],
                     "fl": Array(value(f) for f in alu_t["f"])[a.f]}
            if mover:
                issue |= {"src": src, "ashift": ashift}
            live = Signal(name=f"alu{u}_live")
            m.d.comb += live.eq(run & (a.op != AluOp.NONE))
            issue["live"] = live
            if A >= 1:                           # the shift registered decoded
                ctl = issue.pop("ashift", None)
                issue = self._regs(m, issue, f"alu{u}_s1")
                if mover:
                    issue["ashift"] = ShiftControls(*(self._reg(m, c, f"alu{u}_s1_{n}")
                                                      for n, c in ctl._asdict().items()))
            op, e_in, w1 = issue["op"], issue["e_in"], issue["w1"]
            if mover:
                stage = (lambda v, u=u: self._reg(m, v, f"alu{u}_cut")) if A >= 2 else None
                aword, aclamped, alod, azero = self._post(m, issue["src"], issue["ashift"],
                                                          f"alu{u}", stage=stage)
            else:                                # no Move is ever scheduled here
                aword, aclamped, alod, azero = Const(0, signed(W)), Const(0), Const(0), Const(1)
            expo_a = Signal(name=f"alu{u}_expo_a", shape=signed(E_BITS))
            expo_s = Signal(name=f"alu{u}_expo_s", shape=signed(E_BITS))
            ea = Signal(name=f"alu{u}_ea", shape=signed(E_BITS))
            es = Signal(name=f"alu{u}_es", shape=signed(E_BITS))
            m.d.comb += [ea.eq(-((e_in >> 1) + 1)), es.eq(((e_in + 1) >> 1) + 1),
                         expo_a.eq(Mux(ea < 0, 0, ea)), expo_s.eq(Mux(es < 0, 0, es))]
            seed, seed_clamp = self.seed(m, e_in, w1, f"alu{u}")
            select = Signal(name=f"alu{u}_select", shape=signed(W))
            m.d.comb += select.eq(Mux(issue["fl"], w1, issue["w2"]))
            out = {"op": op, "dst": issue["dst"], "shift": issue["shift"], "live": issue["live"],
                   "alod": alod, "azero": azero, "expo_a": expo_a, "expo_s": expo_s,
                   "seed": seed, "seed_clamp": seed_clamp, "select": select}
            if A >= 2:
                out = self._regs(m, out, f"alu{u}_s2")
            op = out["op"]
            with m.If(out["live"]):
                with m.Switch(out["dst"]):
                    for name, i in alu_t["d"].items():
                        with m.Case(i):
                            if name in prog.exps:
                                with m.Switch(op):
                                    with m.Case(AluOp.LOD):
                                        m.d.sync += regs[name].eq(
                                            Mux(out["azero"], 0, out["alod"] - out["shift"]))
                                    with m.Case(AluOp.EXPO_A):
                                        m.d.sync += regs[name].eq(out["expo_a"])
                                    with m.Case(AluOp.EXPO_S):
                                        m.d.sync += regs[name].eq(out["expo_s"])
                            else:
                                with m.Switch(op):
                                    with m.Case(AluOp.MOVE):
                                        m.d.sync += regs[name].eq(aword)
                                    with m.Case(AluOp.SEED):
                                        m.d.sync += regs[name].eq(out["seed"])
                                    with m.Case(AluOp.SELECT):
                                        m.d.sync += regs[name].eq(out["select"])
            aluword = Signal(signed(W), name=f"alu{u}_word")
            m.d.comb += aluword.eq(Mux(op == AluOp.MOVE, aword,
                                       Mux(op == AluOp.SEED, out["seed"], out["select"])))
            writers[("alu", u)] = aluword
            alu_clamp = Signal(name=f"alu{u}_alu_clamp")
            m.d.comb += alu_clamp.eq(out["live"] & (((op == AluOp.MOVE) & aclamped)
                                                    | ((op == AluOp.SEED) & out["seed_clamp"])))
            clamps.append(alu_clamp)

        # ---- operand banks: the ROM word of a write's cycle says which writer, where
        for (l, f, i), wp in bank_ports.items():
            ctl = word[f"w{l}{f}{i}"]
            values = [writers[w] for w in image.bank_writers[(l, f, i)]]
            m.d.comb += [wp.en.eq(run & ctl.en), wp.addr.eq(ctl.addr),
                         wp.data.eq(Array(values)[ctl.sel])]

        # ---- flag, load, outputs
        with m.If(Cat(*clamps).any()):
            m.d.sync += flag.eq(1)
        st = self.state_in
        with m.If(self.load & ~busy):
            m.d.sync += flag.eq(0)
            for r in range(k):
                m.d.sync += [regs[f"ax.{r}"].eq(st.ax[r]), regs[f"ad.{r}"].eq(st.ad[r]),
                             regs[f"sig.{r}"].eq(st.sigma[r]), regs[f"r.{r}"].eq(st.r[r])]
                for j in range(r, k):
                    m.d.sync += [regs[f"Tx.{r}.{j}"].eq(st.Tx[r][j]),
                                 regs[f"Td.{r}.{j}"].eq(st.Td[r][j])]
        out = self.state
        for r in range(k):
            m.d.comb += [out.ax[r].eq(regs[f"ax.{r}"]), out.ad[r].eq(regs[f"ad.{r}"]),
                         out.sigma[r].eq(regs[f"sig.{r}"]), out.r[r].eq(regs[f"r.{r}"]),
                         self.ax[r].eq(regs[f"ax.{r}"]), self.ad[r].eq(regs[f"ad.{r}"]),
                         self.w[r].eq(regs[prog.params["w"][r]])]
            for j in range(r, k):
                m.d.comb += [out.Tx[r][j].eq(regs[f"Tx.{r}.{j}"]),
                             out.Td[r][j].eq(regs[f"Td.{r}.{j}"]),
                             self.cT[r][j].eq(regs[prog.params["cT"][r][j]])]
        m.d.comb += self.overflow.eq(flag)
        return m
