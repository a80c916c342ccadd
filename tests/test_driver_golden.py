"""The crossbar driver's bit-exact golden model (golden.driver): parameters, factor words, the
division-free update management, the probability words, both pulse schemes, the LFSR lanes,
the carried state, the cycle model, and an end-to-end run from the unit's model to a crossbar."""

import math
from pathlib import Path

import numpy as np
import pytest

import golden.driver as driver_pkg
from golden.crossbar import CrossbarArray
from golden.driver import (GAIN_CYCLES, LANE_POLYS, PLAN_LATENCY, CrossbarDriverModel,
                           LaneGenerators, UnitFactors, is_primitive, lane_seeds, unit_factors)
from golden.driver.lfsr import DEGREE, lfsr_step, poly_int, tap_mask
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats

ROOT = Path(__file__).resolve().parent.parent
F = UnitFormats.for_width()


def test_imports_this_tree():
    print(driver_pkg.__file__)
    assert Path(driver_pkg.__file__).resolve().is_relative_to(ROOT)


# -- parameters ----------------------------------------------------------------------------------

def test_parameters_exposed_read_only():
    m = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=3 * 2.0 ** -7, group=2, bl=20, p_bits=12)
    assert (m.n_in, m.n_out, m.n_cols, m.n_rows, m.bl, m.p_bits, m.group) == (6, 4, 6, 4, 20, 12,
                                                                               2)
    assert (m.lr_mult, m.lr_shift, m.lr) == (3, 7, 3 * 2.0 ** -7)
    assert m.scheme == "stochastic" and m.formats == F
    assert m.lane_seeds == lane_seeds(0, 2) and m.lane_polys == LANE_POLYS[:2]
    assert 2 ** 15 <= m.step < 2 ** 16 and abs(m.step_error) <= 2.0 ** -16
    assert m.gain_const == 3 * m.step
    with pytest.raises(AttributeError):
        m.bl = 8
    with pytest.raises(AttributeError):
        m.lr = 0.5


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_in=0), ValueError, "n_in=0: must be at least 1"),
    (dict(n_out=2.5), TypeError, "n_out=2.5: must be an integer"),
    (dict(dw_min=0.0), ValueError, "dw_min=0.0: must be > 0"),
    (dict(dw_min="x"), TypeError, "dw_min='x': must be a number"),
    (dict(lr=0.1), ValueError, r"lr=0.1: not a small multiple of a power of two: it is "
                               r"3602879701896397 \* 2\*\*-55"),
    (dict(lr=17 * 2.0 ** -8), ValueError, r"lr=0.06640625: .* below 2\*\*4 \(lr_bits\)"),
    (dict(lr=-0.25), ValueError, "lr=-0.25: must be > 0"),
    (dict(lr=2.0 ** -50), ValueError, r"outside the shifter's range"),
    (dict(bl=0), ValueError, r"bl=0: must be in \[1, 1023\]"),
    (dict(bl=1024), ValueError, r"bl=1024: must be in \[1, 1023\]"),
    (dict(p_bits=17), ValueError, r"p_bits=17: must be in \[2, 16\]"),
    (dict(gain_bits=3), ValueError, r"gain_bits=3: must be in \[4, 24\]"),
    (dict(step_bits=25), ValueError, r"step_bits=25: must be in \[4, 24\]"),
    (dict(lr_bits=9), ValueError, r"lr_bits=9: must be in \[1, 8\]"),
    (dict(group=65), ValueError, r"group=65: must be in \[1, 64\]"),
    (dict(fire_cycles=0), ValueError, r"fire_cycles=0: must be in \[1, 65536\]"),
    (dict(scheme="implicit"), ValueError, "scheme='implicit': must be one of"),
    (dict(seed=-1), ValueError, r"seed=-1: must be in \[0, 281474976710655\]"),
    (dict(seed=(1, 2, 3)), ValueError, "seed: 3 start states for group=8 lanes"),
    (dict(seed=[0] * 8), ValueError, r"seed\[0\]=0: must be in \[1, 4294967295\]"),
    (dict(formats="16"), TypeError, "formats='16': must be a UnitFormats"),
])
def test_parameter_errors(kwargs, exc, match):
    args = dict(n_in=6, n_out=4, dw_min=0.0002)
    args.update(kwargs)
    n_in, n_out = args.pop("n_in"), args.pop("n_out")
    with pytest.raises(exc, match=match):
        CrossbarDriverModel(n_in, n_out, **args)


