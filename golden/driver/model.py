"""Bit-exact integer model of the crossbar driver (the contract is the package docstring,
:mod:`golden.driver`): factor words, per-term gain, probability words, pulse trains, counters and
the cycle schedule.

The datapath is int64 NumPy (and Python ints for the per-term scalars); floats appear only in
:meth:`CrossbarDriverModel.__init__` (the generation-time step constant from ``dw_min``) and in
the helpers that convert words to real values for tests and reports (``*_real``,
``expected_*``, ``wanted_*``, ``count_error_mean``, ``balance``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..fixed import INT64_SAFE_BITS, FixedFormat
from ..check import check_choice, check_float, check_int
from ..sbpca_unit import SBPCAUnitModel, UnitFormats
from .lfsr import LANE_POLYS, MAX_DRAW_BITS, LaneGenerators, lane_seeds

__all__ = ["CrossbarDriverModel", "UnitFactors", "TermPlan", "TermDrive", "BatchDrive",
           "SlotSchedule", "unit_factors", "lod", "SCHEMES", "GAIN_CYCLES", "PLAN_LATENCY",
           "LR_SHIFT_RANGE"]

SCHEMES = ("stochastic", "deterministic")

#: Cycles of the per-term scalar GAIN sequence (package docstring, step 3: five steps, pipelined
#: into one short operation a cycle).
GAIN_CYCLES = 13

#: The PLAN pass's pipeline latency: a term's probability words take ``load_cycles +
#: PLAN_LATENCY`` cycles (package docstring, cycle model).
PLAN_LATENCY = 9

#: The learning rate's shift range: ``lr = lr_mult 2**-lr_shift``, ``lo <= lr_shift <= hi``.
LR_SHIFT_RANGE = (-16, 48)


@dataclass(frozen=True)
class SlotSchedule:
    """The cycle schedule of a term (package docstring, cycle model), shared by the model and
    the RTL (:class:`hdl.crossbar_driver.CrossbarDriver`): ``R = ceil(n_out / G)`` row groups,
    ``C = ceil(n_in / G)`` column groups; per term :data:`GAIN_CYCLES`, the PLAN pass
    (``R + C + PLAN_LATENCY`` cycles), then per slot ``R + C`` load cycles and ``fire_cycles``."""

    row_groups: int
    col_groups: int
    fire_cycles: int
    bl: int

    @classmethod
    def of(cls, n_in: int, n_out: int, group: int, bl: int, fire_cycles: int) -> "SlotSchedule":
        return cls(-(-n_out // group), -(-n_in // group), fire_cycles, bl)

    @property
    def load_cycles(self) -> int:
        """Latch load cycles per slot: ``ceil(n_rows/G) + ceil(n_cols/G)``."""
        return self.row_groups + self.col_groups

    @property
    def slot_cycles(self) -> int:
        return self.load_cycles + self.fire_cycles

    @property
    def gain_cycles(self) -> int:
        return GAIN_CYCLES

    @property
    def plan_cycles(self) -> int:
        """The PLAN pass: ``load_cycles + PLAN_LATENCY``."""
        return self.load_cycles + PLAN_LATENCY

    @property
    def cycles_per_term(self) -> int:
        """``GAIN_CYCLES + plan_cycles + BL * (load_cycles + fire_cycles)``."""
        return self.gain_cycles + self.plan_cycles + self.bl * self.slot_cycles


def lod(v: int) -> int:
    """Leading-one detect: ``floor(log2 v)`` of a positive integer (``-1`` for 0)."""
    return int(v).bit_length() - 1


# -- 1. factor words -------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitFactors:
    """The unit's read-out factors as integer words.

    ``sigma`` (``k``, the ``sigma`` format), ``X`` (``n_in x k``) and ``D`` (``n_out x k``) in the
    ``vec`` format: exactly :meth:`SBPCAUnitModel.readout`'s values, as raw words.
    ``saturated``: the readout rounding clamped some word.
    """

    sigma: np.ndarray
    X: np.ndarray
    D: np.ndarray
    formats: UnitFormats
    saturated: bool = False

    @property
    def k(self) -> int:
        return int(self.sigma.size)

    def real(self):
        """``(sigma, X, D)`` as real numbers (what ``readout()`` returns)."""
        F = self.formats
        return F.sigma.to_float(self.sigma), F.vec.to_float(self.X), F.vec.to_float(self.D)


def unit_factors(unit: SBPCAUnitModel) -> UnitFactors:
    """Integer readout of a fixed-point unit: ``X = q(Xs diag(2**ax) Tx)``, ``D`` likewise
    (:meth:`SBPCAUnitModel.readout_words`: the unit's own rounding point, its sticky flags left
    alone)."""
    if not isinstance(unit, SBPCAUnitModel):
        raise TypeError(f"unit={unit!r}: must be an SBPCAUnitModel")
    if unit.mode != "fixed":
        raise ValueError(f"unit.mode={unit.mode!r}: the driver takes a fixed-point unit")
    if unit.Xs is None:
        raise ValueError("unit: has no state (load one first)")
    sigma, X, D, saturated = unit.readout_words()
    return UnitFactors(sigma=sigma, X=X, D=D, formats=unit.F, saturated=saturated)


# -- 2. per-term plan ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TermPlan:
    """The GAIN sequence's result and the probability words of one term.

    Scalars (package docstring, step 3): ``sigma`` word, ``K = C |sigma|``, ``gain`` (``Km``)
    and ``gain_exp`` (``kx``) with ``K ~ Km 2**kx``, the maxima ``d_max``, ``x_max``, the shifts
    ``row_shift`` (``sr``) and ``col_shift`` (``sc``). Per line: ``p_rows``/``p_cols`` (unsigned
    ``p_bits`` words; all ones means 1), ``neg_rows``/``neg_cols`` (sign bits: the row's is
    ``d_i < 0`` XOR ``sigma < 0``), ``clipped_rows``/``clipped_cols`` (the wanted probability
    exceeded 1). ``skipped``: ``sigma``, ``max|d|`` or ``max|x|`` is 0, every word is 0.
    """

    term: int
    sigma: int
    K: int
    gain: int
    gain_exp: int
    d_max: int
    x_max: int
    row_shift: int
    col_shift: int
    p_rows: np.ndarray
    p_cols: np.ndarray
    neg_rows: np.ndarray
    neg_cols: np.ndarray
    clipped_rows: np.ndarray
    clipped_cols: np.ndarray
    skipped: bool
    p_bits: int
    bl: int

    @property
    def clipped_lines(self) -> int:
        return int(self.clipped_rows.sum() + self.clipped_cols.sum())

    @property
    def clip(self) -> bool:
        """Some line of this term was clipped at probability 1."""
        return self.clipped_lines > 0

    @property
    def ones(self) -> int:
        """The all-ones word (probability 1)."""
        return (1 << self.p_bits) - 1

    def _full(self, words):
        """Probability numerators over ``2**p_bits``: the word, ``2**p_bits`` for all ones."""
        return np.where(words == self.ones, 1 << self.p_bits, words).astype(np.int64)

    def line_counts(self):
        """Deterministic per-line pulse counts ``n = round_half_up(BL p)`` (``BL`` for all
        ones), rows and columns (int64)."""
        p, half = self.p_bits, 1 << (self.p_bits - 1)
        return tuple(np.where(w == self.ones, self.bl, (self.bl * w + half) >> p)
                     for w in (self.p_rows, self.p_cols))

    def target_counts(self) -> np.ndarray:
        """``round_half_up(BL p_d p_x)`` per cell, ``(n_rows, n_cols)`` int64 (exact)."""
        two_p = 2 * self.p_bits
        prod = self.bl * np.outer(self._full(self.p_rows), self._full(self.p_cols))
        return (prod + (1 << (two_p - 1))) >> two_p

    # real-valued helpers (tests, reports)

    def p_rows_real(self) -> np.ndarray:
        return self._full(self.p_rows) * 2.0 ** -self.p_bits

    def p_cols_real(self) -> np.ndarray:
        return self._full(self.p_cols) * 2.0 ** -self.p_bits

    def expected_counts(self) -> np.ndarray:
        """Expected coincidences per cell of the stochastic scheme, ``BL p_d p_x`` (float)."""
        return self.bl * np.outer(self.p_rows_real(), self.p_cols_real())

    def signs(self) -> np.ndarray:
        """``sign(sigma d_i x_j)`` per cell as the pulses carry it (+1/-1, float)."""
        r = np.where(self.neg_rows, -1.0, 1.0)
        c = np.where(self.neg_cols, -1.0, 1.0)
        return np.outer(r, c)

    def balance(self) -> float:
        """``max p_d / max p_x`` before rounding, ``(d_max Km 2**-sr) / (x_max 2**-sc)``:
        in ``[1/2, 2)`` (aihwkit's square-root balance gives 1); NaN for a skipped term."""
        if self.skipped:
            return float("nan")
        return math.ldexp(self.d_max * self.gain / self.x_max, self.col_shift - self.row_shift)


@dataclass(frozen=True)
class TermDrive:
    """One term as the driver puts it on the array.

    ``row_pulses`` ``(BL, n_out)`` and ``col_pulses`` ``(BL, n_in)`` int8 in {-1, 0, +1}
    (:meth:`golden.crossbar.CrossbarArray.apply_pulses`' arguments); ``row_pulse_counts`` /
    ``col_pulse_counts``: pulses per line; ``counts``: coincidences per cell (int64);
    ``count_error_max`` / ``count_error_mean``: ``|counts - plan.target_counts()|`` over the
    term's cells (the deterministic scheme's report; for the stochastic scheme the realized
    deviation); ``cycles``: the term's cycles (:attr:`CrossbarDriverModel.cycles_per_term`).
    """

    plan: TermPlan
    row_pulses: np.ndarray
    col_pulses: np.ndarray
    row_pulse_counts: np.ndarray
    col_pulse_counts: np.ndarray
    counts: np.ndarray
    count_error_max: int
    count_error_mean: float
    cycles: int

    @property
    def slots(self) -> int:
        return int(self.row_pulses.shape[0])

    def apply(self, array) -> None:
        """``array.apply_pulses(row_pulses, col_pulses)``."""
        array.apply_pulses(self.row_pulses, self.col_pulses)


@dataclass(frozen=True)
class BatchDrive:
    """The ``k`` terms of one batch, in order, and their totals."""

    terms: tuple
    readout_saturated: bool
    cycles: int

    @property
    def clipped_lines(self) -> int:
        return sum(t.plan.clipped_lines for t in self.terms)

    @property
    def skipped_terms(self) -> int:
        return sum(t.plan.skipped for t in self.terms)

    def apply(self, array) -> None:
        """Apply every term's pulses to ``array`` (one update event per term)."""
        for t in self.terms:
            t.apply(array)


# -- the model -------------------------------------------------------------------------------------

def _split_lr(lr: float, lr_bits: int) -> tuple[int, int]:
    """``lr = mult * 2**-shift`` with ``mult`` odd and below ``2**lr_bits``, or ValueError."""
    frac = Fraction(lr)                            # exact: a float is a dyadic rational
    num, den = frac.numerator, frac.denominator
    shift = den.bit_length() - 1
    while num % 2 == 0:
        num //= 2
        shift -= 1
    if num >= 1 << lr_bits:
        raise ValueError(f"lr={lr!r}: not a small multiple of a power of two: it is {num} * "
                         f"2**{-shift}, and the multiplier must be below 2**{lr_bits} (lr_bits)")
    return num, shift


class CrossbarDriverModel:
    """The crossbar driver's bit-exact model (package docstring :mod:`golden.driver`).

    Parameters
    ----------
    n_in, n_out : int
        Layer sizes: ``n_in`` column lines (x side), ``n_out`` row lines (delta side).
    dw_min : float
        The devices' nominal step, folded into the generation-time step constant
        ``M = round(2**step_exp / (dw_min BL))`` of ``step_bits`` bits.
    lr : float
        Learning rate, ``lr_mult * 2**-lr_shift`` exactly with ``lr_mult < 2**lr_bits``
        (``ValueError`` otherwise); ``-16 <= lr_shift <= 48``. A host that scales the unit's
        inputs by ``2**(x_shift + d_shift)`` passes ``lr * 2**-(x_shift + d_shift)`` (the unit's
        ``sigma`` is in the scaled units).
    formats : UnitFormats
        The unit's formats (factor words in ``vec``, ``sigma``); default
        :meth:`UnitFormats.for_width`.
    bl : int
        Slots per term (the pulse train length), 1 to 1023; default 31 as in aihwkit.
    p_bits : int
        Probability word and draw width, 2 to 16.
    gain_bits, step_bits : int
        Mantissa widths of the per-term gain ``Km`` and of the step constant ``M`` (4 to 24).
    lr_bits : int
        Width of the learning-rate multiplier (1 to 8).
    group : int
        Latch lanes ``G``: lines loaded per cycle, one LFSR each (1 to 64).
    fire_cycles : int
        Cycles of the fire strobe per slot.
    scheme : {"stochastic", "deterministic"}
    seed : int or sequence of int
        ``seed >= 0`` derives the lanes' start states (:func:`golden.driver.lfsr.lane_seeds`);
        a sequence gives the ``G`` start states themselves.
    """

    def __init__(self, n_in, n_out, *, dw_min, lr=2.0 ** -4, formats=None, bl=31, p_bits=16,
                 gain_bits=16, step_bits=16, lr_bits=4, group=8, fire_cycles=1,
                 scheme="stochastic", seed=0):
        self._n_in = check_int("n_in", n_in, minimum=1)
        self._n_out = check_int("n_out", n_out, minimum=1)
        self._dw_min = check_float("dw_min", dw_min, low=0.0, low_open=True)
        self._bl = check_int("bl", bl, minimum=1, maximum=1023)
        self._p_bits = check_int("p_bits", p_bits, minimum=2, maximum=MAX_DRAW_BITS)
        self._gain_bits = check_int("gain_bits", gain_bits, minimum=4, maximum=24)
        self._step_bits = check_int("step_bits", step_bits, minimum=4, maximum=24)
        self._lr_bits = check_int("lr_bits", lr_bits, minimum=1, maximum=8)
        self._group = check_int("group", group, minimum=1, maximum=len(LANE_POLYS))
        self._fire_cycles = check_int("fire_cycles", fire_cycles, minimum=1, maximum=1 << 16)
        self._scheme = check_choice("scheme", scheme, SCHEMES)
        if formats is None:
            formats = UnitFormats.for_width()
        if not isinstance(formats, UnitFormats):
            raise TypeError(f"formats={formats!r}: must be a UnitFormats")
        formats.check()
        self._F = formats
        lr = check_float("lr", lr, low=0.0, low_open=True)
        self._lr_mult, self._lr_shift = _split_lr(lr, self._lr_bits)
        lo, hi = LR_SHIFT_RANGE
        if not lo <= self._lr_shift <= hi:
            raise ValueError(f"lr={lr!r}: 2**{-self._lr_shift} is outside the shifter's range "
                             f"2**{-hi} .. 2**{-lo}")
        self._lr = lr
        # generation-time step constant M = round(2**step_exp / (dw_min BL)), M in
        # [2**(step_bits-1), 2**step_bits]: the only float arithmetic of the model
        v = 1.0 / (self._dw_min * self._bl)
        e = self._step_bits - math.frexp(v)[1]
        m = math.floor(math.ldexp(v, e) + 0.5)
        if m >> self._step_bits:
            m, e = m >> 1, e - 1
        self._step, self._step_exp = int(m), int(e)
        self._C = self._lr_mult * self._step
        F = formats
        k_bits = self._lr_bits + self._step_bits + F.sigma.width - 1
        if k_bits > INT64_SAFE_BITS - 1:
            raise ValueError(f"lr_bits + step_bits + sigma width - 1 = {k_bits}: the gain "
                             f"product K exceeds {INT64_SAFE_BITS - 1} bits")
        self._E = self._lr_shift + self._step_exp + F.sigma.frac + 2 * F.vec.frac
        self._prob = FixedFormat(self._p_bits + 1, self._p_bits, rounding="half_up",
                                 overflow="saturate")
        if isinstance(seed, (list, tuple, np.ndarray)):
            seeds = tuple(check_int(f"seed[{g}]", s, minimum=1, maximum=(1 << 32) - 1)
                          for g, s in enumerate(seed))
            if len(seeds) != self._group:
                raise ValueError(f"seed: {len(seeds)} start states for group={self._group} "
                                 f"lanes")
        else:
            seeds = lane_seeds(check_int("seed", seed, minimum=0, maximum=(1 << 48) - 1),
                               self._group)
        self._gen = LaneGenerators(seeds, self._p_bits)
        self._stats = {"batches": 0, "terms": 0, "skipped_terms": 0, "clipped_terms": 0,
                       "clipped_lines": 0, "slots": 0, "cycles": 0, "row_pulses": 0,
                       "col_pulses": 0, "coincidences": 0}
        self._row_counts = np.zeros(self._n_out, np.int64)
        self._col_counts = np.zeros(self._n_in, np.int64)

    # -- parameters (read-only) ------------------------------------------------------------------

    n_in = property(lambda self: self._n_in)
    n_out = property(lambda self: self._n_out)
    n_rows = property(lambda self: self._n_out, doc="Row lines (delta side) = n_out.")
    n_cols = property(lambda self: self._n_in, doc="Column lines (x side) = n_in.")
    dw_min = property(lambda self: self._dw_min)
    lr = property(lambda self: self._lr)
    lr_mult = property(lambda self: self._lr_mult)
    lr_shift = property(lambda self: self._lr_shift)
    lr_bits = property(lambda self: self._lr_bits)
    formats = property(lambda self: self._F)
    bl = property(lambda self: self._bl)
    p_bits = property(lambda self: self._p_bits)
    gain_bits = property(lambda self: self._gain_bits)
    step_bits = property(lambda self: self._step_bits)
    group = property(lambda self: self._group)
    fire_cycles = property(lambda self: self._fire_cycles)
    scheme = property(lambda self: self._scheme)
    prob_format = property(lambda self: self._prob, doc="The probability word's format: the "
                           "non-negative half of a signed (p_bits + 1)-bit word with p_bits "
                           "fraction bits (round half up, saturate at all ones).")
    step = property(lambda self: self._step, doc="M = round(2**step_exp / (dw_min BL)).")
    step_exp = property(lambda self: self._step_exp)
    gain_const = property(lambda self: self._C, doc="C = lr_mult * M (generation-time).")
    exponent = property(lambda self: self._E, doc="E = lr_shift + step_exp + sigma.frac "
                        "+ 2 vec.frac: K |d_i| |x_j| 2**-E = p_d p_x.")
    lane_seeds = property(lambda self: self._gen.seeds, doc="Start states of the G lanes.")
    lane_polys = property(lambda self: self._gen.polys)

    @property
    def step_error(self) -> float:
        """Relative error of the step constant, ``M 2**-step_exp dw_min BL - 1`` (at most
        ``2**-step_bits`` in magnitude)."""
        return math.ldexp(self._step, -self._step_exp) * self._dw_min * self._bl - 1.0

    @property
    def generator_state(self) -> tuple[int, ...]:
        """Each lane's LFSR state now (carried across terms and batches)."""
        return self._gen.state

    @property
    def draws_made(self) -> int:
        """Draws per lane since construction (``BL * load_cycles`` per stochastic term)."""
        return self._gen.draws_made

    # -- cycle model -----------------------------------------------------------------------------

    @property
    def schedule(self) -> SlotSchedule:
        """The term's cycle schedule (row and column groups, load, slot and term cycles)."""
        return SlotSchedule.of(self._n_in, self._n_out, self._group, self._bl, self._fire_cycles)

    row_groups = property(lambda self: self.schedule.row_groups)
    col_groups = property(lambda self: self.schedule.col_groups)
    load_cycles = property(lambda self: self.schedule.load_cycles)
    slot_cycles = property(lambda self: self.schedule.slot_cycles)
    cycles_per_term = property(lambda self: self.schedule.cycles_per_term)

    def factor_cycles(self, k: int) -> int:
        """FACTOR stage of a batch (:class:`hdl.crossbar_factor.CrossbarFactor`, one
        multiplier): ``(n_rows + n_cols) k (k + 1) / 2 + 2`` cycles from its first row to its
        first word beat, rows back to back."""
        k = check_int("k", k, minimum=1)
        return (self._n_out + self._n_in) * (k * (k + 1) // 2) + 2

    def cycles_per_batch(self, k: int) -> int:
        """``factor_cycles(k) + k (load_cycles + 1 + cycles_per_term)``: per term its ``R + C``
        word beats into the SLOTS stage, its ``sigma`` beat and its slots."""
        return self.factor_cycles(k) + k * (self.load_cycles + 1 + self.cycles_per_term)

    # -- step 3: gain and probability words ------------------------------------------------------

    def _prob_words(self, v, shift: int):
        """Round ``v 2**-shift`` (``v >= 0``) into probability words: ``(words, clipped)``."""
        P = self._p_bits
        v = np.asarray(v, np.int64)
        if shift >= 0:
            pre = self._prob.shift_round(v, min(shift, INT64_SAFE_BITS))
        else:
            pre = v << min(-shift, P + 2)          # beyond P + 2 it saturates either way
        self._prob.check_int64_safe(pre, "probability word")
        words, _ = self._prob.fit(pre)
        return words, pre > (1 << P)

    def plan(self, x_words, d_words, sigma_word, term: int = 0) -> TermPlan:
        """The GAIN sequence and the probability words of one term (no generator state used).

        ``x_words`` (``n_in``) and ``d_words`` (``n_out``): raw ``vec`` words of ``X[:, r]`` and
        ``D[:, r]``; ``sigma_word``: raw ``sigma[r]``.
        """
        F, P = self._F, self._p_bits
        X = np.asarray(x_words, np.int64).reshape(-1)
        D = np.asarray(d_words, np.int64).reshape(-1)
        if X.size != self._n_in or D.size != self._n_out:
            raise ValueError(f"x_words, d_words: expected {self._n_in} and {self._n_out} words, "
                             f"got {X.size} and {D.size}")
        for name, w, fmt in (("x_words", X, F.vec), ("d_words", D, F.vec)):
            if w.size and (w.min() < fmt.min_raw or w.max() > fmt.max_raw):
                raise ValueError(f"{name}: words outside the vec format {fmt}")
        S = int(sigma_word)
        if not F.sigma.min_raw <= S <= F.sigma.max_raw:
            raise ValueError(f"sigma_word={S}: outside the sigma format {F.sigma}")
        absD, absX = np.abs(D), np.abs(X)
        d_max, x_max = int(absD.max()), int(absX.max())
        neg_rows = (D < 0) ^ (S < 0)
        neg_cols = X < 0
        if S == 0 or d_max == 0 or x_max == 0:
            zr, zc = np.zeros(self._n_out, np.int64), np.zeros(self._n_in, np.int64)
            return TermPlan(term, S, 0, 0, 0, d_max, x_max, 0, 0, zr, zc, neg_rows, neg_cols,
                            zr.astype(bool), zc.astype(bool), True, P, self._bl)
        # cycle 1: K = C |S|; cycle 2: LOD, round to gain_bits (half up), renormalize a carry
        K = self._C * abs(S)
        kx = max(0, lod(K) + 1 - self._gain_bits)
        Km = (K + ((1 << kx) >> 1)) >> kx
        if Km >> self._gain_bits:
            Km, kx = Km >> 1, kx + 1
        # cycle 3: a = d_max Km; cycle 4: LODs, first split; cycle 5: compare, fix-up
        a, b = d_max * Km, x_max
        total = self._E - kx - 2 * P               # sr + sc
        sr = (lod(a) - lod(b) + total + 1) >> 1
        m = total - 2 * sr + 1                     # rho < 1/2  <=>  a 2**m < b
        if (a << m < b) if m >= 0 else (a < b << -m):
            sr -= 1
        sc = total - sr
        p_rows, clip_r = self._prob_words(absD * Km, sr)
        p_cols, clip_c = self._prob_words(absX, sc)
        return TermPlan(term, S, K, Km, kx, d_max, x_max, sr, sc, p_rows, p_cols, neg_rows,
                        neg_cols, clip_r, clip_c, False, P, self._bl)

    # -- step 4: pulse trains --------------------------------------------------------------------

    def _stochastic(self, plan: TermPlan, slots: int):
        G, R, C = self._group, self.row_groups, self.col_groups
        draws = self._gen.draws(slots * (R + C)).reshape(slots, R + C, G)
        dr = draws[:, :R].reshape(slots, R * G)[:, :self._n_out]
        dc = draws[:, R:].reshape(slots, C * G)[:, :self._n_in]
        ones = plan.ones
        fr = (dr < plan.p_rows) | (plan.p_rows == ones)
        fc = (dc < plan.p_cols) | (plan.p_cols == ones)
        return fr, fc

    def _deterministic(self, plan: TermPlan, slots: int):
        n_d, n_x = plan.line_counts()
        t = np.arange(slots)[:, None]
        fr = t < n_d                               # thermometer: the first n_d slots
        bl2 = 2 * self._bl
        acc = np.full(self._n_in, self._bl - 1, np.int64)   # Bresenham, per column line
        fc = np.zeros((slots, self._n_in), bool)
        for s in range(slots):
            acc = acc + 2 * n_x
            fc[s] = acc >= bl2
            acc = np.where(fc[s], acc - bl2, acc)
        return fr, fc

    def pulses(self, plan: TermPlan, slots: int | None = None):
        """Pulse matrices ``(row_pulses, col_pulses)`` of ``slots`` slots (default ``BL``) for
        ``plan``: int8 ``(slots, n_out)`` and ``(slots, n_in)``. The stochastic scheme advances
        every lane by ``slots * load_cycles`` draws; ``pulses(p, a)`` then ``pulses(p, b)`` equal
        ``pulses(p, a + b)`` split (the state contract). The deterministic scheme's patterns are
        defined for ``slots = BL``."""
        slots = self._bl if slots is None else check_int("slots", slots, minimum=0)
        if self._scheme == "stochastic":
            fr, fc = self._stochastic(plan, slots)
        else:
            fr, fc = self._deterministic(plan, slots)
        sr = np.where(plan.neg_rows, -1, 1).astype(np.int8)
        sc = np.where(plan.neg_cols, -1, 1).astype(np.int8)
        return fr.astype(np.int8) * sr, fc.astype(np.int8) * sc

    # -- one term, one batch ---------------------------------------------------------------------

    def drive_term(self, x_words, d_words, sigma_word, term: int = 0) -> TermDrive:
        """Plan and pulse one term; updates the counters (:meth:`stats`)."""
        plan = self.plan(x_words, d_words, sigma_word, term)
        rows, cols = self.pulses(plan)
        ar, ac = np.abs(rows).astype(np.int64), np.abs(cols).astype(np.int64)
        counts = ar.T @ ac
        err = np.abs(counts - plan.target_counts())
        rc, cc = ar.sum(axis=0), ac.sum(axis=0)
        st = self._stats
        st["terms"] += 1
        st["skipped_terms"] += int(plan.skipped)
        st["clipped_terms"] += int(plan.clip)
        st["clipped_lines"] += plan.clipped_lines
        st["slots"] += self._bl
        st["cycles"] += self.cycles_per_term
        st["row_pulses"] += int(rc.sum())
        st["col_pulses"] += int(cc.sum())
        st["coincidences"] += int(counts.sum())
        self._row_counts += rc
        self._col_counts += cc
        return TermDrive(plan, rows, cols, rc, cc, counts, int(err.max()),
                         float(err.mean()), self.cycles_per_term)

    def drive(self, source) -> BatchDrive:
        """Drive every term of a batch: ``source`` is a fixed-point :class:`SBPCAUnitModel`
        (read out with :func:`unit_factors`) or :class:`UnitFactors`."""
        f = source if isinstance(source, UnitFactors) else unit_factors(source)
        if f.formats != self._F:
            raise ValueError("source: its formats differ from the driver's formats")
        if f.X.shape != (self._n_in, f.k) or f.D.shape != (self._n_out, f.k):
            raise ValueError(f"source: X {f.X.shape}, D {f.D.shape} do not fit n_in="
                             f"{self._n_in}, n_out={self._n_out}")
        terms = tuple(self.drive_term(f.X[:, r], f.D[:, r], f.sigma[r], r) for r in range(f.k))
        extra = self.factor_cycles(f.k) + f.k * (self.load_cycles + 1)
        cycles = extra + sum(t.cycles for t in terms)
        self._stats["batches"] += 1
        self._stats["cycles"] += extra
        return BatchDrive(terms, f.saturated, cycles)

    # -- counters and real-valued references -------------------------------------------------------

    @property
    def row_pulse_counts(self) -> np.ndarray:
        """Pulses per row line since construction."""
        return self._row_counts.copy()

    @property
    def col_pulse_counts(self) -> np.ndarray:
        return self._col_counts.copy()

    def stats(self) -> dict:
        """Counters since construction (JSON-ready)."""
        return dict(self._stats)

    def wanted_counts(self, x_words, d_words, sigma_word) -> np.ndarray:
        """The float reference: ``lr |sigma d_i x_j| / dw_min`` per cell from the words' real
        values (what ``BL p_d p_x`` approximates)."""
        F = self._F
        s = float(F.sigma.to_float(sigma_word))
        d = F.vec.to_float(np.asarray(d_words, np.int64))
        x = F.vec.to_float(np.asarray(x_words, np.int64))
        return self._lr * np.abs(s * np.outer(d, x)) / self._dw_min

    def expected_update(self, batch: BatchDrive) -> np.ndarray:
        """``E[dW]`` of the stochastic scheme on an ideal array: ``-dw_min sum_r sign * BL p_d
        p_x`` (float, ``(n_out, n_in)``)."""
        return -self._dw_min * sum(t.plan.signs() * t.plan.expected_counts()
                                   for t in batch.terms)
