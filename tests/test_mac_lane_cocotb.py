"""MAC lane: generated Verilog on Icarus Verilog and Verilator against the golden model.

``SIM=icarus`` or ``SIM=verilator`` picks one simulator; by default both run. ``WAVES=1`` records
FST waveforms into the test's build folder (``build/tests/...``). Icarus runs each configuration
under SystemVerilog semantics (``-g2012``, cocotb's own) and under ``-g2005``; both must compare
the same words and count the same cycles (``cosim.runner.run_cocotb_both_stds``).
"""

import pytest

from cosim.runner import CosimFailure, run_cocotb, run_cocotb_both_stds
from cosim.toolchain import selected_simulators

CONFIGS = {
    "16x16acc32-wrap": dict(a_width=16, b_width=16, acc_width=32, overflow="wrap"),
    "16x16acc32-sat": dict(a_width=16, b_width=16, acc_width=32, overflow="saturate"),
    "12x18acc36-sat": dict(a_width=12, b_width=18, acc_width=36, overflow="saturate"),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", selected_simulators())
def test_mac_lane_bit_exact(sim, config, build_dir):
    if sim == "icarus":
        result = run_cocotb_both_stds("mac_lane", CONFIGS[config], "cosim.tb_mac_lane",
                                      build_dir=build_dir, seed=11)
    else:
        result = run_cocotb("mac_lane", CONFIGS[config], "cosim.tb_mac_lane", sim=sim,
                            build_dir=build_dir, seed=11)
    summary = result["summary"]
    assert result["tests"] == 3
    assert summary["compared"]["words"] >= 2 * summary["random"]["results"]
    assert summary["random"]["beats"] >= 10_000
    assert summary["random"]["input_stall_cycles"] > 0      # backpressure reached the input
    assert summary["edges"]["overflows"] > 0
    assert summary["throughput"]["input_stall_cycles"] == 0


@pytest.mark.cocotb
def test_bench_detects_a_wrong_golden_value(build_dir):
    """The comparison chain can fail: a one-LSB error injected into the expected words."""
    sim = selected_simulators()[0]
    with pytest.raises(CosimFailure, match=r"random value: 1 of \d+ words differ"):
        run_cocotb("mac_lane", CONFIGS["16x16acc32-wrap"], "cosim.tb_mac_lane", sim=sim,
                   build_dir=build_dir, seed=5, testcase="random_stream_with_stalls",
                   extra_env={"SBPCA_MAC_BEATS": "500", "SBPCA_INJECT_ERROR": "1"})


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", selected_simulators())
def test_waves_on_request(sim, build_dir):
    """``waves=True`` (what ``WAVES=1`` sets) records an FST waveform in the build folder."""
    run_cocotb("mac_lane", CONFIGS["16x16acc32-wrap"], "cosim.tb_mac_lane", sim=sim,
               build_dir=build_dir, testcase="full_throughput", waves=True)
    assert list(build_dir.glob("*.fst")), sorted(p.name for p in build_dir.iterdir())