def test_lr_representable_forms():
    for lr, mult, shift in ((2.0 ** -4, 1, 4), (0.75, 3, 2), (5.0, 5, 0), (12.0, 3, -2),
                            (15 * 2.0 ** -20, 15, 20)):
        m = CrossbarDriverModel(4, 3, dw_min=0.001, lr=lr)
        assert (m.lr_mult, m.lr_shift) == (mult, shift)
        assert m.lr_mult * 2.0 ** -m.lr_shift == lr
    assert CrossbarDriverModel(4, 3, dw_min=0.001, lr=17 * 2.0 ** -8, lr_bits=5).lr_mult == 17


# -- hand-worked terms (bl 32, dw_min 2**-10: M = 2**15 exactly) --------------------------------

def hand_model(**kw):
    return CrossbarDriverModel(2, 3, dw_min=2.0 ** -10, lr=3 * 2.0 ** -5, bl=32, group=2, **kw)


D_HAND = np.array([2 ** 14, -2 ** 13, 2 ** 12])     # d = 0.5, -0.25, 0.125
X_HAND = np.array([2 ** 14, -2 ** 12])               # x = 0.5, -0.125


def test_hand_term_gain_and_probabilities():
    m = hand_model()
    assert (m.step, m.step_exp, m.step_error) == (2 ** 15, 10, 0.0)
    assert m.exponent == 5 + 10 + 11 + 30
    p = m.plan(X_HAND, D_HAND, 2 ** 11)                 # sigma = 1
    # K = 3 * 2**15 * 2**11; LOD 27 -> kx = 12, Km = 3 * 2**14 (exact)
    assert (p.K, p.gain, p.gain_exp) == (3 * 2 ** 26, 3 * 2 ** 14, 12)
    # total = 56 - 12 - 32 = 12; sr = (29 - 14 + 12 + 1) >> 1 = 14, no fix-up; sc = -2
    assert (p.row_shift, p.col_shift) == (14, -2)
    assert p.balance() == 0.75
    assert p.p_rows.tolist() == [49152, 24576, 12288]           # 0.75, 0.375, 0.1875
    assert p.p_cols.tolist() == [65535, 16384]                  # 1 (all ones, not clipped), 0.25
    assert p.neg_rows.tolist() == [False, True, False] and p.neg_cols.tolist() == [False, True]
    assert not p.clip and p.clipped_lines == 0
    # wanted lr |sigma d x| / dw_min = 96 |d_i x_j|, exactly BL p_d p_x here
    wanted = m.wanted_counts(X_HAND, D_HAND, 2 ** 11)
    assert wanted.tolist() == [[24, 6], [12, 3], [6, 1.5]]
    assert np.array_equal(p.expected_counts(), wanted)
    assert p.target_counts().tolist() == [[24, 6], [12, 3], [6, 2]]


def test_hand_term_clips_at_one():
    p = hand_model().plan(X_HAND, D_HAND, 2 ** 13)      # sigma = 4: wanted up to 96 > BL
    assert (p.gain, p.gain_exp, p.row_shift, p.col_shift) == (3 * 2 ** 14, 14, 13, -3)
    assert p.p_rows.tolist() == [65535, 49152, 24576]
    assert p.p_cols.tolist() == [65535, 32768]
    assert p.clipped_rows.tolist() == [True, False, False]
    assert p.clipped_cols.tolist() == [True, False]
    assert p.clip and p.clipped_lines == 2
    d = hand_model(scheme="deterministic").drive_term(X_HAND, D_HAND, 2 ** 13)
    assert d.row_pulse_counts[0] == d.col_pulse_counts[0] == 32      # probability 1: every slot


def test_hand_term_negative_sigma_flips_rows():
    p = hand_model().plan(X_HAND, D_HAND, -2 ** 11)
    assert p.neg_rows.tolist() == [True, False, True]
    assert p.p_rows.tolist() == [49152, 24576, 12288]
    assert p.signs().tolist() == [[-1, 1], [1, -1], [-1, 1]]


