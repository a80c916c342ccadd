# amaranth: UnusedElaboratable=no
"""The unit's ``overflow`` output on the Amaranth simulator, one saturation source at a time.

The flag is the OR of the row-pass engine's ``saturated`` (a stored word clamped) and the k x k
engine's flag (a k x k value clamped). A stream that saturates both cannot tell whether each
reaches the output, so each source gets a stream of its own (:mod:`cosim.unit_cases`):
``rows_saturate`` starts from a transform that does not normalize the stored rows (the only way
a stored word can saturate, see its doc) and ``kxk_saturate`` from a sigma of 1 LSB. The golden
model says which source it is (``overflow_sources``); the unit's flag must follow it after
every batch, with the rest of the state. The unit is loaded through its ports from the model's
state, transforms included (:func:`cosim.ports_amaranth.simulate_unit`, the benches' host).
"""

import numpy as np
import pytest
from cosim.ports_amaranth import simulate_unit
from cosim.unit_cases import load_start, make_stream, start_state
from cosim.unit_host import compare_state
from hdl.sbpca_unit import SBPCAUnit

SMALL = dict(n_in=8, n_out=4, k=2, lanes=2, words=2, b_max=8)


@pytest.mark.parametrize("kind, source", [("rows_saturate", ("rows",)),
                                          ("kxk_saturate", ("kxk",))])
def test_overflow_follows_each_source(kind, source):
    unit = SBPCAUnit(**SMALL)
    model = unit.model
    rng = np.random.default_rng(2)
    batches = make_stream(kind, unit.formats, unit.n_in, unit.n_out, [1, 2], rng)
    load_start(model, kind, start_state(unit.n_in, unit.n_out, unit.k, rng, kind=kind,
                                        formats=unit.formats))
    got = simulate_unit(unit, model, batches)        # raises if overflow is set after load
    assert len(got) == len(batches)
    for b, ((xs, ds), (readout, _)) in enumerate(zip(batches, got)):
        model.batch(xs, ds)
        assert model.overflow_sources == source, (b, model.overflow_sources)
        assert readout["overflow"] == model.overflow, (f"batch {b}: overflow "
                                                       f"{readout['overflow']}, golden {source}")
        compare_state(unit, model, readout, f"batch {b}")
