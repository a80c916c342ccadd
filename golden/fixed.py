"""Fixed-point number formats: the one source of truth shared by ``hdl/``, ``golden/``, ``cosim/``.

A :class:`FixedFormat` describes a signed two's-complement word: its width, how many of its bits
are fraction bits, how a value is rounded when fraction bits are dropped, and what happens when a
value does not fit (wrap around or saturate to the nearest representable value).

The integer ("raw") value ``r`` of a word represents the real number ``r * 2**-frac``.

Rounding and overflow happen in these named places only, used by every model and checked against
the hardware bit for bit:

* :meth:`FixedFormat.shift_round` drops fraction bits (an arithmetic right shift) with the
  format's rounding mode:

  - ``"floor"``: plain arithmetic shift, rounds toward minus infinity (no hardware cost);
  - ``"half_up"``: add half an LSB of the result, then shift (rounds half toward plus infinity;
    one adder).

* :meth:`FixedFormat.fit` brings an exact integer into the word:

  - ``"wrap"``: keep the low ``width`` bits (two's-complement wrap around);
  - ``"saturate"``: clamp to ``[min_raw, max_raw]``.

  It also reports, per element, whether the value did not fit (the hardware's overflow flag).

* :func:`round_shift_saturate` is the streaming-PCA unit's rounding point, the two above in one
  step as for a ``half_up``, ``saturate`` format: shift right with round half up (or left,
  exactly, when the shift is negative), then clamp to the word, and say whether a value was
  clamped. Every golden model of the unit calls it (:mod:`golden.sbpca_unit`,
  :mod:`golden.unit_program`); its hardware form is :func:`hdl.fixed_ops.round_shift_saturate`.

This module is pure Python and NumPy so that the golden model stays free of Amaranth and cocotb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .check import check_choice, check_instance, check_int

__all__ = ["FixedFormat", "ROUNDING_MODES", "OVERFLOW_MODES", "INT64_SAFE_BITS",
           "round_shift_saturate", "check_round_saturate"]

ROUNDING_MODES = ("floor", "half_up")
OVERFLOW_MODES = ("wrap", "saturate")

#: Widest value (in bits, sign included) the integer models hold in int64 with room for one
#: addition: every intermediate of a golden integer model must fit in this many bits.
INT64_SAFE_BITS = 62


@dataclass(frozen=True)
class FixedFormat:
    """Signed fixed-point word format.

    Parameters
    ----------
    width : int
        Word width in bits, sign bit included (>= 1).
    frac : int
        Number of fraction bits (0 <= frac). ``frac`` may exceed ``width`` (a word of small
        values only).
    rounding : str
        ``"floor"`` or ``"half_up"``: how :meth:`shift_round` drops fraction bits.
    overflow : str
        ``"wrap"`` or ``"saturate"``: how :meth:`fit` treats a value outside the word.

    Raises
    ------
    TypeError, ValueError
        On a non-integer or out-of-range ``width``/``frac`` or an unknown mode; the message names
        the parameter and the value.
    """

    width: int
    frac: int = 0
    rounding: str = "floor"
    overflow: str = "wrap"

    def __post_init__(self):
        object.__setattr__(self, "width", check_int("width", self.width, minimum=1))
        object.__setattr__(self, "frac", check_int("frac", self.frac, minimum=0))
        check_choice("rounding", self.rounding, ROUNDING_MODES)
        check_choice("overflow", self.overflow, OVERFLOW_MODES)

    # -- derived facts ---------------------------------------------------------------------------

    @property
    def min_raw(self) -> int:
        """Most negative raw value, ``-2**(width-1)``."""
        return -(1 << (self.width - 1))

    @property
    def max_raw(self) -> int:
        """Most positive raw value, ``2**(width-1) - 1``."""
        return (1 << (self.width - 1)) - 1

    @property
    def lsb(self) -> float:
        """Real value of one raw step, ``2**-frac``."""
        return 2.0 ** -self.frac

    @property
    def saturate(self) -> bool:
        """True when values that do not fit are clamped rather than wrapped."""
        return self.overflow == "saturate"

    def with_(self, **changes) -> "FixedFormat":
        """Return a copy with some fields changed (validated again)."""
        fields = dict(width=self.width, frac=self.frac, rounding=self.rounding,
                      overflow=self.overflow)
        fields.update(changes)
        return FixedFormat(**fields)

    def as_dict(self) -> dict:
        """Return the format as a JSON-serializable dict."""
        return dict(width=self.width, frac=self.frac, rounding=self.rounding,
                    overflow=self.overflow)

    def __str__(self):
        return f"Q{self.width - self.frac}.{self.frac}({self.rounding},{self.overflow})"

    # -- conversions -----------------------------------------------------------------------------

    def quantize(self, values):
        """Convert real values to raw words: scale, round with the format's rounding, then fit.

        Returns ``(raw, overflowed)``: int64 arrays shaped like ``values``.
        """
        scaled = np.asarray(values, dtype=np.float64) * (2.0 ** self.frac)
        if not np.all(np.isfinite(scaled)):
            raise ValueError("values: must be finite to quantize")
        if self.rounding == "floor":
            raw = np.floor(scaled)
        else:
            raw = np.floor(scaled + 0.5)
        limit = 2.0 ** (INT64_SAFE_BITS - 1)
        raw = np.clip(raw, -limit, limit)  # keeps the int64 cast defined; fit() decides the rest
        return self.fit(raw.astype(np.int64))

    def to_float(self, raw):
        """Real value of raw words (float64)."""
        return np.asarray(raw, dtype=np.float64) * self.lsb

    # -- the two named places where precision or range is lost ---------------------------------

    def fit(self, raw):
        """Bring exact integers into the word with the format's overflow mode.

        Parameters
        ----------
        raw : int or array of int
            Exact values; they must fit in int64 (``INT64_SAFE_BITS``).

        Returns
        -------
        (fitted, overflowed)
            int64 array of the word values and a bool array, True where the input did not fit.
        """
        raw = np.asarray(raw, dtype=np.int64)
        overflowed = (raw < self.min_raw) | (raw > self.max_raw)
        if self.saturate:
            fitted = np.clip(raw, self.min_raw, self.max_raw)
        else:
            mask = (1 << self.width) - 1
            low = raw & mask
            fitted = np.where(low > self.max_raw, low - (1 << self.width), low)
        return fitted.astype(np.int64), overflowed

    def shift_round(self, raw, shift):
        """Drop ``shift`` fraction bits from exact integers with the format's rounding mode.

        This is an arithmetic right shift; with ``"half_up"`` half an LSB of the result,
        ``2**(shift-1)``, is added first. ``shift`` is a non-negative integer or an array of them
        (broadcast against ``raw``: one shift per column, say). The result is exact (no fit to
        the word is applied).
        """
        raw = np.asarray(raw, dtype=np.int64)
        if np.ndim(shift) == 0:
            shift = check_int("shift", shift, minimum=0)
        else:
            shift = np.asarray(shift, dtype=np.int64)
            if shift.size and shift.min() < 0:
                raise ValueError(f"shift={int(shift.min())}: must be at least 0")
        if self.rounding == "half_up":
            half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
            raw = raw + half
        return raw >> shift

    def check_int64_safe(self, raw, what: str = "value"):
        """Assert that an intermediate of an integer model fits in ``INT64_SAFE_BITS`` bits."""
        raw = np.asarray(raw)
        limit = 1 << (INT64_SAFE_BITS - 1)
        if raw.size and (raw.min() < -limit or raw.max() >= limit):
            raise OverflowError(f"{what}: intermediate exceeds {INT64_SAFE_BITS} bits in the "
                                f"integer model")


def check_round_saturate(fmt, name: str = "fmt") -> FixedFormat:
    """Return ``fmt`` if it is a :class:`FixedFormat` that rounds half up and saturates (as
    every format of the streaming-PCA unit); ``name`` names it in the ``TypeError``/
    ``ValueError`` message."""
    check_instance(name, fmt, FixedFormat)
    if fmt.rounding != "half_up" or fmt.overflow != "saturate":
        raise ValueError(f"{name}={fmt}: must round half_up and saturate")
    return fmt


def round_shift_saturate(raw, shift, fmt: FixedFormat):
    """Shift exact integers right by ``shift`` with round half up, then saturate into ``fmt``.

    The streaming-PCA unit's one rounding point (hardware form:
    :func:`hdl.fixed_ops.round_shift_saturate`); for ``shift >= 0`` it is
    ``fmt.fit(fmt.shift_round(raw, shift))``::

        shift > 0:   value = (raw + 2**(shift - 1)) >> shift     round half up (toward +inf)
        shift <= 0:  value = raw << -shift                        exact
        word = clamp(value, fmt.min_raw, fmt.max_raw)            saturate

    Parameters
    ----------
    raw : int or array of int
        Exact values. Arrays (int64) must fit in ``INT64_SAFE_BITS`` bits, and so must their left
        shifts; a Python ``int`` with a Python ``int`` shift is exact at any size.
    shift : int or array of int
        Broadcast against ``raw`` (one shift per column, say); negative values shift left.
    fmt : FixedFormat
        The word; only its width matters (``min_raw``, ``max_raw``): this step always rounds half
        up and saturates, whatever ``fmt.rounding`` and ``fmt.overflow`` say (the unit's formats
        all round half up and saturate, :func:`check_round_saturate`).

    Returns
    -------
    (word, saturated)
        The words (an ``int`` for ``int`` inputs, else an int64 array, 0-d for NumPy scalars) and a
        bool, True when some value was clamped (the sticky overflow flag's input).
    """
    if not isinstance(fmt, FixedFormat):
        check_instance("fmt", fmt, FixedFormat)
    lo, hi = fmt.min_raw, fmt.max_raw
    if type(raw) is int and type(shift) is int:          # one word (the micro-program's)
        value = (raw + (1 << (shift - 1))) >> shift if shift > 0 else raw << -shift
        return min(max(value, lo), hi), not lo <= value <= hi
    # runs tens of times per sample: few NumPy calls, no temporaries beyond the shifted value
    raw = np.asarray(raw, dtype=np.int64)
    if raw.size and np.abs(raw).max() >= 1 << (INT64_SAFE_BITS - 1):
        raise OverflowError(f"round_shift_saturate: raw exceeds {INT64_SAFE_BITS} bits")
    if np.ndim(shift) == 0:
        shift = int(shift)
        if shift > 0:
            value = (raw + (1 << (shift - 1))) >> shift
        else:
            value = raw << -shift
            if shift < 0 and np.any((value >> -shift) != raw):
                raise OverflowError("round_shift_saturate: a left shift of raw exceeds int64")
    else:
        shift = np.asarray(shift, dtype=np.int64)
        right, left = np.maximum(shift, 0), np.maximum(-shift, 0)
        half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
        value = np.where(shift > 0, (raw + half) >> right, raw << left)
        if left.any() and np.any((left > 0) & ((value >> left) != raw)):
            raise OverflowError("round_shift_saturate: a left shift of raw exceeds int64")
    if value.size and (value.min() < lo or value.max() > hi):
        return np.clip(value, lo, hi), True
    return value, False