def test_hand_term_deterministic_pulses():
    m = hand_model(scheme="deterministic")
    d = m.drive_term(X_HAND, D_HAND, 2 ** 11)
    rows, cols = d.row_pulses, d.col_pulses
    assert rows.dtype == np.int8 and rows.shape == (32, 3) and cols.shape == (32, 2)
    t = np.arange(32)
    assert rows[:, 0].tolist() == np.where(t < 24, 1, 0).tolist()       # thermometer, n_d = 24
    assert rows[:, 1].tolist() == np.where(t < 12, -1, 0).tolist()      # sign of d
    assert rows[:, 2].tolist() == np.where(t < 6, 1, 0).tolist()
    assert cols[:, 0].tolist() == [1] * 32                              # n_x = 32
    assert np.flatnonzero(cols[:, 1]).tolist() == [2, 6, 10, 14, 18, 22, 26, 30]
    assert set(cols[:, 1].tolist()) == {0, -1}
    assert d.counts.tolist() == [[24, 6], [12, 3], [6, 1]]
    assert (d.count_error_max, d.count_error_mean) == (1, 1 / 6)
    # on the array: W -= dw * sign(sigma d x) * counts
    arr = CrossbarArray(3, 2, device="ideal")
    d.apply(arr)
    dw = arr.dw_min
    assert np.allclose(arr.weights, -dw * d.plan.signs() * d.counts)


def test_skipped_term_runs_empty_slots():
    m = hand_model()
    before = m.draws_made
    d = m.drive_term(X_HAND, np.zeros(3, int), 2 ** 11)
    assert d.plan.skipped and not d.row_pulses.any() and not d.col_pulses.any()
    assert m.draws_made - before == m.bl * m.load_cycles
    assert m.stats()["skipped_terms"] == 1


def test_gain_rounds_half_up_with_carry():
    m = CrossbarDriverModel(2, 3, dw_min=2.0 ** -10, lr=2.0 ** -5, bl=32)   # C = 2**15
    assert m.gain_const == 2 ** 15
    p = m.plan(X_HAND, D_HAND, 2 ** 16 + 1)            # K / 2**16 = 32768.5 -> 32769
    assert (p.K, p.gain, p.gain_exp) == (2 ** 15 * (2 ** 16 + 1), 32769, 16)
    p = m.plan(X_HAND, D_HAND, 2 ** 17 - 1)            # rounds up to 2**16: renormalized
    assert (p.gain, p.gain_exp) == (2 ** 15, 17)
    assert p.gain < 2 ** m.gain_bits


def test_step_constant_rounds_with_carry():
    m = CrossbarDriverModel(4, 3, dw_min=1 / 65535.75, bl=1)   # 65535.75 rounds to 2**16
    assert (m.step, m.step_exp) == (2 ** 15, -1)
    assert abs(m.step_error) <= 2.0 ** -16


def test_probability_one_pulses_in_every_slot():
    """All ones means 1, not 1 - 2**-p_bits: with 4-bit draws a draw of 15 is common."""
    m = CrossbarDriverModel(2, 3, dw_min=2.0 ** -10, lr=3 * 2.0 ** -5, bl=32, group=2, p_bits=4)
    p = m.plan(X_HAND, D_HAND, 2 ** 13)
    assert p.p_rows[0] == p.p_cols[0] == 15 and p.clip
    rows, cols = m.pulses(p, 500)
    assert np.all(rows[:, 0] == 1) and np.all(cols[:, 0] == 1)
    assert 0 < np.abs(cols[:, 1]).sum() < 500


def test_stochastic_pulses_follow_the_load_order():
    """Slot by slot, rows before columns; in load cycle c lane g serves line c G + g and takes
    one draw (also for lines that do not exist): the RTL's cycle-by-cycle contract."""
    rng = np.random.default_rng(4)
    m = CrossbarDriverModel(7, 5, dw_min=0.0002, lr=2.0 ** -6, group=3, bl=6, seed=21)
    x, d, s = random_term(rng, 7, 5, 2 ** 13)
    p = m.plan(x, d, s)
    rows, cols = m.pulses(p)
    gens = LaneGenerators(m.lane_seeds, m.p_bits)
    R, C, G = m.row_groups, m.col_groups, m.group
    assert (R, C) == (2, 3)
    for t in range(m.bl):
        for c in range(R + C):
            draw = gens.draws(1)[0]
            for g in range(G):
                line = (c if c < R else c - R) * G + g
                words, pulses, neg = ((p.p_rows, rows, p.neg_rows) if c < R
                                      else (p.p_cols, cols, p.neg_cols))
                if line >= words.size:
                    continue
                fire = draw[g] < words[line] or words[line] == p.ones
                assert pulses[t, line] == (fire * (-1 if neg[line] else 1)), (t, c, g)


