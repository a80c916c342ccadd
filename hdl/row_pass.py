"""Row-pass engine: the streaming-PCA unit's main datapath, one pass over a stored ``n x k`` matrix.

Contract (bit for bit): :func:`golden.sbpca_unit.row_pass`. For each stored row ``S[i]`` and input
word ``inp[i]``::

    acc[i, r] = sum_{q <= r} (S[i, q] << a[q]) cT[q, r] + (inp[i] << gw) w[r]
    new[i, r] = saturate(round_half_up(acc[i, r] >> shift))     ->  S[i] (written back)
    gram     += new[i]^T new[i]        (upper triangle)          exact
    proj     += inp[i] new[i]                                     exact

Storage: the engine holds up to four matrices, its *banks* (the unit's X with ``n_in`` rows and
Delta with ``n_out`` rows); a pass runs over one of them (``bank``, latched at ``start``). Bank
``b`` has ``n_b`` rows and takes ``rows_b = ceil(n_b / lanes)`` addresses of every lane's row
memory, after the banks before it (``base_b = rows_0 + ... + rows_{b-1}``): row ``i`` of bank
``b`` lives in lane ``i mod lanes`` at address ``base_b + i // lanes`` (one word holds a whole row
of ``k`` words, so a row is one read and one write). Input words are stored the same way, in two
buffers, so the host streams the next sample into one while passes read the other::

    row memory, each lane:     | bank 0 (rows_0) | bank 1 (rows_1) | ...
    input memory, each lane:   | buffer 0: bank 0 | bank 1 | ... | buffer 1: bank 0 | bank 1 | ...
    inp_w beat t of bank b:    its W words -> lanes g W .. g W + W - 1, g = t mod (lanes / W),
                               at address base_b + t // (lanes / W) of the buffer

A pass is a sequence of *slots*, one per row address ``j`` of its bank, plus a drain slot::

    slot j:  U beats of row j        k(k+1)/2 + k   dot products ending in a rounded new[r]
             G beats of row j-1      k(k+1)/2 + k   fused multiply-adds into per-lane sums
             (idle beats only when k = 1, so the last U result is back before the slot ends)

    per lane, per beat:
      beat table ---> opA mux (S[q] << a[q] | inp << gw | new_prev[q] | inp_prev) --+
                 \\--> opB mux (cT[q][r] | w[r]  shared by all lanes | new_prev[r]) --+
                        c = round constant (U) or the lane sum being updated (G) ----+ pass beat
                                                                                     v
                                      lane_i[l] (external beat) ---> [busy ? pass : external]
                                                                                     v
                                                                          [operand register]
                                                                                     v
                                                      MACLane (multiply, accumulate: 2 stages)
                                                                                     v
               tag delay line --> new_cur[r] (>> shift, saturate) | lane sum[idx] | lane_o[l]

    after the drain slot: each sum is added over the lanes (one sum per cycle).

Timing: a pass over bank ``b`` takes
``cycles = 1 + (rows_b + 1) * slot + lane_latency + nsum + 1`` cycles from ``start`` to ``done``
(:meth:`RowPass.cycles_for`), with ``nsum = k(k+1)/2 + k + 1`` sums; every lane issues one
multiply per beat, so the multiply slots used on real rows are ``n_b (k^2 + 3k)`` of
``lanes * cycles`` (:meth:`RowPass.useful_macs_for`). Rows past ``n_b`` in a bank's last address
(when ``lanes`` does not divide ``n_b``) are zero and never written. The input stream never stalls
a pass: ``inp_w`` has its own write port and is accepted in every cycle, busy or not. The lane port
(``lane_i``/``lane_o``) lends the idle MAC lanes to another engine: a beat presented in cycle
``t`` is in the operand register in ``t + 1`` and a ``last`` beat's sum is on ``lane_o`` in cycle
``t + lane_latency`` (3).

Programs (``mode``, latched at ``start``): ``UPDATE`` is the pass above; ``PROJECT`` leaves the
rows alone and computes ``proj = S^T inp`` and ``norm2 = inp^T inp`` (``k + 1`` beats a row: the
unit's read pass over Delta); ``NORM`` computes ``norm2`` alone with one beat a row in each
lane's own accumulator (the input norm the column-shift bound needs before an update).
Contract: :func:`golden.sbpca_unit.row_project`.

Host side: ``rewind`` latches ``bank`` and resets the row pointer; ``row_w`` then writes that
bank's ``n_b`` rows in order (more are dropped). ``inp_rewind`` latches ``inp_buf``; ``inp_w``
then fills that buffer, bank 0 first. ``readout`` latches ``bank`` and streams its ``n_b`` rows
out on ``row_o``. ``start`` latches ``params``, ``mode``, ``bank`` and ``buf`` and runs the pass;
``done`` pulses when ``gram``/``proj``/``norm2`` are valid (they hold until the next start);
``saturated`` is sticky from one ``start`` to the next.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.fixed import FixedFormat
from .mac_lane import MACLane

__all__ = ["RowPass", "UPDATE", "PROJECT", "NORM", "MAX_BANKS"]

#: Programs of a pass (the ``mode`` input): update the rows (and Gram, projection), project the
#: stored rows on the input words (and the inputs' squared norm), or the squared norm alone.
UPDATE, PROJECT, NORM = 0, 1, 2

#: Most banks (stored matrices) one engine holds.
MAX_BANKS = 4


def _bits(n: int) -> int:
    """Bits to hold 0..n."""
    return max(1, int(n).bit_length())


def _check(name, value, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r}: must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}={value}: must be {bound}")
    return value


def _check_banks(banks) -> tuple:
    if isinstance(banks, (str, bytes)) or not hasattr(banks, "__iter__"):
        raise TypeError(f"banks={banks!r}: must be a tuple of row counts, e.g. (784, 100)")
    banks = tuple(banks)
    if not 1 <= len(banks) <= MAX_BANKS:
        raise ValueError(f"banks={banks!r}: must hold 1 to {MAX_BANKS} row counts")
    for n in banks:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"banks={banks!r}: row counts must be integers")
        if n < 1:
            raise ValueError(f"banks={banks!r}: row counts must be at least 1")
    return banks


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

    Members
    -------
    row_w : In(stream(ArrayLayout(signed(vec_width), k)))
        Rows of the bank latched at ``rewind``, written in order; rows past ``n_b`` are dropped.
        Ready when idle.
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
    mode : In(2)
        Program of the next pass: ``UPDATE`` (0), ``PROJECT`` (1) or ``NORM`` (2; 3 runs UPDATE).
    lane_i : In(ArrayLayout(beat_layout, lanes))
        External beats ``{valid, a, b, c, clear, last, sub}`` for each lane (``MACLane``
        semantics). Taken into lane ``l``'s operand register in every cycle ``busy`` is low
        (also the cycle ``start`` is taken in); ignored while ``busy`` is high. A pass may start
        in the cycle after the last external beat (or in the same cycle): the results of external
        beats still in the lanes are delivered on ``lane_o`` as usual during the pass's first
        cycles, and the pass is not disturbed (its sums all start with ``clear``). The
        accumulator is shared: an external sum begun before a pass must start again (``clear``)
        after it.
    lane_o : Out(ArrayLayout(lane_result_layout, lanes))
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
    """

    def __init__(self, *, banks, k, lanes, vec_width, coef_width, shift, gw, a_bits=5, words=1):
        self._banks = _check_banks(banks)
        self._k = _check("k", k, 1, 16)
        self._lanes = _check("lanes", lanes, 1, max(self._banks))
        self._words = _check("words", words, 1, lanes)
        if lanes % words:
            raise ValueError(f"words={words}: must divide lanes={lanes}")
        self._vec_width = _check("vec_width", vec_width, 2, 32)
        self._gw = _check("gw", gw, 0, 32)
        self._coef_width = _check("coef_width", coef_width, 2, 32)
        if coef_width < vec_width + gw:
            raise ValueError(f"coef_width={coef_width}: must be at least vec_width + gw = "
                             f"{vec_width + gw}")
        self._shift = _check("shift", shift, 1, 2 * coef_width)
        self._a_bits = _check("a_bits", a_bits, 1, 6)
        self._rows = tuple(-(-n // lanes) for n in self._banks)
        self._bases = tuple(sum(self._rows[:b]) for b in range(len(self._banks)))
        npairs = k * (k + 1) // 2
        self._u_beats = npairs + k
        self._g_beats = npairs + k
        latency = MACLane.latency.fget(None) + 1           # operand register + lane
        self._latency = latency
        # UPDATE: the last U result must be in new_cur before the slot-end copy.
        # PROJECT: a lane sum is read again one slot after it was issued: slot > latency.
        # NORM: one beat per row into the lane's own accumulator, no read-modify-write.
        self._slots = (max(self._u_beats + self._g_beats, self._u_beats + latency + 1),
                       max(k + 1, latency + 1), 1)

        prod = 2 * coef_width
        self._acc_width = max(prod + _bits(k + 1) + 1,
                              2 * vec_width + _bits(max(self._rows)) + 2 + gw)
        self._sum_width = self._acc_width + _bits(lanes)
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
            "mode": In(2),
            "lane_i": In(data.ArrayLayout(self.beat_layout, lanes)),
            "lane_o": Out(data.ArrayLayout(self.lane_result_layout, lanes)),
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
    words = property(lambda self: self._words)
    vec_width = property(lambda self: self._vec_width)
    coef_width = property(lambda self: self._coef_width)
    shift = property(lambda self: self._shift)
    gw = property(lambda self: self._gw)
    a_bits = property(lambda self: self._a_bits)

    def _bank(self, bank) -> int:
        return _check("bank", bank, 0, len(self._banks) - 1)

    def rows_per_lane(self, bank: int) -> int:
        """Row addresses of ``bank`` in each lane: ``ceil(n_b / lanes)``."""
        return self._rows[self._bank(bank)]

    def bank_base(self, bank: int) -> int:
        """First row address of ``bank`` in each lane's row memory."""
        return self._bases[self._bank(bank)]

    def input_beats(self, bank: int) -> int:
        """``inp_w`` beats that fill ``bank`` of a buffer: ``ceil(n_b / words)``."""
        return -(-self._banks[self._bank(bank)] // self._words)

    @property
    def row_depth(self) -> int:
        """Words of each lane's row memory (all banks); its input memory holds twice as many."""
        return sum(self._rows)

    @property
    def slot_beats(self) -> int:
        """Beats per row slot of ``UPDATE`` (``k^2 + 3k``, plus idle beats when ``k = 1``)."""
        return self._slots[UPDATE]

    @property
    def lane_latency(self) -> int:
        """Cycles from a beat on ``lane_i`` to its result on ``lane_o``: operand register + lane."""
        return self._latency

    def cycles_for(self, mode: int, bank: int) -> int:
        """Cycles from ``start`` to ``done`` of a pass of program ``mode`` over ``bank``."""
        mode = _check("mode", mode, UPDATE, NORM)
        nsum = self._k * (self._k + 1) // 2 + self._k + 1
        return 1 + (self.rows_per_lane(bank) + 1) * self._slots[mode] + self._latency + nsum + 1

    def useful_macs_for(self, mode: int, bank: int) -> int:
        """Multiplies on real rows: ``n_b (k^2 + 3k)``, ``n_b (k + 1)`` or ``n_b``."""
        mode = _check("mode", mode, UPDATE, NORM)
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
        """One external beat on ``lane_i``."""
        cw = self._coef_width
        return data.StructLayout({"valid": 1, "a": signed(cw), "b": signed(cw),
                                  "c": signed(self._acc_width), "clear": 1, "last": 1, "sub": 1})

    @property
    def lane_result_layout(self):
        """One result on ``lane_o``."""
        return data.StructLayout({"valid": 1, "value": signed(self._acc_width)})

    @property
    def params_layout(self):
        k, cw = self._k, self._coef_width
        return data.StructLayout({
            "a": data.ArrayLayout(unsigned(self._a_bits), k),
            "cT": data.ArrayLayout(data.ArrayLayout(signed(cw), k), k),
            "w": data.ArrayLayout(signed(cw), k),
        })

    # -- the beat table ------------------------------------------------------------------------

    def _beat_table(self):
        """Per program and slot beat: (kind, opA, opB, clear, last, dest) as small integers.

        kind: 0 idle, 1 U (update), 2 G (Gram/projection of the previous row), 3 P (projection
        of the current row into a lane sum), 4 N (norm in the lane's own accumulator, cleared at
        the first row and emitted at the last). opA: q (S[q] << a[q]), k (inp << gw), k+1+q
        (new_prev[q]), 2k+1 (inp_prev), 2k+2 (inp). opB: index into the shared coefficient list
        (U), q (new_prev[q], G), r (S[r]) or k (inp) (P, N). dest: r (new_cur[r]) for U, the
        lane-sum index otherwise. Returns ``(tables, coefs)``, one table per program.
        """
        k = self._k
        table = []
        coefs = []                                   # shared coefficient order: (kind, q, r)
        for r in range(k):
            for q in range(r + 1):
                coefs.append(("cT", q, r))
                table.append((1, q, len(coefs) - 1, q == 0, False, r))
            coefs.append(("w", r, r))
            table.append((1, k, len(coefs) - 1, False, True, r))
        idx = 0
        for q in range(k):
            for r in range(q, k):
                table.append((2, k + 1 + q, r, True, True, idx))
                idx += 1
        for r in range(k):
            table.append((2, 2 * k + 1, r, True, True, idx))
            idx += 1
        npairs = k * (k + 1) // 2
        inp = 2 * k + 2
        project = [(3, inp, r, True, True, npairs + r) for r in range(k)]
        project.append((3, inp, k, True, True, npairs + k))
        norm = [(4, inp, k, False, False, npairs + k)]
        tables = [table, project, norm]
        for t, slot in zip(tables, self._slots):
            while len(t) < slot:
                t.append((0, 0, 0, False, False, 0))
        return tables, coefs

    # -- elaboration -----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        k, L, vw, cw = self._k, self._lanes, self._vec_width, self._coef_width
        W = self._words
        nb = len(self._banks)
        depth = self.row_depth
        max_rows = max(self._rows)
        npairs = k * (k + 1) // 2
        nsum = npairs + k + 1                 # Gram, projection, norm
        tables, coefs = self._beat_table()
        width = max(self._slots)
        span = 1 << (width - 1).bit_length() if width > 1 else 1
        table = []
        for t in tables + [[]]:               # four programs' worth of entries, padded
            table += t + [(0, 0, 0, False, False, 0)] * (span - len(t))

        # ---- per-bank constants, looked up by a bank number
        bank_sel = Signal(range(max(nb, 2)))      # the `bank` input, out-of-range values -> 0
        if nb > 1:
            in_range = self.bank < nb if nb < 1 << len(self.bank) else 1
            m.d.comb += bank_sel.eq(Mux(in_range, self.bank, 0))

        def per_bank(values, index, shape):
            return Array(Const(v, shape) for v in values)[index]

        # lanes holding a row at a bank's last address: n_b - (rows_b - 1) L of them
        tail_masks = [sum(1 << lane for lane in range(L) if lane < n - (rows - 1) * L)
                      for n, rows in zip(self._banks, self._rows)]
        in_beats = [self.input_beats(b) for b in range(nb)]
        # words of a bank's last input beat that are stored: n_b - (beats_b - 1) W of them
        last_words = [sum(1 << w for w in range(W) if w < n - (beats - 1) * W)
                      for n, beats in zip(self._banks, in_beats)]

        # ---- control state
        busy = Signal()
        phase = Signal(range(4))          # 0 prefetch, 1 slots, 2 drain latency, 3 reduce
        j = Signal(range(max_rows + 2))   # slot (row address within the bank)
        beat = Signal(range(span))
        mode = Signal(2)
        slot = Signal(range(width + 1))
        m.d.comb += slot.eq(Array(Const(v, range(width + 1)) for v in self._slots + (1,))[mode])
        entry = Signal(range(4 * span))
        m.d.comb += entry.eq(Cat(beat, mode) if span > 1 else mode)
        tail = Signal(range(max(self._latency, L) + 1))
        params = Signal(self.params_layout)
        m.d.comb += self.busy.eq(busy)
        # the pass's bank and input buffer, latched at start
        row_base = Signal(range(depth + 1))
        inp_base = Signal(range(2 * depth + 1))
        last_j = Signal(range(max(max_rows, 2)))          # rows_b - 1
        tail_mask = Signal(L)

        # ---- host pointers
        wr_lane = Signal(range(max(L, 2)))
        wr_addr = Signal(range(depth + 1))
        wr_left = Signal(range(max(self._banks) + 1), init=self._banks[0])
        rd_lane = Signal(range(max(L, 2)))
        rd_addr = Signal(range(depth + 1))
        rd_left = Signal(range(max(self._banks) + 1))
        reading = Signal()
        rd_pending = Signal()            # a read was issued last cycle; its data is on the port
        groups = L // W                  # an input beat writes one group of W lanes
        in_group = Signal(range(max(groups, 2)))
        in_addr = Signal(range(2 * depth + 1))
        in_bank = Signal(range(max(nb, 2)))
        in_left = Signal(range(max(in_beats) + 1), init=in_beats[0])   # beats left in the bank
        in_full = Signal()
        in_take = Signal()
        in_last = Signal()               # this beat is the last of its bank
        m.d.comb += [
            self.inp_w.ready.eq(~in_full),
            in_take.eq(self.inp_w.valid & ~in_full),
            in_last.eq(in_left == 1),
        ]
        in_word_ok = Signal(W)           # words of this beat that are stored
        m.d.comb += in_word_ok.eq(Mux(in_last, per_bank(last_words, in_bank, W), (1 << W) - 1))

        # ---- shared coefficient for U beats (same for every lane)
        coef_vals = []
        for kind, q, r in coefs:
            coef_vals.append(params.cT[q][r] if kind == "cT" else params.w[r])
        beat_kind = Array(Const(t[0], 3) for t in table)[entry]
        beat_opa = Array(Const(t[1], range(2 * k + 3)) for t in table)[entry]
        beat_opb = Array(Const(t[2], range(max(len(coefs), k) + 1)) for t in table)[entry]
        beat_clear = Signal()
        beat_last = Signal()
        m.d.comb += [
            beat_clear.eq(Mux(beat_kind == 4, j == 0,
                              Array(Const(int(t[3]), 1) for t in table)[entry])),
            beat_last.eq(Mux(beat_kind == 4, j == last_j,
                             Array(Const(int(t[4]), 1) for t in table)[entry])),
        ]
        beat_dest = Array(Const(t[5], range(max(nsum, k) + 1)) for t in table)[entry]
        shared_coef = Signal(signed(cw))
        m.d.comb += shared_coef.eq(Array(coef_vals)[beat_opb])

        issuing = Signal()                 # a beat is being issued this cycle
        in_u_slot = Signal()               # the U beats of this slot are for a real row address
        in_g_slot = Signal()               # the G beats of this slot are for a real row address
        m.d.comb += [
            issuing.eq(busy & (phase == 1)),
            in_u_slot.eq(j <= last_j),
            in_g_slot.eq(j > 0),
        ]
        slot_end = Signal()
        m.d.comb += slot_end.eq(issuing & (beat == slot - 1))
        round_const = Const(1 << (self._shift - 1), signed(self._acc_width))

        # Shared by every lane (the lanes run in lockstep):
        # a beat is issued on the lanes whose slot half is for a real row address
        live = Signal()
        m.d.comb += live.eq(issuing & ((((beat_kind == 1) | (beat_kind >= 3)) & in_u_slot)
                                       | ((beat_kind == 2) & in_g_slot)))
        # the pass's first touch of a sum starts it from 0; NORM sums in the lane's accumulator
        first_use = Signal()
        m.d.comb += first_use.eq(((beat_kind == 2) & (j == 1)) | ((beat_kind == 3) & (j == 0))
                                 | (beat_kind == 4))
        # memory reads: prefetch row j during the last beat of slot j-1 (or the prefetch
        # cycle); readout reads otherwise
        fetch = Signal()
        m.d.comb += fetch.eq(busy & ((phase == 0) | slot_end))
        fetch_j = Signal(range(max_rows + 2))
        fetch_addr = Signal(range(depth + max_rows + 2))
        fetch_iaddr = Signal(range(2 * depth + max_rows + 2))
        m.d.comb += [
            fetch_j.eq(Mux(phase == 0, 0, j + 1)),
            fetch_addr.eq(row_base + fetch_j),
            fetch_iaddr.eq(inp_base + fetch_j),
        ]
        # a lane's row at relative address j exists: j < rows_b - 1, or the last address when
        # the lane is among the n_b - (rows_b - 1) L rows stored there (tail_mask)
        fetch_full, fetch_tail = Signal(), Signal()
        row_full, row_tail = Signal(), Signal()
        m.d.comb += [fetch_full.eq(fetch_j < last_j), fetch_tail.eq(fetch_j == last_j),
                     row_full.eq(j < last_j), row_tail.eq(j == last_j)]
        # the stored column the U beat reads, and its exponent
        q_sel = Signal(range(max(k, 2)))
        m.d.comb += q_sel.eq(Mux(beat_opa < k, beat_opa, 0))
        a_q = Signal(unsigned(self._a_bits))
        m.d.comb += a_q.eq(Array(params.a[q] for q in range(k))[q_sel])

        lane_sums = []
        sat_any = []
        read_ports = []
        for lane in range(L):
            mem = Memory(shape=self.row_layout, depth=depth, init=[])
            imem = Memory(shape=signed(vw), depth=2 * depth, init=[])
            m.submodules[f"rows{lane}"] = mem
            m.submodules[f"inp{lane}"] = imem
            rp, wp = mem.read_port(), mem.write_port()
            irp, iwp = imem.read_port(), imem.write_port()
            mac = MACLane(*self.lane_formats)
            m.submodules[f"lane{lane}"] = mac

            s_cur = Signal(self.row_layout)
            inp_cur = Signal(signed(vw))
            new_cur = Signal(self.row_layout)
            new_prev = Signal(self.row_layout)
            inp_prev = Signal(signed(vw))
            # the lane's running sums live in a small LUT RAM: read when a beat is issued (the
            # fused multiply-add's addend), written when its result lands `latency` cycles
            # later; each sum is touched once a slot, so no read sees a pending write
            smem = Memory(shape=signed(self._acc_width), depth=nsum, init=[])
            m.submodules[f"sums{lane}"] = smem
            s_issue = smem.read_port(domain="comb")
            s_reduce = smem.read_port(domain="comb")
            s_write = smem.write_port()
            lane_sums.append(s_reduce)
            sat = Signal()
            sat_any.append(sat)
            row_valid = Signal()
            m.d.comb += row_valid.eq(row_full | (row_tail & tail_mask[lane]))

            m.d.comb += [
                rp.addr.eq(Mux(busy, fetch_addr, rd_addr)),
                rp.en.eq(Mux(busy, fetch, reading & (rd_lane == lane) & ~rd_pending
                             & (~self.row_o.valid | self.row_o.ready))),
                irp.addr.eq(fetch_iaddr),
                irp.en.eq(fetch),
            ]
            # the read data is what the slot uses; masked to zero for rows past n_b
            valid_next = Signal()
            with m.If(fetch):
                m.d.sync += valid_next.eq(fetch_full | (fetch_tail & tail_mask[lane]))
            with m.If(valid_next):
                m.d.comb += [s_cur.eq(rp.data), inp_cur.eq(irp.data)]

            # ---- operand mux (registered in front of the lane)
            s_word = Signal(signed(vw))
            m.d.comb += s_word.eq(Array(s_cur[q] for q in range(k))[q_sel])
            s_shifted = Signal(signed(cw))
            m.d.comb += s_shifted.eq(s_word << a_q)
            opa_choices = ([s_shifted] * k + [inp_cur << self._gw]
                           + [new_prev[q] for q in range(k)] + [inp_prev, inp_cur])
            opa = Signal(signed(cw))
            m.d.comb += opa.eq(Array(opa_choices)[beat_opa])
            opb = Signal(signed(cw))
            g_opb = Array(new_prev[q] for q in range(k))[Mux(beat_opb < k, beat_opb, 0)]
            p_opb = Array([s_cur[r] for r in range(k)] + [inp_cur])[
                Mux(beat_opb <= k, beat_opb, 0)]
            m.d.comb += opb.eq(Mux(beat_kind == 1, shared_coef,
                                   Mux(beat_kind == 2, g_opb, p_opb)))
            cval = Signal(signed(self._acc_width))
            m.d.comb += [
                s_issue.addr.eq(beat_dest),
                cval.eq(Mux(beat_kind == 1, round_const, Mux(first_use, 0, s_issue.data))),
            ]
            # the operand register takes the pass's beat while busy, the lane port's otherwise
            ext = self.lane_i[lane]
            with m.If(busy):
                m.d.sync += [
                    mac.i.valid.eq(live),
                    mac.i.payload.a.eq(opa),
                    mac.i.payload.b.eq(opb),
                    mac.i.payload.c.eq(cval),
                    mac.i.payload.clear.eq(beat_clear),
                    mac.i.payload.last.eq(beat_last),
                    mac.i.payload.sub.eq(0),
                ]
            with m.Else():
                m.d.sync += [
                    mac.i.valid.eq(ext.valid),
                    mac.i.payload.a.eq(ext.a),
                    mac.i.payload.b.eq(ext.b),
                    mac.i.payload.c.eq(ext.c),
                    mac.i.payload.clear.eq(ext.clear),
                    mac.i.payload.last.eq(ext.last),
                    mac.i.payload.sub.eq(ext.sub),
                ]
            m.d.comb += mac.o.ready.eq(1)

            # ---- tag delay line: (kind, dest) of pass results and the external flag,
            # `latency` cycles behind the beat
            tag_kind = [Signal(3, name=f"tag_kind{lane}_{t}") for t in range(self._latency)]
            tag_dest = [Signal(range(max(nsum, k) + 1), name=f"tag_dest{lane}_{t}")
                        for t in range(self._latency)]
            tag_ext = [Signal(name=f"tag_ext{lane}_{t}") for t in range(self._latency)]
            m.d.sync += [tag_kind[0].eq(Mux(live & beat_last, beat_kind, 0)),
                         tag_dest[0].eq(beat_dest),
                         tag_ext[0].eq(~busy & ext.valid & ext.last)]
            for t in range(1, self._latency):
                m.d.sync += [tag_kind[t].eq(tag_kind[t - 1]), tag_dest[t].eq(tag_dest[t - 1]),
                             tag_ext[t].eq(tag_ext[t - 1])]
            kind_out, dest_out = tag_kind[-1], tag_dest[-1]

            value = mac.o.payload.value
            m.d.comb += [self.lane_o[lane].valid.eq(mac.o.valid & tag_ext[-1]),
                         self.lane_o[lane].value.eq(value)]
            rounded = Signal(signed(self._acc_width))
            m.d.comb += rounded.eq(value >> self._shift)
            vmax, vmin = (1 << (vw - 1)) - 1, -(1 << (vw - 1))
            clamped = Signal(signed(vw))
            over = Signal()
            m.d.comb += [
                over.eq((rounded > vmax) | (rounded < vmin)),
                clamped.eq(Mux(rounded > vmax, vmax, Mux(rounded < vmin, vmin, rounded))),
            ]
            with m.If(mac.o.valid & (kind_out == 1)):
                m.d.sync += Array(new_cur[r] for r in range(k))[dest_out].eq(clamped)
                with m.If(over):
                    m.d.sync += sat.eq(1)
            m.d.comb += [s_write.addr.eq(dest_out), s_write.data.eq(value),
                         s_write.en.eq(mac.o.valid & (kind_out >= 2))]

            # ---- slot end: the row is complete; write it back and make it the G row
            with m.If(slot_end):
                m.d.sync += [new_prev.eq(Mux(row_valid, new_cur, 0)),
                             inp_prev.eq(Mux(row_valid, inp_cur, 0))]
            write_back = Signal()
            m.d.comb += write_back.eq(slot_end & row_valid & (mode == UPDATE))

            # ---- host row writes share the write port when idle; input writes own theirs
            m.d.comb += [
                wp.addr.eq(Mux(busy, row_base + j, wr_addr)),
                wp.data.eq(Mux(busy, new_cur, self.row_w.payload)),
                wp.en.eq(Mux(busy, write_back,
                             self.row_w.valid & (wr_lane == lane) & (wr_left != 0))),
                iwp.addr.eq(in_addr),
                iwp.data.eq(self.inp_w.payload[lane % W]),
                iwp.en.eq(in_take & (in_group == lane // W) & in_word_ok[lane % W]),
            ]
            with m.If(self.start & ~busy):
                m.d.sync += sat.eq(0)

            read_ports.append(rp)

        # ---- host pointers and readout sequencing (shared)
        m.d.comb += self.row_w.ready.eq(~busy)

        def advance(lane_sig, addr_sig):
            return [lane_sig.eq(Mux(lane_sig == L - 1, 0, lane_sig + 1)),
                    addr_sig.eq(Mux(lane_sig == L - 1, addr_sig + 1, addr_sig))]

        with m.If(~busy & self.row_w.valid & (wr_left != 0)):
            m.d.sync += advance(wr_lane, wr_addr)
            m.d.sync += wr_left.eq(wr_left - 1)

        # input fill: a bank's last beat moves on to the next bank's first address and group
        with m.If(in_take):
            with m.If(in_last):
                m.d.sync += [in_group.eq(0), in_addr.eq(in_addr + 1)]
                with m.If(in_bank == nb - 1):
                    m.d.sync += in_full.eq(1)
                if nb > 1:
                    with m.Else():
                        m.d.sync += [in_bank.eq(in_bank + 1),
                                     in_left.eq(per_bank(in_beats[1:], in_bank, in_left.shape()))]
            with m.Else():
                m.d.sync += in_left.eq(in_left - 1)
                if groups > 1:
                    m.d.sync += [in_group.eq(Mux(in_group == groups - 1, 0, in_group + 1)),
                                 in_addr.eq(Mux(in_group == groups - 1, in_addr + 1, in_addr))]
                else:
                    m.d.sync += in_addr.eq(in_addr + 1)
        with m.If(self.inp_rewind):
            m.d.sync += [in_group.eq(0), in_addr.eq(Mux(self.inp_buf, depth, 0)), in_bank.eq(0),
                         in_left.eq(in_beats[0]), in_full.eq(0)]

        rd_lane_q = Signal(range(max(L, 2)))
        issue_rd = Signal()
        m.d.comb += issue_rd.eq(~busy & reading & ~rd_pending
                                & (~self.row_o.valid | self.row_o.ready))
        with m.If(self.row_o.valid & self.row_o.ready):
            m.d.sync += self.row_o.valid.eq(0)
        with m.If(issue_rd):
            m.d.sync += [rd_pending.eq(1), rd_lane_q.eq(rd_lane), rd_left.eq(rd_left - 1)]
            m.d.sync += advance(rd_lane, rd_addr)
            with m.If(rd_left == 1):
                m.d.sync += reading.eq(0)
        with m.If(rd_pending):
            m.d.sync += [rd_pending.eq(0), self.row_o.valid.eq(1),
                         self.row_o.payload.eq(Array(p.data for p in read_ports)[rd_lane_q])]

        with m.If(self.rewind & ~busy):
            m.d.sync += [wr_lane.eq(0),
                         wr_addr.eq(per_bank(self._bases, bank_sel, wr_addr.shape())),
                         wr_left.eq(per_bank(self._banks, bank_sel, wr_left.shape()))]
        with m.If(self.readout & ~busy & ~reading):
            m.d.sync += [reading.eq(1), rd_lane.eq(0),
                         rd_addr.eq(per_bank(self._bases, bank_sel, rd_addr.shape())),
                         rd_left.eq(per_bank(self._banks, bank_sel, rd_left.shape()))]

        # ---- pass sequencing
        m.d.sync += self.done.eq(0)
        totals = [Signal(signed(self._sum_width), name=f"total{i}") for i in range(nsum)]
        red_idx = Signal(range(nsum + 1))
        # which sums each program produces (the others read as 0, whatever the RAM holds)
        produced = [[True] * (npairs + k) + [False], [False] * npairs + [True] * (k + 1),
                    [False] * (npairs + k) + [True]]
        with m.If(self.start & ~busy & ~reading):
            base = per_bank(self._bases, bank_sel, row_base.shape())
            m.d.sync += [busy.eq(1), phase.eq(0), j.eq(0), beat.eq(0), params.eq(self.params),
                         mode.eq(Mux(self.mode <= NORM, self.mode, UPDATE)),
                         row_base.eq(base),
                         inp_base.eq(Mux(self.buf, base + depth, base)),
                         last_j.eq(per_bank([r - 1 for r in self._rows], bank_sel, last_j.shape())),
                         tail_mask.eq(per_bank(tail_masks, bank_sel, L))]
        with m.If(busy):
            with m.Switch(phase):
                with m.Case(0):                                     # prefetch row 0
                    m.d.sync += phase.eq(1)
                with m.Case(1):                                     # slots
                    m.d.sync += beat.eq(Mux(beat == slot - 1, 0, beat + 1))
                    with m.If(beat == slot - 1):
                        m.d.sync += j.eq(j + 1)
                        with m.If(j == last_j + 1):
                            m.d.sync += [phase.eq(2), tail.eq(0)]
                with m.Case(2):                                     # last results land
                    m.d.sync += tail.eq(tail + 1)
                    with m.If(tail == self._latency - 1):
                        m.d.sync += [phase.eq(3), red_idx.eq(0)]
                with m.Case(3):                                     # add one sum over lanes
                    across = Signal(signed(self._sum_width))
                    m.d.comb += [port.addr.eq(red_idx) for port in lane_sums]
                    m.d.comb += across.eq(sum(port.data for port in lane_sums))
                    keep = Array(Array(Const(int(produced[p][i]), 1) for i in range(nsum))
                                 for p in range(3))[mode][red_idx]
                    m.d.sync += Array(totals)[red_idx].eq(Mux(keep, across, 0))
                    m.d.sync += red_idx.eq(red_idx + 1)
                    with m.If(red_idx == nsum - 1):
                        m.d.sync += [busy.eq(0), self.done.eq(1)]
        m.d.comb += [self.gram[i].eq(totals[i]) for i in range(npairs)]
        m.d.comb += [self.proj[r].eq(totals[npairs + r]) for r in range(k)]
        m.d.comb += self.norm2.eq(totals[npairs + k])
        m.d.comb += self.saturated.eq(Cat(*sat_any).any())
        return m
