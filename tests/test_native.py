# amaranth: UnusedElaboratable=no
"""The native Verilator harness (``cosim.native``): the speed ceiling of ``sbpca bench unit``.

It drives the same generated unit with the host protocol in C++; its final state must equal the
golden model word for word and its cycle counts those of the cocotb bench and of
``SBPCAUnit.cycles_per_sample``.
"""

import pytest

from cosim.bench import run_bench
from cosim.native import run_native
from cosim.scoreboard import Mismatch
from cosim.unit_cases import bench_case
from cosim.unit_host import compare_state
from hdl.designs import get_design, unused

PARAMS = dict(n_in=12, n_out=7, k=2, lanes=4, words=2, b_max=4)


@pytest.mark.cocotb
def test_unit_bench_native_ceiling_bit_exact_and_cycle_exact(tmp_path):
    doc = run_bench("unit", PARAMS, tmp_path, sims=("verilator",), batches="4,4",
                    progress=lambda _: None)
    nat, r = doc["native"], doc["simulators"]["verilator"]
    assert nat["bit_exact"] and nat["samples"] == 8
    assert nat["cycles"] == [b["cycles"] for b in r["cycles_per_batch"][:2]]
    assert r["samples_per_second"] > 0 and nat["samples_per_second"] > 0
    assert r["of_native"] == pytest.approx(r["samples_per_second"] / nat["samples_per_second"])
    md = (tmp_path / "bench.md").read_text()
    assert "| native Verilator (C++ main) |" in md and "| cocotb + verilator |" in md

    # the harness on its own: other batch sizes, cycles from the cycle model, and a comparison
    # that fails when one word is off
    unit, _ = get_design("unit").build(**PARAMS)
    unused(unit)
    batches, _, start = bench_case(unit, "random", [4, 1, 2, 4], seed=3)
    model = unit.model
    model.load(*start)
    res = run_native(tmp_path / "native" / "native_unit", unit, model, batches, tmp_path)
    for xs, ds in batches:
        model.batch(xs, ds)
    compare_state(unit, model, res["readout"], "native")
    cps, first = unit.cycles_per_sample, res["cycles"][1]       # [1]: the batch of one sample
    assert first == r["first_sample_cycles"]
    assert res["cycles"] == [first + 3 * cps, first, first + cps, first + 3 * cps]
    model.Ds[2, 1] += 1
    with pytest.raises(Mismatch, match=r"Delta row 2, column 1"):
        compare_state(unit, model, res["readout"], "native")