def test_word_range_errors():
    m = hand_model()
    with pytest.raises(ValueError, match="expected 2 and 3 words, got 3 and 3"):
        m.plan(D_HAND, D_HAND, 1)
    with pytest.raises(ValueError, match="x_words: words outside the vec format"):
        m.plan([2 ** 15, 0], D_HAND, 1)
    with pytest.raises(ValueError, match="sigma_word=131072: outside the sigma format"):
        m.plan(X_HAND, D_HAND, 2 ** 17)


# -- integer exactness ---------------------------------------------------------------------------

def random_term(rng, n_in, n_out, spread=3000):
    return (rng.integers(-spread, spread + 1, n_in), rng.integers(-spread, spread + 1, n_out),
            int(rng.integers(1, 2 ** 14)) * int(rng.choice([-1, 1])))


@pytest.mark.parametrize("scheme", ["stochastic", "deterministic"])
def test_integer_datapath(scheme):
    rng = np.random.default_rng(3)
    m = CrossbarDriverModel(9, 5, dw_min=0.0002, lr=2.0 ** -8, group=3, scheme=scheme)
    x, d, s = random_term(rng, 9, 5)
    drv = m.drive_term(x, d, s)
    p = drv.plan
    for name in ("sigma", "K", "gain", "gain_exp", "d_max", "x_max", "row_shift", "col_shift"):
        assert type(getattr(p, name)) is int, name
    for arr in (p.p_rows, p.p_cols, p.target_counts(), *p.line_counts(), drv.counts,
                drv.row_pulse_counts, drv.col_pulse_counts):
        assert arr.dtype == np.int64
    for arr in (p.neg_rows, p.neg_cols, p.clipped_rows, p.clipped_cols):
        assert arr.dtype == bool
    assert drv.row_pulses.dtype == drv.col_pulses.dtype == np.int8
    assert set(np.unique(drv.row_pulses)) <= {-1, 0, 1}
    assert 0 <= p.p_rows.min() and p.p_rows.max() < 2 ** m.p_bits
    # the same words give the same plan bit for bit (no state, no float in the path)
    q = m.plan(x, d, s)
    assert np.array_equal(p.p_rows, q.p_rows) and np.array_equal(p.p_cols, q.p_cols)


def test_balance_within_a_factor_two_and_product_exact():
    """Power-of-two balance: max p_d / max p_x in [1/2, 2); the product p_d p_x equals the
    wanted lr |sigma d x| / (dw_min BL) up to the roundings R2, R3, R4 (bound below)."""
    rng = np.random.default_rng(5)
    ratios = []
    for case in range(400):
        lr = float(rng.integers(1, 16)) * 2.0 ** -int(rng.integers(4, 14))
        m = CrossbarDriverModel(7, 5, dw_min=float(rng.choice([0.0002, 0.0016, 0.001, 0.005])),
                                lr=lr, bl=int(rng.choice([10, 31, 64])))
        spread = int(2 ** rng.integers(4, 15))
        x, d, s = random_term(rng, 7, 5, spread)
        p = m.plan(x, d, s)
        if p.skipped:
            continue
        ratios.append(p.balance())
        assert 0.5 <= p.balance() < 2.0, case
        wanted = m.wanted_counts(x, d, s)
        if p.clip:
            assert wanted.max() > m.bl / 2          # clips only beyond BL / 2
            continue
        delta = 2.0 ** -(m.p_bits + 1)
        pd = np.abs(d) * p.gain * 2.0 ** -(p.row_shift + m.p_bits)
        px = np.abs(x) * 2.0 ** -(p.col_shift + m.p_bits)
        bound = (wanted * (2.0 ** -m.step_bits + 2.0 ** -m.gain_bits) * 1.001
                 + m.bl * delta * (np.add.outer(pd, px) + delta))
        assert np.all(np.abs(p.expected_counts() - wanted) <= bound + 1e-12), case
    assert min(ratios) < 0.6 and max(ratios) > 1.8       # the whole window is used


