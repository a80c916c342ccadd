"""Row-pass engine: the streaming-PCA unit's main datapath, one pass over a stored ``n x k`` matrix.

Contract (bit for bit): :func:`golden.sbpca_unit.row_pass`. For each stored row ``S[i]`` and input
word ``inp[i]``::

    acc[i, r] = sum_{q <= r} (S[i, q] << a[q]) cT[q, r] + (inp[i] << gw) w[r]
    new[i, r] = saturate(round_half_up(acc[i, r] >> shift))     ->  S[i] (written back)
    gram     += new[i]^T new[i]        (upper triangle)          exact
    proj     += inp[i] new[i]                                     exact

Organization: ``lanes`` MAC lanes (``hdl.mac_lane.MACLane``) run in lockstep. Row ``i`` lives in
lane ``i mod lanes`` at address ``i // lanes`` of that lane's row memory (one word holds a whole
row of ``k`` words, so a row is one read and one write); the input words are banked the same
way. A pass is a sequence of *slots*, one per row address ``j``, plus a drain slot::

    slot j:  U beats of row j        k(k+1)/2 + k   dot products ending in a rounded new[r]
             G beats of row j-1      k(k+1)/2 + k   fused multiply-adds into per-lane sums
             (idle beats only when k = 1, so the last U result is back before the slot ends)

    per lane, per beat:
      beat table ---> opA mux (S[q] << a[q] | inp << gw | new_prev[q] | inp_prev) --+
                 \\--> opB mux (cT[q][r] | w[r]  shared by all lanes | new_prev[r]) --+--> [reg]
                                                                                     |
                        c = round constant (U) or the lane sum being updated (G) ----+
                                                                                     v
                                                      MACLane (multiply, accumulate)
                                                                                     v
                            tag delay line --> new_cur[r] (>> shift, saturate) | lane sum[idx]

    after the drain slot: each sum is added over the lanes (one sum per cycle).

Timing: ``cycles = 1 + (rows + 1) * slot + latency + nsum + 1`` with ``rows = ceil(n/lanes)``
and ``nsum = k(k+1)/2 + k + 1`` sums;
every lane issues one multiply per beat, so the multiply slots used on real rows are
``n * (k^2 + 3k)`` of ``lanes * cycles`` (:attr:`RowPass.useful_macs`, :attr:`RowPass.cycles`).
Rows past ``n`` in the last address (when ``lanes`` does not divide ``n``) are zero and not
written.

Programs (``mode``, latched at ``start``): ``UPDATE`` is the pass above; ``PROJECT`` leaves the
rows alone and computes ``proj = S^T inp`` and ``norm2 = inp^T inp`` (``k + 1`` beats a row: the
unit's read pass over Delta); ``NORM`` computes ``norm2`` alone with one beat a row in each
lane's own accumulator (the input norm the column-shift bound needs before an update).
Contract: :func:`golden.sbpca_unit.row_project`.

Host side: ``rewind`` resets the sequential row and input pointers; ``row_w`` writes rows and
``inp_w`` input words in order; ``readout`` streams all ``n`` rows out on ``row_o`` in order.
``start`` latches ``params`` and runs the pass; ``done`` pulses when ``gram``/``proj`` are valid
(they hold until the next start); ``saturated`` is sticky from one ``start`` to the next.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.fixed import FixedFormat
from .mac_lane import MACLane

__all__ = ["RowPass", "UPDATE", "PROJECT", "NORM"]

#: Programs of a pass (the ``mode`` input): update the rows (and Gram, projection), project the
#: stored rows on the input words (and the inputs' squared norm), or the squared norm alone.
UPDATE, PROJECT, NORM = 0, 1, 2


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


class RowPass(wiring.Component):
    """One pass of the unit's row update over a stored ``n x k`` matrix (see module docstring).

    Parameters
    ----------
    n : int
        Rows of the stored matrix.
    k : int
        Columns (the rank), 1..16.
    lanes : int
        MAC lanes, 1..n.
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

    Members
    -------
    row_w : In(stream(ArrayLayout(signed(vec_width), k)))
        Rows written in order (after ``rewind``), when idle.
    inp_w : In(stream(signed(vec_width)))
        Input words written in order (after ``rewind``), when idle.
    row_o : Out(stream(ArrayLayout(signed(vec_width), k)))
        Rows read out in order after a ``readout`` pulse.
    params : In(params_layout)
        ``a`` (``k`` exponents), ``cT`` (``k x k``, upper triangle used), ``w`` (``k``): read at
        ``start``.
    rewind, readout, start : In(1)
        Pulses (ignored while busy).
    mode : In(2)
        Program of the next pass: ``UPDATE`` (0), ``PROJECT`` (1) or ``NORM`` (2).
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

    def __init__(self, *, n, k, lanes, vec_width, coef_width, shift, gw, a_bits=5):
        self._n = _check("n", n, 1)
        self._k = _check("k", k, 1, 16)
        self._lanes = _check("lanes", lanes, 1, n)
        self._vec_width = _check("vec_width", vec_width, 2, 32)
        self._gw = _check("gw", gw, 0, 32)
        self._coef_width = _check("coef_width", coef_width, 2, 32)
        if coef_width < vec_width + gw:
            raise ValueError(f"coef_width={coef_width}: must be at least vec_width + gw = "
                             f"{vec_width + gw}")
        self._shift = _check("shift", shift, 1, 2 * coef_width)
        self._a_bits = _check("a_bits", a_bits, 1, 6)
        self._rows = -(-n // lanes)
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
                              2 * vec_width + _bits(self._rows) + 2 + gw)
        self._sum_width = self._acc_width + _bits(lanes)
        super().__init__({
            "row_w": In(stream.Signature(self.row_layout)),
            "inp_w": In(stream.Signature(signed(vec_width))),
            "row_o": Out(stream.Signature(self.row_layout)),
            "params": In(self.params_layout),
            "rewind": In(1),
            "readout": In(1),
            "start": In(1),
            "mode": In(2),
            "busy": Out(1),
            "done": Out(1),
            "gram": Out(data.ArrayLayout(signed(self._sum_width), npairs)),
            "proj": Out(data.ArrayLayout(signed(self._sum_width), k)),
            "norm2": Out(signed(self._sum_width)),
            "saturated": Out(1),
        })

    # -- parameters and derived facts ------------------------------------------------------------

    n = property(lambda self: self._n)
    k = property(lambda self: self._k)
    lanes = property(lambda self: self._lanes)
    vec_width = property(lambda self: self._vec_width)
    coef_width = property(lambda self: self._coef_width)
    shift = property(lambda self: self._shift)
    gw = property(lambda self: self._gw)
    a_bits = property(lambda self: self._a_bits)

    @property
    def rows_per_lane(self) -> int:
        return self._rows

    @property
    def slot_beats(self) -> int:
        """Beats per row slot (``k^2 + 3k``, plus idle beats when ``k = 1``)."""
        return self._slots[UPDATE]

    @property
    def cycles(self) -> int:
        """Cycles from ``start`` to ``done`` of an ``UPDATE`` pass (no stalls inside a pass)."""
        return self.cycles_for(UPDATE)

    @property
    def useful_macs(self) -> int:
        """Multiplies on real rows in one ``UPDATE`` pass: ``n (k^2 + 3k)``."""
        return self.useful_macs_for(UPDATE)

    def cycles_for(self, mode: int) -> int:
        """Cycles from ``start`` to ``done`` of a pass of program ``mode``."""
        nsum = self._k * (self._k + 1) // 2 + self._k + 1
        return 1 + (self._rows + 1) * self._slots[mode] + self._latency + nsum + 1

    def useful_macs_for(self, mode: int) -> int:
        """Multiplies on real rows: ``n (k^2 + 3k)``, ``n (k + 1)`` or ``n``."""
        per_row = (self._u_beats + self._g_beats, self._k + 1, 1)[mode]
        return self._n * per_row

    @property
    def sum_width(self) -> int:
        return self._sum_width

    @property
    def row_layout(self):
        return data.ArrayLayout(signed(self._vec_width), self._k)

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
        k, L, W, cw = self._k, self._lanes, self._vec_width, self._coef_width
        rows = self._rows
        npairs = k * (k + 1) // 2
        nsum = npairs + k + 1                 # Gram, projection, norm
        tables, coefs = self._beat_table()
        width = max(self._slots)
        span = 1 << (width - 1).bit_length() if width > 1 else 1
        table = []
        for t in tables + [[]]:               # four programs' worth of entries, padded
            table += t + [(0, 0, 0, False, False, 0)] * (span - len(t))

        # ---- control state
        busy = Signal()
        phase = Signal(range(4))          # 0 prefetch, 1 slots, 2 drain latency, 3 reduce
        j = Signal(range(rows + 2))       # slot (row address)
        beat = Signal(range(span))
        mode = Signal(2)
        slot = Signal(range(width + 1))
        m.d.comb += slot.eq(Array(Const(v, range(width + 1)) for v in self._slots + (1,))[mode])
        entry = Signal(range(4 * span))
        m.d.comb += entry.eq(Cat(beat, mode) if span > 1 else mode)
        tail = Signal(range(max(self._latency, L) + 1))
        params = Signal(self.params_layout)
        m.d.comb += self.busy.eq(busy)

        # ---- host pointers
        wr_lane = Signal(range(max(L, 2)))
        wr_addr = Signal(range(rows + 1))
        in_lane = Signal(range(max(L, 2)))
        in_addr = Signal(range(rows + 1))
        rd_lane = Signal(range(max(L, 2)))
        rd_addr = Signal(range(rows + 1))
        rd_count = Signal(range(self._n + 1))
        reading = Signal()
        rd_pending = Signal()            # a read was issued last cycle; its data is on the port

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
            beat_last.eq(Mux(beat_kind == 4, j == rows - 1,
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
            in_u_slot.eq(j < rows),
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
        fetch_addr = Signal(range(rows + 2))
        m.d.comb += fetch_addr.eq(Mux(phase == 0, 0, j + 1))
        # the stored column the U beat reads, and its exponent
        q_sel = Signal(range(max(k, 2)))
        m.d.comb += q_sel.eq(Mux(beat_opa < k, beat_opa, 0))
        a_q = Signal(unsigned(self._a_bits))
        m.d.comb += a_q.eq(Array(params.a[q] for q in range(k))[q_sel])
        # a lane's row at address j exists: j < rows - 1, or the last address when the lane
        # is among the n - (rows - 1) L rows stored there
        last_lanes = self._n - (rows - 1) * L

        lane_sums = []
        sat_any = []
        read_ports = []
        for lane in range(L):
            mem = Memory(shape=self.row_layout, depth=rows, init=[])
            imem = Memory(shape=signed(W), depth=rows, init=[])
            m.submodules[f"rows{lane}"] = mem
            m.submodules[f"inp{lane}"] = imem
            rp, wp = mem.read_port(), mem.write_port()
            irp, iwp = imem.read_port(), imem.write_port()
            mac = MACLane(FixedFormat(cw), FixedFormat(cw), FixedFormat(self._acc_width))
            m.submodules[f"lane{lane}"] = mac

            s_cur = Signal(self.row_layout)
            inp_cur = Signal(signed(W))
            new_cur = Signal(self.row_layout)
            new_prev = Signal(self.row_layout)
            inp_prev = Signal(signed(W))
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
            m.d.comb += row_valid.eq((j < rows - 1) | ((j == rows - 1) & (lane < last_lanes)))

            m.d.comb += [
                rp.addr.eq(Mux(busy, fetch_addr, rd_addr)),
                rp.en.eq(Mux(busy, fetch, reading & (rd_lane == lane) & ~rd_pending
                             & (~self.row_o.valid | self.row_o.ready))),
                irp.addr.eq(fetch_addr),
                irp.en.eq(fetch),
            ]
            # the read data is what the slot uses; masked to zero for rows past n
            valid_next = Signal()
            with m.If(fetch):
                m.d.sync += valid_next.eq((fetch_addr < rows - 1)
                                          | ((fetch_addr == rows - 1) & (lane < last_lanes)))
            with m.If(valid_next):
                m.d.comb += [s_cur.eq(rp.data), inp_cur.eq(irp.data)]

            # ---- operand mux (registered in front of the lane)
            s_word = Signal(signed(W))
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
            m.d.sync += [
                mac.i.valid.eq(live),
                mac.i.payload.a.eq(opa),
                mac.i.payload.b.eq(opb),
                mac.i.payload.c.eq(cval),
                mac.i.payload.clear.eq(beat_clear),
                mac.i.payload.last.eq(beat_last),
            ]
            m.d.comb += mac.o.ready.eq(1)

            # ---- tag delay line: (kind, dest) of results, `latency` cycles behind the beat
            tag_kind = [Signal(3, name=f"tag_kind{lane}_{t}") for t in range(self._latency)]
            tag_dest = [Signal(range(max(nsum, k) + 1), name=f"tag_dest{lane}_{t}")
                        for t in range(self._latency)]
            m.d.sync += [tag_kind[0].eq(Mux(live & beat_last, beat_kind, 0)),
                         tag_dest[0].eq(beat_dest)]
            for t in range(1, self._latency):
                m.d.sync += [tag_kind[t].eq(tag_kind[t - 1]), tag_dest[t].eq(tag_dest[t - 1])]
            kind_out, dest_out = tag_kind[-1], tag_dest[-1]

            value = mac.o.payload.value
            rounded = Signal(signed(self._acc_width))
            m.d.comb += rounded.eq(value >> self._shift)
            vmax, vmin = (1 << (W - 1)) - 1, -(1 << (W - 1))
            clamped = Signal(signed(W))
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

            # ---- host writes share the write ports when idle
            m.d.comb += [
                wp.addr.eq(Mux(busy, j, wr_addr)),
                wp.data.eq(Mux(busy, new_cur, self.row_w.payload)),
                wp.en.eq(Mux(busy, write_back,
                             self.row_w.valid & (wr_lane == lane) & (wr_addr < rows))),
                iwp.addr.eq(in_addr),
                iwp.data.eq(self.inp_w.payload),
                iwp.en.eq(~busy & self.inp_w.valid & (in_lane == lane) & (in_addr < rows)),
            ]
            with m.If(self.start & ~busy):
                m.d.sync += sat.eq(0)

            read_ports.append(rp)

        # ---- host pointers and readout sequencing (shared)
        m.d.comb += [self.row_w.ready.eq(~busy), self.inp_w.ready.eq(~busy)]

        def advance(lane_sig, addr_sig):
            return [lane_sig.eq(Mux(lane_sig == L - 1, 0, lane_sig + 1)),
                    addr_sig.eq(Mux(lane_sig == L - 1, addr_sig + 1, addr_sig))]

        with m.If(~busy & self.row_w.valid):
            m.d.sync += advance(wr_lane, wr_addr)
        with m.If(~busy & self.inp_w.valid):
            m.d.sync += advance(in_lane, in_addr)

        rd_lane_q = Signal(range(max(L, 2)))
        issue_rd = Signal()
        m.d.comb += issue_rd.eq(~busy & reading & ~rd_pending
                                & (~self.row_o.valid | self.row_o.ready))
        with m.If(self.row_o.valid & self.row_o.ready):
            m.d.sync += self.row_o.valid.eq(0)
        with m.If(issue_rd):
            m.d.sync += [rd_pending.eq(1), rd_lane_q.eq(rd_lane), rd_count.eq(rd_count + 1)]
            m.d.sync += advance(rd_lane, rd_addr)
            with m.If(rd_count == self._n - 1):
                m.d.sync += reading.eq(0)
        with m.If(rd_pending):
            m.d.sync += [rd_pending.eq(0), self.row_o.valid.eq(1),
                         self.row_o.payload.eq(Array(p.data for p in read_ports)[rd_lane_q])]

        with m.If(self.rewind & ~busy):
            m.d.sync += [wr_lane.eq(0), wr_addr.eq(0), in_lane.eq(0), in_addr.eq(0)]
        with m.If(self.readout & ~busy & ~reading):
            m.d.sync += [reading.eq(1), rd_lane.eq(0), rd_addr.eq(0), rd_count.eq(0)]

        # ---- pass sequencing
        m.d.sync += self.done.eq(0)
        totals = [Signal(signed(self._sum_width), name=f"total{i}") for i in range(nsum)]
        red_idx = Signal(range(nsum + 1))
        # which sums each program produces (the others read as 0, whatever the RAM holds)
        produced = [[True] * (npairs + k) + [False], [False] * npairs + [True] * (k + 1),
                    [False] * (npairs + k) + [True]]
        with m.If(self.start & ~busy & ~reading):
            m.d.sync += [busy.eq(1), phase.eq(0), j.eq(0), beat.eq(0), params.eq(self.params),
                         mode.eq(Mux(self.mode <= NORM, self.mode, UPDATE))]
        with m.If(busy):
            with m.Switch(phase):
                with m.Case(0):                                     # prefetch row 0
                    m.d.sync += phase.eq(1)
                with m.Case(1):                                     # slots
                    m.d.sync += beat.eq(Mux(beat == slot - 1, 0, beat + 1))
                    with m.If(beat == slot - 1):
                        m.d.sync += j.eq(j + 1)
                        with m.If(j == rows):
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
