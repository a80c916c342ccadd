# amaranth: UnusedElaboratable=no
"""The whole unit on the Amaranth simulator against the golden fixed-point model."""

import numpy as np
import pytest

from cosim.ports_amaranth import simulate_unit
from cosim.unit_host import compare_state
from golden.linalg import qr_signfix
from golden.sbpca_unit import SBPCAUnitModel
from hdl.sbpca_unit import SBPCAUnit


@pytest.mark.parametrize("n_in, n_out, k, lanes, words, sizes, pipe", [
    (8, 4, 1, 1, 1, (3, 1, 4), {}),
    (12, 7, 2, 4, 2, (4, 2), {}),
    (12, 7, 2, 4, 2, (3,), dict(shift_lead=1)),
    (12, 7, 2, 4, 2, (3,), dict(shift_lead=1, post_stages=1, alu_stages=2)),
    (8, 4, 1, 1, 1, (2,), dict(post_stages=1, alu_stages=1)),
])
def test_unit_equals_model(n_in, n_out, k, lanes, words, sizes, pipe):
    """Bit for bit with the golden model, with the k x k engine's pipeline stages too (each
    batch's cycles are checked against ``cycles_per_sample`` by the host)."""
    unit = SBPCAUnit(n_in=n_in, n_out=n_out, k=k, lanes=lanes, words=words, b_max=4, **pipe)
    for name, v in pipe.items():
        assert getattr(unit.kxk_engine, name) == v
    rng = np.random.default_rng(n_in)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=unit.formats, b_max=4)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               0.3)
    F = unit.formats
    batches = [(F.x.quantize(rng.normal(size=(B, n_in)) * 0.3)[0],
                F.d.quantize(rng.normal(size=(B, n_out)) * 0.3)[0]) for B in sizes]
    got = simulate_unit(unit, model, batches, seed=1, idle=0.2, backpressure=0.2)
    assert len(got) == len(batches)
    for b, ((xs, ds), (readout, cycles)) in enumerate(zip(batches, got)):
        model.batch(xs, ds)
        compare_state(unit, model, readout, f"batch {b}")


@pytest.mark.parametrize("pipe", [{}, dict(shift_lead=1), dict(post_stages=1, alu_stages=2)])
def test_a_sample_takes_cycles_per_sample(pipe):
    """With the inputs streamed without gaps (buffered ahead of each sample), one more sample in
    a batch costs exactly ``cycles_per_sample`` cycles, pipeline stages included."""
    n_in, n_out, k = 12, 7, 2
    unit = SBPCAUnit(n_in=n_in, n_out=n_out, k=k, lanes=4, words=2, b_max=4, **pipe)
    rng = np.random.default_rng(5)
    model = SBPCAUnitModel(n_in, n_out, k=k, formats=unit.formats, b_max=4)
    model.load(qr_signfix(rng.normal(size=(n_in, k))), qr_signfix(rng.normal(size=(n_out, k))),
               0.3)
    F = unit.formats
    batches = [(F.x.quantize(rng.normal(size=(B, n_in)) * 0.3)[0],
                F.d.quantize(rng.normal(size=(B, n_out)) * 0.3)[0]) for B in (2, 3)]
    (_, two), (_, three) = simulate_unit(unit, model, batches)
    assert three - two == unit.cycles_per_sample, (two, three, unit.cycles_per_sample)


def test_construction_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"k=5: must be in \[1, 4\]"):
        SBPCAUnit(n_in=8, n_out=4, k=5, lanes=1)
    with pytest.raises(ValueError, match=r"words=3: must divide lanes=4"):
        SBPCAUnit(n_in=8, n_out=8, k=1, lanes=4, words=3)
    with pytest.raises(ValueError, match=r"schedule='x'"):
        SBPCAUnit(n_in=8, n_out=8, k=1, lanes=1, schedule="x")