def test_no_clip_up_to_half_bl():
    """Wanted maxima up to BL/2 never clip (the power-of-two balance's guarantee)."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        x, d, s = random_term(rng, 6, 4, int(2 ** rng.integers(6, 15)))
        m0 = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=2.0 ** -10)
        c = m0.wanted_counts(x, d, s).max()
        if c == 0:
            continue
        # the largest power-of-two lr that keeps the wanted maximum below BL / 2
        shift = math.ceil(math.log2(c * 2 ** 10 / (m0.bl / 2)))
        if not -16 <= shift <= 48:
            continue
        m = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=2.0 ** -shift)
        assert m.wanted_counts(x, d, s).max() <= m.bl / 2
        assert not m.plan(x, d, s).clip


# -- stochastic scheme: expected coincidences ----------------------------------------------------

def test_stochastic_coincidences_match_the_wanted_step():
    """Over many slots and seeds the mean coincidence count per cell is BL p_d p_x (z < 5), and
    that is lr |sigma d x| / dw_min (exact for the hand-worked term)."""
    terms, seeds = 60, 20
    total = np.zeros((3, 2))
    for seed in range(seeds):
        m = hand_model(seed=seed)
        for _ in range(terms):
            total += m.drive_term(X_HAND, D_HAND, 2 ** 11).counts
    n = terms * seeds
    mean = total / n
    plan = hand_model().plan(X_HAND, D_HAND, 2 ** 11)
    q = plan.expected_counts() / 32                   # per-slot coincidence probability
    se = np.sqrt(32 * q * (1 - q) / n)
    expected = plan.expected_counts()
    ok = se > 0
    assert np.all(np.abs(mean - expected)[ok] < 5 * se[ok])
    assert np.array_equal(mean[~ok], expected[~ok])    # p = 1 x p = 1: every slot
    assert np.allclose(expected, hand_model().wanted_counts(X_HAND, D_HAND, 2 ** 11))


def test_stochastic_line_frequencies():
    """Each line pulses with its word's probability, independent of its neighbours."""
    rng = np.random.default_rng(2)
    m = CrossbarDriverModel(16, 12, dw_min=0.0002, lr=2.0 ** -6, group=4, bl=31)
    x, d, s = random_term(rng, 16, 12, 2 ** 13)
    p = m.plan(x, d, s)
    n = 300
    rows = np.concatenate([m.pulses(p)[0] for _ in range(n)])
    freq = np.abs(rows).mean(axis=0)
    pr = p.p_rows_real()
    se = np.sqrt(pr * (1 - pr) / rows.shape[0]) + 1e-12
    assert np.all(np.abs(freq - pr) < 5 * se + 1e-9)
    # neighbouring rows' pulse bits are uncorrelated
    a = np.abs(rows).astype(float)
    for i in range(a.shape[1] - 1):
        if 0.05 < pr[i] < 0.95 and 0.05 < pr[i + 1] < 0.95:
            r = np.corrcoef(a[:, i], a[:, i + 1])[0, 1]
            assert abs(r) < 5 / math.sqrt(a.shape[0]), i


# -- deterministic scheme -------------------------------------------------------------------------

