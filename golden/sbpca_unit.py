"""Golden model of the streaming-PCA unit: the algorithm the hardware runs, float and fixed point.

The unit runs SBPCA (Algorithm 1 of Huang et al. 2020) with block size 1 and the sequential
order (X step, then Delta step with the new X; one pass, no block buffer), the division-free
triangular Newton-Schulz normalization and Newton-Raphson reciprocals. Its departure from a
textbook implementation is *where* the normalization happens: not on the ``n x k`` matrices but
on their ``k x k`` Gram matrices, and the resulting transform is applied lazily, at the next pass
over the rows. In exact arithmetic this is the float rule
``sbpca(order="sequential", block=1, norm="ns_tri", recip="newton")`` (tested to 1e-10).

State: ``Xs`` (``n_in x k``) and ``Ds`` (``n_out x k``) as stored; for each a transform
``T = diag(2**a) That`` (``a``: one exponent per stored column, ``That``: ``k x k`` upper
triangular) with ``X = Xs T`` and ``Delta = Ds T_d`` orthonormal; ``sigma``; ``r ~ 1/sigma``.
Per sample ``(x, delta)``, ``i`` = 1, 2, ... within the batch, ``c = i/(i+1)``, ``oc = 1 - c``::

    r  <- newton(sigma, r)                        recip_steps of r (2 - sigma r), warm start
    u   = Ds^T delta ;  y = Td^T u                 D read pass        y = Delta^T delta
    w   = oc r (.) y ;  s = column_shifts(c, ||x||^2, w)
    X pass, each row i:  new = (Xs[i] (c Tx) + x_i w) 2**-s   Xs[i] <- new
                         Gx += new^T new ;  px += x_i new
    Tx  = ns_tri(Gx) ;  z = Tx^T px               k x k              z = X^T x (new X)
    wd  = oc r (.) z ;  s = column_shifts(c, ||delta||^2, wd)
    D pass, each row i:  new = (Ds[i] (c Td) + delta_i wd) 2**-s   Ds[i] <- new
                         Gd += new^T new ;  pd += delta_i new
    Td  = ns_tri(Gd) ;  v = Td^T pd               k x k              v = Delta^T delta (new)
    sigma <- c sigma + oc (v (.) z)

``column_shifts``: per new column a power of two, from a leading-one detect on a bound of its
norm, that keeps it below ``1/sqrt(2)``: one sample's outer product can be far larger than the
mean gradient it is averaged into, and the stored words must not saturate. ``ns_tri(G)``:
``a_r = -(floor(log2 G_rr) // 2 + 1)`` (a leading-one detect) puts the column norms in
``[1/2, 1)``, then ``That = 2**-g I`` (``g`` from :func:`golden.linalg.ns_global_shift`) and
``ns_steps`` times ``E = That^T Gs That - I``, ``That <- That - That (triu(E, 1) + diag(E)/2)``
on ``Gs = diag(2**a) G diag(2**a)``. Positive column scalings do not change the orthonormalized
result (QR is invariant to them), so none of these powers of two changes the float results.

Fixed point (``mode="fixed"``): every quantity has a :class:`golden.fixed.FixedFormat`
(:class:`UnitFormats`); products and sums are exact integers; each rounding point (``A.q``,
:func:`golden.fixed.round_shift_saturate`) shifts with round-half-up and saturates to the named
format, raising the sticky ``overflow`` flag when a value did not fit. Powers of two only move
rounding points or shift words on their way into a multiplier. Schedule constants ``c_i`` and
``1 - c_i`` are generation-time tables.
The float mode (``mode="float"``) runs the same code on real numbers, so quantization error and
algorithm error can be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat, check_round_saturate, round_shift_saturate
from .linalg import ns_global_shift, qr_signfix
from .rules.base import Cost, LowRankUpdate, UpdateRule
from .rules.sbpca import SCHEDULES as RULE_SCHEDULES
from .check import check_choice, check_float, check_instance, check_int

__all__ = ["UnitFormats", "MIN_SCALAR_WIDTH", "SBPCAUnitModel", "SBPCAUnitRule", "SCHEDULES",
           "DEFAULT_NS_STEPS", "NS_STEPS_RANGE", "RECIP_STEPS_RANGE", "row_pass", "row_project"]

#: Averaging schedules of the unit: those of the SBPCA rule (:mod:`golden.rules.sbpca`) but its
#: ``"sbpcav"`` doubling blocks (the unit runs blocks of one sample). The one list the hardware
#: (``hdl.sbpca_unit``) and the command line (``hdl.designs``) use.
SCHEDULES = tuple(s for s in RULE_SCHEDULES if s != "sbpcav")

#: Newton-Schulz steps per normalization by default: ``sbpca experiment ns-steps`` measured the
#: same MNIST accuracy for 3 to 16 steps (float unit, 3 seeds) and, in 16 bits, transform entries
#: that saturate the +-8 format at 8 steps but not at 6 or fewer; 6 keeps a margin of steps and
#: costs 2 x 140 fewer k x k multiplies per sample (k = 4) than 8.
DEFAULT_NS_STEPS = 6

#: Allowed Newton-Schulz steps per normalization and Newton-Raphson steps per sample
#: (``(minimum, maximum)``, the model's and the hardware's).
NS_STEPS_RANGE = (1, 32)
RECIP_STEPS_RANGE = (1, 8)


#: Narrowest k x k word (:meth:`UnitFormats.for_width`: the reciprocal keeps ``scalar_width - 11``
#: fraction bits).
MIN_SCALAR_WIDTH = 11


@dataclass(frozen=True)
class UnitFormats:
    """Fixed-point formats of the unit's quantities (all round half up and saturate).

    x, d : input activations and errors (the host scales them into range).
    vec : stored ``Xs``, ``Ds`` words.
    mat : ``k x k`` transforms, normalized Gram matrices, schedule constants.
    kvec : ``k``-vectors: projections ``u``, ``y``, ``px``, ``z``, ``pd``, ``v``.
    w : the rank-1 update coefficients. Inputs enter the lanes shifted left by
        ``gw = w.width - x.width`` bits, so ``(x_i << gw) w`` lines up with ``Xs[i] T`` when
        ``w.frac = vec.frac + mat.frac - x.frac - gw`` (and ``delta_i wd`` too).
    sigma, recip : singular values and their reciprocals.
    bound : coarse, wide-range format of ``w`` and ``||inp||^2 w`` for the column-shift bound
        (only leading ones matter).
    """

    x: FixedFormat
    d: FixedFormat
    vec: FixedFormat
    mat: FixedFormat
    kvec: FixedFormat
    w: FixedFormat
    sigma: FixedFormat
    recip: FixedFormat
    bound: FixedFormat

    @classmethod
    def for_width(cls, width: int = 16, scalar_width: int = 18) -> "UnitFormats":
        """Default formats: ``width``-bit inputs and vectors, ``scalar_width``-bit scalars."""
        width = check_int("width", width, minimum=4, maximum=30)
        # the reciprocal format keeps scalar_width - 11 fraction bits: 11 is the narrowest
        sw = check_int("scalar_width", scalar_width, minimum=MIN_SCALAR_WIDTH, maximum=30)

        def f(w, frac):
            return FixedFormat(w, frac, rounding="half_up", overflow="saturate")

        if sw < width:
            raise ValueError(f"scalar_width={sw}: must be at least width={width}")
        mat_frac = sw - 4                          # range +-8
        x = f(width, width - 1)                    # [-1, 1)
        vec = f(width, width - 1)                  # [-1, 1): columns are shifted to norm <= 1
        gw = sw - width                            # x enters the lanes shifted left by gw
        return cls(x=x, d=f(width, width - 1), vec=vec, mat=f(sw, mat_frac),
                   kvec=f(sw, sw - 7),             # +-64: ||x|| up to sqrt(n) for n <= 4096
                   w=f(sw, vec.frac + mat_frac - x.frac - gw),
                   sigma=f(sw, sw - 7), recip=f(sw, sw - 11),
                   bound=f(sw, sw // 2))

    @property
    def gw(self) -> int:
        """Left shift of ``x``/``delta`` words on their way into the lanes (``w``'s headroom)."""
        return self.w.width - self.x.width

    def check(self):
        """Raise ``TypeError``/``ValueError`` unless every field is a ``half_up``, ``saturate``
        :class:`FixedFormat` and the formats line up (``d`` as ``x``; ``w.frac``)."""
        for name in self.__dataclass_fields__:
            check_instance(name, getattr(self, name), FixedFormat)
        if self.x.frac != self.d.frac or self.x.width != self.d.width:
            raise ValueError(f"d={self.d}: must have the format of x={self.x}")
        want = self.vec.frac + self.mat.frac - self.x.frac - self.gw
        if self.w.frac != want:
            raise ValueError(f"w.frac={self.w.frac}: must be vec.frac + mat.frac - x.frac - gw "
                             f"= {want}")
        for name in self.__dataclass_fields__:
            check_round_saturate(getattr(self, name), name)

    def as_dict(self) -> dict:
        return {name: getattr(self, name).as_dict() for name in self.__dataclass_fields__}


class _Arith:
    """Float or fixed-point arithmetic with the unit's rounding points.

    In fixed mode values are int64 raw words and ``frac`` arguments say how many fraction bits an
    exact intermediate carries; in float mode values are float64 and ``frac`` is ignored.
    """

    def __init__(self, fixed: bool):
        self.fixed = fixed
        self.overflow = False                      # some rounding point here saturated (sticky)

    def q(self, value, frac, fmt: FixedFormat):
        """Round an exact intermediate with ``frac`` fraction bits into ``fmt`` (saturating).

        ``frac`` may be an array broadcast against ``value`` (a rounding point per column).
        Fixed point: :func:`golden.fixed.round_shift_saturate` by ``frac - fmt.frac`` bits; a
        clamp raises the sticky flag.
        """
        if not self.fixed:
            return np.asarray(value, dtype=np.float64)
        value, saturated = round_shift_saturate(value, np.asarray(frac, np.int64) - fmt.frac, fmt)
        self.overflow |= saturated
        return value

    def q_scaled(self, value, frac, exponent, fmt: FixedFormat):
        """Round ``value * 2**exponent`` into ``fmt`` (fixed point: the rounding point moves)."""
        if not self.fixed:
            return np.asarray(value, np.float64) * np.ldexp(1.0, np.asarray(exponent, np.int64))
        return self.q(value, np.asarray(frac) - exponent, fmt)

    def scale(self, value, exponent):
        """Multiply an exact intermediate by ``2**exponent`` (``exponent >= 0``, per column)."""
        exponent = np.asarray(exponent, np.int64)
        if not self.fixed:
            return np.asarray(value, np.float64) * np.ldexp(1.0, exponent)
        return np.asarray(value, np.int64) << exponent

    def const(self, real, fmt: FixedFormat):
        """A generation-time constant in ``fmt``."""
        if not self.fixed:
            return np.asarray(real, dtype=np.float64)
        return fmt.quantize(real)[0]

    def align(self, value, frac: int, to_frac: int):
        """Exact left shift of an intermediate from ``frac`` to ``to_frac >= frac`` bits."""
        return value if not self.fixed else np.asarray(value, np.int64) << (to_frac - frac)

    def rescale(self, value, frac: int, to_frac: int):
        """Shift an intermediate to ``to_frac`` fraction bits (left exact, right floor)."""
        if not self.fixed:
            return value
        value = np.asarray(value, np.int64)
        return value << (to_frac - frac) if to_frac >= frac else value >> (frac - to_frac)

    def exponent(self, value, frac: int):
        """``floor(log2|v|)`` of the real value (a leading-one detect); 0 where ``v == 0``."""
        v = np.abs(np.asarray(value))
        if self.fixed:
            v = v.astype(np.int64)
            e = np.frexp(v.astype(np.float64))[1].astype(np.int64)   # bit length, maybe +1
            e = np.where((e > 0) & (v < np.left_shift(1, np.maximum(e - 1, 0))), e - 1, e)
            return np.where(v == 0, 0, e - 1 - frac)
        out = np.zeros(v.shape, np.int64)
        nz = v > 0
        out[nz] = np.frexp(v[nz])[1] - 1
        return out

    def pow2(self, exponent, fmt: FixedFormat):
        """``2**exponent`` in ``fmt`` (saturating at the format's range, flag raised)."""
        exponent = np.asarray(exponent, np.int64)
        if not self.fixed:
            return np.ldexp(1.0, exponent)
        shift = fmt.frac + exponent
        over = shift >= fmt.width - 1
        self.overflow |= bool(np.any(over) or np.any(shift < 0))
        raw = np.where(over, fmt.max_raw, np.left_shift(1, np.clip(shift, 0, fmt.width - 2)))
        return np.where(shift < 0, 0, raw).astype(np.int64)

    def to_float(self, value, fmt: FixedFormat):
        return fmt.to_float(value) if self.fixed else np.asarray(value, np.float64)


def row_pass(S, a, cT, inp, w, *, gw: int, shift: int, out: FixedFormat):
    """The row-pass engine's contract (``hdl/row_pass.py``), on raw integers.

    For each stored row ``S[i]`` (``k`` words) and input word ``inp[i]``::

        acc[i, r] = sum_{q <= r} (S[i, q] << a[q]) cT[q, r] + (inp[i] << gw) w[r]
        new[i, r] = round_shift_saturate(acc[i, r], shift, out)      (half up, saturating)

    and the exact sums ``G = new^T new`` (``k x k``) and ``p = inp^T new`` (``k``). ``cT`` is
    upper triangular (only ``q <= r`` is read). Returns ``(new, G, p, saturated)``; ``G`` and
    ``p`` need no rounding because integer sums do not depend on their order; ``saturated`` is
    True when some ``new`` word was clamped.
    """
    S = np.asarray(S, np.int64)
    inp = np.asarray(inp, np.int64)
    acc = (S << np.asarray(a, np.int64)) @ np.triu(np.asarray(cT, np.int64)) \
        + np.outer(inp << gw, np.asarray(w, np.int64))
    new, saturated = round_shift_saturate(acc, shift, out)
    return new, new.T @ new, inp @ new, saturated


def row_project(S, inp, *, with_rows: bool = True):
    """The row-pass engine's read-only programs (``PROJECT`` and ``NORM``), on raw integers.

    Returns ``(p, norm2)``: the exact projection ``p = S^T inp`` (``k`` sums; zeros when
    ``with_rows`` is False, the ``NORM`` program) and ``norm2 = inp^T inp``. The stored rows are
    not changed.
    """
    S = np.asarray(S, np.int64)
    inp = np.asarray(inp, np.int64)
    p = inp @ S if with_rows else np.zeros(S.shape[1], np.int64)
    return p, int(inp @ inp)


class SBPCAUnitModel:
    """The streaming-PCA unit's algorithm on integer (``"fixed"``) or real (``"float"``) numbers.

    Parameters
    ----------
    n_in, n_out : int
        Layer sizes (``X`` is ``n_in x k``, ``Delta`` is ``n_out x k``).
    k : int
        Rank, ``1 <= k <= min(n_in, n_out, 16)``.
    mode : str
        ``"fixed"`` or ``"float"``.
    formats : UnitFormats, optional
        Fixed-point formats (default :meth:`UnitFormats.for_width`); ignored by ``"float"``.
    schedule : str
        ``"harmonic"``: ``c_i = i/(i+1)`` (SBPCA); ``"shift"``: ``c = 1 - 2**-shift_s``.
    shift_s : int
        ``s`` of the ``"shift"`` schedule (default 3).
    ns_steps, recip_steps : int
        Newton-Schulz steps per normalization, Newton-Raphson steps per sample.
    b_max : int
        Largest batch (size of the schedule tables).
    """

    def __init__(self, n_in, n_out, *, k, mode="fixed", formats=None, schedule="harmonic",
                 shift_s=3, ns_steps=DEFAULT_NS_STEPS, recip_steps=2, b_max=1024):
        self.n_in = check_int("n_in", n_in, minimum=1)
        self.n_out = check_int("n_out", n_out, minimum=1)
        self.k = check_int("k", k, minimum=1, maximum=min(self.n_in, self.n_out, 16))
        self.mode = check_choice("mode", mode, ("fixed", "float"))
        self.schedule = check_choice("schedule", schedule, SCHEDULES)
        self.shift_s = check_int("shift_s", shift_s, minimum=1, maximum=16)
        self.ns_steps = check_int("ns_steps", ns_steps, *NS_STEPS_RANGE)
        self.recip_steps = check_int("recip_steps", recip_steps, *RECIP_STEPS_RANGE)
        self.b_max = check_int("b_max", b_max, minimum=1, maximum=1 << 20)
        self.F = (UnitFormats.for_width() if formats is None
                  else check_instance("formats", formats, UnitFormats))
        self.F.check()
        self.gw = self.F.gw
        self.A = _Arith(self.mode == "fixed")
        A, F = self.A, self.F
        i = np.arange(1, self.b_max + 1, dtype=np.float64)
        c = i / (i + 1) if self.schedule == "harmonic" else np.full(self.b_max, 1 - 2.0 ** -shift_s)
        self.c_tab = A.const(c, F.mat)             # schedule ROMs
        self.oc_tab = A.const(1 - c, F.mat)
        if self.mode == "fixed" and np.any(self.oc_tab <= 0):
            # 1 - c_i below the word's resolution: the batch's later samples would be dropped
            if self.schedule == "harmonic":
                limit = int(np.argmax(self.oc_tab <= 0))
                raise ValueError(f"b_max={self.b_max}: 1 - c_B rounds to 0 in the "
                                 f"{F.mat.width}-bit schedule words beyond B = {limit}")
            raise ValueError(f"shift_s={shift_s}: 2**-shift_s rounds to 0 in the "
                             f"{F.mat.width}-bit schedule words (at most {F.mat.frac})")
        self.eye = A.const(np.eye(self.k), F.mat)
        self.Xs = self.Ds = self.x_side = self.d_side = self.sigma = self.r = None
        # sticky saturation flags by source (see `overflow_sources`); `A.overflow` holds the
        # k x k engine's (every rounding point of this model but the stored rows and readout)
        self._rows_saturated = False
        self._readout_saturated = False

    # -- state ---------------------------------------------------------------------------------

    def load(self, X, Delta, sigma):
        """Load real-valued state (``X`` ``n_in x k``, ``Delta`` ``n_out x k``, ``sigma``)."""
        A, F = self.A, self.F
        X = np.asarray(X, np.float64).reshape(self.n_in, self.k)
        Delta = np.asarray(Delta, np.float64).reshape(self.n_out, self.k)
        self.Xs = A.const(X, F.vec)
        self.Ds = A.const(Delta, F.vec)
        zero = np.zeros(self.k, np.int64)
        self.x_side = (zero, self.eye.copy())
        self.d_side = (zero.copy(), self.eye.copy())
        self.sigma = A.const(np.broadcast_to(np.asarray(sigma, np.float64), (self.k,)), F.sigma)
        self.r = A.const(np.zeros(self.k), F.recip)

    def _apply(self, S, T, a):
        """``S diag(2**a) T``, exact: the stored words are shifted left by ``a >= 0`` on their
        way into the lanes (a stored column of norm below ``2**-a`` has words below
        ``2**-a``, so the shifted word still fits the word width)."""
        return self.A.scale(S, a) @ T

    def readout_words(self):
        """The normalized factors as raw words, without touching the sticky flags: ``(sigma,
        X, Delta, saturated)`` with ``X = q(Xs diag(2**ax) Tx)`` and ``Delta`` likewise, each
        rounded half up from ``vec.frac + mat.frac`` fraction bits into ``vec`` and saturated
        (``saturated``: some word was clamped). Fixed mode only (the crossbar driver's input,
        :func:`golden.driver.unit_factors`)."""
        if self.mode != "fixed":
            raise ValueError(f"mode={self.mode!r}: raw readout words exist in fixed mode only")
        if self.Xs is None:
            raise ValueError("unit: has no state (load one first)")
        F, A = self.F, _Arith(True)
        (ax, Tx), (ad, Td) = self.x_side, self.d_side
        X = A.q(self._apply(self.Xs, Tx, ax), F.vec.frac + F.mat.frac, F.vec)
        D = A.q(self._apply(self.Ds, Td, ad), F.vec.frac + F.mat.frac, F.vec)
        return (np.array(self.sigma, np.int64), np.array(X, np.int64), np.array(D, np.int64),
                bool(A.overflow))

    def readout(self):
        """Return real ``(sigma, X, Delta)``: the normalized factors ``Xs Tx`` and ``Ds Td``."""
        A, F = self.A, self.F
        (ax, Tx), (ad, Td) = self.x_side, self.d_side
        kxk = A.overflow
        X = A.q(self._apply(self.Xs, Tx, ax), F.vec.frac + F.mat.frac, F.vec)
        D = A.q(self._apply(self.Ds, Td, ad), F.vec.frac + F.mat.frac, F.vec)
        self._readout_saturated |= A.overflow and not kxk
        A.overflow = kxk
        return (A.to_float(self.sigma, F.sigma), A.to_float(X, F.vec), A.to_float(D, F.vec))

    @property
    def overflow(self) -> bool:
        """Sticky flag: some value saturated since construction (fixed mode); the OR of
        :attr:`overflow_sources`. The unit's ``overflow`` output is this flag without
        ``"readout"`` (the hardware reads its stored rows out as they are)."""
        return self.rows_saturated or self.kxk_saturated or self._readout_saturated

    @property
    def rows_saturated(self) -> bool:
        """Sticky: a row pass clamped a stored word (:func:`row_pass`, the row-pass engine's
        ``saturated``)."""
        return self._rows_saturated

    @property
    def kxk_saturated(self) -> bool:
        """Sticky: a k x k value was clamped (a rounding point of the k x k engine's work:
        input norms, reciprocal and its seed, projections, column-shift bound, coefficients,
        normalization, sigma)."""
        return self.A.overflow

    @property
    def overflow_sources(self) -> tuple:
        """Which sources raised :attr:`overflow`, in the order ``"rows"``, ``"kxk"``,
        ``"readout"`` (:meth:`readout`'s rounding of ``Xs T`` into the vector format)."""
        return tuple(name for name, flag in (("rows", self.rows_saturated),
                                             ("kxk", self.kxk_saturated),
                                             ("readout", self._readout_saturated)) if flag)

    # -- kernels ---------------------------------------------------------------------------------

    def _recip(self):
        """``r <- r (2 - sigma r)``, warm-started; re-seeded by a leading-one detect when
        ``sigma r`` is outside ``(0, 2)`` (as after a load, which sets ``r = 0``)."""
        A, F = self.A, self.F
        s = self.sigma
        e = A.exponent(s, F.sigma.frac)
        seed = np.where(s == 0, 0, np.sign(s) * A.pow2(-(e + 1), F.recip))
        two = A.const(2.0, F.mat)
        # range check on the exact product (a comparison, no rounding); r = 0 after a load
        p = s * self.r
        two_exact = A.align(two, F.mat.frac, F.sigma.frac + F.recip.frac)
        r = np.where((p > 0) & (p < two_exact), self.r, seed)
        for _ in range(self.recip_steps):
            p = A.q(s * r, F.sigma.frac + F.recip.frac, F.mat)
            r = A.q(r * (two - p), F.recip.frac + F.mat.frac, F.recip)
        self.r = r
        return r

    def _normalize(self, G):
        """Transform ``(a, That)`` with ``S diag(2**a) That`` orthonormal, ``G = S^T S`` exact.

        ``a_r = max(0, -(floor(log2 G_rr) // 2 + 1))`` (a leading-one detect; the stored words
        are shifted left when read, see :meth:`_apply`) puts the column norms in ``[1/2, 1)``
        (the column shifts keep stored norms below 1, so the clamp never acts after the first
        pass; a state just loaded is not normalized);
        ``That`` starts at ``2**-g I`` and takes ``ns_steps`` triangular Newton-Schulz steps on
        the scaled Gram ``diag(2**a) G diag(2**a)``. Fixed point: ``G T`` and the off-diagonal
        of ``E = T^T G T - I`` are rounded once each, ``diag(E) / 2`` once (from the exact sum),
        and ``T - T U`` once.
        """
        A, F = self.A, self.F
        fm, fg = F.mat.frac, 2 * F.vec.frac
        a = np.maximum(-(A.exponent(np.diagonal(G), fg) // 2 + 1), 0)
        Gs = A.q_scaled(G, fg, a[:, None] + a[None, :], F.mat)
        T = np.diag(np.repeat(A.pow2(-ns_global_shift(self.k), F.mat), self.k))
        one = A.align(self.eye, fm, 2 * fm)
        for _ in range(self.ns_steps):
            # only upper triangles are formed (and rounded): T is upper triangular, so the upper
            # triangle of T^T (G T) needs only the upper triangle of G T
            GT = A.q(np.triu(Gs @ T), 2 * fm, F.mat)
            P = T.T @ GT                               # E = P - I, exact
            # U = triu(E, 1) + diag(E) / 2, each entry with one rounding point
            U = A.q(np.triu(P, 1), 2 * fm, F.mat) + A.q_scaled(np.diag(np.diagonal(P - one)),
                                                               2 * fm, -1, F.mat)
            T = A.q(A.align(T, fm, 2 * fm) - T @ U, 2 * fm, F.mat)
        return a, T

    def _column_shifts(self, c, norm2, w_exact, w_frac):
        """Right shifts ``s_r >= 0`` that keep each new column's norm below ``1/sqrt(2)``.

        ``||c X_r + inp w_r||^2 <= 2 (c^2 + ||inp||^2 w_r^2) = b_r`` (``X_r`` has unit norm);
        with ``L = floor(log2 b_r)`` from a leading-one detect on an exact lane result,
        ``s_r = (L + 1) // 2 + 1``: no square root, and never scaling up. ``w`` enters the bound
        through the coarse, wide-range ``bound`` format.
        """
        A, F = self.A, self.F
        fb = F.bound.frac
        wc = A.q(w_exact, w_frac, F.bound)
        m = A.q(norm2 * wc, F.kvec.frac + fb, F.bound)        # ||inp||^2 w_r
        b = 2 * (A.rescale(c * c, 2 * F.mat.frac, 2 * fb) + m * wc)
        e = A.exponent(b, 2 * fb)
        return np.maximum((e + 1) // 2 + 1, 0)

    def _pass(self, S, side, c, inp, inp_frac, w, shifts):
        """One pass over the rows: ``new = S diag(2**a) (c T 2**-shifts) + inp w^T``.

        ``w`` already carries the column shifts. Returns the stored ``new`` and the exact Gram
        ``new^T new`` and projection ``inp^T new`` (fraction bits ``2 vec.frac`` and
        ``inp_frac + vec.frac``). In fixed point this is :func:`row_pass`.
        """
        A, F = self.A, self.F
        fm = F.mat.frac
        a, T = side
        cT = A.q_scaled(c * T, 2 * fm, -shifts[None, :], F.mat)
        if A.fixed:
            new, G, p, saturated = row_pass(S, a, cT, inp, w, gw=self.gw, shift=fm, out=F.vec)
            self._rows_saturated |= saturated
            return new, G, p
        new = self._apply(S, cT, a) + np.outer(inp, w)
        return new, new.T @ new, inp @ new

    def _project(self, p, p_frac, side):
        """``T^T p`` for an exact projection ``p`` of the stored rows."""
        A, F = self.A, self.F
        a, T = side
        ps = A.q_scaled(p, p_frac, a, F.kvec)            # p diag(2**a), one rounding
        return A.q(T.T @ ps, F.mat.frac + F.kvec.frac, F.kvec)

    # -- one sample, one batch ----------------------------------------------------------------

    def sample(self, x, d, i: int):
        """Process sample ``i`` (1-based within its batch); ``x``, ``d`` raw or real inputs."""
        A, F = self.A, self.F
        fm, fk, fv = F.mat.frac, F.kvec.frac, F.vec.frac
        c, oc = self.c_tab[i - 1], self.oc_tab[i - 1]
        r = self._recip()
        ocr = A.q(oc * r, fm + F.recip.frac, F.recip)     # (1 - c) / sigma
        u, nd2_exact = row_project(self.Ds, d) if A.fixed else (d @ self.Ds, d @ d)
        y = self._project(u, F.d.frac + fv, self.d_side)
        fw = F.recip.frac + fk
        nx2_exact = row_project(self.Xs, x, with_rows=False)[1] if A.fixed else x @ x
        sx = self._column_shifts(c, A.q(nx2_exact, 2 * F.x.frac, F.kvec), ocr * y, fw)
        w = A.q_scaled(ocr * y, fw, -sx, F.w)
        self.Xs, Gx, px = self._pass(self.Xs, self.x_side, c, x, F.x.frac, w, sx)
        self.x_side = self._normalize(Gx)
        z = self._project(px, F.x.frac + fv, self.x_side)
        sd = self._column_shifts(c, A.q(nd2_exact, 2 * F.d.frac, F.kvec), ocr * z, fw)
        wd = A.q_scaled(ocr * z, fw, -sd, F.w)
        self.Ds, Gd, pd = self._pass(self.Ds, self.d_side, c, d, F.d.frac, wd, sd)
        self.d_side = self._normalize(Gd)
        v = self._project(pd, F.d.frac + fv, self.d_side)
        vz = A.q(v * z, 2 * fk, F.sigma)
        self.sigma = A.q(c * self.sigma + oc * vz, fm + F.sigma.frac, F.sigma)

    def batch(self, xs, ds):
        """Process a batch of raw (fixed) or real (float) inputs, ``(B, n_in)``, ``(B, n_out)``."""
        xs, ds = np.asarray(xs), np.asarray(ds)
        if xs.shape[0] > self.b_max:
            raise ValueError(f"B={xs.shape[0]}: larger than b_max={self.b_max}")
        for i in range(xs.shape[0]):
            self.sample(xs[i], ds[i], i + 1)

    # -- counts ----------------------------------------------------------------------------------

    def cost(self) -> Cost:
        """Multiply-accumulates per sample and words of state and buffer (cycle-free).

        Per row of a pass: ``c T`` applied to the row (``k(k+1)/2``, ``T`` upper triangular),
        ``inp_i w`` (``k``), Gram (``k(k+1)/2``), projection (``k``): ``k^2 + 3k``. Per sample:
        the D read pass (``k n_out``), the two row passes, and the ``k x k`` work (counted as
        dense products). State: ``Xs``, ``Ds``, ``Tx``, ``Td``, ``sigma``, ``r``; buffer: one
        sample ``(x, delta)`` held while the passes run. The schedule tables (``2 b_max``
        constants) are ROM, listed in ``notes``.
        """
        a, b, k = self.n_in, self.n_out, self.k
        row = k * k + 3 * k
        kxk_ns = 2 * k ** 3 + k ** 3 // 2          # G T, T^T (G T), T U per step (dense count)
        small = (2 * k * self.recip_steps + 3 * k * k + 6 * k
                 + 2 * (k * k + self.ns_steps * kxk_ns))
        per_sample = k * b + row * (a + b) + small
        state = k * (a + b) + 2 * k * k + 2 * k
        return Cost(macs_per_sample=per_sample, state_words=state, buffer_words=a + b,
                    notes={"rom_words": 2 * self.b_max, "row_macs": row,
                           "kxk_macs_per_sample": small})


class SBPCAUnitRule(UpdateRule):
    """The unit's model as an update rule: real inputs in, real factors out.

    In ``"fixed"`` mode the inputs of each batch are scaled by powers of two into the input
    format (``x_shift``, ``d_shift``: chosen once, at the first batch, from its largest magnitude
    with ``headroom`` bits spare) and rounded; ``sigma`` comes back in real units.
    """

    name = "sbpca_unit"

    def __init__(self, n_in, n_out, *, rng, k=4, mode="fixed", width=16, scalar_width=18,
                 schedule="harmonic", shift_s=3, ns_steps=DEFAULT_NS_STEPS, recip_steps=2,
                 sigma0=1.0, b_max=1024, headroom=1):
        super().__init__(n_in, n_out, rng=rng)
        fmts = UnitFormats.for_width(width, scalar_width)
        self.model = SBPCAUnitModel(n_in, n_out, k=k, mode=mode, formats=fmts,
                                    schedule=schedule, shift_s=shift_s, ns_steps=ns_steps,
                                    recip_steps=recip_steps, b_max=b_max)
        self.headroom = check_int("headroom", headroom, minimum=0, maximum=8)
        self.sigma0 = check_float("sigma0", sigma0, low=0.0, low_open=True)
        self.k = self.model.k
        X0 = qr_signfix(rng.normal(size=(self.n_in, self.k)))
        D0 = qr_signfix(rng.normal(size=(self.n_out, self.k)))
        self._init = (X0, D0)
        self.x_shift = self.d_shift = None

    def _scale(self, values):
        """Power-of-two exponent that brings ``values`` below ``2**-headroom`` (the input
        formats hold ``[-1, 1)``)."""
        m = float(np.max(np.abs(values))) if values.size else 0.0
        if m == 0.0:
            return 0
        return -int(np.floor(np.log2(m))) - 1 - self.headroom

    def begin(self, xs, deltas):
        """First half of :meth:`batch`: check the batch, fix the input scales at the first
        batch (and load the start state into the model), and return the batch as the unit
        takes it: raw input words in ``"fixed"`` mode, the real values in ``"float"`` mode.
        A co-simulation runs these words through the hardware and the model, then calls
        :meth:`end`."""
        xs, deltas = self._check_batch(xs, deltas)
        m = self.model
        if self.x_shift is None:
            fixed = m.mode == "fixed"
            self.x_shift = self._scale(xs) if fixed else 0
            self.d_shift = self._scale(deltas) if fixed else 0
            # sigma lives in the scaled units of x * delta
            m.load(*self._init, self.sigma0 * 2.0 ** (self.x_shift + self.d_shift))
        if m.mode == "fixed":
            return (m.F.x.quantize(xs * 2.0 ** self.x_shift)[0],
                    m.F.d.quantize(deltas * 2.0 ** self.d_shift)[0])
        return xs, deltas

    def end(self) -> LowRankUpdate:
        """Second half of :meth:`batch`: the model's factors in real units."""
        sigma, X, D = self.model.readout()
        sigma = sigma * 2.0 ** -(self.x_shift + self.d_shift)
        return LowRankUpdate(sigma=sigma, X=X, Delta=D, matrix_updates=self.k)

    def batch(self, xs, deltas):
        xs, deltas = self.begin(xs, deltas)
        self.model.batch(xs, deltas)
        return self.end()

    def cost(self) -> Cost:
        return self.model.cost()
