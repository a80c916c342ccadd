"""Fixed-point steps in hardware: the Amaranth form of the golden rounding point.

:func:`round_shift_saturate` builds the hardware form of
:func:`golden.fixed.round_shift_saturate` (the streaming-PCA unit's one rounding point) into a
module; a unit test on the Amaranth simulator (``tests/test_fixed_ops.py``) compares the two on
ties, the saturation bounds, the extreme inputs and zero::

    shift > 0:   value = (raw + 2**(shift - 1)) >> shift     round half up
    shift <= 0:  value = raw << -shift                        exact
    word = clamp(value, fmt.min_raw, fmt.max_raw)            saturate; ``clamped`` when it acted

Two shapes of the step:

* a constant ``shift`` (``int``): one adder (none when the half LSB, :func:`half_lsb`, was
  already added upstream, e.g. as the addend that starts a MAC lane's sum: ``half_added``), an
  arithmetic shift (wires) and the clamp's two comparisons;
* a variable ``shift`` (a signed ``Value``, as the k x k engine's per-operation shifts): right
  shifts round as ``((raw >> (shift - 1)) + 1) >> 1``, which equals the golden form without a
  variable-width constant; left shifts are capped at ``max_left`` bits, which loses nothing
  because any nonzero word shifted that far saturates anyway (``max_left >= fmt.width``; at
  ``fmt.width - 1`` a ``-1`` would land on the minimum unclamped). Only the word's window
  (:func:`window_width`: ``fmt.width + 2`` bits) is shifted; whether the full value leaves it
  is read from the sign bits of ``raw`` (:func:`_variable_shift`).

``raw`` is taken as a signed value of its own width (``len(raw)``); nothing inside wraps.

A pipeline may cut the step between the shift and the clamp: ``stage`` receives the shifted
value and returns what the clamp takes (a register of it, say), the clamp's two comparisons and
multiplexer being the step's second half. With a variable shift the value cut is the window
before its rounding bit (``2 * word`` for a left shift, so that ``(v + 1) >> 1`` returns it;
``window_width + 1`` bits): the rounding adder is after the cut, beside the clamp.
"""

from typing import NamedTuple

from amaranth.hdl import Array, Cat, Const, Mux, Signal, Value, signed

from golden.check import check_bool, check_instance, check_int
from golden.fixed import FixedFormat

__all__ = ["round_shift_saturate", "half_lsb", "shift_controls", "ShiftControls",
           "narrow_floor_shift", "window_width"]


class ShiftControls(NamedTuple):
    """A variable shift decoded (:func:`shift_controls`): ``rsh``, one less than a right shift
    (capped at the width), ``lsh`` a left shift (capped at ``max_left``) and ``rightward``."""

    rsh: Value
    lsh: Value
    rightward: Value


def half_lsb(shift: int, width: int) -> Const:
    """Half an LSB of a result shifted right by ``shift >= 1`` bits, ``2**(shift - 1)``, as a
    ``width``-bit signed constant: the rounding addend of :func:`round_shift_saturate`."""
    shift = check_int("shift", shift, minimum=1)
    return Const(1 << (shift - 1), signed(check_int("width", width, minimum=shift + 1)))