def test_deterministic_count_error_bound():
    """Per-cell count error against round(BL p_d p_x) is at most 2 (bound in the package
    docstring); the column pattern is floor((m + 1/2) BL / n_x)."""
    rng = np.random.default_rng(7)
    worst, means = 0, []
    for case in range(200):
        bl = int(rng.choice([7, 31, 32, 100]))
        m = CrossbarDriverModel(11, 9, dw_min=0.0002, lr=float(rng.integers(1, 16)) * 2.0 ** -
                                int(rng.integers(5, 10)), bl=bl, scheme="deterministic", group=4)
        x, d, s = random_term(rng, 11, 9, int(2 ** rng.integers(8, 15)))
        drv = m.drive_term(x, d, s)
        worst = max(worst, drv.count_error_max)
        means.append(drv.count_error_mean)
        n_d, n_x = drv.plan.line_counts()
        assert np.array_equal(np.abs(drv.row_pulses).sum(axis=0), n_d)
        assert np.array_equal(np.abs(drv.col_pulses).sum(axis=0), n_x)
        for j in range(11):
            want = [math.floor((mm + 0.5) * bl / n_x[j]) for mm in range(n_x[j])]
            assert np.flatnonzero(drv.col_pulses[:, j]).tolist() == want
        assert np.array_equal(drv.counts, (2 * np.outer(n_d, n_x) + bl - 1) // (2 * bl))
    assert worst <= 2
    assert worst >= 1 and np.mean(means) < 0.5


# -- the LFSR lanes -------------------------------------------------------------------------------

def test_lane_polynomials_are_primitive_and_distinct():
    assert len(set(LANE_POLYS)) == len(LANE_POLYS) == 64
    for taps in LANE_POLYS:
        assert max(taps) <= DEGREE - 16                 # draws of 16 bits: no chained XORs
        assert is_primitive(poly_int(taps), DEGREE), taps
    assert not is_primitive(poly_int((16, 8)), DEGREE)          # a reducible polynomial
    assert not is_primitive(poly_int((31, 30, 10, 1)), DEGREE)  # x = 1 is a root (even terms)


def test_lfsr_period_is_maximal_by_stepping():
    """Degree 16 by brute force: x^16 + x^14 + x^13 + x^11 + 1 runs through all 65535 non-zero
    states; a non-primitive polynomial repeats early."""
    def period(taps, degree=16, seed=1):
        mask, s, n = tap_mask(taps, degree), seed, 0
        seen = set()
        while True:
            seen.add(s)
            s, n = lfsr_step(s, mask, degree), n + 1
            if s == seed:
                return n, len(seen)
    assert is_primitive(poly_int((14, 13, 11), 16), 16)
    assert period((14, 13, 11)) == (65535, 65535)
    assert not is_primitive(poly_int((8,), 16), 16)
    assert period((8,))[0] < 65535
    # irreducible but not primitive: x^4 + x^3 + x^2 + x + 1 has order 5, not 15
    assert is_primitive(poly_int((1,), 4), 4) and period((1,), 4) == (15, 15)
    assert not is_primitive(poly_int((3, 2, 1), 4), 4) and period((3, 2, 1), 4) == (5, 5)


def test_lanes_implement_their_polynomials():
    """The table-driven draws equal p bit-serial steps, and the bit sequence satisfies each
    lane's recurrence a[m+32] = a[m] ^ XOR a[m+tap]."""
    gens = LaneGenerators(lane_seeds(4, 8), 16)
    start = gens.state
    draws = gens.draws(40)
    for g in range(8):
        s, mask, bits = start[g], tap_mask(LANE_POLYS[g]), []
        for c in range(40):
            for _ in range(16):
                s = lfsr_step(s, mask)
                bits.append(s & 1)
            assert draws[c, g] == s & 0xFFFF
        a = bits
        for i in range(len(a) - 32):
            want = a[i]
            for t in LANE_POLYS[g]:
                want ^= a[i + t]
            assert a[i + 32] == want
        assert gens.state[g] == s


def test_neighbouring_lanes_are_not_shifted_copies():
    """Equal draws between neighbouring lanes at any lag up to 64 cycles are as rare as chance
    (2**-8 with 8-bit draws); a shifted copy (one polynomial, seeds one draw apart) is caught."""
    n, lags = 8000, range(-64, 65)
    draws = LaneGenerators(lane_seeds(1, 8), 8).draws(n)

    def worst_equal(a, b):
        return max(np.mean(a[max(0, L):n + min(0, L)] == b[max(0, -L):n - max(0, L)])
                   for L in lags)
    for g in range(7):
        assert worst_equal(draws[:, g], draws[:, g + 1]) < 0.012, g
        c = np.corrcoef(draws[:-1, g], draws[1:, g])[0, 1]        # a lane's serial correlation
        assert abs(c) < 5 / math.sqrt(n)
        assert abs(np.corrcoef(draws[:, g], draws[:, g + 1])[0, 1]) < 5 / math.sqrt(n)
    # the positive control: the same m-sequence one draw later
    a = LaneGenerators([12345], 8)
    b = LaneGenerators([12345], 8)
    b.draws(1)
    assert worst_equal(a.draws(n)[:, 0], b.draws(n)[:, 0]) == 1.0


# -- state and seeds ------------------------------------------------------------------------------

def test_state_carried_across_calls():
    rng = np.random.default_rng(8)
    x, d, s = random_term(rng, 10, 7, 2 ** 13)
    a = CrossbarDriverModel(10, 7, dw_min=0.0002, lr=2.0 ** -7, group=3, seed=9)
    b = CrossbarDriverModel(10, 7, dw_min=0.0002, lr=2.0 ** -7, group=3, seed=9)
    p = a.plan(x, d, s)
    r1, c1 = a.pulses(p)
    r2, c2 = a.pulses(p)
    r, c = b.pulses(p, 2 * a.bl)
    assert np.array_equal(np.concatenate([r1, r2]), r) and np.array_equal(np.concatenate([c1, c2]),
                                                                          c)
    assert a.generator_state == b.generator_state
    # whole terms and batches: each stochastic term advances every lane BL * load_cycles draws
    ref = LaneGenerators(a.lane_seeds, a.p_bits)
    a.drive_term(x, d, s)
    ref.draws(3 * a.bl * a.load_cycles)
    assert a.generator_state == ref.state and a.draws_made == 3 * a.bl * a.load_cycles
    # the deterministic scheme leaves the generators alone
    det = CrossbarDriverModel(10, 7, dw_min=0.0002, lr=2.0 ** -7, group=3, seed=9,
                              scheme="deterministic")
    det.drive_term(x, d, s)
    assert det.generator_state == det.lane_seeds


def test_seeding_reproducible():
    rng = np.random.default_rng(12)
    x, d, s = random_term(rng, 10, 7, 2 ** 13)
    kw = dict(dw_min=0.0002, lr=2.0 ** -7, group=4)
    one = CrossbarDriverModel(10, 7, seed=5, **kw).drive_term(x, d, s)
    two = CrossbarDriverModel(10, 7, seed=5, **kw).drive_term(x, d, s)
    explicit = CrossbarDriverModel(10, 7, seed=list(lane_seeds(5, 4)), **kw).drive_term(x, d, s)
    other = CrossbarDriverModel(10, 7, seed=6, **kw).drive_term(x, d, s)
    assert np.array_equal(one.row_pulses, two.row_pulses)
    assert np.array_equal(one.col_pulses, two.col_pulses)
    assert np.array_equal(one.col_pulses, explicit.col_pulses)
    assert not np.array_equal(one.col_pulses, other.col_pulses)
    assert len(set(lane_seeds(5, 64))) == 64 and lane_seeds(5, 4) != lane_seeds(6, 4)


# -- cycle model ----------------------------------------------------------------------------------

def test_cycle_model():
    # MNIST hidden layer: 784 columns, 100 rows, G = 8: R = 13, C = 98
    m = CrossbarDriverModel(784, 100, dw_min=0.0002, lr=2.0 ** -8)
    assert (m.row_groups, m.col_groups, m.load_cycles, m.slot_cycles) == (13, 98, 111, 112)
    assert (GAIN_CYCLES, PLAN_LATENCY, m.schedule.plan_cycles) == (13, 9, 120)
    assert m.cycles_per_term == 13 + 120 + 31 * 112 == 3605
    # FACTOR: one multiplier, 10 products per line, + 2 (last row out, one memory read)
    assert m.factor_cycles(4) == 884 * 10 + 2 == 8842
    assert m.cycles_per_batch(4) == 8842 + 4 * (111 + 1 + 3605) == 23710
    small = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=2.0 ** -8, group=16, fire_cycles=3)
    assert small.load_cycles == 2 and small.cycles_per_term == 13 + 11 + 31 * 5
    assert small.factor_cycles(1) == 10 + 2


