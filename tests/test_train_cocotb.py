"""Training through the co-simulated unit (``cosim.tb_train``): the training loop's seam takes an
awaited RTL engine without a copy of the loop, and the result is the golden run's, bit for bit.

The unit is the output layer of digits 64-32-10 (k=4, 4 lanes, batches of 16). Verilator trains
a whole epoch (90 batches, every unit state compared with the model after every batch); Icarus,
slower by two orders of magnitude, the first batch (under ``-m slow``).
"""

import pytest

from cosim.runner import run_cocotb
from cosim.toolchain import selected_simulators

UNIT = dict(n_in=32, n_out=10, k=4, lanes=4, words=4, b_max=16)
BATCHES = {"verilator": 0, "icarus": 1}


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", [pytest.param(sim, marks=pytest.mark.slow) if sim == "icarus"
                                 else sim for sim in selected_simulators()])
def test_train_through_the_unit_equals_golden_run(sim, build_dir):
    res = run_cocotb("unit", UNIT, "cosim.tb_train", sim=sim, build_dir=build_dir,
                     extra_env={"SBPCA_TRAIN_BATCHES": str(BATCHES[sim])})
    train = res["summary"]["train"]
    assert train["batches"] == (BATCHES[sim] or 90)
    if sim == "verilator":
        assert train["test_accuracy"] > 0.5
