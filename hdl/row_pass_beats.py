"""The row-pass engine's programs: pass modes, beat kinds, the beat table and its decoder.

A pass (``hdl/row_pass.py``) is a sequence of slots, one per row address (UPDATE: one more); each
plays the same list of beats on every lane, taken from a generation-time table indexed by the
program (:class:`PassMode`) and the beat's position in the slot::

    UPDATE slot:   U beats of row j       k(k+1)/2 + k   dot products ending in a rounded new[r]
                   G beats of row j-1     k(k+1)/2 + k   fused multiply-adds into per-lane sums
                   (idle beats only when k = 1, so the last U result is back before the slot ends;
                   the pass control ends the first slot once row 0's results are back and
                   starts the last one at its G beats, hdl/row_pass_control.py)
    PROJECT slot:  P beats of row j       k + 1          S[r] inp and inp inp into lane sums
    NORM slot:     one N beat of row j                   inp inp in the lane's own accumulator

A table entry is ``(kind, opa, opb, clear, last, dest)``:

* ``kind`` (:class:`BeatKind`): what the beat is and where its result goes;
* ``opa``: ``q`` (``S[q] << a[q]``), ``k`` (``inp << gw``), ``k + 1 + q`` (``new_prev[q]``),
  ``2k + 1`` (``inp_prev``) or ``2k + 2`` (``inp``);
* ``opb``: an index into the shared coefficient list (U: ``cT[q][r]`` or ``w[r]``, the same on
  every lane), ``q`` (``new_prev[q]``, G), ``r`` (``S[r]``) or ``k`` (``inp``) (P, N);
* ``clear``, ``last``: the MAC lane's flags (N: computed from the row address instead);
* ``dest``: ``r`` (``new_cur[r]``) for U, the lane-sum index otherwise (Gram pairs row-major,
  then the projection, then the squared norm).
"""

from amaranth.hdl import Array, Const, Mux, Signal, signed, unsigned
from amaranth.lib import enum

__all__ = ["PassMode", "BeatKind", "beat_table", "BeatDecoder", "IssueRegister", "ISSUE_STAGES",
           "IDLE_BEAT"]


class PassMode(enum.IntEnum, shape=2):
    """Program of a pass (the ``mode`` input): update the rows (and Gram, projection), project
    the stored rows on the input words (and the inputs' squared norm), or the squared norm
    alone. The 2-bit value 3 runs ``UPDATE``."""

    UPDATE = 0
    PROJECT = 1
    NORM = 2


class BeatKind(enum.IntEnum, shape=3):
    """What a beat computes and where its result lands. The order matters: results of
    ``kind >= G`` go to a lane sum; ``U`` and ``kind >= P`` beats read the current row."""

    IDLE = 0         #: no beat
    U = 1            #: update: a term of ``new[r]`` of the current row, rounded into new_cur
    G = 2            #: Gram/projection of the previous row (new_prev) into a lane sum
    P = 3            #: projection of the current row into a lane sum
    N = 4            #: squared input norm in the lane's own accumulator (first to last row)


#: A padding entry of the table.
IDLE_BEAT = (BeatKind.IDLE, 0, 0, False, False, 0)


def beat_table(k: int, slots: tuple):
    """The slot programs of rank ``k``, each padded to its ``slots[mode]`` beats.

    Returns ``(tables, coefs)``: ``tables[mode]`` lists the entries of one slot (module
    docstring) and ``coefs`` the shared coefficients in the order U beats index them, as
    ``("cT", q, r)`` or ``("w", r, r)``.
    """
    table = []
    coefs = []
    for r in range(k):
        for q in range(r + 1):
            coefs.append(("cT", q, r))
            table.append((BeatKind.U, q, len(coefs) - 1, q == 0, False, r))
        coefs.append(("w", r, r))
        table.append((BeatKind.U, k, len(coefs) - 1, False, True, r))
    idx = 0
    for q in range(k):
        for r in range(q, k):
            table.append((BeatKind.G, k + 1 + q, r, True, True, idx))
            idx += 1
    for r in range(k):
        table.append((BeatKind.G, 2 * k + 1, r, True, True, idx))
        idx += 1
    npairs = k * (k + 1) // 2
    inp = 2 * k + 2
    project = [(BeatKind.P, inp, r, True, True, npairs + r) for r in range(k)]
    project.append((BeatKind.P, inp, k, True, True, npairs + k))
    norm = [(BeatKind.N, inp, k, False, False, npairs + k)]
    tables = [table, project, norm]
    for t, slot in zip(tables, slots):
        while len(t) < slot:
            t.append(IDLE_BEAT)
    return tables, coefs


