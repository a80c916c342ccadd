"""The generated unit in a user's own cocotb flow: built and run by cocotb's Python runner for
Icarus as cocotb sets it up (``cocotb_tools.runner.get_runner("icarus")``: ``-g2012``,
SystemVerilog semantics, no build arguments added), the unit's bench (``cosim.tb_unit``) passes
against the golden model. Nothing of :mod:`cosim.runner` is used.

The one build option given is the time scale, 1 ns / 1 ps, what cocotb's Makefile flow uses by
default: the bench's clock has a 10 ns period, and the generated Verilog, like all of Amaranth's,
has no ``timescale`` directive (Icarus' default precision is 1 s)."""

import logging
import os

import pytest
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from hdl.generate import generate

TINY = dict(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8)


@pytest.mark.cocotb
def test_unit_on_cocotbs_own_icarus_runner(build_dir, caplog):
    doc = generate("unit", build_dir, **TINY)
    runner = get_runner("icarus")
    with caplog.at_level(logging.INFO):
        runner.build(sources=[doc["verilog"]], hdl_toplevel=doc["top"], build_dir=build_dir,
                     timescale=("1ns", "1ps"))
    command = [r.getMessage() for r in caplog.records if "iverilog" in r.getMessage()]
    assert len(command) == 1 and " -g2012 " in command[0] and "-g2005" not in command[0], command
    assert (build_dir / "cmds.f").read_text() == "+timescale+1ns/1ps\n"
    env = {"SBPCA_DESIGN_JSON": doc["json"], "SBPCA_SEED": "5", "SBPCA_SIM": "icarus",
           "SBPCA_SUMMARY": str(build_dir / "summary.json"),
           "SBPCA_UNIT_STREAM": "random", "SBPCA_UNIT_BATCHES": "1,8,3"}
    # under pytest cocotb's runner exits on a failing test; without the marker it returns
    marker = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        results = runner.test(test_module="cosim.tb_unit", hdl_toplevel=doc["top"],
                              test_dir=build_dir, extra_env=env, seed=5,
                              log_file=build_dir / "sim.log")
    finally:
        if marker is not None:
            os.environ["PYTEST_CURRENT_TEST"] = marker
    assert get_results(results) == (2, 0), (build_dir / "sim.log").read_text()[-3000:]
