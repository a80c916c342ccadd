"""The micro-program of the k x k engine against the unit's fixed-point model, bit for bit."""

import numpy as np
import pytest

from golden.fixed import FixedFormat, round_shift_saturate
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel, UnitFormats
from golden.unit_program import Dot, PostOp, ProgramUnit, build_program, exponent


def _compare(model, unit, where):
    st = unit.state()
    want = {"Xs": model.Xs, "Ds": model.Ds, "ax": model.x_side[0], "Tx": np.triu(model.x_side[1]),
            "ad": model.d_side[0], "Td": np.triu(model.d_side[1]), "sigma": model.sigma,
            "r": model.r}
    for name, value in want.items():
        got = st[name]
        bad = np.argwhere(np.asarray(got) != np.asarray(value))
        assert bad.size == 0, (f"{where}: {name}{tuple(bad[0])} = {np.asarray(got)[tuple(bad[0])]}"
                               f", model {np.asarray(value)[tuple(bad[0])]}")
    assert unit.overflow == model.overflow, where
    assert unit.overflow_sources == model.overflow_sources, where


@pytest.mark.parametrize("n_in, n_out, k, width, schedule, batches, scale", [
    (12, 7, 1, 16, "harmonic", 3, 0.5),
    (20, 9, 3, 16, "harmonic", 3, 0.5),
    (30, 12, 4, 12, "shift", 2, 0.5),
    (16, 16, 4, 16, "harmonic", 2, 0.99),     # inputs at full scale: saturation appears
])
def test_program_equals_model(n_in, n_out, k, width, schedule, batches, scale):
    rng = np.random.default_rng(n_in + k)
    F = UnitFormats.for_width(width)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=F, schedule=schedule, b_max=16)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               0.3)
    unit = ProgramUnit(model)
    unit.load_from(model)
    _compare(model, unit, "after load")
    for b in range(batches):
        B = 16 if b else 5
        xs = F.x.quantize(np.clip(rng.normal(size=(B, n_in)) * scale / 2, -1, 1))[0]
        ds = F.d.quantize(np.clip(rng.normal(size=(B, n_out)) * scale / 2, -1, 1))[0]
        for i in range(B):
            model.sample(xs[i], ds[i], i + 1)
            unit.sample(xs[i], ds[i], i + 1)
            _compare(model, unit, f"batch {b} sample {i}")


def test_saturating_inputs_raise_the_flag_in_both():
    # inputs at full scale: sigma ~ ||x|| ||delta|| = sqrt(128 * 64) ~ 90.5 is beyond sigma's
    # range (64), so the flag must rise, and both formulations must still agree word for word
    rng = np.random.default_rng(3)
    F = UnitFormats.for_width(16)
    assert np.sqrt(128 * 64) > F.sigma.to_float(F.sigma.max_raw)
    model = SBPCAUnitModel(128, 64, k=4, formats=F, b_max=8)
    model.load(qr_signfix(rng.normal(size=(128, 4))), qr_signfix(rng.normal(size=(64, 4))), 0.3)
    unit = ProgramUnit(model)
    unit.load_from(model)
    xs = np.full((8, 128), F.x.max_raw)
    ds = np.full((8, 64), F.d.min_raw)
    for i in range(8):
        model.sample(xs[i], ds[i], i + 1)
        unit.sample(xs[i], ds[i], i + 1)
    _compare(model, unit, "saturating batch")
    assert model.overflow


def test_round_and_exponent_from_their_definitions():
    word = FixedFormat(8, rounding="half_up", overflow="saturate")   # a ROUND post-operation
    assert round_shift_saturate(5, 1, word) == (3, False)          # 2.5 -> 3 (half up)
    assert round_shift_saturate(-5, 1, word) == (-2, False)        # -2.5 -> -2 (half up)
    assert round_shift_saturate(3, -2, word) == (12, False)        # left shift
    assert round_shift_saturate(1000, 0, word) == (127, True)
    assert round_shift_saturate(-1000, 0, word) == (-128, True)
    assert build_program(UnitFormats.for_width(16), 1, ns_steps=1,
                         recip_steps=1).word_format == FixedFormat(18, 0, "half_up", "saturate")
    assert exponent(1, 0) == 0 and exponent(-8, 0) == 3 and exponent(3, 4) == -3
    assert exponent(0, 7) == 0


def test_ops_take_named_codes_only():
    assert Dot("d", (("a", "b"),), kind=1).kind is PostOp.LOD
    with pytest.raises(ValueError, match="'lod' is not a valid PostOp"):
        Dot("d", (("a", "b"),), kind="lod")


def test_program_counts():
    F = UnitFormats.for_width(16)
    prog = build_program(F, 4, ns_steps=8, recip_steps=2)
    # ns_tri step on upper triangles, k = 4: G T 30, E 20, T U 20 multiplies; the first step
    # starts from a constant diagonal T, so each of its 3 x 10 entries is a single product
    per_norm = 7 * 70 + 3 * 10
    dots = [op for op in prog.segments["post_d"] if isinstance(op, Dot)]
    assert prog.macs("post_d") == sum(len(op.terms) for op in dots)
    assert prog.macs("post_d") == per_norm + 10 + 4 + 2 * 4     # + v, v*z, sigma (2 terms)
    assert prog.macs() > 2 * per_norm