def round_shift_saturate(m, raw, shift, fmt: FixedFormat, *, name: str, half_added=False,
                         max_left=31, stage=None):
    """Build ``golden.fixed.round_shift_saturate(raw, shift, fmt)`` into module ``m``.

    Parameters
    ----------
    m : Module
        The module the combinational logic goes into (``m.d.comb``).
    raw : Value
        The exact value, signed, ``len(raw)`` bits.
    shift : int or Value or ShiftControls
        A constant or a signed shift; negative shifts move left. Or the controls of a signed
        shift (:func:`shift_controls` with this ``raw`` width and ``max_left``).
    fmt : FixedFormat
        The word; only its width matters (as in the golden function).
    name : str
        Prefix of the signals built (``{name}_word``, ``{name}_clamped``, ...).
    half_added : bool
        Constant ``shift >= 1`` only: ``raw`` already includes :func:`half_lsb` (so only the
        shift and the clamp are built).
    max_left : int
        Variable ``shift`` only: the widest left shift built (``>= fmt.width``: a shift by
        the width saturates every nonzero word; one bit less leaves ``-1`` at the minimum).
    stage : callable, optional
        ``stage(value) -> Value``: a cut between the shift and the clamp (module docstring);
        the clamp takes what it returns.

    Returns
    -------
    (word, clamped)
        ``Signal(signed(fmt.width))`` and ``Signal()``: the saturated word and whether the clamp
        acted.
    """
    check_instance("fmt", fmt, FixedFormat)
    check_bool("half_added", half_added)
    raw = Value.cast(raw)
    width = len(raw)
    constant = isinstance(shift, int) and not isinstance(shift, bool)
    if constant:
        value = _constant_shift(m, raw, shift, width, name, half_added)
    else:
        if half_added:
            raise ValueError("half_added=True: only with a constant shift")
        max_left = check_int("max_left", max_left, minimum=fmt.width)
        if not isinstance(shift, ShiftControls):
            shift = Value.cast(shift)
        value = _variable_shift(m, raw, shift, width, max_left, name, fmt)
    if stage is not None:
        value = Value.cast(stage(value))
    if not constant:
        # the rounding bit of a variable shift, after the cut (_variable_shift)
        rounded = Signal(signed(window_width(fmt)), name=f"{name}_full")
        m.d.comb += rounded.eq((value + 1) >> 1)
        value = rounded
    hi, lo = fmt.max_raw, fmt.min_raw
    word = Signal(signed(fmt.width), name=f"{name}_word")
    clamped = Signal(name=f"{name}_clamped")
    # value > hi (value < lo): the sign clear (set) and a bit at or above the word's sign bit
    # set (clear); bit tests rather than two wide comparisons (carry chains)
    sign, upper = value[-1], value[fmt.width - 1:-1]
    over, under = Signal(name=f"{name}_over"), Signal(name=f"{name}_under")
    if len(value) > fmt.width:
        m.d.comb += [over.eq(~sign & upper.any()), under.eq(sign & ~upper.all())]
    m.d.comb += [clamped.eq(over | under),
                 word.eq(Mux(over, hi, Mux(under, lo, value[:fmt.width])))]
    return word, clamped


def window_width(fmt: FixedFormat) -> int:
    """Bits of the narrowed shift's window for a word of ``fmt``: the word plus 2, enough for
    the rounding by one bit and the clamp to see every value outside the word as outside."""
    return fmt.width + 2


def _extreme(sign, width: int) -> Value:
    """The most negative ``width``-bit value when ``sign`` is set, else the most positive: what
    stands in for a value that leaves a window of ``width`` bits (the clamp saturates it alike)."""
    return Mux(sign, Const(-(1 << (width - 1)), signed(width)),
               Const((1 << (width - 1)) - 1, signed(width)))


def narrow_floor_shift(m, raw, shift: int, width: int, *, name: str) -> Value:
    """``raw >> shift`` (a constant floor shift, ``shift >= 0``) in ``width`` signed bits that
    saturate as the full value does: the value itself when it fits, else the extreme of its
    sign. A rounding step into a word of ``width - 2`` bits or fewer (as
    :func:`round_shift_saturate` with a shift of 1) then gives the full value's word and flag,
    without a multiplexer or a pipeline register at the full width of ``raw``."""
    raw = Value.cast(raw)
    shift = check_int("shift", shift, minimum=0)
    width = check_int("width", width, minimum=2)
    n = len(raw)
    if n - shift <= width:                # fits always: no check
        return (raw >> shift).as_signed()
    top = raw[width - 1 + shift:]         # the shifted value fits when these bits all equal
    big = Signal(name=f"{name}_big")
    m.d.comb += big.eq(~(top.all() | ~top.any()))
    out = Signal(signed(width), name=f"{name}_narrow")
    m.d.comb += out.eq(Mux(big, _extreme(raw[-1], width), raw[shift:shift + width].as_signed()))
    return out


