"""The k x k engine's ROM image: one word per scheduled cycle of the micro-program.

At generation time, a :class:`golden.unit_program.Program` placed on the lanes and ALUs by
:func:`hdl.kxk_schedule.schedule_program` becomes, segment after segment, a list of ROM words the
engine (``hdl/kxk_engine.py``) plays one per cycle. Operands and destinations are not stored as
register names but as small indices into per-lane (and per-ALU) tables of the registers that
lane or ALU ever touches, so each operand mux is only as wide as it needs to be::

    word = { b<l>: lane l's beat    {valid, a, b, c (operand indices), clear, last, sub}
             p<l>: lane l's result  {valid, kind (PostOp), shift, v1, v1n, v2, v2n, dst}
             alu<u>: ALU u          {op (AluOp), src, shift, v1, v1n, v2, v2n, w1, w2, e, f, dst} }

With operand banks (:mod:`hdl.kxk_banks`), a banked operand's table starts with one entry per
bank (:func:`hdl.kxk_banks.bank_entry`, its read port) and its beat has one more field, ``aa``
or ``ba``: the register's address in its bank (all the operand's banks read at it); for banks
read synchronously (``bank_read_lead`` = 1, block RAM) these addresses are a word early, in the
field ``r<l>`` (of cycle 0: in :attr:`RomImage.lead`). Each bank ``i`` of lane ``l``'s operand
``f`` has a write field ``w<l><f><i>`` = ``{en, sel, addr}`` in the word of the cycle its
registers' results are written: ``sel`` picks the writer (:attr:`RomImage.bank_writers`), so
the engine decodes no destination for the banks.

``v1``/``v2`` name up to two exponent registers added to (``v1n``: subtracted from) the constant
``shift`` (the ops' ``var`` terms; ``shift`` holds one more per subtracted exponent, the engine
adding its complement); the post-operation codes are :class:`golden.unit_program.PostOp`
and the ALU codes :class:`AluOp`. A field absent from a word is 0: no beat, no result, ALU idle.

With a shift lead (``Schedule.shift_lead`` = 1), the fields the engine needs a cycle ahead are
stored one word early: ``p<l>`` of a result landing in cycle ``t`` in word ``t - 1`` (results
land no earlier than the lanes' latency), and, when the ALUs have no stage of their own
(``Schedule.alu_stages`` = 0), a ``Move``'s fields (``src``, ``shift``, ``v1``, ``v1n``, ``v2``,
``v2n``) of ``alu<u>`` of cycle ``t``; those of a segment's cycle 0 are in :attr:`RomImage.lead`.
"""

from amaranth.hdl import signed
from amaranth.lib import data, enum

from golden.unit_program import SEGMENTS, Expo, ExpoFn, Move, PostOp, Seed, Select
from .kxk_banks import FIELDS, bank_entry, write_cycles

__all__ = ["AluOp", "RomImage", "index_bits"]


class AluOp(enum.IntEnum, shape=3):
    """Operation of an ALU slot in a ROM word (``NONE``: the slot is idle)."""

    NONE = 0
    MOVE = 1          #: ``Move`` with ``PostOp.ROUND``
    LOD = 2           #: ``Move`` with ``PostOp.LOD``
    EXPO_A = 3        #: ``Expo`` with ``ExpoFn.A``
    EXPO_S = 4        #: ``Expo`` with ``ExpoFn.S``
    SEED = 5
    SELECT = 6


def index_bits(n):
    """Bits of an index into ``n`` items (at least 1)."""
    return max(1, (int(n) - 1).bit_length()) if n > 1 else 1


def _index(items):
    out = {}
    for x in items:
        if x not in out:
            out[x] = len(out)
    return out


def _var(op, table):
    """The ``shift``, ``v1``, ``v1n``, ``v2``, ``v2n`` fields of ``op``: ``shift`` counts one
    more per subtracted exponent, so the engine adds ``~v`` (``-v - 1``) without a negation."""
    if op.var and op.kind != PostOp.ROUND:
        raise ValueError(f"{op}: only a rounding takes exponents in its shift")
    v = list(op.var) + [(1, None)] * (2 - len(op.var))
    neg = [int(sign < 0) for sign, _ in v]
    shift = op.shift + sum(neg)
    if not -128 <= shift < 128:
        raise ValueError(f"shift={shift}: beyond the ROM's 8-bit field")
    return {"shift": shift, "v1": table[v[0][1]], "v1n": neg[0],
            "v2": table[v[1][1]], "v2n": neg[1]}


