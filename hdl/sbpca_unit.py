"""The streaming-PCA unit: row-pass engine and k x k engine sharing L MAC lanes.

Contract (bit for bit): :class:`golden.sbpca_unit.SBPCAUnitModel` in fixed point (through its
micro-program formulation :class:`golden.unit_program.ProgramUnit`, tested equal). Per sample
``(x, delta)``, ``i`` = 1 .. B within a batch::

    NORM     (X bank, x)        ||x||^2                -> k x k: norm_x
    PROJECT  (Delta bank, d)    Ds^T d, ||d||^2        -> k x k: pre_x    (r, y, shifts, w, cT)
    UPDATE   (X bank, x)        Xs <- new, Gx, px      -> k x k: post_x   (ax, Tx, z, ..., cT)
    UPDATE   (Delta bank, d)    Ds <- new, Gd, pd      -> k x k: post_d   (ad, Td, v, sigma)

    samples --> [RowPass input buffer 0/1] --+
                                             |   lanes (L MAC)   <---- lane_i/lane_o ---- KxkEngine
    load_rows --> [RowPass X | Delta banks] -+-> gram, proj, norm2 -----------------------> |
    rows_o   <--                                 a, cT, w       <------------------------- |
                                  schedule ROM c_i, 1 - c_i, cc_i ------------------------> |

The next sample streams into the other input buffer while a sample is processed.

Interfaces:

* ``samples`` carries ``words`` input words per beat: ``ceil(n_in/words)`` beats of ``x`` (the
  last one padded) then ``ceil(n_out/words)`` beats of ``delta``, sample after sample.
* ``batch`` starts a batch of ``B`` samples, ``1 <= B <= b_max`` (taken when idle). Other values
  raise ``error``, pulse ``done`` and are ignored; ``error`` holds until the next valid batch or
  ``load``. ``done`` pulses when the batch's last sample is through; ``busy`` is high from the
  batch (or ``load``, ``readout``) to the end.
* State: after a ``load`` pulse (``kxk_in`` holds the k x k state ``Tx``, ``Td``, ``ax``,
  ``ad``, ``sigma``, ``r`` in that cycle), ``load_rows`` takes the ``n_in`` rows of ``Xs`` then
  the ``n_out`` rows of ``Ds``. ``readout`` streams the stored rows on ``rows_o`` in the same
  order; ``kxk`` always shows the k x k state. State persists across batches (warm start).
* ``overflow`` is sticky from ``load``: some stored word or k x k value saturated.

Timing: every pass and k x k segment starts in the cycle its predecessor is done, so a sample
takes :attr:`SBPCAUnit.cycles_per_sample` cycles once its input is buffered (measured by the
cocotb bench). Reset returns the unit to idle with the flags clear; the stored rows are not
cleared (load a state before the next batch).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from enum import IntEnum

from golden.check import check_choice, check_int
from golden.sbpca_unit import DEFAULT_NS_STEPS, SCHEDULES, SBPCAUnitModel, UnitFormats
from golden.unit_program import SEGMENTS
from .kxk_engine import KxkEngine, default_used_lanes
from .row_pass import NORM, PROJECT, UPDATE, RowPass

__all__ = ["SBPCAUnit", "Bank"]


class Bank(IntEnum):
    """The row-pass engine's banks in the unit: the stored ``Xs`` and ``Ds``."""

    X = 0
    DELTA = 1


