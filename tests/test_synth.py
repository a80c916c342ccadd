"""FPGA synthesis flow on the 16x16 MAC lane: DSP mapping, Fmax, and a timing miss reported."""

import json
import re

import pytest

from hdl.designs import get_design
from hdl.generate import to_verilog
from hdl.serial_shell import SerialShell
from synth.flow import run_synth
from synth.targets import TARGETS, categorize

pytestmark = pytest.mark.synth
MAC16 = dict(a_width=16, b_width=16, acc_width=32)


def quiet(*_):
    pass


def test_ecp5_one_mult18_and_fmax(build_dir):
    report = run_synth("mac_lane", MAC16, "ecp5-25k", build_dir, progress=quiet)
    assert report["cells_by_type"].get("MULT18X18D") == 1
    assert report["resources"]["dsp"] == 1
    assert report["pnr_status"] == "ok" and report["fmax_mhz"] > 0
    # the design's reset on a global (the shell's DCCA), kept by Yosys and placed
    assert report["cells_by_type"].get("DCCA") == 1 and report["shell"]["reset_buffer"] == "DCCA"
    on_disk = json.loads((build_dir / "report.json").read_text())
    assert on_disk["fmax_mhz"] == report["fmax_mhz"]
    assert "| mac_lane | ecp5-25k |" in (build_dir / "report.md").read_text()


def test_shell_puts_the_design_reset_through_the_reset_buffer():
    """ECP5's shell: the pin's reset drives a DCCA (a global buffer) and the DCCA's output is
    the design's reset, not the pin; without a buffer the design takes the pin's reset."""
    component, _ = get_design("mac_lane").build(**MAC16)
    v = to_verilog(SerialShell(component, reset_buffer="DCCA"), "synth_top")
    dcca = re.search(r"DCCA reset_buffer \((.*?)\);", v, re.S).group(1)
    assert re.search(r"\.CLKI\(rst\)", dcca) and re.search(r"\.CLKO\(design_rst\)", dcca)
    inner = re.search(r"\\synth_top\.inner\s+inner \((.*?)\);", v, re.S).group(1)
    assert re.search(r"\.design_rst\(design_rst\)", inner), inner
    plain = to_verilog(SerialShell(get_design("mac_lane").build(**MAC16)[0]), "synth_top")
    assert "DCCA" not in plain
    assert re.search(r"\.rst\(rst\)", re.search(r"inner \((.*?)\);", plain, re.S).group(1))
    with pytest.raises(ValueError, match="reset_buffer='BUFG': must be None or one of DCCA"):
        SerialShell(component, reset_buffer="BUFG")


def test_ice40_one_sb_mac16(build_dir):
    report = run_synth("mac_lane", MAC16, "ice40-up5k", build_dir, progress=quiet)
    assert report["cells_by_type"].get("SB_MAC16") == 1
    assert report["fmax_mhz"] > 0 and report["timing_met"] in (True, False)


def test_xilinx7_counts_without_fmax(build_dir):
    report = run_synth("mac_lane", MAC16, "xilinx7", build_dir, progress=quiet)
    assert report["cells_by_type"].get("DSP48E1") == 1
    assert report["fmax_mhz"] is None and report["timing_met"] is None


def test_timing_miss_is_reported_not_raised(build_dir):
    report = run_synth("mac_lane", MAC16, "ice40-up5k", build_dir, freq_mhz=900,
                       progress=quiet)
    assert report["timing_met"] is False
    assert report["fmax_mhz"] < 900
    assert "**no**" in (build_dir / "report.md").read_text()


def test_categorize_sums_cells_and_keeps_unknown():
    cols = categorize(TARGETS["xilinx7"], {"LUT2": 3, "LUT6": 4, "FDRE": 5, "RAMB36E1": 1,
                                           "RAMB18E1": 1, "XYZ": 2, "$scopeinfo": 1})
    assert cols["logic"] == 7 and cols["ff"] == 5 and cols["bram"] == 3
    assert cols["other"] == {"XYZ": 2}


def test_yosys_assertion_retried_with_the_workaround(build_dir, monkeypatch):
    """A Yosys assertion (ABC9 on some netlists) -> one retry after synth.targets.PRELUDE,
    recorded in the report; the first log is kept."""
    import synth.flow as flow

    real, scripts = flow._run, []

    def run(cmd, log, cwd):
        scripts.append(cmd[-1])
        if len(scripts) == 1:
            (cwd / "yosys.log").write_text("ERROR: Assert `count_id(wire->name) == 0' failed\n")
            return 1
        return real(cmd, log, cwd)

    monkeypatch.setattr(flow, "_run", run)
    report = run_synth("mac_lane", MAC16, "xilinx7", build_dir, progress=quiet)
    assert len(scripts) == 2 and "splitnets -ports" not in scripts[0]
    assert "splitnets -ports" in scripts[1]
    assert report["yosys_prelude"] and report["cells_by_type"].get("DSP48E1") == 1
    assert (build_dir / "yosys-first.log").exists()
    assert "failed an assertion" in (build_dir / "report.md").read_text()


def test_yosys_other_failure_is_not_retried(build_dir, monkeypatch):
    import synth.flow as flow
    from synth.flow import SynthError

    calls = []

    def run(cmd, log, cwd):
        calls.append(cmd)
        (cwd / "yosys.log").write_text("ERROR: syntax error\n")
        return 1

    monkeypatch.setattr(flow, "_run", run)
    with pytest.raises(SynthError, match="syntax error"):
        run_synth("mac_lane", MAC16, "xilinx7", build_dir, progress=quiet)
    assert len(calls) == 1


def test_no_route_reports_the_placement_estimate(build_dir):
    report = run_synth("mac_lane", MAC16, "ecp5-25k", build_dir, progress=quiet, route=False)
    assert report["fmax_kind"].startswith("placement estimate")
    assert report["fmax_mhz"] > 0 and report["pnr_status"] == "ok"
    assert "placement estimate" in (build_dir / "report.md").read_text()


def test_out_of_context_counts_the_design_without_the_shell(build_dir):
    """``ooc``: the design alone, its ports as ports. The serial shell adds exactly its
    ``in_bits + out_bits`` flip-flops (and a capture multiplexer per output bit), so the in-shell
    flip-flops are the design's plus those; the multiplier is the design's in both runs."""
    report = run_synth("mac_lane", MAC16, "xilinx7", build_dir, progress=quiet, ooc=True)
    ooc, shell = report["ooc"]["resources"], report["shell"]
    assert ooc["dsp"] == report["resources"]["dsp"] == 1
    assert report["resources"]["ff"] - ooc["ff"] == shell["in_bits"] + shell["out_bits"]
    assert 0 < ooc["logic"] < report["resources"]["logic"]
    assert not any(c.endswith("BUF") for c in report["ooc"]["cells_by_type"])   # -noiopad
    assert "Out of context (mac_lane on xilinx7" in (build_dir / "report.md").read_text()
    assert (build_dir / "ooc.v").exists() and (build_dir / "ooc_yosys.log").exists()
