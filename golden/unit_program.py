"""The unit's scalar work as a micro-program: what the k x k engine executes between row passes.

Per sample the unit runs four row passes (``hdl/row_pass.py``) and, between them, a few hundred
small operations on ``k``-vectors and ``k x k`` triangular matrices: the Newton-Raphson
reciprocal, the projections ``T^T p``, the column-shift bounds, the update coefficients and the
Newton-Schulz normalization. This module writes that work as a straight-line program over named
registers, in four segments::

    segment   runs after            computes
    norm_x    NORM pass over x       ||x||^2 rounded (nx2)
    pre_x     PROJECT pass (Delta)   r = 1/sigma, y = Td^T u, column shifts, w, cT   (X pass)
    post_x    UPDATE pass (X)        ax, Tx = ns_tri(Gx), z, column shifts, w, cT    (D pass)
    post_d    UPDATE pass (Delta)    ad, Td = ns_tri(Gd), v, sigma

Micro-operations (every one a single rounding point of :class:`golden.sbpca_unit.SBPCAUnitModel`):

``Dot``     ``acc = addend +- sum a_t b_t`` on a MAC lane (``sub``: products subtracted), then a
            post-operation (:class:`PostOp`): ``ROUND`` (shift right by ``shift + sum(sign *
            exponent register)`` with round half up, or left when negative, then saturate to the
            word width: :func:`golden.fixed.round_shift_saturate`; the sticky flag rises on a
            clamp), ``LOD`` (``floor(log2|acc|) - shift``, a leading-one detect, into an exponent
            register) or ``RANGE`` (flag ``0 < acc < bound``).
``Move``    the same post-operations on a wide input (a row-pass sum) or a word, no multiply.
``Expo``    (:class:`ExpoFn`) ``A``: ``a = max(-(e // 2 + 1), 0)`` or ``S``:
            ``s = max((e + 1) // 2 + 1, 0)`` on exponents.
``Seed``    ``sign(sigma) 2**-(e + 1)`` in the reciprocal format (saturating, flag).
``Select``  ``dst = a if flag else b``.

Operands are registers (``"Tx.0.1"``, ``"sig.2"``), inputs of the segment (``"G.i.j"``, ``"p.r"``,
``"n2"``: the row pass's Gram, projection and squared norm; ``"c"``, ``"oc"``: the schedule
tables at the sample's index) or constants (``"#value"``). :func:`run_segment` interprets a
segment in program order; :class:`ProgramUnit` runs whole samples with the golden row-pass
functions and must equal ``SBPCAUnitModel(mode="fixed")`` bit for bit (tested). The hardware's
k x k engine (``hdl/kxk_engine.py``) executes the same operations, scheduled on the lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from .fixed import FixedFormat, round_shift_saturate
from .linalg import ns_global_shift
from .sbpca_unit import UnitFormats, row_pass, row_project

__all__ = ["PostOp", "ExpoFn", "Dot", "Move", "Expo", "Seed", "Select", "Program", "SEGMENTS",
           "build_program", "run_segment", "exponent", "expo_fn", "seed_word", "ProgramUnit"]

SEGMENTS = ("norm_x", "pre_x", "post_x", "post_d")


class PostOp(IntEnum):
    """What a ``Dot`` does with its lane result, or a ``Move`` with its input (the values are
    the k x k engine's ROM codes, ``hdl/kxk_rom.py``)."""

    ROUND = 0        #: round half up by a (variable) shift and saturate into a word register
    LOD = 1          #: leading-one detect into an exponent register
    RANGE = 2        #: flag ``0 < value < bound``


class ExpoFn(IntEnum):
    """The function an ``Expo`` applies to an exponent (see :func:`expo_fn`)."""

    A = 0            #: ``max(-(e // 2 + 1), 0)``: a column's normalization exponent
    S = 1            #: ``max((e + 1) // 2 + 1, 0)``: a column shift


@dataclass(frozen=True)
class Dot:
    """``dst = post(addend +- sum a * b)`` on a lane (see the module docstring)."""
    dst: str
    terms: tuple                     # ((a, b), ...), at least one
    kind: PostOp = PostOp.ROUND
    shift: int = 0                   # ROUND: right shift; LOD: fraction bits of acc
    var: tuple = ()                  # ((sign, exponent register), ...) added to the shift
    addend: object = None            # None | (register, left shift) | int constant
    sub: bool = False
    bound: int = 0                   # RANGE: exclusive upper bound

    def __post_init__(self):
        object.__setattr__(self, "kind", PostOp(self.kind))


@dataclass(frozen=True)
class Move:
    """``dst = post(src)`` without a multiply (``kind`` ``ROUND`` or ``LOD``)."""
    dst: str
    src: str
    kind: PostOp = PostOp.ROUND
    shift: int = 0
    var: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "kind", PostOp(self.kind))
        if self.kind == PostOp.RANGE:
            raise ValueError("kind=RANGE: a Move rounds or detects a leading one")


