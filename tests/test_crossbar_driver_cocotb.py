"""Crossbar driver: generated Verilog on Icarus Verilog and Verilator against the golden model.

``SIM=icarus`` or ``SIM=verilator`` picks one simulator; by default both run.
"""

import pytest

from cosim.runner import CosimFailure, run_cocotb
from cosim.toolchain import selected_simulators

CONFIGS = {
    "stoch-11x7-g4": dict(n_in=11, n_out=7, group=4, bl=9, dw_min=2e-4, lfsr_seed=3),
    "det-16x8-g4": dict(n_in=16, n_out=8, group=4, bl=8, dw_min=2e-4, fire_cycles=2,
                        scheme="deterministic", lfsr_seed=1),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", selected_simulators())
def test_crossbar_driver_bit_exact(sim, config, build_dir):
    result = run_cocotb("crossbar_driver", CONFIGS[config], "cosim.tb_crossbar_driver", sim=sim,
                        build_dir=build_dir, seed=7)
    summary = result["summary"]
    assert result["tests"] == 2
    random = summary["random"]
    assert random["slots"] == 9 * CONFIGS[config]["bl"]          # 8 terms and the boundary one
    assert random["skipped_terms"] >= 2
    assert random["clipped_terms"] >= 1 and random["clipped_lines"] > 0
    assert random["row_pulses"] > 0 and random["col_pulses"] > 0
    assert random["input_stall_cycles"] > 0        # the words waited for a running term
    assert summary["back_to_back"]["terms"] == 4


@pytest.mark.cocotb
def test_bench_detects_a_wrong_pulse(build_dir):
    """The comparison chain can fail: one expected pulse flipped."""
    sim = selected_simulators()[0]
    with pytest.raises(CosimFailure, match=r"random row pulses: 1 of \d+ words differ"):
        run_cocotb("crossbar_driver", CONFIGS["stoch-11x7-g4"], "cosim.tb_crossbar_driver",
                   sim=sim, build_dir=build_dir, seed=5, testcase="random_terms_with_stalls",
                   extra_env={"SBPCA_INJECT_ERROR": "1"})
