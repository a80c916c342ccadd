"""The unit bench's streams and start states (:mod:`cosim.unit_cases`), golden side only."""

import numpy as np
import pytest

from cosim.unit_cases import (KXK_SIGMA_LSB, STREAMS, load_start, make_stream, start_sides,
                              start_state)
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats

F = UnitFormats.for_width()


def test_unknown_stream_is_named():
    with pytest.raises(ValueError, match=r"stream='nope': must be one of random, "):
        make_stream("nope", F, 8, 4, [1], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"stream='nope'"):
        start_state(8, 4, 1, np.random.default_rng(0), kind="nope")
    assert {"zeros", "kxk_saturate", "rows_saturate"} <= set(STREAMS)


def test_start_state_draws_alike_for_every_stream():
    """Every stream draws its start state from ``rng`` the same way (later draws do not move),
    and the ordinary streams' state is the random orthonormal one."""
    for kind in STREAMS:
        rng = np.random.default_rng(3)
        X0, D0, sigma0 = start_state(8, 4, 2, rng, kind=kind)
        after = rng.integers(1 << 30)
        ref = np.random.default_rng(3)
        Xr, Dr = qr_signfix(ref.normal(size=(8, 2))), qr_signfix(ref.normal(size=(4, 2)))
        assert after == ref.integers(1 << 30), kind
        np.testing.assert_array_equal(D0, Dr)
        if kind not in ("kxk_saturate", "rows_saturate"):
            np.testing.assert_array_equal(X0, Xr)
            assert sigma0 == 0.25, kind


def test_start_state_defaults_to_random():
    assert start_state(8, 4, 2, np.random.default_rng(0))[2] == 0.25
    assert np.all(np.abs(start_state(8, 4, 2, np.random.default_rng(0),
                                     kind="kxk_saturate")[2]) < 1e-3)


def test_zeros_stream_mixes_zero_samples_into_coarse_words():
    xs, ds = make_stream("zeros", F, 8, 4, [8], np.random.default_rng(1))[0]
    x0 = ~xs.any(axis=1)
    d0 = ~ds.any(axis=1)
    assert x0.tolist() == [False, True, False, False, False, True, False, True]
    assert d0.tolist() == [False, False, True, False, False, False, True, True]
    for words, fmt in ((xs, F.x), (ds, F.d)):
        assert np.all(words % (1 << (fmt.frac - 5)) == 0)       # multiples of 2**-5
        assert np.abs(words).max() <= 1 << (fmt.frac - 1)        # within [-1/2, 1/2]


def test_kxk_saturate_starts_at_the_seed_bound():
    model = SBPCAUnitModel(8, 4, k=4, formats=F, b_max=8)
    rng = np.random.default_rng(0)
    load_start(model, "kxk_saturate", start_state(8, 4, 4, rng, kind="kxk_saturate"))
    assert model.sigma.tolist() == list(KXK_SIGMA_LSB)
    (xs, ds), (xs3, ds3) = make_stream("kxk_saturate", F, 8, 4, [1, 3], rng)
    assert not ds.any() and not ds3.any() and xs.any()          # delta = 0: rows stay put
    model.sample(xs[0], ds[0], 1)
    assert model.overflow_sources == ("kxk",)            # the seed of sigma = 1 LSB
    # one step inside the bound the seed fits: a zero sample saturates nothing
    model = SBPCAUnitModel(8, 4, k=1, formats=F, b_max=8)
    model.load(qr_signfix(rng.normal(size=(8, 1))), qr_signfix(rng.normal(size=(4, 1))),
               2 * F.sigma.lsb)
    model.sample(np.zeros(8, np.int64), np.zeros(4, np.int64), 1)
    assert model.overflow_sources == ()
    assert F.recip.to_float(model.r[0]) == 512 * 1.5 * 1.25      # seed, two Newton steps


def test_rows_saturate_saturates_its_first_pass_only():
    k = 2
    model = SBPCAUnitModel(8, 4, k=k, formats=F, b_max=8)
    rng = np.random.default_rng(0)
    stream = make_stream("rows_saturate", F, 8, 4, [1, 8], rng)
    load_start(model, "rows_saturate", start_state(8, 4, k, rng, kind="rows_saturate"))
    (ax, Tx), (ad, Td) = start_sides("rows_saturate", F, k)
    assert Tx.tolist() == [[F.mat.max_raw, 0], [0, F.mat.max_raw]] and not ax.any()
    assert np.array_equal(model.x_side[1], Tx) and np.array_equal(model.d_side[1], Td)
    assert start_sides("random", F, k) is None
    xs, ds = stream[0]
    assert not ds[0].any()
    model.sample(xs[0], ds[0], 1)
    # X = 8 X0: the X pass stores c Tx 2**-1 X0 = 2 X0, clamped to the largest word
    assert model.overflow_sources == ("rows",)
    assert model.Xs[:k].tolist() == (np.eye(k, dtype=np.int64) * F.vec.max_raw).tolist()
    for xs, ds in stream[1:]:
        model.batch(xs, ds)
    assert model.overflow_sources == ("rows",)