def _constant_shift(m, raw, shift, width, name, half_added):
    if shift > 0:
        full = Signal(signed(width if half_added else width + 1), name=f"{name}_full")
        added = raw if half_added else raw + half_lsb(shift, max(width, shift) + 1)
        m.d.comb += full.eq(added >> shift)
    else:
        if half_added:
            raise ValueError(f"shift={shift}: half_added needs a right shift (at least 1)")
        full = Signal(signed(width - shift), name=f"{name}_full")
        m.d.comb += full.eq(raw << -shift)
    return full


def shift_controls(m, shift, width: int, max_left: int, *, name: str,
                   less_one=False) -> ShiftControls:
    """The controls of a variable ``shift`` of a ``width``-bit value (left shifts capped at
    ``max_left``): what :func:`round_shift_saturate` derives from ``shift`` first. A pipeline
    may compute them a cycle ahead and pass them, registered, as its ``shift``.

    With ``less_one``, ``shift`` is the shift minus one (a datapath that sums the shift can
    subtract the one in that sum): then no carry chain follows it, ``rsh`` being that value
    clamped to ``0..width`` and ``lsh`` its complement (``~(s - 1) = -s``) clamped to
    ``0..max_left``, the bounds tested bit by bit against constants."""
    shift = Value.cast(shift)
    check_bool("less_one", less_one)
    ctl = ShiftControls(Signal(range(width + 1), name=f"{name}_rsh"),
                        Signal(range(max_left + 1), name=f"{name}_lsh"),
                        Signal(name=f"{name}_rightward"))
    if less_one:
        u = shift.as_signed()
    else:
        u = Signal(signed(len(shift) + 1), name=f"{name}_less_one")
        m.d.comb += u.eq(shift - 1)
    neg = Signal(signed(len(u)), name=f"{name}_neg")       # -shift
    m.d.comb += neg.eq(~u)
    # a right shift beyond the width leaves the sign: (sign + 1) >> 1 = 0, the golden result
    m.d.comb += [ctl.rsh.eq(Mux(_at_least(u, width), width, Mux(u[-1], 0, u))),
                 ctl.lsh.eq(Mux(_at_least(neg, max_left + 1), max_left, Mux(neg[-1], 0, neg))),
                 ctl.rightward.eq(~u[-1])]
    return ctl


def _at_least(x, c: int) -> Value:
    """``x >= c`` for a signed ``x`` and a constant ``c >= 0``, as logic on the bits (a
    comparison with a constant, not a subtraction's carry chain)."""
    x = Value.cast(x)
    mag = x[:len(x) - 1]                 # x >= 0 here: its value bits
    return ~x[-1] & _bits_at_least(mag, c)


def _bits_at_least(bits, c: int) -> Value:
    """``bits >= c`` of an unsigned ``bits``, from the most significant bit down."""
    n = len(bits)
    if c <= 0:
        return Const(1, 1)
    if c >= 1 << n:
        return Const(0, 1)
    top, rest = bits[n - 1], bits[:n - 1]
    if c >> (n - 1) & 1:
        return top & _bits_at_least(rest, c - (1 << (n - 1)))
    return top | _bits_at_least(rest, c)


