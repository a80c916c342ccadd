"""Row-pass engine: the streaming-PCA unit's main datapath, one pass over a stored ``n x k`` matrix.

Contract (bit for bit): :func:`golden.sbpca_unit.row_pass`. For each stored row ``S[i]`` and input
word ``inp[i]``::

    acc[i, r] = sum_{q <= r} (S[i, q] << a[q]) cT[q, r] + (inp[i] << gw) w[r]
    new[i, r] = round_shift_saturate(acc[i, r], shift)          ->  S[i] (written back)
    gram     += new[i]^T new[i]        (upper triangle)          exact
    proj     += inp[i] new[i]                                     exact

(``round_shift_saturate``: :func:`golden.fixed.round_shift_saturate`, round half up and saturate
into the ``vec_width``-bit word; hardware form :func:`hdl.fixed_ops.round_shift_saturate`.)

Storage: the engine holds up to four matrices, its *banks* (the unit's X with ``n_in`` rows and
Delta with ``n_out`` rows); a pass runs over one of them (``bank``, latched at ``start``). Row
``i`` of a bank lives in lane ``i mod lanes`` (one memory word holds a whole row of ``k`` words,
so a row is one read and one write), its input word likewise, in two input buffers so the host
streams the next sample into one while passes read the other (``hdl/row_pass_banks.py``).

A pass is a sequence of *slots*, one per row address ``j`` of its bank (UPDATE: one more);
every slot plays one program's list of beats on all lanes in lockstep (``hdl/row_pass_beats.py``)::

    UPDATE slot j:  U beats of row j        k(k+1)/2 + k   dot products ending in a rounded new[r]
                    G beats of row j-1      k(k+1)/2 + k   fused multiply-adds into per-lane sums
        slot 0:         U beats of row 0 only (k = 1: padded to lane_latency + 1 beats); row 0
                        is complete in slot 1, before its G beats (beat row0_beat: copied to
                        new_prev, written back); with one row address, slot 0 waits for row 0's
                        results instead (U + lane_latency + 1 beats)
        slot rows_b:    G beats of row rows_b - 1 only

    start --> [pass control: phase, slot j, beat]  (hdl/row_pass_control.py)
                   |  entry             |  fetch address, slot end
                   v                    |
              [beat table, decoder]     |
                   (shared cT, w)       v
                   +--------------> [issue register] (the lanes run one cycle behind)
                                        v
                                    lane 0 .. L-1 (hdl/row_pass_lane.py): row and input
                                        memories, operand mux, operand register, MACLane, rounding,
                                        lane sums in LUT RAM    <-- lane_i / --> lane_o
                                            |
    row_w, row_o, inp_w --> [host pointers] (hdl/row_pass_host.py)
                                            v
              from pass_latency + 1 cycles into the last slot: each produced sum is added over the
              lanes (one sum per cycle, in the order the last slot wrote them)
              --> gram, proj, norm2, done

Timing: a pass over bank ``b`` takes, from ``start`` to ``done`` (:meth:`RowPass.cycles_for`),
``cycles = 1 + 1 + lead_b + (pass_latency + 1) + nred + 1`` cycles: the start cycle, the prefetch of
row 0, the slots before the last one (``lead_b``), the last slot's first beat until its result is
in the lane sums (``pass_latency`` = 4: the issue register, which puts the lanes one cycle behind
the pass control and cuts the shared decoder off the lanes' operand paths, then the lane port's
``lane_latency``), the reduction of the ``nred`` sums the program produces, one a cycle, and the
adder tree of the last one (its read and the tree over the lanes are a cycle each; ``done`` is
high in the cycle after)::

    mode      lead_b                               nred
    UPDATE    first_b + (rows_b - 1) * slot        k(k+1)/2 + k          (U = k(k+1)/2 + k)
    PROJECT   (rows_b - 1) * slot                  k + 1
    NORM      rows_b - 1                           1

with ``slot`` the program's slot length (:attr:`RowPass.slot_lengths`: ``k^2 + 3k`` for UPDATE when
``k >= 2``) and ``first_b`` UPDATE's first slot (:meth:`RowPass.first_slot_for`: ``max(U,
lane_latency + 1)``, or ``U + lane_latency + 1`` when ``rows_b = 1``). Every lane issues one
multiply per beat, so the multiply slots used on real rows are ``n_b (k^2 + 3k)`` of ``lanes *
cycles`` (:meth:`RowPass.useful_macs_for`). Rows past ``n_b`` in a bank's last address (when
``lanes`` does not divide ``n_b``) are zero and never written. The input stream never stalls a pass:
``inp_w`` has its own write port and is accepted in every cycle, busy or not. The lane port
(``lane_i``/``lane_o``, ``hdl/lane_port.py``) lends the idle MAC lanes to another engine: a beat
presented in cycle ``t`` is in the operand register in ``t + 1`` and a ``last`` beat's sum is on
``lane_o`` in cycle ``t + lane_latency`` (3).

Programs (``mode``, latched at ``start``, :class:`PassMode`): ``UPDATE`` is the pass above;
``PROJECT`` leaves the rows alone and computes ``proj = S^T inp`` and ``norm2 = inp^T inp``
(``k + 1`` beats a row: the unit's read pass over Delta); ``NORM`` computes ``norm2`` alone with
one beat a row in each lane's own accumulator (the input norm the column-shift bound needs
before an update). Contract: :func:`golden.sbpca_unit.row_project`.

Host side: ``rewind`` latches ``bank`` and resets the row pointer; ``row_w`` then writes that
bank's ``n_b`` rows in order (more are dropped). ``inp_rewind`` latches ``inp_buf``; ``inp_w``
then fills that buffer, bank 0 first. ``readout`` latches ``bank`` and streams its ``n_b`` rows
out on ``row_o``. ``start`` latches ``params``, ``mode``, ``bank`` and ``buf`` and runs the pass;
``done`` pulses when ``gram``/``proj``/``norm2`` are valid (they hold until the next start,
the sums the program does not produce read 0);
``saturated`` is sticky from one ``start`` to the next.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.fixed import FixedFormat
from . import lane_port
from .row_pass_banks import MAX_BANKS, BankMap, check_banks
from .row_pass_beats import (IDLE_BEAT, ISSUE_STAGES, BeatDecoder, IssueRegister, PassMode,
                             beat_table)
from .row_pass_control import REDUCE_STAGES, PassControl
from .row_pass_host import HostPorts
from .row_pass_lane import Lane

__all__ = ["RowPass", "PassMode", "UPDATE", "PROJECT", "NORM", "MAX_BANKS"]

#: The programs by name (``PassMode`` members).
UPDATE, PROJECT, NORM = PassMode.UPDATE, PassMode.PROJECT, PassMode.NORM


def _bits(n: int) -> int:
    """Bits to hold 0..n."""
    return max(1, int(n).bit_length())


class RowPass(wiring.Component):
    """One pass of the unit's row update over one of up to four stored matrices (module docstring).

    Parameters
    ----------
    banks : tuple of int
        Rows of each stored matrix (bank), 1 to 4 banks, e.g. ``(784, 100)``.
    k : int
        Columns (the rank), 1..16.
    lanes : int
        MAC lanes, 1..max(banks).
    vec_width : int
        Width of stored and input words.
    coef_width : int
        Width of ``cT`` and ``w`` words, and of the lanes' operands (``>= vec_width + gw``).
    shift : int
        Right shift (with rounding) from ``acc`` to a stored word, ``>= 1``.
    gw : int
        Left shift of input words before they multiply ``w``.
    a_bits : int
        Bits of each column exponent ``a[q]``.
    words : int
        Input words per ``inp_w`` beat: ``1 <= words <= lanes`` and ``words`` divides ``lanes``.
    port_lanes : int
        Lanes with a lane port (``lane_i``/``lane_o``), the first ``1..lanes`` (default all):
        the others take no external beats and have no operand multiplexer for them.

    Members
    -------
    row_w : In(stream(ArrayLayout(signed(vec_width), k)))
        Rows of the bank latched at ``rewind``, written in order; rows past ``n_b`` are dropped.
        Ready when idle and no readout runs.
    inp_w : In(stream(ArrayLayout(signed(vec_width), words)))
        Input words of the buffer latched at ``inp_rewind``: bank 0's ``n_0`` words in
        ``ceil(n_0 / words)`` beats (words of the last beat past ``n_0`` are dropped), then bank 1
        from a fresh beat, and so on. Accepted in every cycle, also during a pass; ``ready`` is 1
        until all banks of the buffer are full, then 0 until the next ``inp_rewind``. (After reset
        the pointer is at buffer 0, bank 0.) Filling the buffer a running pass reads is allowed but
        the pass then sees a mix of old and new words.
    row_o : Out(stream(ArrayLayout(signed(vec_width), k)))
        The ``n_b`` rows of the bank latched at ``readout``, in order.
    params : In(params_layout)
        ``a`` (``k`` exponents), ``cT`` (``k x k``, upper triangle used), ``w`` (``k``): read at
        ``start``.
    bank : In(range(max(len(banks), 2)))
        Bank of the next pass (read at ``start``), of ``row_w`` (at ``rewind``) and of ``row_o``
        (at ``readout``). Values past the last bank select bank 0.
    buf : In(1)
        Input buffer the next pass reads (at ``start``).
    inp_buf : In(1)
        Input buffer ``inp_w`` fills next (at ``inp_rewind``).
    rewind, readout, start : In(1)
        Pulses, ignored while busy (``readout`` and ``start`` also while a readout runs).
    inp_rewind : In(1)
        Pulse, taken in any cycle; it points ``inp_w`` at bank 0 of ``inp_buf`` from the next
        cycle (a beat transferred in the same cycle still belongs to the previous fill).
    mode : In(PassMode)
        Program of the next pass: ``UPDATE`` (0), ``PROJECT`` (1) or ``NORM`` (2; 3 runs UPDATE).
    lane_i : In(ArrayLayout(beat_layout, port_lanes))
        External beats ``{valid, a, b, c, clear, last, sub}`` for each lane (``MACLane``
        semantics). Taken into lane ``l``'s operand register in every cycle ``busy`` is low
        (also the cycle ``start`` is taken in); ignored while ``busy`` is high. A pass may start
        in the cycle after the last external beat (or in the same cycle): the results of external
        beats still in the lanes are delivered on ``lane_o`` as usual during the pass's first
        cycles, and the pass is not disturbed (its sums all start with ``clear``). The
        accumulator is shared: an external sum begun before a pass must start again (``clear``)
        after it.
    lane_o : Out(ArrayLayout(lane_result_layout, port_lanes))
        ``{valid, value}``: the accumulator after an external ``last`` beat, ``valid`` for one
        cycle, ``lane_latency`` cycles after the beat was presented. Never valid for pass beats.
    busy, done : Out(1)
        ``done`` pulses for one cycle at the end of a pass.
    gram : Out(ArrayLayout(signed(sum_width), k(k+1)/2))
        Upper triangle of ``new^T new``, row-major (``(0,0), (0,1), ..., (k-1,k-1)``).
    proj : Out(ArrayLayout(signed(sum_width), k))
        ``inp^T new`` (``UPDATE``) or ``S^T inp`` (``PROJECT``).
    norm2 : Out(signed(sum_width))
        ``inp^T inp`` (``PROJECT``, ``NORM``).
    saturated : Out(1)
        Some stored word of the last pass was clamped.

    ``collision`` (not a port, no hardware; for simulation) is high in a cycle where a lane's row
    memory reads the address it writes. It never is: a pass writes a row back while fetching
    another, host writes wait for a readout to finish. So the row memories are declared free of
    read-during-write for synthesis (Yosys ``no_rw_check``: no emulation of the old word), and
    the tests watch this signal in every simulated cycle.
    """

    def __init__(self, *, banks, k, lanes, vec_width, coef_width, shift, gw, a_bits=5, words=1,
                 port_lanes=None):
        self._banks = check_banks(banks)
        self._k = check_int("k", k, 1, 16)
        self._lanes = check_int("lanes", lanes, 1, max(self._banks))
        self._words = check_int("words", words, 1, lanes)
        if lanes % words:
            raise ValueError(f"words={words}: must divide lanes={lanes}")
        self._port_lanes = lanes if port_lanes is None else check_int("port_lanes", port_lanes,
                                                                      1, lanes)
        self._vec_width = check_int("vec_width", vec_width, 2, 32)
        self._gw = check_int("gw", gw, 0, 32)
        self._coef_width = check_int("coef_width", coef_width, 2, 32)
        if coef_width < vec_width + gw:
            raise ValueError(f"coef_width={coef_width}: must be at least vec_width + gw = "
                             f"{vec_width + gw}")
        self._shift = check_int("shift", shift, 1, 2 * coef_width)
        self._a_bits = check_int("a_bits", a_bits, 1, 6)
        self._map = BankMap(self._banks, lanes, words)
        self._rows = self._map.rows
        npairs = k * (k + 1) // 2
        self._u_beats = npairs + k
        self._g_beats = npairs + k
        latency = lane_port.LATENCY
        self._latency = latency
        # UPDATE: the last U result must be in new_cur before the slot-end copy.
        # PROJECT: a lane sum is read again one slot after it was issued: slot > latency.
        # NORM: one beat per row into the lane's own accumulator, no read-modify-write.
        self._slots = (max(self._u_beats + self._g_beats, self._u_beats + latency + 1),
                       max(k + 1, latency + 1), 1)
        # UPDATE's first slot has no G beats (row -1). With one row address it ends once row 0's
        # results are back; else after the U beats (k = 1: lane_latency + 1 beats, so that row 0
        # is back before slot 1's G beats) and row 0 completes in slot 1, at beat _row0_beat:
        # after its last result lands, before slot 1's first result (beat 1's) replaces it
        self._first_slot = (self._u_beats + latency + 1, max(self._u_beats, latency + 1))
        self._row0_beat = self._u_beats + latency - self._first_slot[1]
        # the sums each program produces (first, last index), Gram pairs, projection, norm
        self._reduced = ((0, npairs, npairs + k), (npairs + k - 1, npairs + k, npairs + k))

        # U sums (lane_port.lane_acc_width), or the G sums of a bank's rows in one lane
        self._acc_width = max(lane_port.lane_acc_width(coef_width, k),
                              2 * vec_width + _bits(max(self._rows)) + 2 + gw)
        self._sum_width = self._acc_width + _bits(lanes)
        self._collision = Signal(name="row_rw_collision")
        super().__init__({
            "row_w": In(stream.Signature(self.row_layout)),
            "inp_w": In(stream.Signature(self.input_layout)),
            "row_o": Out(stream.Signature(self.row_layout)),
            "params": In(self.params_layout),
            "bank": In(range(max(len(self._banks), 2))),
            "buf": In(1),
            "inp_buf": In(1),
            "rewind": In(1),
            "inp_rewind": In(1),
            "readout": In(1),
            "start": In(1),
            "mode": In(PassMode),
            "lane_i": In(data.ArrayLayout(self.beat_layout, self._port_lanes)),
            "lane_o": Out(data.ArrayLayout(self.lane_result_layout, self._port_lanes)),
            "busy": Out(1),
            "done": Out(1),
            "gram": Out(data.ArrayLayout(signed(self._sum_width), npairs)),
            "proj": Out(data.ArrayLayout(signed(self._sum_width), k)),
            "norm2": Out(signed(self._sum_width)),
            "saturated": Out(1),
        })

    # -- parameters and derived facts ------------------------------------------------------------

    banks = property(lambda self: self._banks)
    k = property(lambda self: self._k)
    lanes = property(lambda self: self._lanes)
    port_lanes = property(lambda self: self._port_lanes)
    collision = property(lambda self: self._collision)
    words = property(lambda self: self._words)
    vec_width = property(lambda self: self._vec_width)
    coef_width = property(lambda self: self._coef_width)
    shift = property(lambda self: self._shift)
    gw = property(lambda self: self._gw)
    a_bits = property(lambda self: self._a_bits)

    def _bank(self, bank) -> int:
        return check_int("bank", bank, 0, len(self._banks) - 1)

    def rows_per_lane(self, bank: int) -> int:
        """Row addresses of ``bank`` in each lane: ``ceil(n_b / lanes)``."""
        return self._rows[self._bank(bank)]

    def bank_base(self, bank: int) -> int:
        """First row address of ``bank`` in each lane's row memory."""
        return self._map.bases[self._bank(bank)]

    def input_beats(self, bank: int) -> int:
        """``inp_w`` beats that fill ``bank`` of a buffer: ``ceil(n_b / words)``."""
        return self._map.input_beats[self._bank(bank)]

    @property
    def row_depth(self) -> int:
        """Words of each lane's row memory (all banks); its input memory holds twice as many."""
        return self._map.depth

    @property
    def slot_beats(self) -> int:
        """Beats per full row slot of ``UPDATE`` (``k^2 + 3k``, plus idle beats when ``k = 1``);
        its first slot is :meth:`first_slot_for` long and its last ``slot - (k(k+1)/2 + k)``."""
        return self._slots[UPDATE]

    @property
    def slot_lengths(self) -> tuple:
        """Beats per row slot of each program, indexed by :class:`PassMode`."""
        return self._slots

    def first_slot_for(self, bank: int) -> int:
        """Beats of ``UPDATE``'s first slot over ``bank``: row 0's U beats (``max(U,
        lane_latency + 1)``), or with one row address ``U + lane_latency + 1`` (row 0's results
        back before its only G beats)."""
        return self._first_slot[self.rows_per_lane(bank) > 1]

    @property
    def first_slot_lengths(self) -> tuple:
        """``UPDATE``'s first slot length for a bank of one row address and of more."""
        return self._first_slot

    @property
    def row0_beat(self) -> int:
        """Beat of ``UPDATE``'s slot 1 in which row 0 is complete in ``new_cur`` (copied to
        ``new_prev`` and written back), when the bank has two row addresses or more."""
        return self._row0_beat

    @property
    def reduced_sums(self) -> tuple:
        """``(first, last)``: per :class:`PassMode`, the first and last lane-sum index the
        reduction adds over the lanes (the sums the program produces)."""
        return self._reduced

    @property
    def lane_latency(self) -> int:
        """Cycles from a beat on ``lane_i`` to its result on ``lane_o``: operand register + lane."""
        return self._latency

    @property
    def pass_latency(self) -> int:
        """Cycles from the pass control's beat to its result in a lane: the issue register
        (``hdl/row_pass_beats.IssueRegister``), the operand register and the MAC lane."""
        return ISSUE_STAGES + self._latency

    def cycles_for(self, mode: int, bank: int) -> int:
        """Cycles from ``start`` to ``done`` of a pass of program ``mode`` over ``bank``
        (module docstring: ``1 + 1 + lead_b + (pass_latency + 1) + nred + 1``)."""
        mode = check_int("mode", mode, UPDATE, NORM)
        rows = self.rows_per_lane(bank)
        lead = (rows - 1) * self._slots[mode]
        if mode == UPDATE:
            lead += self.first_slot_for(bank)
        first, last = self._reduced
        nred = last[mode] - first[mode] + 1
        return 1 + 1 + lead + (self.pass_latency + 1) + nred + REDUCE_STAGES

    def useful_macs_for(self, mode: int, bank: int) -> int:
        """Multiplies on real rows: ``n_b (k^2 + 3k)``, ``n_b (k + 1)`` or ``n_b``."""
        mode = check_int("mode", mode, UPDATE, NORM)
        per_row = (self._u_beats + self._g_beats, self._k + 1, 1)[mode]
        return self._banks[self._bank(bank)] * per_row

    @property
    def acc_width(self) -> int:
        """Width of the lanes' accumulators (and of ``c`` and ``value`` on the lane port)."""
        return self._acc_width

    @property
    def sum_width(self) -> int:
        """Width of ``gram``, ``proj`` and ``norm2`` (lane sums added over the lanes)."""
        return self._sum_width

    @property
    def word_format(self) -> FixedFormat:
        """Raw stored words: ``vec_width`` bits, rounded half up and saturated
        (:func:`golden.fixed.round_shift_saturate` by ``shift``)."""
        return FixedFormat(self._vec_width, 0, rounding="half_up", overflow="saturate")

    @property
    def lane_formats(self) -> tuple:
        """``(a_format, b_format, acc_format)`` of every MAC lane (integer, wrapping)."""
        cw = self._coef_width
        return FixedFormat(cw), FixedFormat(cw), FixedFormat(self._acc_width)

    @property
    def row_layout(self):
        return data.ArrayLayout(signed(self._vec_width), self._k)

    @property
    def input_layout(self):
        return data.ArrayLayout(signed(self._vec_width), self._words)

    @property
    def beat_layout(self):
        """One external beat on ``lane_i`` (:func:`hdl.lane_port.beat_layout`)."""
        return lane_port.beat_layout(self._coef_width, self._acc_width)

    @property
    def lane_result_layout(self):
        """One result on ``lane_o`` (:func:`hdl.lane_port.result_layout`)."""
        return lane_port.result_layout(self._acc_width)

    @property
    def params_layout(self):
        k, cw = self._k, self._coef_width
        return data.StructLayout({
            "a": data.ArrayLayout(unsigned(self._a_bits), k),
            "cT": data.ArrayLayout(data.ArrayLayout(signed(cw), k), k),
            "w": data.ArrayLayout(signed(cw), k),
        })

    # -- elaboration -----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        banks, k, nb = self._map, self._k, len(self._banks)
        nsum = k * (k + 1) // 2 + k + 1           # Gram, projection, norm
        tables, coefs = beat_table(k, self._slots)
        width = max(self._slots)
        span = 1 << (width - 1).bit_length() if width > 1 else 1
        table = []
        for t in tables + [[]]:               # four programs' worth of entries, padded
            table += t + [IDLE_BEAT] * (span - len(t))

        bank_sel = Signal(range(max(nb, 2)))      # the `bank` input, out-of-range values -> 0
        if nb > 1:
            in_range = self.bank < nb if nb < 1 << len(self.bank) else 1
            m.d.comb += bank_sel.eq(Mux(in_range, self.bank, 0))

        ctl = PassControl(m, self, banks, span)
        host = HostPorts(m, self, banks)
        dec = BeatDecoder(m, table=table, coefs=coefs, k=k, nsum=nsum,
                          coef_width=self._coef_width, a_bits=self._a_bits, params=ctl.params,
                          ctl=ctl)
        ctl.slots(m)
        dec.issue(m, ctl)
        issue = IssueRegister(m, dec=dec, ctl=ctl)
        lanes = [Lane(m, self, lane, ctl=issue, dec=issue, host=host, depth=banks.depth,
                      nsum=nsum, fetch=ctl)
                 for lane in range(self._lanes)]
        host.elaborate(m, busy=ctl.busy, bank_sel=bank_sel,
                       read_ports=[lane.read_port for lane in lanes])
        m.d.comb += self._collision.eq(Cat(*(lane.collision for lane in lanes)).any())
        ctl.sequence(m, bank_sel=bank_sel, reading=host.reading,
                     lane_sums=[lane.sums for lane in lanes],
                     saturated=[lane.saturated for lane in lanes])
        return m
