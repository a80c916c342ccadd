"""Static schedule of the unit's micro-program on the MAC lanes (pure Python, generation time).

The k x k engine (``hdl/kxk_engine.py``) has no scoreboard: every operation of
:mod:`golden.unit_program` is given a cycle and a lane here, and the engine plays the result
back from a ROM. Timing model (cycles relative to a segment's start)::

    Dot with n terms on lane l, first beat at t:
        beats t .. t+n-1        operands read (the addend with the first beat)
        result at p = t+n-1+L   post-operation (round / lod / range) starts;
                                its variable shift's exponents read in cycle p - H
        written at the end of   w = p + P
    ALU operation at t:         operands read (a Move's source and exponents in cycle t - H
                                when A = 0)
        written at the end of   w = t + A
                                (``alus`` ALUs: that many operations a cycle)

with ``L`` the lanes' latency (``RowPass.lane_latency``), ``P`` the post-operation's extra
pipeline stages (``post_stages``), ``A`` the ALUs' (``alu_stages``) and ``H`` the lead of the
variable shifts (``shift_lead``, 0 or 1: the shift is computed and registered a cycle before the
value it shifts arrives). A register written at the end of cycle ``w`` is read from ``w + 1``; a
read in cycle ``w`` still sees the old value. Cycle -1 is the one ``start`` is taken in: what
an earlier segment wrote can be read there.
Operations are placed in program order, each at the earliest cycle that respects read-after-write,
write-after-read and write-after-write order on its registers and finds a free lane (``n``
consecutive free beats) or a free ALU slot. Program semantics are therefore those of the
interpreter, :func:`golden.unit_program.run_segment`.

Among the lanes free at that cycle, an operation goes to the one whose operand tables (the
registers its ``a``, ``b`` and addend multiplexers select from, its destinations and exponents:
:class:`hdl.kxk_rom.RomImage`) it adds the fewest entries to, each term's two factors in the
order that adds fewer (products commute, and a lane's sum is exact, so the words are the same):
the multiplexers are the engine's largest logic. ``Move`` operations (rounding a wide row-pass
sum) go only to the first ``movers`` ALUs, the others take the last free ALU; Dots whose result
needs more than a rounding by a constant shift go only to the first ``general`` lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from golden.unit_program import SEGMENTS, Dot, Expo, Move, PostOp, Program, Seed, Select

__all__ = ["Schedule", "schedule_program"]


@dataclass
class SegmentSchedule:
    """One segment: ``cycles`` long; ``beats[t][l]`` is ``(op, term index)`` or None;
    ``posts[t][l]`` the Dot whose result lands on lane ``l`` in cycle ``t`` (written
    ``post_stages`` cycles later); ``alu[t][u]`` the operation ALU ``u`` issues in cycle ``t``
    (or None; written ``alu_stages`` cycles later)."""

    cycles: int
    beats: list
    posts: list
    alu: list
    macs: int


@dataclass
class Schedule:
    lanes: int
    latency: int
    alus: int
    post_stages: int = 0
    alu_stages: int = 0
    shift_lead: int = 0
    segments: dict = field(default_factory=dict)

    def cycles(self, segment=None) -> int:
        names = SEGMENTS if segment is None else (segment,)
        return sum(self.segments[s].cycles for s in names)

    def macs(self, segment=None) -> int:
        names = SEGMENTS if segment is None else (segment,)
        return sum(self.segments[s].macs for s in names)


def _reads(op, latency, lead=0, alu_lead=0):
    """[(relative cycle, register name)] an operation reads (constants excluded): a Dot's
    variable-shift exponents ``lead`` cycles before its result, a Move's ``alu_lead`` cycles
    before it issues."""
    out = []
    if isinstance(op, Dot):
        for j, (a, b) in enumerate(op.terms):
            out += [(j, a), (j, b)]
        if isinstance(op.addend, tuple):
            out.append((0, op.addend[0]))
        post = len(op.terms) - 1 + latency - lead
        out += [(post, e) for _, e in op.var]
    elif isinstance(op, Move):
        out = [(-alu_lead, op.src)] + [(-alu_lead, e) for _, e in op.var]
    elif isinstance(op, Expo):
        out = [(0, op.src)]
    elif isinstance(op, Seed):
        out = [(0, op.sig), (0, op.exp)]
    elif isinstance(op, Select):
        out = [(0, op.flag), (0, op.a), (0, op.b)]
    return [(c, n) for c, n in out if not n.startswith("#")]


def _fit(op, tab):
    """``(cost, op)``: the operand-table entries a lane with tables ``tab`` would add for the Dot
    ``op``, with each term's operands in the order that adds fewer (products commute)."""
    cost, terms = 0, []
    for a, b in op.terms:
        ab = (a not in tab["a"]) + (b not in tab["b"])
        ba = (b not in tab["a"]) + (a not in tab["b"])
        terms.append((a, b) if ab <= ba else (b, a))
        cost += min(ab, ba)
    add = tuple(op.addend) if isinstance(op.addend, (tuple, list)) else op.addend
    cost += 2 * (add not in tab["c"]) + (op.dst not in tab["d"])
    cost += sum(e not in tab["e"] for _, e in op.var)
    return cost, replace(op, terms=tuple(terms))