class BeatDecoder:
    """The beat of the current cycle, shared by every lane (the lanes run in lockstep).

    ``table`` is the flat table, ``span`` entries per program (index ``entry``); ``params``
    the pass's latched coefficients; ``ctl`` the pass control (its ``entry``, row address ``j``,
    ``last_j`` and slot flags). Attributes: ``kind``, ``opa``, ``opb``, ``clear``, ``last``,
    ``dest``, ``shared_coef`` (U beats' ``opb``), ``live`` (a beat is issued on a real row),
    ``first_use`` (the pass's first touch of a lane sum: it starts from 0), ``q_sel`` and
    ``a_q`` (the stored column a U beat reads, and its exponent), and the lanes' multiplexer
    selects ``opa_col`` (opa is ``S[q_sel] << a_q``), ``opa_alt`` (else ``opa - k``), ``g_sel``,
    ``p_sel`` (the G and P/N opb), ``is_u``, ``is_g``.
    """

    def __init__(self, m, *, table, coefs, k, nsum, coef_width, a_bits, params, ctl):
        coef_vals = []
        for kind, q, r in coefs:
            coef_vals.append(params.cT[q][r] if kind == "cT" else params.w[r])
        entry, j, last_j = ctl.entry, ctl.j, ctl.last_j
        beat_kind = Array(Const(int(t[0]), BeatKind.as_shape()) for t in table)[entry]
        beat_opa = Array(Const(t[1], range(2 * k + 3)) for t in table)[entry]
        beat_opb = Array(Const(t[2], range(max(len(coefs), k) + 1)) for t in table)[entry]
        beat_clear = Signal()
        beat_last = Signal()
        m.d.comb += [
            beat_clear.eq(Mux(beat_kind == BeatKind.N, j == 0,
                              Array(Const(int(t[3]), 1) for t in table)[entry])),
            beat_last.eq(Mux(beat_kind == BeatKind.N, j == last_j,
                             Array(Const(int(t[4]), 1) for t in table)[entry])),
        ]
        beat_dest = Array(Const(t[5], range(max(nsum, k) + 1)) for t in table)[entry]
        # U beats are UPDATE's first entries and index the coefficients in their order: select
        # by the beat counter, not by the table's opb (one lookup less in front of the register)
        span = len(table) // 4
        assert all(t[2] == i for i, t in enumerate(table[:span]) if t[0] == BeatKind.U)
        shared_coef = Signal(signed(coef_width))
        m.d.comb += shared_coef.eq(Array(coef_vals + [0] * (span - len(coef_vals)))[ctl.beat])
        self.kind, self.opa, self.opb = beat_kind, beat_opa, beat_opb
        self.clear, self.last, self.dest = beat_clear, beat_last, beat_dest
        self.shared_coef = shared_coef
        self._k, self._a_bits, self._params, self._table = k, a_bits, params, table

    def issue(self, m, ctl):
        """Build ``live``, ``first_use``, ``q_sel``, ``a_q`` and the lanes' multiplexer selects
        (after the slot flags)."""
        beat_kind, j, k = self.kind, ctl.j, self._k
        # a beat is issued on the lanes whose slot half is for a real row address (U, P, N
        # read the current row, G the previous one)
        live = Signal()
        m.d.comb += live.eq(ctl.issuing & ((((beat_kind == BeatKind.U)
                                              | (beat_kind >= BeatKind.P)) & ctl.in_u_slot)
                                            | ((beat_kind == BeatKind.G) & ctl.in_g_slot)))
        # the pass's first touch of a sum starts it from 0; NORM sums in the lane's accumulator
        first_use = Signal()
        m.d.comb += first_use.eq(((beat_kind == BeatKind.G) & (j == 1))
                                 | ((beat_kind == BeatKind.P) & (j == 0))
                                 | (beat_kind == BeatKind.N))
        self.live, self.first_use = live, first_use
        # the stored column the U beat reads, and its exponent: U beats are UPDATE's first
        # entries, so both are selected by the beat counter alone (one lookup deep)
        span = len(self._table) // 4
        u_col = [t[1] if t[0] == BeatKind.U and t[1] < k else 0 for t in self._table[:span]]
        q_sel = Signal(range(max(k, 2)))
        m.d.comb += q_sel.eq(Array(Const(q, q_sel.shape()) for q in u_col)[ctl.beat])
        a_q = Signal(unsigned(self._a_bits))
        m.d.comb += a_q.eq(Array(self._params.a[q] for q in u_col)[ctl.beat])
        self.q_sel, self.a_q = q_sel, a_q
        # the lanes' multiplexer selects, each its own constant table over the entry (not
        # comparators behind a lookup), so that the issue register holds them and the lanes'
        # operand paths start at a register
        def rom(shape, f):
            sig = Signal(shape)
            m.d.comb += sig.eq(Array(Const(int(f(t)), shape) for t in self._table)[ctl.entry])
            return sig
        # opa is a shifted stored column (q_sel, a_q); else inp << gw, new_prev[q], inp_prev, inp
        self.opa_col = rom(1, lambda t: t[1] < k)
        self.opa_alt = rom(range(k + 3), lambda t: t[1] - k if t[1] >= k else 0)
        # G beats' opb: new_prev[g_sel]; P, N beats': S[p_sel] or inp (k)
        self.g_sel = rom(range(max(k, 2)), lambda t: t[2] if t[2] < k else 0)
        self.p_sel = rom(range(k + 1), lambda t: t[2] if t[2] <= k else 0)
        self.is_u = rom(1, lambda t: t[0] == BeatKind.U)
        self.is_g = rom(1, lambda t: t[0] == BeatKind.G)


