"""Bit-exact integer model of the MAC lane (``hdl/mac_lane.py``).

The lane consumes a stream of beats ``(a, b, c, clear, last, sub)`` and keeps one accumulator::

    p     = -(a * b) if sub else a * b             exact; fits a.width + b.width + 1 bits
    base  = c if clear else acc                    c: the addend that starts a new sum
    acc   = acc_format.fit(base + p)               wrap or saturate, the lane's one rounding point
    flag  = (False if clear else flag) | overflowed
    emit (acc, flag) when last

The accumulator and flag start at zero after reset. ``clear`` with ``c = 0`` starts a dot
product; ``clear`` and ``last`` on every beat turn the lane into a fused multiply-add
``a * b + c`` (a read-modify-write of an accumulator kept elsewhere).

The model is vectorized across independent sums: beats are grouped into segments that start at a
``clear``; the loop runs over the position inside a segment, NumPy runs across segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .check import check_instance
from .fixed import INT64_SAFE_BITS, FixedFormat

__all__ = ["MACLaneModel", "MACResult", "check_mac_formats"]


def check_mac_formats(a_format: FixedFormat, b_format: FixedFormat, acc_format: FixedFormat):
    """Validate the operand and accumulator formats of a MAC lane.

    Raises ``TypeError``/``ValueError`` with a one-line message naming the parameter and value.
    The hardware (``hdl.mac_lane.MACLane``) and this model share this check.
    """
    for name, fmt in (("a_format", a_format), ("b_format", b_format), ("acc_format", acc_format)):
        check_instance(name, fmt, FixedFormat)
    product_width = a_format.width + b_format.width
    if acc_format.width < product_width:
        raise ValueError(f"acc_width={acc_format.width}: accumulator narrower than the product "
                         f"(a_width + b_width = {product_width})")
    if acc_format.frac != a_format.frac + b_format.frac:
        raise ValueError(f"acc_frac={acc_format.frac}: must equal a_frac + b_frac = "
                         f"{a_format.frac + b_format.frac} (the product's fraction bits)")


@dataclass
class MACResult:
    """Results of one run of the MAC lane model.

    Attributes
    ----------
    values : int64 array
        Accumulator value emitted at each ``last`` beat, in stream order.
    overflow : bool array
        Overflow/saturation flag emitted with each value.
    beat : int64 array
        Index of the ``last`` beat that emitted each value.
    acc, flag : int, bool
        Accumulator and flag after the final beat (the state a following run starts from).
    """

    values: np.ndarray
    overflow: np.ndarray
    beat: np.ndarray
    acc: int
    flag: bool


class MACLaneModel:
    """Integer model of a MAC lane with the given operand and accumulator formats.

    Parameters
    ----------
    a_format, b_format : FixedFormat
        Operand formats (only the width is used by the integer arithmetic; fraction bits must
        add up to the accumulator's).
    acc_format : FixedFormat
        Accumulator format; its ``overflow`` mode (wrap or saturate) is the lane's.
    """

    def __init__(self, a_format: FixedFormat, b_format: FixedFormat, acc_format: FixedFormat):
        check_mac_formats(a_format, b_format, acc_format)
        if acc_format.width + 1 > INT64_SAFE_BITS:
            raise ValueError(f"acc_width={acc_format.width}: the integer model holds at most "
                             f"{INT64_SAFE_BITS - 1} bits")
        self.a_format = a_format
        self.b_format = b_format
        self.acc_format = acc_format

    def _check_operand(self, name, values, fmt):
        values = np.asarray(values)
        if values.dtype.kind not in "iub":
            raise TypeError(f"{name}: raw words must be integers, got dtype {values.dtype}")
        values = values.astype(np.int64)
        if values.size and (values.min() < fmt.min_raw or values.max() > fmt.max_raw):
            bad = values[(values < fmt.min_raw) | (values > fmt.max_raw)][0]
            raise ValueError(f"{name}={int(bad)}: outside the {fmt.width}-bit word "
                             f"[{fmt.min_raw}, {fmt.max_raw}]")
        return values

    def run(self, a, b, c=None, clear=None, last=None, sub=None, *, acc: int = 0,
            flag: bool = False):
        """Run a stream of beats through the lane.

        Parameters
        ----------
        a, b : int arrays, shape (n,)
            Raw operand words.
        c : int array, optional
            Raw addend words (accumulator format), used on ``clear`` beats; default 0.
        clear, last : bool arrays, optional
            Default: ``clear`` on beat 0 only, ``last`` on the final beat only (one dot product).
        sub : bool array, optional
            Beats whose product is subtracted instead of added (default: none).
        acc, flag : initial accumulator and flag (0 and False after reset).

        Returns
        -------
        MACResult
        """
        a = self._check_operand("a", a, self.a_format)
        b = self._check_operand("b", b, self.b_format)
        n = a.shape[0]
        if a.shape != (n,) or b.shape != (n,):
            raise ValueError(f"a, b: must be 1-D arrays of equal length, got {a.shape} and "
                             f"{b.shape}")
        c = np.zeros(n, np.int64) if c is None else self._check_operand("c", c, self.acc_format)
        if clear is None:
            clear = np.zeros(n, bool)
            clear[:1] = True
        if last is None:
            last = np.zeros(n, bool)
            last[-1:] = True
        clear = np.asarray(clear, bool)
        last = np.asarray(last, bool)
        sub = np.zeros(n, bool) if sub is None else np.asarray(sub, bool)
        for name, arr in (("c", c), ("clear", clear), ("last", last), ("sub", sub)):
            if arr.shape != (n,):
                raise ValueError(f"{name}: must have shape ({n},), got {arr.shape}")

        fmt = self.acc_format
        product = np.where(sub, -(a * b), a * b)

        # Segment s holds the beats from one clear up to the next; segment 0 is whatever comes
        # before the first clear and continues from the initial state.
        seg = np.cumsum(clear)
        n_seg = int(seg[-1]) + 1 if n else 1
        start = np.searchsorted(seg, np.arange(n_seg), side="left")
        length = np.bincount(seg, minlength=n_seg)
        seg_acc = np.zeros(n_seg, np.int64)
        seg_flag = np.zeros(n_seg, bool)
        seg_acc[0], seg_flag[0] = acc, flag
        has_clear = np.zeros(n_seg, bool)
        has_clear[seg[clear]] = True
        seg_acc[has_clear] = c[clear]   # a clear beat's base is its addend

        out_acc = np.empty(n, np.int64)
        out_flag = np.empty(n, bool)
        max_len = int(length.max()) if n else 0
        for k in range(max_len):
            live = np.nonzero(length > k)[0]
            beats = start[live] + k
            fitted, overflowed = fmt.fit(seg_acc[live] + product[beats])
            seg_acc[live] = fitted
            seg_flag[live] |= overflowed
            out_acc[beats] = fitted
            out_flag[beats] = seg_flag[live]

        emit = np.nonzero(last)[0]
        return MACResult(values=out_acc[emit], overflow=out_flag[emit], beat=emit.astype(np.int64),
                         acc=int(out_acc[-1]) if n else int(acc),
                         flag=bool(out_flag[-1]) if n else bool(flag))