def _enter(op, tab):
    for a, b in op.terms:
        tab["a"].add(a)
        tab["b"].add(b)
    tab["c"].add(tuple(op.addend) if isinstance(op.addend, (tuple, list)) else op.addend)
    tab["d"].add(op.dst)
    tab["e"].update(e for _, e in op.var)


def _general(op) -> bool:
    """Whether the Dot ``op`` needs a general post-operation unit: a variable shift, a
    leading-one detect, a range test or a shift below 1 (the others round by a constant right
    shift)."""
    return bool(op.var) or op.kind != PostOp.ROUND or op.shift < 1


def schedule_program(prog: Program, *, lanes: int, latency: int, alus: int = 1,
                     movers: int | None = None, general: int | None = None,
                     post_stages: int = 0, alu_stages: int = 0,
                     shift_lead: int = 0) -> Schedule:
    """Place every operation of ``prog`` (see the module docstring); ``Move`` operations only on
    the first ``movers`` ALUs, Dots that need a general post-operation unit (a variable shift, a
    leading-one detect, a range test) only on the first ``general`` lanes (defaults: all).
    ``post_stages``, ``alu_stages`` (0..2) and ``shift_lead`` (0..1) are the pipeline of the
    module docstring."""
    movers = alus if movers is None else movers
    general = lanes if general is None else general
    if not 1 <= general <= lanes:
        raise ValueError(f"general={general}: must be 1..lanes={lanes}")
    if not 1 <= movers <= alus:
        raise ValueError(f"movers={movers}: must be 1..alus={alus}")
    for name, value, top in (("post_stages", post_stages, 2), ("alu_stages", alu_stages, 2),
                             ("shift_lead", shift_lead, 1)):
        if not 0 <= value <= top:
            raise ValueError(f"{name}={value}: must be 0..{top}")
    if shift_lead > latency:
        raise ValueError(f"shift_lead={shift_lead}: must be at most latency={latency}")
    # a Move's source and exponents are read in the ALU's first stage, a cycle early without one
    alu_lead = shift_lead if alu_stages == 0 else 0
    sched = Schedule(lanes=lanes, latency=latency, alus=alus, post_stages=post_stages,
                     alu_stages=alu_stages, shift_lead=shift_lead)
    tables = [{"a": set(), "b": set(), "c": {None}, "d": set(), "e": set()}
              for _ in range(lanes)]
    for name in SEGMENTS:
        # ready[r]: first cycle r can be read; what earlier segments wrote is ready in cycle -1
        ready, last_read, last_write = {}, {}, {}
        lane_busy = [set() for _ in range(lanes)]
        alu_busy = {}
        placed = []                                    # (op, lane, ALU, start): one is None
        end = 0
        for op in prog.segments[name]:
            reads = _reads(op, latency, shift_lead, alu_lead)
            n = len(op.terms) if isinstance(op, Dot) else 1
            wdelay = (n - 1 + latency + post_stages) if isinstance(op, Dot) else alu_stages
            t = 0
            for c, r in reads:
                t = max(t, ready.get(r, -1) - c)
            t = max(t, last_read.get(op.dst, -1) - wdelay, last_write.get(op.dst, -1) + 1 - wdelay)
            lane = unit = None
            while True:
                if isinstance(op, Dot):
                    free = [l for l in range(general if _general(op) else lanes)
                            if not any((t + j) in lane_busy[l] for j in range(n))]
                    if free:
                        lane, op = min((_fit(op, tables[l]) + (l,) for l in free),
                                       key=lambda f: (f[0], f[2]))[2:0:-1]
                        _enter(op, tables[lane])
                        for j in range(n):
                            lane_busy[lane].add(t + j)
                        break
                else:
                    # Moves need a rounding ALU (the first ``movers``); other operations take
                    # the last free ALU, leaving the rounding ones to Moves
                    units = range(movers) if isinstance(op, Move) else range(alus - 1, -1, -1)
                    free = [u for u in units if u not in alu_busy.setdefault(t, set())]
                    if free:
                        unit = free[0]
                        alu_busy[t].add(unit)
                        break
                t += 1
            w = t + wdelay
            for c, r in reads:
                last_read[r] = max(last_read.get(r, -1), t + c)
            ready[op.dst] = w + 1
            last_write[op.dst] = w
            end = max(end, w + 1)
            placed.append((op, lane, unit, t))
        beats = [[None] * lanes for _ in range(end)]
        posts = [[None] * lanes for _ in range(end)]
        alu = [[None] * alus for _ in range(end)]
        macs = 0
        for op, lane, u, t in placed:
            if lane is None:
                alu[t][u] = op
                continue
            for j in range(len(op.terms)):
                beats[t + j][lane] = (op, j)
            posts[t + len(op.terms) - 1 + latency][lane] = op
            macs += len(op.terms)
        sched.segments[name] = SegmentSchedule(cycles=end, beats=beats, posts=posts, alu=alu,
                                               macs=macs)
    return sched
