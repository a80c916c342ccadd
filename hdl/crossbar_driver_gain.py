"""The crossbar driver's GAIN stage: update management without a divider, one short step a cycle.

Built into :class:`hdl.crossbar_driver.CrossbarDriver`'s module by :func:`build_gain`; the
contract is step 3 of :mod:`golden.driver` (``CrossbarDriverModel.plan``). Its five steps are
cut into :data:`GAIN_STATES` (``GAIN_CYCLES`` of the model), each a multiply, a leading-one
detect, a shifter or a short add between registers, so the stage does not limit Fmax::

  (at the sigma beat: |S|, sigma < 0, sigma == 0 registered)
  G1:  K <= C |S|                               C a generation-time constant
  G2:  LOD(K)                                   (leading-one detects are trees: log depth)
  G3:  kx <= max(0, LOD(K) + 1 - gain_bits)
  G4:  K 2**-(kx - 1)                           R3: round half up ...
  G5:  km0 <= (that + 1) >> 1  (K for kx = 0)
  G6:  Km, kx <= km0, renormalized on a carry to 2**gain_bits
  G7:  a <= d_max Km;  LOD(b);  skip;          the first cycle that reads the maxima
       total <= E - 2 p_bits - kx               (E + lr_shift with the run-time shift port)
  G8:  LOD(a);  total + 1 - LOD(b);  total + 1
  G9:  sr <= (LOD(a) + total + 1 - LOD(b)) >> 1
  G10: m = total - 2 sr + 1: the compare's shifts (capped), total - sr
  G11: a 2**m, b 2**-m as two left shifts
  G12: below <= a 2**m < b
  G13: sr <= sr - below;  sc <= total - sr

``b = x_max``. The compare caps its shifts where the result no longer changes: ``a >= 1`` and
``b < 2**vec_width`` (so ``m >= vec_width`` always means "not below"), ``b >= 1`` and
``a < 2**(vec_width + gain_bits)``. For a skipped term (``S``, ``d_max`` or ``x_max`` zero)
the shifts are don't-cares: the PLAN pass forces its words to 0. The maxima must be final by
G7 (:data:`MAXIMA_FIRST_READ`); the driver's maxima pipeline is checked against it.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed

__all__ = ["build_gain", "GAIN_STATES", "MAXIMA_FIRST_READ", "shift_width", "lod"]

#: FSM states of the GAIN cycles, in order (``GAIN_CYCLES`` of the model).
GAIN_STATES = tuple(f"GAIN{k}" for k in range(1, 14))

#: The GAIN cycle (0-based index into :data:`GAIN_STATES`) that first reads ``d_max``/``x_max``.
MAXIMA_FIRST_READ = 6


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def shift_width(*, exponent: int, p_bits: int, k_bits: int, vec_width: int,
                gain_bits: int, span=(0, 0)) -> int:
    """Width of the signed shifts ``total``, ``sr``, ``sc``: ``|total| <= |E - 2 p_bits| +
    k_bits + 1``, ``|sr|`` and ``|sc|`` at most ``1.5 |total|`` plus the LODs' span. ``span``:
    the range ``(lo, hi)`` a run-time ``lr_shift`` adds to ``E``."""
    t = max(abs(exponent + d - 2 * p_bits) for d in span) + k_bits + 1
    return _bits(2 * t + 2 * (vec_width + gain_bits) + 8) + 1


def _lod_tree(bits):
    """``(any, position)`` of the highest set bit of ``bits`` (a list of 1-bit values, LSB
    first, a power of two long): a tree of 2:1 multiplexers, log depth."""
    if len(bits) == 1:
        return bits[0], None
    half = len(bits) // 2
    any_lo, pos_lo = _lod_tree(bits[:half])
    any_hi, pos_hi = _lod_tree(bits[half:])
    pos = any_hi if pos_lo is None else Cat(Mux(any_hi, pos_hi, pos_lo), any_hi)
    return any_lo | any_hi, pos


def lod(m, value, name: str):
    """Leading-one detect of an unsigned ``value``: ``floor(log2 value)`` (0 for 0)."""
    n = len(value)
    out = Signal(range(max(2, n)), name=name)
    if n == 1:
        return out
    size = 1 << (n - 1).bit_length()
    bits = [value[b] for b in range(n)] + [Const(0, 1)] * (size - n)
    _, pos = _lod_tree(bits)
    m.d.comb += out.eq(pos)
    return out


def build_gain(m, *, abs_sigma, sigma_zero, d_max, x_max, gain_const: int, exponent: int,
               p_bits: int, gain_bits: int, vec_width: int, sigma_width: int, out: dict,
               lr_shift=None, span=(0, 0)):
    """Build the GAIN cycles into module ``m``; return the shifts' width.

    ``abs_sigma`` (``|S|``), ``sigma_zero``: registered at the ``sigma`` beat; ``d_max``,
    ``x_max``: the term's maxima, final from cycle :data:`MAXIMA_FIRST_READ`. ``out["is"]``
    maps each of :data:`GAIN_STATES` to a signal that is high in that cycle; ``out["gain"]``,
    ``["gain_exp"]``, ``["row_shift"]``, ``["col_shift"]``, ``["skip"]`` are the registers
    written (``Km``, ``kx``, ``sr``, ``sc``, skipped term). ``lr_shift``: a run-time signed
    value added to ``E`` (its range ``span``), or ``None``."""
    k_bits = _bits(gain_const) + sigma_width - 1
    sw = shift_width(exponent=exponent, p_bits=p_bits, k_bits=k_bits, vec_width=vec_width,
                     gain_bits=gain_bits, span=span)
    is_ = out["is"]
    gain, gain_exp = out["gain"], out["gain_exp"]
    sr, sc, skip = out["row_shift"], out["col_shift"], out["skip"]
    gb = gain_bits

    def step(k):
        return m.If(is_[GAIN_STATES[k - 1]])

    # G1 .. G6: K = C |S|, R3 (round half up to gain_bits, a carry renormalized)
    K = Signal(k_bits, name="gain_K")
    with step(1):
        m.d.sync += K.eq(abs_sigma * Const(gain_const, _bits(gain_const)))
    lod_k = Signal(range(k_bits + 1), name="gain_lod_K_r")
    with step(2):
        m.d.sync += lod_k.eq(lod(m, K, "gain_lod_K"))
    kx = Signal(range(k_bits + 2), name="gain_kx")
    kx1 = Signal(range(k_bits + 2), name="gain_kx1")   # kx - 1, for kx >= 1
    kx0 = Signal(name="gain_kx0")
    with step(3):
        m.d.sync += [kx0.eq(lod_k + 1 <= gb),
                     kx.eq(Mux(lod_k + 1 > gb, lod_k + 1 - gb, 0)),
                     kx1.eq(lod_k - gb)]
    km_half = Signal(gb + 1, name="gain_km_half")      # K >> (kx - 1) < 2**(gb + 1)
    with step(4):
        m.d.sync += km_half.eq(K >> kx1)
    km0 = Signal(gb + 1, name="gain_km0")
    with step(5):
        m.d.sync += km0.eq(Mux(kx0, K[:gb + 1], (km_half + 1) >> 1))
    with step(6):
        m.d.sync += [gain.eq(Mux(km0[gb], km0 >> 1, km0)), gain_exp.eq(kx + km0[gb])]

    # G7 .. G9: a = d_max Km, the first split from the LODs (adds spread over the cycles)
    a = Signal(vec_width + gb, name="gain_a")
    lod_b = Signal(range(max(2, vec_width)), name="gain_lod_b_r")
    total = Signal(signed(sw), name="gain_total")
    base = Const(exponent - 2 * p_bits, signed(sw))
    with step(7):
        m.d.sync += [a.eq(d_max * gain), lod_b.eq(lod(m, x_max, "gain_lod_b")),
                     skip.eq(sigma_zero | (d_max == 0) | (x_max == 0)),
                     total.eq((base if lr_shift is None else base + lr_shift) - gain_exp)]
    lod_a = Signal(range(vec_width + gb), name="gain_lod_a_r")
    t_b = Signal(signed(sw + 1), name="gain_total_b")          # total + 1 - LOD(b)
    t_1 = Signal(signed(sw + 1), name="gain_total_1")          # total + 1
    with step(8):
        m.d.sync += [lod_a.eq(lod(m, a, "gain_lod_a")), t_b.eq(total + 1 - lod_b),
                     t_1.eq(total + 1)]
    with step(9):
        m.d.sync += sr.eq((lod_a + t_b) >> 1)

    # G10 .. G13: the fix-up compare a 2**m < b, shifts capped where the answer is settled
    mm = Signal(signed(sw + 2), name="gain_m")
    m.d.comb += mm.eq(t_1 - 2 * sr)
    cap_a, cap_b = vec_width, vec_width + gb
    la = Signal(range(cap_a + 1), name="gain_la")
    lb = Signal(range(cap_b + 1), name="gain_lb")
    t_sr = Signal(signed(sw + 1), name="gain_total_sr")
    with step(10):
        m.d.sync += [la.eq(Mux(mm > cap_a, cap_a, Mux(mm > 0, mm, 0))),
                     lb.eq(Mux(mm < -cap_b, cap_b, Mux(mm < 0, -mm, 0))),
                     t_sr.eq(total - sr)]
    sa = Signal(len(a) + cap_a, name="gain_sa")
    sb = Signal(len(x_max) + cap_b, name="gain_sb")
    with step(11):
        m.d.sync += [sa.eq(a << la), sb.eq(x_max << lb)]
    below = Signal(name="gain_below")
    with step(12):
        m.d.sync += below.eq(sa < sb)
    with step(13):
        m.d.sync += [sr.eq(sr - below), sc.eq(t_sr + below)]
    return sw