class IssueRegister:
    """The decoded beat and the pass control's lane-side flags, one cycle later.

    The decoder (a table lookup and the shared coefficient's multiplexer) and the control's
    comparators are shared by every lane: in front of the lanes' operand multiplexers they made
    the engine's critical path (the beat counter to every lane's operand register, mostly routing).
    The lanes (``hdl/row_pass_lane.py``) read this register instead, so they run
    :data:`ISSUE_STAGES` cycle behind the pass control: their timing relative to each other is
    unchanged, and the reduction, which reads the lane sums from the control's side, waits one
    cycle more (``RowPass.pass_latency``).

    Attributes: those of ``dec`` (``kind``, ``clear``, ``last``, ``dest``, ``shared_coef``,
    ``live``, ``first_use``, ``q_sel``, ``a_q`` and the multiplexer selects ``opa_col``,
    ``opa_alt``, ``g_sel``, ``p_sel``, ``is_u``, ``is_g``) and of ``ctl`` (``row_full``,
    ``row_tail``, ``slot_end``, ``row_done``, ``late``, ``done_j``), registered; ``busy``,
    ``mode``, ``tail_mask`` and ``row_base`` are the control's own (held through a pass). The
    memories' fetches are the control's own too: the lanes register the read data instead.
    """

    _DEC = ("kind", "clear", "last", "dest", "shared_coef", "live", "first_use", "q_sel", "a_q",
            "opa_col", "opa_alt", "g_sel", "p_sel", "is_u", "is_g")
    _CTL = ("row_full", "row_tail", "slot_end", "row_done", "late", "done_j")

    def __init__(self, m, *, dec, ctl):
        for names, src in ((self._DEC, dec), (self._CTL, ctl)):
            for name in names:
                value = getattr(src, name)
                reg = Signal.like(value, name=f"issue_{name}")
                m.d.sync += reg.eq(value)
                setattr(self, name, reg)
        self.busy, self.mode, self.tail_mask, self.row_base = (ctl.busy, ctl.mode, ctl.tail_mask,
                                                               ctl.row_base)


#: Cycles from the decoder and pass control to the lanes (:class:`IssueRegister`).
ISSUE_STAGES = 1
