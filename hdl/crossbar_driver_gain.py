"""The crossbar driver's GAIN stage: update management in five cycles, without a divider.

Built into :class:`hdl.crossbar_driver.CrossbarDriver`'s module by :func:`build_gain`; the
contract is step 3 of :mod:`golden.driver` (``CrossbarDriverModel.plan``)::

  cycle 1:  K  <= C |S|                     (C a generation-time constant); skip, neg
  cycle 2:  kx <= max(0, LOD(K) + 1 - gain_bits); Km <= R3(K 2**-kx), carry renormalized
  cycle 3:  a  <= d_max Km                   the stage's one multiply
  cycle 4:  total <= E - 2 p_bits - kx;   (E + lr_shift with the run-time shift port)  sr <= (LOD(a) - LOD(b) + total + 1) >> 1
  cycle 5:  m = total - 2 sr + 1;  sr -= (a 2**m < b);  sc <= total - sr

``b = x_max``. The compare of cycle 5 caps its shifts where the result no longer changes:
``a >= 1`` and ``b < 2**vec_width`` (so ``m >= vec_width`` always means "not below"), ``b >= 1``
and ``a < 2**(vec_width + gain_bits)``. For a skipped term (``S``, ``d_max`` or ``x_max`` zero)
the shifts are don't-cares: the SLOTS stage forces its words to 0.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

__all__ = ["build_gain", "GAIN_STATES", "shift_width", "lod"]

#: FSM states of the five GAIN cycles, in order (``GAIN_CYCLES`` of the model).
GAIN_STATES = ("GAIN1", "GAIN2", "GAIN3", "GAIN4", "GAIN5")


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def shift_width(*, exponent: int, p_bits: int, k_bits: int, vec_width: int,
                gain_bits: int, span=(0, 0)) -> int:
    """Width of the signed shifts ``total``, ``sr``, ``sc``: ``|total| <= |E - 2 p_bits| +
    k_bits + 1``, ``|sr|`` and ``|sc|`` at most ``1.5 |total|`` plus the LODs' span. ``span``:
    the range ``(lo, hi)`` a run-time ``lr_shift`` adds to ``E``."""
    t = max(abs(exponent + d - 2 * p_bits) for d in span) + k_bits + 1
    return _bits(2 * t + 2 * (vec_width + gain_bits) + 8) + 1


def lod(m, value, name: str):
    """Leading-one detect of an unsigned ``value``: ``floor(log2 value)`` (0 for 0)."""
    out = Signal(range(max(2, len(value))), name=name)
    for b in range(len(value)):
        with m.If(value[b]):
            m.d.comb += out.eq(b)
    return out


def build_gain(m, *, sigma, d_max, x_max, gain_const: int, exponent: int,
               p_bits: int, gain_bits: int, vec_width: int, sigma_width: int, out: dict,
               lr_shift=None, span=(0, 0)):
    """Build the five GAIN cycles into module ``m``; return the shifts' width.

    ``sigma``, ``d_max``, ``x_max``: the term's registers (held through the five cycles).
    ``out["is"]`` maps each of :data:`GAIN_STATES` to a signal that is high in that cycle;
    ``out["gain"]``, ``["gain_exp"]``, ``["row_shift"]``, ``["col_shift"]``, ``["neg"]``,
    ``["skip"]`` are the registers written (``Km``, ``kx``, ``sr``, ``sc``, ``sigma < 0``,
    skipped term). ``lr_shift``: a run-time signed value added to ``E`` (its range ``span``),
    or ``None``."""
    k_bits = _bits(gain_const) + sigma_width - 1
    sw = shift_width(exponent=exponent, p_bits=p_bits, k_bits=k_bits, vec_width=vec_width,
                     gain_bits=gain_bits, span=span)
    is_ = out["is"]
    gain, gain_exp = out["gain"], out["gain_exp"]
    sr, sc, neg, skip = out["row_shift"], out["col_shift"], out["neg"], out["skip"]

    abs_s = Signal(sigma_width, name="gain_abs_sigma")
    m.d.comb += abs_s.eq(Mux(sigma < 0, -sigma, sigma))
    K = Signal(k_bits, name="gain_K")
    a = Signal(vec_width + gain_bits, name="gain_a")
    total = Signal(signed(sw), name="gain_total")

    with m.If(is_["GAIN1"]):
        m.d.sync += [K.eq(abs_s * Const(gain_const, _bits(gain_const))),
                     neg.eq(sigma < 0),
                     skip.eq((sigma == 0) | (d_max == 0) | (x_max == 0))]

    # cycle 2: R3, round half up to gain_bits, a carry to 2**gain_bits renormalized
    lod_k = lod(m, K, "gain_lod_K")
    kx = Signal(range(k_bits + 2), name="gain_kx")
    m.d.comb += kx.eq(Mux(lod_k + 1 > gain_bits, lod_k + 1 - gain_bits, 0))
    kx1 = Signal(range(k_bits + 2), name="gain_kx1")
    m.d.comb += kx1.eq(kx - 1)                  # wraps for kx = 0, where it is not used
    km_half = Signal(k_bits, name="gain_km_half")
    m.d.comb += km_half.eq(K >> kx1)
    km0 = Signal(gain_bits + 1, name="gain_km0")
    m.d.comb += km0.eq(Mux(kx == 0, K, (km_half + 1) >> 1))
    with m.If(is_["GAIN2"]):
        with m.If(km0[gain_bits]):
            m.d.sync += [gain.eq(km0 >> 1), gain_exp.eq(kx + 1)]
        with m.Else():
            m.d.sync += [gain.eq(km0), gain_exp.eq(kx)]

    with m.If(is_["GAIN3"]):
        m.d.sync += a.eq(d_max * gain)

    # cycle 4: the first split from the LODs
    lod_a = lod(m, a, "gain_lod_a")
    lod_b = lod(m, x_max, "gain_lod_b")
    tot = Signal(signed(sw), name="gain_tot")
    base = Const(exponent - 2 * p_bits, signed(sw))
    m.d.comb += tot.eq((base if lr_shift is None else base + lr_shift) - gain_exp)
    split = Signal(signed(sw + 2), name="gain_split")
    m.d.comb += split.eq(lod_a - lod_b + tot + 1)
    with m.If(is_["GAIN4"]):
        m.d.sync += [total.eq(tot), sr.eq(split >> 1)]

    # cycle 5: the fix-up compare a 2**m < b, shifts capped where the answer is settled
    mm = Signal(signed(sw + 2), name="gain_m")
    m.d.comb += mm.eq(total - 2 * sr + 1)
    cap_a, cap_b = vec_width, vec_width + gain_bits
    la = Signal(range(cap_a + 1), name="gain_la")
    lb = Signal(range(cap_b + 1), name="gain_lb")
    m.d.comb += [la.eq(Mux(mm > cap_a, cap_a, Mux(mm > 0, mm, 0))),
                 lb.eq(Mux(mm < -cap_b, cap_b, Mux(mm < 0, -mm, 0)))]
    below = Signal(name="gain_below")
    m.d.comb += below.eq((a << la) < (x_max << lb))
    new_sr = Signal(signed(sw), name="gain_new_sr")
    m.d.comb += new_sr.eq(sr - below)
    with m.If(is_["GAIN5"]):
        m.d.sync += [sr.eq(new_sr), sc.eq(total - new_sr)]
    return sw