def _variable_shift(m, raw, shift, width, max_left, name, fmt):
    """The variable shift narrowed to what the clamp needs: :func:`window_width` bits that
    saturate exactly as the full value would (module docstring), returned before the rounding
    bit (``window_width + 1`` bits; ``(pre + 1) >> 1`` is the window).

    Whether the full value leaves that window is decided from ``raw`` alone: ``raw`` fits in
    ``b`` signed bits when none of its bits from ``b - 1`` up differs from its sign, so one
    vector of suffix ORs of ``raw ^ sign`` answers it for the right shift (the floor shift by
    ``rsh`` fits in the window) and the left one (the shift by ``lsh`` fits in the
    word). Only the window is shifted: no barrel shifter at the full width of ``raw`` plus the
    left shift, and the pipeline cut after the shift registers the window, not the full value
    (nor the rounding adder: it is after the cut).
    """
    ctl = shift if isinstance(shift, ShiftControls) else shift_controls(m, shift, width,
                                                                        max_left, name=name)
    if (len(ctl.rsh), len(ctl.lsh)) != (width.bit_length(), max_left.bit_length()):
        raise ValueError(f"shift={ctl!r}: the controls of another width or max_left")
    W, n = fmt.width, width
    nw = window_width(fmt)
    rsh, lsh = ctl.rsh, ctl.lsh
    sign = raw[-1]
    # wide[j]: some bit of raw at or above j (below the sign bit) differs from the sign, i.e.
    # raw does not fit in j + 1 signed bits; beyond the top: False
    diff = Signal(max(n - 1, 1), name=f"{name}_diff")
    m.d.comb += diff.eq(raw[:n - 1] ^ sign.replicate(n - 1) if n > 1 else 0)
    wide = _suffix_any(m, diff, name)
    nonzero = Signal(name=f"{name}_nonzero")
    m.d.comb += nonzero.eq(raw.any())

    def at(j):     # fits in no bits: only zero
        return wide[j] if 0 <= j < len(wide) else Const(0, 1) if j >= 0 else nonzero

    # right: t1 = raw >> rsh fits in nw bits unless raw needs more than nw + rsh bits
    big_r = Signal(name=f"{name}_big_r")
    m.d.comb += big_r.eq(Array(at(nw - 1 + r) for r in range(n + 1))[rsh])
    t1 = _shift_right_window(m, raw, rsh, nw, name)
    # left: raw << lsh fits in the word unless raw needs more than W - lsh bits; doubled, as
    # the extreme below, so that the rounding bit added after the cut leaves it:
    # (2 v + 1) >> 1 == v
    big_l = Signal(name=f"{name}_big_l")
    m.d.comb += big_l.eq(Array(at(W - 1 - s) for s in range(max_left + 1))[lsh])
    left = Signal(signed(W + 1), name=f"{name}_left")
    m.d.comb += left.eq(((raw[:W].as_signed() if n >= W else raw) << lsh) << 1)
    extreme = _extreme(sign, nw) << 1     # outside the window, doubled
    pre = Signal(signed(nw + 1), name=f"{name}_pre")
    m.d.comb += pre.eq(Mux(ctl.rightward, Mux(big_r, extreme, t1), Mux(big_l, extreme, left)))
    return pre


def _suffix_any(m, bits, name):
    """``[bits[j:].any() for j in range(len(bits))]`` as signals, by a log-depth suffix OR
    (each level ORs in the partial result ``2**level`` bits up)."""
    cur = [bits[j] for j in range(len(bits))]
    step = 1
    while step < len(cur):
        cur = [cur[j] | cur[j + step] if j + step < len(cur) else cur[j]
               for j in range(len(cur))]
        step *= 2
    out = Signal(len(cur), name=f"{name}_wide")
    m.d.comb += out.eq(Cat(*cur))
    return [out[j] for j in range(len(cur))]


def _shift_right_window(m, raw, rsh, nw, name):
    """The low ``nw`` bits of ``raw >> rsh`` (arithmetic), shifting by the largest power of
    two first so that each level keeps only the bits the smaller shifts still reach."""
    cur = raw
    for level in reversed(range(len(rsh))):
        step = 1 << level
        keep = min(len(cur), nw + step - 1)
        shifted = Signal(signed(keep), name=f"{name}_rs{level}")
        m.d.comb += shifted.eq(Mux(rsh[level], cur >> step, cur)[:keep].as_signed())
        cur = shifted
    return cur[:nw].as_signed() if len(cur) >= nw else cur
