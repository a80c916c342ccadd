"""The crossbar driver's FACTOR stage: the unit's stored rows into per-term factor words.

Step 1 of :mod:`golden.driver` (R1), bit for bit :meth:`golden.sbpca_unit.SBPCAUnitModel.
readout_words`: for every stored row ``S`` (a beat of the unit's ``rows_o``: the ``n_in`` rows of
``Xs``, then the ``n_out`` rows of ``Ds``) and every term ``r``::

    F[r] = R1( sum_{q <= r} (S[q] << a[q]) T[q, r] )   (T upper triangular: (ax, Tx) for the
                                                         X rows, (ad, Td) for the Delta rows)

with the stage's **one multiplier**, one product per cycle: ``k (k + 1) / 2`` cycles per row
(the next row is taken in a row's last cycle, so rows that arrive back to back cost exactly that;
the unit's lanes are not used, so the unit may start its next batch while the terms are pulsed).
``R1`` rounds half up from ``vec.frac + mat.frac`` fraction bits into ``vec`` and saturates (a
clamp raises ``saturated`` for the batch). The shifted word ``S[q] << a[q]`` is formed in the
k x k word width, as the unit's row pass forms it (the golden model's exact shift fits there).

The words are written into ``G`` lane memories of ``k (R + C)`` words each, term-major, in the
order the driver's SLOTS stage reads them (``R = ceil(n_out / G)``, ``C = ceil(n_in / G)``)::

    rows (stream, k words)                      Tx, Td, ax, ad (held while the rows pass)
       |                                            |
       v                                            v
    S register --> (S[q] << a[q]) * T[q, r] --> acc --> R1 --> lane memory (line mod G)
                   pair (r, q) from a ROM of k(k+1)/2 entries        address r (R + C) +
                                                                      (line div G) [+ R for X]
    then per term r = 0 .. k-1:
       o:       R + C beats of G words (the Delta groups, then the x groups), one per cycle
       o_sigma: sigma[r] (latched when the last row is through)

``o`` / ``o_sigma`` are exactly the :class:`hdl.crossbar_driver.CrossbarDriver`'s ``i`` /
``i_sigma``. Words of lanes beyond the lines are left as they are (the driver ignores them).
Cycles from the first row's transfer to the first ``o`` beat (rows back to back):
``(n_in + n_out) k (k + 1) / 2 + 2`` (:attr:`CrossbarFactor.factor_cycles`, measured by the
tests).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.fixed import FixedFormat
from .fixed_ops import round_shift_saturate

__all__ = ["CrossbarFactor"]


class CrossbarFactor(wiring.Component):
    """Form the factor words of every term from the unit's read-out rows, then stream them.

    Parameters
    ----------
    n_in, n_out : int
        Rows of ``Xs`` (column lines) and of ``Ds`` (row lines).
    k : int
        Terms (the unit's rank).
    vec_width, mat_width : int
        Widths of the stored words and of the k x k words (transforms, ``sigma``).
    mat_frac : int
        Fraction bits of the transforms (the rounding shift of R1).
    a_bits : int
        Width of each column exponent ``a[q]``.
    group : int
        ``G``, the driver's lanes: words per ``o`` beat.

    Members
    -------
    rows : In(stream.Signature(ArrayLayout(signed(vec_width), k)))
        The unit's ``rows_o``: ``n_in`` rows of ``Xs`` then ``n_out`` rows of ``Ds``.
    kxk : In(kxk_layout)
        ``{Tx, Td, ax, ad, sigma}`` of the unit's k x k state, held from the first row until
        the last row is through (``sigma`` is latched then).
    o : Out(stream.Signature(ArrayLayout(signed(vec_width), group)))
    o_sigma : Out(stream.Signature(StructLayout({"sigma": signed(mat_width)})))
        Per term: ``R + C`` word beats, then its ``sigma``.
    saturated : Out(1)
        Some word of the last (or current) batch was clamped by R1; cleared by its first row.
    busy : Out(1)
        From the first row's transfer to the last term's ``sigma`` transfer.
    """

    def __init__(self, *, n_in, n_out, k, vec_width=16, mat_width=18, mat_frac=14, a_bits=5,
                 group=8):
        self._n_in = check_int("n_in", n_in, minimum=1)
        self._n_out = check_int("n_out", n_out, minimum=1)
        self._k = check_int("k", k, minimum=1, maximum=16)
        self._vw = check_int("vec_width", vec_width, minimum=2, maximum=30)
        self._mw = check_int("mat_width", mat_width, minimum=2, maximum=30)
        self._mat_frac = check_int("mat_frac", mat_frac, minimum=1, maximum=mat_width - 1)
        self._a_bits = check_int("a_bits", a_bits, minimum=1, maximum=6)
        self._group = check_int("group", group, minimum=1, maximum=64)
        super().__init__({
            "rows": In(stream.Signature(data.ArrayLayout(signed(self._vw), self._k))),
            "kxk": In(self.kxk_layout),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self._vw), self._group))),
            "o_sigma": Out(stream.Signature(data.StructLayout({"sigma": signed(self._mw)}))),
            "saturated": Out(1),
            "busy": Out(1),
        })

    n_in = property(lambda self: self._n_in)
    n_out = property(lambda self: self._n_out)
    k = property(lambda self: self._k)
    group = property(lambda self: self._group)
    row_groups = property(lambda self: -(-self._n_out // self._group))
    col_groups = property(lambda self: -(-self._n_in // self._group))

    @property
    def kxk_layout(self) -> data.StructLayout:
        k, mw = self._k, self._mw
        mat = data.ArrayLayout(data.ArrayLayout(signed(mw), k), k)
        exp = data.ArrayLayout(unsigned(self._a_bits), k)
        return data.StructLayout({"Tx": mat, "Td": mat, "ax": exp, "ad": exp,
                                  "sigma": data.ArrayLayout(signed(mw), k)})

    @property
    def pairs(self) -> tuple:
        """The multiply order within a row: ``(r, q)`` for ``r = 0 .. k-1``, ``q = 0 .. r``."""
        return tuple((r, q) for r in range(self._k) for q in range(r + 1))

    @property
    def cycles_per_row(self) -> int:
        return len(self.pairs)

    @property
    def factor_cycles(self) -> int:
        """Cycles from the first row's transfer to the first ``o`` beat, rows back to back:
        ``(n_in + n_out) k (k + 1) / 2 + 2`` (one cycle to leave the last row, one memory read)."""
        return (self._n_in + self._n_out) * self.cycles_per_row + 2

    @property
    def memory_words(self) -> int:
        """Factor memory: ``G`` lanes of ``k (R + C)`` words."""
        return self._group * self._k * (self.row_groups + self.col_groups)

    def elaborate(self, platform):
        m = Module()
        k, G, vw, mw = self._k, self._group, self._vw, self._mw
        R, C = self.row_groups, self.col_groups
        n_rows = self._n_in + self._n_out
        depth = k * (R + C)
        pairs = self.pairs
        T_pairs = len(pairs)

        # -- the row register and the pair sequencer ------------------------------------------
        S = Signal(data.ArrayLayout(signed(vw), k))
        row = Signal(range(n_rows + 1))           # rows taken so far
        is_x = Signal()                           # the row being multiplied is an X row
        pi = Signal(range(max(2, T_pairs)))       # pair index
        pr = Array(Const(r, range(max(2, k))) for r, _ in pairs)[pi]
        pq = Array(Const(q, range(max(2, k))) for _, q in pairs)[pi]
        p_first = Array(Const(int(q == 0)) for _, q in pairs)[pi]
        p_last_q = Array(Const(int(q == r)) for r, q in pairs)[pi]
        last_pair = Signal()
        m.d.comb += last_pair.eq(pi == T_pairs - 1)

        kxk = self.kxk
        a_q = Signal(self._a_bits)
        s_q = Signal(signed(vw))
        t_qr = Signal(signed(mw))
        m.d.comb += [
            s_q.eq(Array(S[q] for q in range(k))[pq]),
            a_q.eq(Mux(is_x, Array(kxk.ax[q] for q in range(k))[pq],
                       Array(kxk.ad[q] for q in range(k))[pq])),
            t_qr.eq(Mux(is_x, Array(kxk.Tx[q][r] for q in range(k) for r in range(k))[pq * k + pr],
                        Array(kxk.Td[q][r] for q in range(k) for r in range(k))[pq * k + pr])),
        ]
        shifted = Signal(signed(mw))              # the row pass's convention: S << a in mw bits
        m.d.comb += shifted.eq(s_q << a_q)
        acc_w = 2 * mw + max(1, k.bit_length())
        acc = Signal(signed(acc_w))
        acc_n = Signal(signed(acc_w))
        m.d.comb += acc_n.eq(Mux(p_first, 0, acc) + shifted * t_qr)
        vec = FixedFormat(vw, vw - 1)
        word, clamped = round_shift_saturate(m, acc_n, self._mat_frac, vec, name="r1")

        # -- lane memories and the write address ----------------------------------------------
        lane = Signal(range(max(2, G)))
        grp = Signal(range(max(2, max(R, C))))
        wbase = Signal(range(depth + R + C + 1))
        waddr = Signal(range(depth + R + C + 1))
        m.d.comb += waddr.eq(wbase + Mux(is_x, R + grp, grp))
        writing = Signal()
        ports_w, ports_r = [], []
        for g in range(G):
            mem = Memory(shape=signed(vw), depth=depth, init=[])
            m.submodules[f"lane{g}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [wp.addr.eq(waddr), wp.data.eq(word),
                         wp.en.eq(writing & p_last_q & (lane == g))]
            ports_w.append(wp)
            ports_r.append(rp)

        sat = Signal()
        m.d.comb += self.saturated.eq(sat)
        sigma = Signal(data.ArrayLayout(signed(mw), k))

        # -- play-back counters ---------------------------------------------------------------
        pa = Signal(range(depth + 1))             # next read address
        fetched = Signal(range(R + C + 1))        # reads issued in this term
        sent = Signal(range(R + C + 1))           # beats transferred in this term
        term = Signal(range(max(2, k)))
        out_valid = Signal()
        en = Signal()
        for rp in ports_r:
            m.d.comb += [rp.addr.eq(pa), rp.en.eq(en)]
        m.d.comb += [self.o.payload.eq(Cat(*[rp.data for rp in ports_r])),
                     self.o_sigma.payload.sigma.eq(Array(sigma[r] for r in range(k))[term])]

        def take_row():
            """A row transfer in this cycle: latch it, start its pairs."""
            m.d.sync += [S.eq(self.rows.payload), pi.eq(0), wbase.eq(0),
                         is_x.eq(row < self._n_in), row.eq(row + 1)]
            with m.If(row == 0):
                m.d.sync += sat.eq(0)

        def advance_line():
            """The row's words are written: the next line's lane and group."""
            last_x = row == self._n_in            # `row` counts the row just finished
            with m.If(last_x):
                m.d.sync += [lane.eq(0), grp.eq(0)]
            with m.Elif(lane == G - 1):
                m.d.sync += [lane.eq(0), grp.eq(grp + 1)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)

        with m.FSM():
            with m.State("TAKE"):
                m.d.comb += [self.rows.ready.eq(1), self.busy.eq(row != 0)]
                with m.If(self.rows.valid):
                    take_row()
                    m.next = "MUL"
            with m.State("MUL"):
                m.d.comb += [self.busy.eq(1), writing.eq(1)]
                m.d.sync += [acc.eq(acc_n), pi.eq(pi + 1)]
                with m.If(p_last_q):
                    m.d.sync += wbase.eq(wbase + R + C)
                    with m.If(clamped):
                        m.d.sync += sat.eq(1)
                with m.If(last_pair):
                    advance_line()
                    with m.If(row == n_rows):
                        m.d.sync += [row.eq(0), sigma.eq(kxk.sigma), pa.eq(0), fetched.eq(0),
                                     sent.eq(0), term.eq(0), out_valid.eq(0), lane.eq(0),
                                     grp.eq(0)]
                        m.next = "WORDS"
                    with m.Else():
                        m.d.comb += self.rows.ready.eq(1)
                        with m.If(self.rows.valid):
                            take_row()
                        with m.Else():
                            m.next = "TAKE"
            with m.State("WORDS"):
                m.d.comb += [self.busy.eq(1), self.o.valid.eq(out_valid),
                             en.eq(~out_valid | self.o.ready)]
                with m.If(en):
                    m.d.sync += out_valid.eq(fetched != R + C)
                    with m.If(fetched != R + C):
                        m.d.sync += [pa.eq(pa + 1), fetched.eq(fetched + 1)]
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == R + C - 1):
                        m.next = "SIGMA"
            with m.State("SIGMA"):
                m.d.comb += [self.busy.eq(1), self.o_sigma.valid.eq(1)]
                with m.If(self.o_sigma.ready):
                    m.d.sync += [term.eq(term + 1), fetched.eq(0), sent.eq(0)]
                    with m.If(term == k - 1):
                        m.d.sync += term.eq(0)
                        m.next = "TAKE"
                    with m.Else():
                        m.next = "WORDS"
        return m

