"""Row-pass engine as generated Verilog, on Icarus Verilog and Verilator, against the golden model.

Configurations are the unit's passes: tiny (n=8, k=1, 1 lane), mid (64 rows, k=2, 4 lanes), odd
(37 rows, k=3, 4 lanes: the last row address is partly padding), the MNIST output layer's X side
(100 rows, k=4, 4 lanes) and the hidden layer's X side (784 rows, k=4, 8 lanes). ``SIM`` picks
one simulator; ``WAVES=1`` records waveforms.
"""

import pytest

from cosim.runner import run_cocotb
from cosim.toolchain import selected_simulators

CONFIGS = {
    "tiny-8x1-L1": dict(n=8, k=1, lanes=1),
    "mid-64x2-L4": dict(n=64, k=2, lanes=4),
    "odd-37x3-L4": dict(n=37, k=3, lanes=4),      # lanes do not divide n: padded rows
    "out-100x4-L4": dict(n=100, k=4, lanes=4),
    "hidden-784x4-L8": dict(n=784, k=4, lanes=8),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", selected_simulators())
def test_row_pass_bit_exact(sim, config, build_dir):
    result = run_cocotb("row_pass", CONFIGS[config], "cosim.tb_row_pass", sim=sim,
                        build_dir=build_dir, seed=3)
    passes = result["summary"]["passes"]
    assert [p["program"] for p in passes] == ["update"] * 3 + ["project", "norm"]
    assert [p["saturated"] for p in passes].count(True) >= 1     # the loud pass clamps
    assert not passes[0]["saturated"]
