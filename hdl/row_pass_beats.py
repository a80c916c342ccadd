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

__all__ = ["PassMode", "BeatKind", "beat_table", "BeatDecoder", "IDLE_BEAT"]


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
    ``a_q`` (the stored column a U beat reads, and its exponent).
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
        shared_coef = Signal(signed(coef_width))
        m.d.comb += shared_coef.eq(Array(coef_vals)[beat_opb])
        self.kind, self.opa, self.opb = beat_kind, beat_opa, beat_opb
        self.clear, self.last, self.dest = beat_clear, beat_last, beat_dest
        self.shared_coef = shared_coef
        self._k, self._a_bits, self._params = k, a_bits, params

    def issue(self, m, ctl):
        """Build ``live``, ``first_use``, ``q_sel`` and ``a_q`` (after the slot flags)."""
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
        # the stored column the U beat reads, and its exponent
        q_sel = Signal(range(max(k, 2)))
        m.d.comb += q_sel.eq(Mux(self.opa < k, self.opa, 0))
        a_q = Signal(unsigned(self._a_bits))
        m.d.comb += a_q.eq(Array(self._params.a[q] for q in range(k))[q_sel])
        self.q_sel, self.a_q = q_sel, a_q
