"""The unit's golden model: float mode against the float rule, fixed-point properties."""

import numpy as np
import pytest

from golden.fixed import FixedFormat
from golden.linalg import batch_gradient, truncated_svd
from golden.rules import make_rule
from golden.sbpca_unit import SBPCAUnitModel, SBPCAUnitRule, UnitFormats

N_IN, N_OUT = 30, 12


def _stream(seed, batches, B=16, gaps=(3.0, 2.0, 1.0), noise=0.2):
    """Batches whose mean gradient has a clear top-3 spectrum, shared by every batch."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(N_OUT, N_OUT)))[0]
    for _ in range(batches):
        xs = rng.normal(size=(B, N_IN))
        scale = np.r_[gaps, np.full(N_OUT - len(gaps), noise)]
        yield xs, (rng.normal(size=(B, N_OUT)) * scale) @ U.T


@pytest.mark.parametrize("k, schedule, opts", [
    (3, "harmonic", {}), (1, "harmonic", {}), (4, "shift", dict(shift_s=2)),
])
def test_float_mode_is_the_float_rule(k, schedule, opts):
    """Gram-space normalization applied lazily == explicit ns_tri on the n x k matrices."""
    ref = make_rule("sbpca", N_IN, N_OUT, rng=np.random.default_rng(1), k=k, norm="ns_tri",
                    recip="newton", ns_steps=6, schedule=schedule, **opts)
    unit = SBPCAUnitRule(N_IN, N_OUT, rng=np.random.default_rng(1), k=k, mode="float",
                         ns_steps=6, schedule=schedule, **opts)
    for xs, ds in _stream(2, 5):
        a, u = ref.batch(xs, ds), unit.batch(xs, ds)
        np.testing.assert_allclose(u.X, a.X, atol=1e-10)
        np.testing.assert_allclose(u.Delta, a.Delta, atol=1e-10)
        np.testing.assert_allclose(u.sigma, a.sigma, rtol=1e-10)


def test_fixed16_tracks_float_and_finds_the_top_subspace():
    """On one repeated batch (warm start) both modes settle in the batch's top-3 subspace.

    With one sample per block the iteration does not settle on a point (each sample pulls the
    vectors toward itself, and sigma is overestimated), so the quantization error is judged
    against the algorithm's own error: it must be small next to it.
    """
    xs, ds = next(_stream(3, 1, B=48))
    G = batch_gradient(xs, ds)
    s_true, U, V = truncated_svd(G, 3)
    G3 = (U * s_true) @ V.T
    results = {}
    for mode in ("float", "fixed"):
        unit = SBPCAUnitRule(N_IN, N_OUT, rng=np.random.default_rng(4), k=3, mode=mode)
        for _ in range(40):
            up = unit.batch(xs, ds)
        results[mode] = up
        assert not unit.model.overflow
    fl, fx = results["float"], results["fixed"]
    algorithm_error = np.linalg.norm(fl.matrix() - G3) / np.linalg.norm(G3)
    quantization_error = np.linalg.norm(fx.matrix() - fl.matrix()) / np.linalg.norm(fl.matrix())
    assert quantization_error < 0.25 * algorithm_error, (quantization_error, algorithm_error)
    # Residual outside the top-3 subspaces: random 3-subspaces of R^12 and R^30 leave about
    # 1.5 and 1.6; the per-sample iteration hovers within 0.25 and 0.5 of them.
    for up in (fl, fx):
        assert np.linalg.norm(U @ U.T @ up.Delta - up.Delta) < 0.25
        assert np.linalg.norm(V @ V.T @ up.X - up.X) < 0.5
        assert np.all(up.sigma > 0.9 * s_true)


@pytest.mark.parametrize("width", [8, 12, 16])
def test_fixed_stays_orthonormal_without_drift(width):
    """||X^T X - I|| after many samples is set by the word width, not by the sample count."""
    unit = SBPCAUnitRule(N_IN, N_OUT, rng=np.random.default_rng(5), k=3, mode="fixed",
                         width=width)
    errs = []
    for xs, ds in _stream(6, 60, B=32):
        up = unit.batch(xs, ds)
        errs.append(max(np.linalg.norm(up.X.T @ up.X - np.eye(3)),
                        np.linalg.norm(up.Delta.T @ up.Delta - np.eye(3))))
    lsb = 2.0 ** -(width - 1)
    assert max(errs[30:]) < 60 * lsb + 1e-3, errs
    assert np.mean(errs[45:]) < 2 * np.mean(errs[10:25]) + 10 * lsb      # no drift


def test_fixed_words_stay_in_their_formats_and_runs_repeat():
    a = SBPCAUnitRule(N_IN, N_OUT, rng=np.random.default_rng(7), k=2, mode="fixed")
    b = SBPCAUnitRule(N_IN, N_OUT, rng=np.random.default_rng(7), k=2, mode="fixed")
    for xs, ds in _stream(8, 4):
        ua, ub = a.batch(xs, ds), b.batch(xs, ds)
        np.testing.assert_array_equal(ua.X, ub.X)
        np.testing.assert_array_equal(ua.sigma, ub.sigma)
    m, F = a.model, a.model.F
    for words, fmt in ((m.Xs, F.vec), (m.Ds, F.vec), (m.sigma, F.sigma), (m.r, F.recip),
                       (m.x_side[1], F.mat), (m.d_side[1], F.mat)):
        assert words.dtype == np.int64
        assert words.min() >= fmt.min_raw and words.max() <= fmt.max_raw
    # the column shifts keep stored columns below 1/sqrt(2) in norm
    col = np.linalg.norm(F.vec.to_float(m.Xs), axis=0)
    assert np.all(col < 2 ** -0.5 + 1e-3), col
    assert np.allclose(np.triu(m.x_side[1]), m.x_side[1])          # transforms stay triangular


def test_saturating_inputs_raise_the_flag():
    """A full-scale batch: sigma = ||x|| ||delta|| = sqrt(512 * 64) is outside its format."""
    model = SBPCAUnitModel(512, 64, k=1, mode="fixed")
    model.load(np.eye(512)[:, :1], np.eye(64)[:, :1], 1.0)
    F = model.F
    assert np.sqrt(512 * 64) > F.sigma.to_float(F.sigma.max_raw)
    x = np.full((3, 512), F.x.max_raw)
    d = np.full((3, 64), F.d.min_raw)
    model.batch(x, d)
    assert model.overflow


def test_overflow_sources_tell_rows_from_kxk_values():
    """``overflow`` is the OR of its sources: stored rows, k x k values, and the model's own
    readout rounding (not a unit output)."""
    F = UnitFormats.for_width(16)
    model = SBPCAUnitModel(8, 4, k=1, formats=F, b_max=4)
    model.load(np.eye(8)[:, :1], np.eye(4)[:, :1], 0.25)
    assert model.overflow_sources == () and not model.overflow
    # a transform of 8 on a unit row: the X pass stores 2 X0 (only the rows saturate)
    model.x_side = (model.x_side[0], np.array([[F.mat.max_raw]]))
    model.sample(np.zeros(8, np.int64), np.zeros(4, np.int64), 1)
    assert model.overflow_sources == ("rows",) and model.rows_saturated
    assert not model.kxk_saturated and model.overflow
    # a sigma of 1 LSB: the reciprocal's seed does not fit (only k x k values saturate)
    model = SBPCAUnitModel(8, 4, k=1, formats=F, b_max=4)
    model.load(np.eye(8)[:, :1], np.eye(4)[:, :1], F.sigma.lsb)
    model.sample(np.zeros(8, np.int64), np.zeros(4, np.int64), 1)
    assert model.overflow_sources == ("kxk",)
    # readout rounds Xs T into the vector format: a saturating transform raises its own source
    model = SBPCAUnitModel(8, 4, k=1, formats=F, b_max=4)
    model.load(np.eye(8)[:, :1], np.eye(4)[:, :1], 0.25)
    model.x_side = (model.x_side[0], np.array([[F.mat.max_raw]]))
    model.readout()
    assert model.overflow_sources == ("readout",) and model.overflow


def test_cost_counts_by_hand():
    model = SBPCAUnitModel(784, 100, k=4, mode="fixed", ns_steps=8, recip_steps=2, b_max=64)
    c = model.cost()
    # row passes: (k^2 + 3k) per row over 884 rows; D read pass: k n_out
    row = 4 * 4 + 3 * 4
    kxk = 2 * 4 * 2 + 3 * 16 + 6 * 4 + 2 * (16 + 8 * (2 * 64 + 32))
    assert c.macs_per_sample == 4 * 100 + row * 884 + kxk
    assert c.state_words == 4 * 884 + 2 * 16 + 2 * 4
    assert c.buffer_words == 884
    assert c.notes["rom_words"] == 128
    assert (c.state_words + c.buffer_words) / (784 * 100) < 0.15


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0), r"k=0: must be in \[1, 4\]"),
    (dict(k=5), r"k=5: must be in \[1, 4\]"),
    (dict(k=2, mode="double"), "mode='double'"),
    (dict(k=2, schedule="sbpcav"), "schedule='sbpcav'"),
    (dict(k=2, ns_steps=0), r"ns_steps=0: must be in \[1, 32\]"),
])
def test_bad_parameters_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SBPCAUnitModel(8, 4, **kwargs)


def test_formats_are_checked():
    F = UnitFormats.for_width(16)
    with pytest.raises(TypeError, match="formats=16: must be a UnitFormats"):
        SBPCAUnitModel(8, 4, k=1, formats=16)
    with pytest.raises(ValueError, match=r"sigma=Q3.15\(floor,wrap\): must round half_up"):
        SBPCAUnitModel(8, 4, k=1, formats=F.__class__(**{**F.__dict__,
                                                           "sigma": FixedFormat(18, 15)}))
    with pytest.raises(ValueError, match="w.frac=3: must be"):
        SBPCAUnitModel(8, 4, k=1, formats=F.__class__(**{**F.__dict__,
                                                           "w": FixedFormat(18, 3)}))
    with pytest.raises(ValueError, match="scalar_width=12: must be at least width=16"):
        UnitFormats.for_width(16, 12)


def test_batch_larger_than_b_max_is_refused():
    model = SBPCAUnitModel(8, 4, k=1, mode="float", b_max=4)
    model.load(np.eye(8)[:, :1], np.eye(4)[:, :1], 1.0)
    with pytest.raises(ValueError, match="B=5: larger than b_max=4"):
        model.batch(np.zeros((5, 8)), np.zeros((5, 4)))