@dataclass(frozen=True)
class Expo:
    """``dst = fn(src)`` on exponents: ``fn`` :class:`ExpoFn` ``A`` (normalization) or ``S``
    (column shift)."""
    dst: str
    src: str
    fn: ExpoFn

    def __post_init__(self):
        object.__setattr__(self, "fn", ExpoFn(self.fn))


@dataclass(frozen=True)
class Seed:
    """``dst = sign(sig) * 2**-(exp + 1)`` in the reciprocal format (0 where ``sig == 0``)."""
    dst: str
    sig: str
    exp: str


@dataclass(frozen=True)
class Select:
    """``dst = a if flag else b``."""
    dst: str
    flag: str
    a: str
    b: str


def exponent(value: int, frac: int) -> int:
    """``floor(log2|v|)`` of the real value ``value * 2**-frac``; 0 where ``value == 0``."""
    return abs(value).bit_length() - 1 - frac if value else 0


def expo_fn(fn: ExpoFn, e: int) -> int:
    """The exponent function ``fn`` of ``e`` (:class:`ExpoFn`)."""
    if fn == ExpoFn.A:
        return max(-(e // 2 + 1), 0)
    return max((e + 1) // 2 + 1, 0)


def seed_word(fmt, e: int, sig: int) -> tuple:
    """``(word, clamped)`` of a ``Seed``: ``sign(sig) 2**-(e + 1)`` as a raw word of ``fmt`` (the
    reciprocal format), saturated to ``fmt.max_raw`` or flushed to 0 (``clamped``) outside it."""
    shift = fmt.frac - (e + 1)
    over, under = shift >= fmt.width - 1, shift < 0
    raw = fmt.max_raw if over else (0 if under else 1 << shift)
    return (0 if sig == 0 else (raw if sig > 0 else -raw)), over or under


@dataclass
class Program:
    """The unit's micro-program for one configuration (see :func:`build_program`).

    Attributes
    ----------
    segments : dict
        ``{name: [op, ...]}`` in :data:`SEGMENTS` order.
    inputs : dict
        ``{segment: [input name, ...]}`` (``"c"``, ``"oc"`` are available to every segment).
    words, exps, flags : list
        Register names by kind (words are ``word_width`` bits, signed).
    state : list
        Registers that persist from sample to sample (``Tx``, ``Td``, ``ax``, ``ad``, ``sig``,
        ``r``); the rest are scratch.
    params : dict
        ``{"cT": [[name]], "w": [name]}``: registers the row pass reads as its coefficients
        (the ``a`` it reads is ``ax`` for the X pass and ``ad`` for the Delta pass).
    word_width : int
        Width of every word register.
    word_format : FixedFormat
        Raw words of ``word_width`` bits that round half up and saturate: what a ``ROUND``
        post-operation writes.
    """

    k: int
    segments: dict
    inputs: dict
    words: list
    exps: list
    flags: list
    state: list
    params: dict
    word_width: int
    consts: dict = field(default_factory=dict)

    @property
    def word_format(self) -> FixedFormat:
        return FixedFormat(self.word_width, 0, rounding="half_up", overflow="saturate")

    def macs(self, segment=None) -> int:
        """Multiplies of a segment (or of a whole sample): the ``Dot`` terms."""
        names = SEGMENTS if segment is None else (segment,)
        return sum(len(op.terms) for s in names for op in self.segments[s] if isinstance(op, Dot))

    def ops(self, segment=None) -> int:
        names = SEGMENTS if segment is None else (segment,)
        return sum(len(self.segments[s]) for s in names)


def _tri(name, k):
    return {(i, j): f"{name}.{i}.{j}" for i in range(k) for j in range(i, k)}


def build_program(F: UnitFormats, k: int, *, ns_steps: int, recip_steps: int) -> Program:
    """The per-sample micro-program of ``SBPCAUnitModel(mode="fixed")`` with formats ``F``."""
    F.check()
    fm, fk, fv, fr, fs, fb = (F.mat.frac, F.kvec.frac, F.vec.frac, F.recip.frac, F.sigma.frac,
                              F.bound.frac)
    fw = fr + fk
    fg = 2 * fv
    width = F.mat.width
    for name in ("kvec", "w", "sigma", "recip", "bound"):
        if getattr(F, name).width != width:
            raise ValueError(f"{name}.width={getattr(F, name).width}: the k x k engine needs "
                             f"every scalar format {width} bits wide (mat.width)")
    K = range(k)
    seg = {s: [] for s in SEGMENTS}
    Tx, Td, Tn = _tri("Tx", k), _tri("Td", k), _tri("Tn", k)
    Gs, GT, U, cT = _tri("Gs", k), _tri("GT", k), _tri("U", k), _tri("cT", k)
    two_exact = 2 << (fs + fr)                      # 2.0 with the fraction bits of sigma * r
    t0 = 1 << (fm - ns_global_shift(k))             # 2**-g in the mat format
    cc_note = "cc"                                  # c^2 rescaled: a schedule table

    def sym(i, j):
        return Gs[min(i, j), max(i, j)]

    def project(ops, dst, inp_frac, a, T):
        """dst = T^T (p diag(2**a)), p the pass's projection input."""
        for q in K:
            ops.append(Move(f"ps.{q}", f"p.{q}", shift=inp_frac - fk, var=((-1, f"{a}.{q}"),)))
        for r in K:
            ops.append(Dot(f"{dst}.{r}", tuple((T[q, r], f"ps.{q}") for q in range(r + 1)),
                           shift=fm))

    def shifts_and_coefs(ops, vec, norm2, T):
        """Column shifts s from the bound, then w = ocr * vec 2**-s and cT = c T 2**-s."""
        for r in K:
            ops.append(Dot(f"wc.{r}", ((f"ocr.{r}", f"{vec}.{r}"),), shift=fw - fb))
            ops.append(Dot(f"mb.{r}", ((norm2, f"wc.{r}"),), shift=fk))
            # exponent(2 (cc + m wc)) = exponent(cc + m wc) + 1: read with 2fb - 1 fraction bits
            ops.append(Dot(f"e.{r}", ((f"mb.{r}", f"wc.{r}"),), kind=PostOp.LOD, shift=2 * fb - 1,
                           addend=cc_note))
            ops.append(Expo(f"s.{r}", f"e.{r}", ExpoFn.S))
        for r in K:
            ops.append(Dot(f"w.{r}", ((f"ocr.{r}", f"{vec}.{r}"),), shift=fw - F.w.frac,
                           var=((1, f"s.{r}"),)))
        for (q, r), name in cT.items():
            ops.append(Dot(name, (("c", T[q, r]),), shift=fm, var=((1, f"s.{r}"),)))

    def normalize(ops, a, T):
        """(a, T) = ns_tri(G) from the pass's Gram input, ending in the side's registers."""
        for r in K:
            ops.append(Move(f"e.{r}", f"G.{r}.{r}", kind=PostOp.LOD, shift=fg))
            ops.append(Expo(f"{a}.{r}", f"e.{r}", ExpoFn.A))
        for (i, j), name in Gs.items():
            ops.append(Move(name, f"G.{i}.{j}", shift=fg - fm,
                            var=((-1, f"{a}.{i}"), (-1, f"{a}.{j}"))))
        src = None                                  # None: the constant 2**-g I
        for step in range(ns_steps):
            dst = T if (ns_steps - 1 - step) % 2 == 0 else Tn

            def Ts(i, j):
                if src is None:
                    return f"#{t0}" if i == j else None
                return src[i, j] if i <= j else None

            for (i, j), name in GT.items():          # G T, upper triangle
                terms = tuple((sym(i, t), Ts(t, j)) for t in range(j + 1) if Ts(t, j))
                ops.append(Dot(name, terms, shift=fm))
            for (i, j), name in U.items():           # triu(E, 1) + diag(E) / 2
                terms = tuple((Ts(t, i), GT[t, j]) for t in range(i + 1) if Ts(t, i))
                if i == j:
                    ops.append(Dot(name, terms, shift=fm + 1, addend=-(1 << (2 * fm))))
                else:
                    ops.append(Dot(name, terms, shift=fm))
            for (i, j), name in dst.items():         # T - T U
                terms = tuple((Ts(i, t), U[t, j]) for t in range(i, j + 1) if Ts(i, t))
                tij = Ts(i, j)
                if tij is None:
                    addend = None
                elif tij.startswith("#"):
                    addend = int(tij[1:]) << fm
                else:
                    addend = (tij, fm)
                ops.append(Dot(name, terms, shift=fm, addend=addend, sub=True))
            src = dst

    # -- norm_x: ||x||^2
    seg["norm_x"].append(Move("nx2", "n2", shift=2 * F.x.frac - fk))

    # -- pre_x: reciprocal, y, shifts, w, cT for the X pass
    ops = seg["pre_x"]
    for r in K:
        ops.append(Move(f"e.{r}", f"sig.{r}", kind=PostOp.LOD, shift=fs))
        ops.append(Seed(f"seed.{r}", f"sig.{r}", f"e.{r}"))
        ops.append(Dot(f"ok.{r}", ((f"sig.{r}", f"r.{r}"),), kind=PostOp.RANGE,
                           bound=two_exact))
        ops.append(Select(f"r.{r}", f"ok.{r}", f"r.{r}", f"seed.{r}"))
        for _ in range(recip_steps):
            ops.append(Dot(f"pr.{r}", ((f"sig.{r}", f"r.{r}"),), shift=fs + fr - fm))
            # r (2 - p) = (r << (fm + 1)) - r p
            ops.append(Dot(f"r.{r}", ((f"r.{r}", f"pr.{r}"),), shift=fm,
                           addend=(f"r.{r}", fm + 1), sub=True))
        ops.append(Dot(f"ocr.{r}", (("oc", f"r.{r}"),), shift=fm))
    project(ops, "y", F.d.frac + fv, "ad", Td)
    ops.append(Move("nd2", "n2", shift=2 * F.d.frac - fk))
    shifts_and_coefs(ops, "y", "nx2", Tx)

    # -- post_x: normalize X, z, shifts, w, cT for the Delta pass
    ops = seg["post_x"]
    normalize(ops, "ax", Tx)
    project(ops, "z", F.x.frac + fv, "ax", Tx)
    shifts_and_coefs(ops, "z", "nd2", Td)

    # -- post_d: normalize Delta, v, sigma
    ops = seg["post_d"]
    normalize(ops, "ad", Td)
    project(ops, "v", F.d.frac + fv, "ad", Td)
    for r in K:
        ops.append(Dot(f"vz.{r}", ((f"v.{r}", f"z.{r}"),), shift=2 * fk - fs))
        ops.append(Dot(f"sig.{r}", (("c", f"sig.{r}"), ("oc", f"vz.{r}")), shift=fm))

    npairs = [f"G.{i}.{j}" for i in K for j in range(i, k)]
    inputs = {"norm_x": ["n2"], "pre_x": [f"p.{r}" for r in K] + ["n2"],
              "post_x": npairs + [f"p.{r}" for r in K], "post_d": npairs + [f"p.{r}" for r in K]}
    words, exps, flags = [], [], []
    for s in SEGMENTS:
        for op in seg[s]:
            if isinstance(op, Expo) or getattr(op, "kind", None) == PostOp.LOD:
                bucket = exps
            elif getattr(op, "kind", None) == PostOp.RANGE:
                bucket = flags
            else:
                bucket = words
            if op.dst not in bucket:
                bucket.append(op.dst)
    for name in [f"ax.{r}" for r in K] + [f"ad.{r}" for r in K]:
        if name not in exps:
            exps.append(name)
    state = (list(Tx.values()) + list(Td.values()) + [f"ax.{r}" for r in K]
             + [f"ad.{r}" for r in K] + [f"sig.{r}" for r in K] + [f"r.{r}" for r in K])
    for name in state:
        if name not in words and name not in exps:
            words.append(name)
    params = {"cT": [[cT.get((q, r)) for r in K] for q in K], "w": [f"w.{r}" for r in K]}
    return Program(k=k, segments=seg, inputs=inputs, words=words, exps=exps, flags=flags,
                   state=state, params=params, word_width=width,
                   consts={"cc_shift": 2 * fm - 2 * fb})


def _value(regs, inputs, name):
    if name.startswith("#"):
        return int(name[1:])
    if name in inputs:
        return inputs[name]
    return regs[name]


def run_segment(prog: Program, segment: str, regs: dict, inputs: dict, F: UnitFormats) -> bool:
    """Interpret ``segment`` in program order on ``regs`` (updated in place); ``inputs`` holds
    the segment's inputs and the tables ``c``, ``oc``, ``cc``. Returns True when some value was
    clamped (the sticky flag)."""
    word = prog.word_format
    flag = False
    for op in prog.segments[segment]:
        if isinstance(op, Dot):
            acc = 0
            if isinstance(op.addend, tuple):
                acc = _value(regs, inputs, op.addend[0]) << op.addend[1]
            elif isinstance(op.addend, str):
                acc = inputs[op.addend]
            elif op.addend is not None:
                acc = op.addend
            total = sum(_value(regs, inputs, a) * _value(regs, inputs, b) for a, b in op.terms)
            acc = acc - total if op.sub else acc + total
            src_value = acc
        elif isinstance(op, Move):
            src_value = _value(regs, inputs, op.src)
        if isinstance(op, (Dot, Move)):
            kind = op.kind
            if kind == PostOp.ROUND:
                shift = op.shift + sum(sign * regs[e] for sign, e in op.var)
                value, clamped = round_shift_saturate(src_value, shift, word)
                regs[op.dst] = int(value)
                flag |= clamped
            elif kind == PostOp.LOD:
                regs[op.dst] = exponent(src_value, op.shift)
            else:
                regs[op.dst] = int(0 < src_value < op.bound)
        elif isinstance(op, Expo):
            regs[op.dst] = expo_fn(op.fn, regs[op.src])
        elif isinstance(op, Seed):
            regs[op.dst], clamped = seed_word(F.recip, regs[op.exp], regs[op.sig])
            flag |= clamped
        elif isinstance(op, Select):
            regs[op.dst] = regs[op.a] if regs[op.flag] else regs[op.b]
    return flag


class ProgramUnit:
    """The whole unit on the micro-program and the golden row-pass functions (integers).

    Same parameters and state as ``SBPCAUnitModel(mode="fixed")``; state lives in ``regs``
    (``Tx``, ``Td``, ``ax``, ``ad``, ``sig``, ``r``) and ``Xs``, ``Ds``.
    """

    def __init__(self, model):
        if model.mode != "fixed":
            raise ValueError(f"mode={model.mode!r}: the micro-program is integer (fixed)")
        self.model = model
        self.F = model.F
        self.k = model.k
        self.prog = build_program(self.F, self.k, ns_steps=model.ns_steps,
                                  recip_steps=model.recip_steps)
        fm, fb = self.F.mat.frac, self.F.bound.frac
        self.c_tab = np.asarray(model.c_tab, np.int64)
        self.oc_tab = np.asarray(model.oc_tab, np.int64)
        self.cc_tab = (self.c_tab * self.c_tab) >> (2 * fm - 2 * fb)
        self.regs = {}
        self.rows_saturated = False                # a row pass clamped a stored word (sticky)
        self.kxk_saturated = False                 # a k x k value was clamped (sticky)

    def load_from(self, model):
        """Copy the state of a fixed-point model (after its ``load``)."""
        k = self.k
        self.Xs, self.Ds = model.Xs.copy(), model.Ds.copy()
        for side, (a, T) in (("x", model.x_side), ("d", model.d_side)):
            for r in range(k):
                self.regs[f"a{side}.{r}"] = int(a[r])
            for i in range(k):
                for j in range(i, k):
                    self.regs[f"T{side}.{i}.{j}"] = int(T[i, j])
        for r in range(k):
            self.regs[f"sig.{r}"] = int(model.sigma[r])
            self.regs[f"r.{r}"] = int(model.r[r])

    def _coefs(self):
        k = self.k
        cT = np.zeros((k, k), np.int64)
        for q in range(k):
            for r in range(q, k):
                cT[q, r] = self.regs[self.prog.params["cT"][q][r]]
        w = np.array([self.regs[n] for n in self.prog.params["w"]], np.int64)
        return cT, w

    def _a(self, side):
        return np.array([self.regs[f"a{side}.{r}"] for r in range(self.k)], np.int64)

    @property
    def overflow(self) -> bool:
        """The unit's sticky ``overflow``: ``rows_saturated or kxk_saturated``."""
        return self.rows_saturated or self.kxk_saturated

    @property
    def overflow_sources(self) -> tuple:
        """``"rows"``, ``"kxk"``: which sources raised :attr:`overflow` (as the model's)."""
        return tuple(name for name, flag in (("rows", self.rows_saturated),
                                             ("kxk", self.kxk_saturated)) if flag)

    def _run(self, segment, inputs):
        self.kxk_saturated |= run_segment(self.prog, segment, self.regs, inputs, self.F)

    def sample(self, x, d, i: int):
        F, k = self.F, self.k
        x, d = np.asarray(x, np.int64), np.asarray(d, np.int64)
        tables = {"c": int(self.c_tab[i - 1]), "oc": int(self.oc_tab[i - 1]),
                  "cc": int(self.cc_tab[i - 1])}

        def sums(G=None, p=None, n2=None):
            out = dict(tables)
            if G is not None:
                idx = 0
                for a in range(k):
                    for b in range(a, k):
                        out[f"G.{a}.{b}"] = int(G[a, b])
                        idx += 1
            if p is not None:
                out.update({f"p.{r}": int(p[r]) for r in range(k)})
            if n2 is not None:
                out["n2"] = int(n2)
            return out

        _, n2 = row_project(self.Xs, x, with_rows=False)
        self._run("norm_x", sums(n2=n2))
        u, n2 = row_project(self.Ds, d)
        self._run("pre_x", sums(p=u, n2=n2))
        for side in ("x", "d"):
            S = self.Xs if side == "x" else self.Ds
            inp = x if side == "x" else d
            cT, w = self._coefs()
            new, G, p, sat = row_pass(S, self._a(side), cT, inp, w, gw=F.gw, shift=F.mat.frac,
                                      out=F.vec)
            self.rows_saturated |= sat
            if side == "x":
                self.Xs = new
            else:
                self.Ds = new
            self._run("post_x" if side == "x" else "post_d", sums(G=G, p=p))

    def state(self) -> dict:
        """Integer state comparable with the model: Xs, Ds, ax, Tx, ad, Td, sigma, r."""
        k = self.k
        out = {"Xs": self.Xs, "Ds": self.Ds}
        for side in ("x", "d"):
            out[f"a{side}"] = self._a(side)
            T = np.zeros((k, k), np.int64)
            for i in range(k):
                for j in range(i, k):
                    T[i, j] = self.regs[f"T{side}.{i}.{j}"]
            out[f"T{side}"] = T
        out["sigma"] = np.array([self.regs[f"sig.{r}"] for r in range(k)], np.int64)
        out["r"] = np.array([self.regs[f"r.{r}"] for r in range(k)], np.int64)
        return out
