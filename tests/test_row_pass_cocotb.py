"""Row-pass engine as generated Verilog, on Icarus Verilog and Verilator, against the golden model.

Configurations are the unit's two stored matrices (X and Delta, banks 0 and 1): tiny (8 and 4
rows, k=1, 1 lane, 1 word a beat), mid (64 and 32 rows, k=2, 4 lanes, 2 words), odd (37 and 11
rows, k=3, 4 lanes, 4 words: the last row address of each bank is partly padding), the MNIST
output layer (100 and 10 rows, k=4, 4 lanes, 4 words) and the hidden layer (784 and 100 rows,
k=4, 8 lanes, 8 words). ``SIM`` picks one simulator; ``WAVES=1`` records waveforms. Icarus
builds use SystemVerilog semantics (``-g2012``, cocotb's own); the tiny and mid configurations
also run under ``-g2005`` and must compare the same words and count the same cycles.
"""

import pytest

from cosim.runner import run_cocotb, run_cocotb_both_stds
from cosim.toolchain import selected_simulators

CONFIGS = {
    "tiny-8+4x1-L1-W1": dict(banks=(8, 4), k=1, lanes=1, words=1),
    "mid-64+32x2-L4-W2": dict(banks=(64, 32), k=2, lanes=4, words=2),
    "odd-37+11x3-L4-W4": dict(banks=(37, 11), k=3, lanes=4, words=4),   # padded last rows
    "out-100+10x4-L4-W4": dict(banks=(100, 10), k=4, lanes=4, words=4),
    "hidden-784+100x4-L8-W8": dict(banks=(784, 100), k=4, lanes=8, words=8),
}
# configurations that Icarus also runs under -g2005 (cosim.runner.run_cocotb_both_stds)
BOTH_STDS = ("tiny-8+4x1-L1-W1", "mid-64+32x2-L4-W2")


@pytest.mark.cocotb
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", selected_simulators())
def test_row_pass_bit_exact(sim, config, build_dir):
    if sim == "icarus" and config in BOTH_STDS:
        result = run_cocotb_both_stds("row_pass", CONFIGS[config], "cosim.tb_row_pass",
                                      build_dir=build_dir, seed=3)
    else:
        result = run_cocotb("row_pass", CONFIGS[config], "cosim.tb_row_pass", sim=sim,
                            build_dir=build_dir, seed=3)
    assert result["summary"]["compared"]["words"] > 0
    passes = result["summary"]["passes"]
    assert [(p["program"], p["bank"]) for p in passes] == [
        ("update", 0), ("update", 1), ("update", 0), ("project", 0), ("project", 1),
        ("norm", 0), ("norm", 1)]
    assert passes[2]["saturated"]                                # the loud pass clamps
    assert not passes[0]["saturated"]