class SBPCAUnit(wiring.Component):
    """Streaming-PCA unit (see the module docstring).

    Parameters
    ----------
    n_in, n_out : int
        Layer sizes.
    k : int
        Rank, ``1 <= k <= min(n_in, n_out, 16)``.
    lanes : int
        MAC lanes (multipliers), ``1 <= lanes <= min(n_in, n_out)``.
    width, scalar_width : int
        Input/stored word width and k x k word width (:meth:`UnitFormats.for_width`).
    words : int
        Input words per ``samples`` beat; divides ``lanes``.
    schedule : str
        ``"harmonic"`` (``c_i = i/(i+1)``) or ``"shift"`` (``c = 1 - 2**-shift_s``).
    shift_s, ns_steps, recip_steps : int
    b_max : int
        Largest batch.
    shift_lead, post_stages, alu_stages : int
        The k x k engine's pipeline (:class:`hdl.kxk_engine.KxkEngine`). Default: all three
        (1, 1, 2): on the default unit 55 cycles a sample more than without the post and ALU
        stages (3,712 against 3,657), for 42.7 instead of 39.0 MHz (ECP5-25F placement
        estimates when they were made the default) and 407 more LUT4.
    operand_banks : int
        Where the k x k engine's lane operands read the registers the program writes
        (:mod:`hdl.kxk_banks`): 2 (default) small block RAMs read a cycle ahead, 1 LUT RAMs,
        0 register multiplexers only. Same cycles and results. The default unit on Xilinx 7:
        15,210 LUTs with 0, about 14,100 with 1 or 2; on ECP5 the k x k engine's LUT4 count
        barely moves (12,990 -> about 12,790) and LUT RAM takes logic cells, block RAM does not.
    alus, general : int
        The k x k engine's ALUs (operations without a multiply a cycle, 1..16) and its lanes
        with a general post-operation unit (variable shift, leading-one detect, range test;
        1..4 of the lanes it uses): each one more costs a variable shifter and multiplexers.
        Default 1 and 1; the default unit with 2 and 2 (both without the post and ALU stages):
        3,621 instead of 3,645 cycles a sample for about 1,800 more LUT4 on ECP5 (20,775
        against 18,997) and 700 more LUTs on Xilinx 7.
    rom_stage : int
        1 (default): a register after the k x k engine's ROM (its block RAM's clock-to-output
        no longer starts the engine's paths), one cycle more for each of its four segments a
        sample; 0: none.
    """

    def __init__(self, *, n_in, n_out, k, lanes, width=16, scalar_width=18, words=1,
                 schedule="harmonic", shift_s=3, ns_steps=DEFAULT_NS_STEPS, recip_steps=2,
                 b_max=64, shift_lead=1, post_stages=1, alu_stages=2, operand_banks=2, alus=1,
                 general=1, rom_stage=1):
        self._n_in = check_int("n_in", n_in, 1, 1 << 16)
        self._n_out = check_int("n_out", n_out, 1, 1 << 16)
        self._k = check_int("k", k, 1, min(16, n_in, n_out))
        self._lanes = check_int("lanes", lanes, 1, min(n_in, n_out))
        self._words = check_int("words", words, 1, lanes)
        if lanes % words:
            raise ValueError(f"words={words}: must divide lanes={lanes}")
        check_choice("schedule", schedule, SCHEDULES)
        self._b_max = check_int("b_max", b_max, 1, 1 << 16)
        self._formats = UnitFormats.for_width(width, scalar_width)
        # the golden model owns the schedule tables and validates the rest
        self._model = SBPCAUnitModel(n_in, n_out, k=k, formats=self._formats, schedule=schedule,
                                     shift_s=shift_s, ns_steps=ns_steps, recip_steps=recip_steps,
                                     b_max=b_max)
        F = self._formats
        self._rows = RowPass(banks=(n_in, n_out), k=k, lanes=lanes, vec_width=F.vec.width,
                             coef_width=F.mat.width, shift=F.mat.frac, gw=F.gw, a_bits=5,
                             words=words, port_lanes=default_used_lanes(lanes))
        if self._rows.sum_width > 63:
            raise ValueError(f"scalar_width={scalar_width}: the lane sums would need "
                             f"{self._rows.sum_width} bits, beyond the 63-bit integers of the "
                             f"golden model; use narrower words")
        self._kxk = KxkEngine(formats=F, k=k, lanes=lanes, ns_steps=ns_steps,
                              recip_steps=recip_steps, acc_width=self._rows.acc_width,
                              sum_width=self._rows.sum_width,
                              lane_latency=self._rows.lane_latency, shift_lead=shift_lead,
                              post_stages=post_stages, alu_stages=alu_stages,
                              operand_banks=operand_banks, alus=alus, general=general,
                              rom_stage=rom_stage)
        row = data.ArrayLayout(signed(F.vec.width), k)
        super().__init__({
            "samples": In(stream.Signature(data.ArrayLayout(signed(F.x.width), words))),
            "batch": In(stream.Signature(unsigned(self._b_max.bit_length()))),
            "busy": Out(1), "done": Out(1), "error": Out(1),
            "load": In(1),
            "load_rows": In(stream.Signature(row)),
            "kxk_in": In(self._kxk.state_layout),
            "readout": In(1),
            "rows_o": Out(stream.Signature(row)),
            "kxk": Out(self._kxk.state_layout),
            "overflow": Out(1),
        })

    # -- facts -------------------------------------------------------------------------------

    n_in = property(lambda self: self._n_in)
    n_out = property(lambda self: self._n_out)
    k = property(lambda self: self._k)
    lanes = property(lambda self: self._lanes)
    words = property(lambda self: self._words)
    b_max = property(lambda self: self._b_max)
    formats = property(lambda self: self._formats)
    model = property(lambda self: self._model)
    row_pass = property(lambda self: self._rows)
    kxk_engine = property(lambda self: self._kxk)

    @property
    def cycles_per_sample(self) -> int:
        """Cycles of one sample in steady state (inputs already buffered): the four passes
        and the four k x k segments, each started in the cycle its predecessor is done."""
        rp, kx = self._rows, self._kxk
        passes = (rp.cycles_for(NORM, Bank.X) + rp.cycles_for(PROJECT, Bank.DELTA)
                  + rp.cycles_for(UPDATE, Bank.X) + rp.cycles_for(UPDATE, Bank.DELTA))
        segs = sum(kx.cycles_for(s) for s in SEGMENTS)
        return passes + segs

    @property
    def useful_macs_per_sample(self) -> int:
        rp = self._rows
        return (rp.useful_macs_for(NORM, Bank.X) + rp.useful_macs_for(PROJECT, Bank.DELTA)
                + rp.useful_macs_for(UPDATE, Bank.X) + rp.useful_macs_for(UPDATE, Bank.DELTA)
                + self._kxk.program.macs())

    def memory_words(self) -> dict:
        """Words of state and buffers (against ``n_in * n_out``)."""
        k, a, b, L = self._k, self._n_in, self._n_out, self._lanes
        rows = (-(-a // L) + -(-b // L)) * L
        state = rows * k + 2 * k * (k + 1) // 2 + 4 * k
        buffers = 2 * rows
        return {"state": state, "buffers": buffers, "total": state + buffers,
                "dense": a * b, "fraction": (state + buffers) / (a * b)}

    # -- elaboration -------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        rp, kx = self._rows, self._kxk
        m.submodules.rows = rp
        m.submodules.kxk = kx
        F, k = self._formats, self._k
        mo = self._model

        # schedule ROM: c_i, 1 - c_i, cc_i = (c_i^2) >> (2 mat.frac - 2 bound.frac)
        c = [int(v) for v in mo.c_tab]
        oc = [int(v) for v in mo.oc_tab]
        cc = [(v * v) >> (2 * F.mat.frac - 2 * F.bound.frac) for v in c]
        tab_layout = data.StructLayout({"c": kx.c.shape(), "oc": kx.oc.shape(),
                                        "cc": kx.cc.shape()})
        tab = Memory(shape=tab_layout, depth=self._b_max,
                     init=[{"c": a, "oc": b, "cc": d} for a, b, d in zip(c, oc, cc)])
        m.submodules.tab = tab
        tp = tab.read_port()

        # lanes: the engine drives them whenever it runs (the row pass ignores them when busy)
        for l in range(rp.port_lanes):          # the lanes the k x k program runs on
            m.d.comb += [rp.lane_i[l].eq(kx.lane_i[l]), kx.lane_o[l].eq(rp.lane_o[l])]
        # the sample's constants registered after the table's block RAM (its clock-to-output no
        # longer starts the k x k operand paths): they change with `i` at a sample's start and
        # are read only by the k x k segments, the first of which follows the sample's NORM pass
        m.d.comb += [kx.gram.eq(rp.gram), kx.proj.eq(rp.proj), kx.norm2.eq(rp.norm2)]
        m.d.sync += [kx.c.eq(tp.data.c), kx.oc.eq(tp.data.oc), kx.cc.eq(tp.data.cc)]
        bank = Signal()                 # the bank of the pass in progress
        bank_now = Signal()             # on rp.bank: latched at start/rewind/readout
        m.d.comb += bank_now.eq(bank)
        for r in range(k):                  # bank_now is Bank.DELTA (1) or Bank.X (0)
            m.d.comb += [rp.params.a[r].eq(Mux(bank_now, kx.ad[r], kx.ax[r])),
                         rp.params.w[r].eq(kx.w[r])]
            for q in range(k):
                m.d.comb += rp.params.cT[q][r].eq(kx.cT[q][r])
        m.d.comb += [rp.bank.eq(bank_now), self.kxk.eq(kx.state), kx.state_in.eq(self.kxk_in)]

        # ---- input buffers: the samples stream fills buffer `fill`; `full[b]` when complete
        fill = Signal()
        full = Signal(2)
        filling = Signal()
        m.d.comb += [rp.inp_w.payload.eq(self.samples.payload),
                     rp.inp_w.valid.eq(self.samples.valid & filling),
                     self.samples.ready.eq(rp.inp_w.ready & filling),
                     rp.inp_buf.eq(fill)]
        inp_rewind = Signal()
        m.d.comb += rp.inp_rewind.eq(inp_rewind)
        with m.If(filling & ~rp.inp_w.ready & ~inp_rewind):
            m.d.sync += [filling.eq(0), full.bit_select(fill, 1).eq(1)]

        # ---- sticky flags
        flag = Signal()
        error = Signal()
        m.d.comb += [self.overflow.eq(flag | kx.overflow), self.error.eq(error)]
        with m.If(rp.done & rp.saturated):
            m.d.sync += flag.eq(1)

        # ---- batch sequencing
        i = Signal(range(self._b_max + 2))
        B = Signal(range(self._b_max + 2))
        cur = Signal()
        m.d.comb += tp.addr.eq(i - 1)
        m.d.sync += self.done.eq(0)
        m.d.comb += [self.batch.ready.eq(0), self.busy.eq(0), rp.start.eq(0), kx.start.eq(0),
                     rp.mode.eq(UPDATE), rp.buf.eq(cur)]

        def start_pass(mode, pass_bank):
            m.d.comb += [rp.start.eq(1), rp.mode.eq(mode), bank_now.eq(pass_bank)]
            m.d.sync += bank.eq(pass_bank)

        def begin_sample(buf, more):
            """Start the sample in input buffer ``buf`` (full): its NORM pass now, and stream
            the next sample into the other buffer if ``more``."""
            m.d.sync += [full.bit_select(buf, 1).eq(0), cur.eq(buf)]
            m.d.comb += rp.buf.eq(buf)
            start_pass(NORM, Bank.X)
            with m.If(more):
                m.d.sync += [fill.eq(~buf), filling.eq(1)]
                m.d.comb += [inp_rewind.eq(1), rp.inp_buf.eq(~buf)]

        # a pass hands over to its k x k segment, the segment to the next pass, in the cycle
        # their done pulses (both engines take start when idle and latch their inputs then)
        def pass_then(state_name, segment: str, next_pass):
            with m.State(state_name):
                m.d.comb += self.busy.eq(1)
                with m.If(rp.done):
                    m.d.comb += [kx.start.eq(1), kx.segment.eq(SEGMENTS.index(segment))]
                    m.next = state_name + "_kxk"
            with m.State(state_name + "_kxk"):
                m.d.comb += self.busy.eq(1)
                with m.If(kx.done):
                    next_pass()

        rows_left = Signal(range(max(self._n_in, self._n_out) + 1))
        with m.FSM():
            with m.State("idle"):
                # load and readout take priority: a batch offered with them waits
                m.d.comb += self.batch.ready.eq(~self.load & ~self.readout)
                with m.If(self.load):
                    m.d.sync += [flag.eq(0), error.eq(0), full.eq(0), filling.eq(0)]
                    m.d.comb += [rp.rewind.eq(1), bank_now.eq(Bank.X), rp.start.eq(0)]
                    m.d.comb += kx.load.eq(1)
                    m.d.sync += [bank.eq(Bank.X), rows_left.eq(self._n_in)]
                    m.next = "load_x"
                with m.Elif(self.readout):
                    m.d.comb += [rp.readout.eq(1), bank_now.eq(Bank.X)]
                    m.d.sync += [bank.eq(Bank.X), rows_left.eq(self._n_in)]
                    m.next = "read_x"
                with m.Elif(self.batch.valid):
                    B_in = self.batch.payload
                    with m.If((B_in == 0) | (B_in > self._b_max)):
                        m.d.sync += [error.eq(1), self.done.eq(1)]
                    with m.Else():
                        m.d.sync += [B.eq(B_in), i.eq(1), cur.eq(0), fill.eq(0),
                                     filling.eq(1), full.eq(0), error.eq(0)]
                        m.d.comb += inp_rewind.eq(1)
                        m.d.comb += rp.inp_buf.eq(0)
                        m.next = "wait_input"
            with m.State("load_x"):
                m.d.comb += [self.busy.eq(1), rp.row_w.payload.eq(self.load_rows.payload),
                             rp.row_w.valid.eq(self.load_rows.valid),
                             self.load_rows.ready.eq(rp.row_w.ready)]
                with m.If(self.load_rows.valid & rp.row_w.ready):
                    m.d.sync += rows_left.eq(rows_left - 1)
                    with m.If(rows_left == 1):
                        m.next = "load_d0"
            with m.State("load_d0"):
                m.d.comb += [self.busy.eq(1), rp.rewind.eq(1), bank_now.eq(Bank.DELTA)]
                m.d.sync += [bank.eq(Bank.DELTA), rows_left.eq(self._n_out)]
                m.next = "load_d"
            with m.State("load_d"):
                m.d.comb += [self.busy.eq(1), rp.row_w.payload.eq(self.load_rows.payload),
                             rp.row_w.valid.eq(self.load_rows.valid),
                             self.load_rows.ready.eq(rp.row_w.ready)]
                with m.If(self.load_rows.valid & rp.row_w.ready):
                    m.d.sync += rows_left.eq(rows_left - 1)
                    with m.If(rows_left == 1):
                        m.next = "idle"
            with m.State("read_x"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.rows_o.valid & self.rows_o.ready):
                    m.d.sync += rows_left.eq(rows_left - 1)
                    with m.If(rows_left == 1):
                        m.next = "read_d0"
            with m.State("read_d0"):
                m.d.comb += self.busy.eq(1)
                with m.If(~self.rows_o.valid):
                    m.d.comb += [rp.readout.eq(1), bank_now.eq(Bank.DELTA)]
                    m.d.sync += [bank.eq(Bank.DELTA), rows_left.eq(self._n_out)]
                    m.next = "read_d"
            with m.State("read_d"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.rows_o.valid & self.rows_o.ready):
                    m.d.sync += rows_left.eq(rows_left - 1)
                    with m.If(rows_left == 1):
                        m.next = "idle"
            with m.State("wait_input"):
                m.d.comb += self.busy.eq(1)
                with m.If(full.bit_select(cur, 1)):
                    begin_sample(cur, i < B)
                    m.next = "norm"

            def to(mode, pass_bank, state_name):
                def go():
                    start_pass(mode, pass_bank)
                    m.next = state_name
                return go

            def after_sample():
                with m.If(i == B):
                    m.d.sync += self.done.eq(1)
                    m.next = "idle"
                with m.Else():
                    m.d.sync += i.eq(i + 1)
                    with m.If(full.bit_select(~cur, 1)):
                        begin_sample(~cur, i + 1 < B)
                        m.next = "norm"
                    with m.Else():
                        m.d.sync += cur.eq(~cur)
                        m.next = "wait_input"

            pass_then("norm", "norm_x", to(PROJECT, Bank.DELTA, "project"))
            pass_then("project", "pre_x", to(UPDATE, Bank.X, "upx"))
            pass_then("upx", "post_x", to(UPDATE, Bank.DELTA, "upd"))
            pass_then("upd", "post_d", after_sample)
        m.d.comb += [self.rows_o.payload.eq(rp.row_o.payload),
                     self.rows_o.valid.eq(rp.row_o.valid), rp.row_o.ready.eq(self.rows_o.ready)]
        return m