# -- factor words from the unit -------------------------------------------------------------------

def run_unit(n_in=6, n_out=4, k=2, batches=(8, 5), seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    u = SBPCAUnitModel(n_in, n_out, k=k, b_max=16)
    u.load(np.linalg.qr(rng.normal(size=(n_in, k)))[0],
           np.linalg.qr(rng.normal(size=(n_out, k)))[0], 0.5)
    for b in batches:
        xs = u.F.x.quantize(np.clip(rng.normal(size=(b, n_in)) * scale, -0.99, 0.99))[0]
        ds = u.F.d.quantize(np.clip(rng.normal(size=(b, n_out)) * scale, -0.99, 0.99))[0]
        u.batch(xs, ds)
    return u


def test_unit_factors_equal_readout():
    u = run_unit()
    flags = u.overflow_sources
    f = unit_factors(u)
    assert u.overflow_sources == flags                  # the unit's sticky flags untouched
    sigma, X, D = u.readout()
    fs, fX, fD = f.real()
    assert np.array_equal(fs, sigma) and np.array_equal(fX, X) and np.array_equal(fD, D)
    assert f.X.dtype == f.D.dtype == f.sigma.dtype == np.int64 and not f.saturated
    # a state whose readout saturates (column exponent 2 on full-scale words)
    u.x_side = (np.array([2, 0]), u.x_side[1])
    f = unit_factors(u)
    u.readout()
    assert f.saturated and "readout" in u.overflow_sources
    assert np.array_equal(f.real()[1], u.readout()[1])
    with pytest.raises(ValueError, match="unit.mode='float'"):
        unit_factors(SBPCAUnitModel(6, 4, k=2, mode="float"))
    with pytest.raises(ValueError, match="has no state"):
        unit_factors(SBPCAUnitModel(6, 4, k=2))


def test_drive_checks_its_source():
    f = unit_factors(run_unit())
    with pytest.raises(ValueError, match="do not fit n_in=5, n_out=4"):
        CrossbarDriverModel(5, 4, dw_min=0.0002).drive(f)
    other = UnitFactors(f.sigma, f.X, f.D, UnitFormats.for_width(12, 18))
    with pytest.raises(ValueError, match="formats differ"):
        CrossbarDriverModel(6, 4, dw_min=0.0002).drive(other)


# -- end to end: unit -> driver -> crossbar -------------------------------------------------------

def test_end_to_end_mean_weight_change():
    """Golden unit on a random stream, its state through the driver, pulses into an ideal
    CrossbarArray: over seeds the mean change is -lr sum_r sigma_r d_r x_r^T (readout())."""
    u = run_unit(n_in=6, n_out=4, k=2)
    sigma, X, D = u.readout()
    lr = 2.0 ** -5                                            # wanted maxima 12.5 and 7.1
    target = -lr * (D * sigma) @ X.T
    seeds = 300
    changes = []
    for seed in range(seeds):
        drv = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=lr, group=2, seed=seed)
        batch = drv.drive(u)
        assert batch.clipped_lines == 0 and batch.cycles == drv.cycles_per_batch(2)
        arr = CrossbarArray(4, 6, device="ideal", seed=seed)
        batch.apply(arr)
        assert np.array_equal(arr.device_steps, sum(t.counts for t in batch.terms))
        changes.append(np.array(arr.weights))
    assert np.abs(target).max() > 10 * 0.0002                  # several steps per cell
    mean = np.mean(changes, axis=0)
    expected = drv.expected_update(batch)                     # E[dW] of the probability words
    assert np.abs(expected - target).max() < 2e-3 * np.abs(target).max()
    var = sum((t.plan.expected_counts() * (1 - t.plan.expected_counts() / drv.bl))
              for t in batch.terms) * 0.0002 ** 2
    z = (mean - expected) / np.sqrt(var / seeds)
    assert np.abs(z).max() < 5
    assert np.abs(mean - target).max() < 5 * np.sqrt(var.max() / seeds) + 2e-3 * np.abs(
        target).max()
    # the deterministic scheme lands within 2 steps per term and cell, with no randomness
    det = CrossbarDriverModel(6, 4, dw_min=0.0002, lr=lr, group=2, scheme="deterministic")
    arr = CrossbarArray(4, 6, device="ideal")
    det.drive(u).apply(arr)
    assert np.abs(arr.weights - target).max() <= 2 * 2 * 0.0002 + 2e-3 * np.abs(target).max()