class RomImage:
    """The ROM of ``sched`` (a ``Schedule`` on ``lanes`` lanes and ``alus`` ALUs).

    Attributes
    ----------
    lanes, alus : list of dict
        Per lane ``{"a", "b", "c", "e", "d"}`` (and ``"s"``, the sorted constant shifts of
        its results; ``"aa"``/``"ba"``, ``{register: address}`` of a banked operand, and
        ``"ak"``/``"bk"``, ``{register: bank}``) and per ALU ``{"src", "w", "e", "f", "d", "v"}``:
        ``{operand: index}`` tables (register names, ``"#value"`` constants, ``None`` or
        ``"-"`` for nothing) in the order the engine builds its muxes.
    layout : data.StructLayout
        One ROM word (module docstring).
    words : list of dict
        The ROM's contents, segments in :data:`golden.unit_program.SEGMENTS` order.
    base : dict
        ``{segment: address of its first word}``.
    banks : dict
        ``{(lane, field): [[register, ...], ...]}``, the operand banks
        (:func:`hdl.kxk_banks.plan_banks`; none by default).
    bank_writers : dict
        ``{(lane, field, bank): [writer, ...]}``: the writers of each bank (``("lane", l)``,
        ``("alu", u)``) in the order of the write field's ``sel`` codes.
    lead : dict
        ``{segment: word}``: with a shift lead or ``bank_read_lead``, the fields of the word
        before the segment's first (its cycle 0's early fields); empty words otherwise.
    """

    def __init__(self, sched, *, lanes: int, alus: int, banks=None, bank_read_lead=0):
        self._sched = sched
        self.banks = dict(banks or {})
        if bank_read_lead not in (0, 1):
            raise ValueError(f"bank_read_lead={bank_read_lead!r}: must be 0 or 1")
        self.bank_read_lead = bank_read_lead
        self.lanes, self.alus = self._tables(lanes, alus)
        # every write of a banked register, with its writer: the banks' writers and write fields
        self._bank_writes = write_cycles(
            sched, {r for banks in self.banks.values() for bank in banks for r in bank},
            writers=True)
        self.bank_writers = self._bank_writers()
        self.layout = self._layout()
        self.words, self.base, self.lead = self._words()

    def _tables(self, n_lanes, n_alus):
        sched = self._sched
        lanes = []
        for l in range(n_lanes):
            ops_a, ops_b, adds, exps, dsts, shifts = [], [], [None], [None], [], set()
            for name in SEGMENTS:
                seg = sched.segments[name]
                for t in range(seg.cycles):
                    beat = seg.beats[t][l]
                    if beat:
                        op, j = beat
                        ops_a.append(op.terms[j][0])
                        ops_b.append(op.terms[j][1])
                        if j == 0:
                            adds.append(op.addend if op.addend is None or
                                        isinstance(op.addend, (int, str)) else tuple(op.addend))
                    op = seg.posts[t][l]
                    if op:
                        exps += [e for _, e in op.var]
                        dsts.append(op.dst)
                        shifts.add(op.shift)
            tab = {"a": _index(ops_a or ["#0"]), "b": _index(ops_b or ["#0"]),
                   "c": _index(adds), "e": _index(exps), "d": _index(dsts or ["-"]),
                   "s": sorted(shifts)}
            for f in FIELDS:                     # the first entries read the banks (f + "a")
                banks = self.banks.get((l, f))
                if banks:
                    tab[f + "a"] = {r: i for bank in banks for i, r in enumerate(bank)}
                    tab[f + "k"] = {r: i for i, bank in enumerate(banks) for r in bank}
                    tab[f] = _index([bank_entry(i) for i in range(len(banks))]
                                    + [n for n in tab[f] if n not in tab[f + "a"]])
            lanes.append(tab)
        alus = []
        for u in range(n_alus):
            alu_src, alu_w, alu_e, alu_f, alu_d, alu_v = [], [], [], [], [], [None]
            for name in SEGMENTS:
                for ops in sched.segments[name].alu:
                    op = ops[u]
                    if isinstance(op, Move):
                        alu_src.append(op.src)
                        alu_v += [e for _, e in op.var]
                    elif isinstance(op, Expo):
                        alu_e.append(op.src)
                    elif isinstance(op, Seed):
                        alu_w.append(op.sig)
                        alu_e.append(op.exp)
                    elif isinstance(op, Select):
                        alu_f.append(op.flag)
                        alu_w += [op.a, op.b]
                    if op is not None:
                        alu_d.append(op.dst)
            alus.append({"src": _index(alu_src or ["#0"]), "w": _index(alu_w or ["#0"]),
                         "e": _index(alu_e or ["-"]), "f": _index(alu_f or ["-"]),
                         "d": _index(alu_d or ["-"]), "v": _index(alu_v)})
        return lanes, alus

    def _bank_writers(self):
        """``{(lane, field, bank): [writer, ...]}``: who writes each bank's registers
        (``("lane", l)``, ``("alu", u)``), in the order of its ``sel`` codes."""
        who = {}
        for _, _, reg, writer in self._bank_writes:
            who.setdefault(reg, set()).add(writer)
        return {(l, f, i): sorted(set().union(*(who[r] for r in bank)))
                for (l, f), banks in self.banks.items() for i, bank in enumerate(banks)}

    def _layout(self):
        bits = index_bits
        fields = {}
        for l, t in enumerate(self.lanes):
            addrs = {f + "a": bits(max(t[f + "a"].values()) + 1) for f in FIELDS
                     if f + "a" in t}
            fields[f"b{l}"] = data.StructLayout({
                "valid": 1, "a": bits(len(t["a"])), "b": bits(len(t["b"])),
                "c": bits(len(t["c"])), "clear": 1, "last": 1, "sub": 1,
                **({} if self.bank_read_lead else addrs)})
            if self.bank_read_lead and addrs:
                fields[f"r{l}"] = data.StructLayout(addrs)
            fields[f"p{l}"] = data.StructLayout({
                "valid": 1, "kind": PostOp, "shift": signed(8), "v1": bits(len(t["e"])),
                "v1n": 1, "v2": bits(len(t["e"])), "v2n": 1, "dst": bits(len(t["d"]))})
        for u, alu in enumerate(self.alus):
            fields[f"alu{u}"] = data.StructLayout({
                "op": AluOp, "src": bits(len(alu["src"])), "shift": signed(8),
                "v1": bits(len(alu["v"])), "v1n": 1, "v2": bits(len(alu["v"])), "v2n": 1,
                "w1": bits(len(alu["w"])), "w2": bits(len(alu["w"])),
                "e": bits(len(alu["e"])), "f": bits(len(alu["f"])),
                "dst": bits(len(alu["d"]))})
        for (l, f, i), writers in self.bank_writers.items():
            fields[f"w{l}{f}{i}"] = data.StructLayout({
                "en": 1, "sel": bits(len(writers)), "addr": bits(len(self.banks[(l, f)][i]))})
        return data.StructLayout(fields)

    def _words(self):
        sched = self._sched
        lead = getattr(sched, "shift_lead", 0)
        alu_lead = lead if getattr(sched, "alu_stages", 0) == 0 else 0
        words, base, first = [], {}, {}
        homes = {}                               # register: [(lane, field, bank, address)]
        for (l, f), banks in self.banks.items():
            for i, bank in enumerate(banks):
                for a, r in enumerate(bank):
                    homes.setdefault(r, []).append((l, f, i, a))
        for name in SEGMENTS:
            seg = sched.segments[name]
            base[name] = len(words)
            # word t - lead holds the fields of cycle t read a cycle ahead
            seg_words = [{} for _ in range(seg.cycles + 1)]
            for _, w, reg, writer in (x for x in self._bank_writes if x[0] == name):
                for l, f, i, a in homes[reg]:    # the bank writes land with the result
                    key = f"w{l}{f}{i}"
                    if key in seg_words[w + 1]:
                        raise ValueError(f"bank {i} of lane {l}'s {f}: two writes in cycle {w} "
                                         f"of {name}")
                    seg_words[w + 1][key] = {
                        "en": 1, "sel": self.bank_writers[(l, f, i)].index(writer), "addr": a}
            for t in range(seg.cycles):
                word = seg_words[t + 1]
                early = seg_words[t + 1 - lead]
                alu_early = seg_words[t + 1 - alu_lead]
                for l, tab in enumerate(self.lanes):
                    beat = seg.beats[t][l]
                    if beat:
                        op, j = beat
                        add = op.addend if j == 0 else None
                        add = tuple(add) if isinstance(add, (tuple, list)) else add
                        beat = {"valid": 1, "c": tab["c"][add], "clear": int(j == 0),
                                "last": int(j == len(op.terms) - 1), "sub": int(op.sub)}
                        for f, reg in zip(FIELDS, op.terms[j]):
                            if reg in tab.get(f + "a", ()):
                                beat[f] = tab[f][bank_entry(tab[f + "k"][reg])]
                                addr = {f + "a": tab[f + "a"][reg]}
                                if self.bank_read_lead:      # a synchronous read: a word early
                                    seg_words[t].setdefault(f"r{l}", {}).update(addr)
                                else:
                                    beat |= addr
                            else:
                                beat[f] = tab[f][reg]
                        word[f"b{l}"] = beat
                    op = seg.posts[t][l]
                    if op:
                        if t < lead:
                            raise ValueError(f"a result in cycle {t}: before the shift lead")
                        early[f"p{l}"] = {"valid": 1, "kind": op.kind,
                                          "dst": tab["d"][op.dst], **_var(op, tab["e"])}
                for u, alu in enumerate(self.alus):
                    op = seg.alu[t][u]
                    if op is None:
                        continue
                    a = {"dst": alu["d"][op.dst]}
                    if isinstance(op, Move):
                        a |= {"op": AluOp.MOVE if op.kind == PostOp.ROUND else AluOp.LOD}
                        shifts = {"src": alu["src"][op.src], **_var(op, alu["v"])}
                        alu_early.setdefault(f"alu{u}", {}).update(shifts)
                    elif isinstance(op, Expo):
                        a |= {"op": AluOp.EXPO_A if op.fn == ExpoFn.A else AluOp.EXPO_S,
                              "e": alu["e"][op.src]}
                    elif isinstance(op, Seed):
                        a |= {"op": AluOp.SEED, "w1": alu["w"][op.sig], "e": alu["e"][op.exp]}
                    else:
                        a |= {"op": AluOp.SELECT, "f": alu["f"][op.flag], "w1": alu["w"][op.a],
                              "w2": alu["w"][op.b]}
                    word.setdefault(f"alu{u}", {}).update(a)
            first[name] = seg_words[0]
            words += seg_words[1:]
        return words, base, first
