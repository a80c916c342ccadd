"""The ``sbpca`` command line: outputs, one-line errors with exit code 2, and every help."""

import json
import subprocess
import sys

import pytest

from cosim.cli import COMMANDS, main
from hdl.designs import DESIGNS


def sbpca(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cosim", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_generate_writes_verilog_and_parameters(tmp_path):
    proc = sbpca("generate", "mac_lane", "--a-width", "12", "--acc-width", "30",
                 "--overflow", "saturate", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "mac_lane.json").read_text())
    assert doc["parameters"] == {"a_width": 12, "b_width": 16, "acc_width": 30, "a_frac": 0,
                                 "b_frac": 0, "overflow": "saturate"}
    assert doc["derived"]["latency"] == 2
    widths = {p["name"]: p["width"] for p in doc["ports"]}
    assert widths["i__payload"] == 12 + 16 + 30 + 3 and widths["o__payload"] == 31
    verilog = (tmp_path / "mac_lane.v").read_text()
    assert "module mac_lane(" in verilog


@pytest.mark.parametrize("args, message", [
    (["generate", "mac_lane", "--a-width", "0"], "a_width=0: must be at least 1"),
    (["generate", "mac_lane", "--b-width", "-3"], "b_width=-3: must be at least 1"),
    (["generate", "mac_lane", "--acc-width", "31"],
     "acc_width=31: accumulator narrower than the product (a_width + b_width = 32)"),
    (["generate", "mac_lane", "--a-frac", "-1"], "a_frac=-1: must be at least 0"),
    (["generate", "mac_lane", "--a-width", "x"], "argument --a-width: invalid int value: 'x'"),
    (["generate", "mac_lane", "--overflow", "clip"], "argument --overflow: invalid choice"),
    (["generate", "nosuch"], "argument DESIGN: invalid choice: 'nosuch'"),
    (["synth", "mac_lane"], "--target: required"),
    (["synth", "--target", "ice40-up5k", "--freq", "0"], "freq=0.0: must be a positive"),
    (["synth", "--target", "vu9p"], "argument --target: invalid choice: 'vu9p'"),
    (["generate", "row_pass", "--banks", "8,x"], "argument --banks: invalid row_counts value"),
    (["generate", "row_pass", "--banks", "8,4,2,1,1"],
     "banks=(8, 4, 2, 1, 1): must hold 1 to 4 row counts"),
    (["generate", "row_pass", "--banks", "8,0"], "banks=(8, 0): row counts must be at least 1"),
    (["generate", "row_pass", "--words", "3"], "words=3: must divide lanes=8"),
    (["generate", "unit", "--n-in", "3", "--k", "4"], "k=4: must be in [1, 3]"),
    (["generate", "unit", "--k", "17"], "k=17: must be in [1, 16]"),
    (["generate", "unit", "--lanes", "101"], "lanes=101: must be in [1, 100]"),
    (["generate", "unit", "--lanes", "6", "--words", "4"], "words=4: must divide lanes=6"),
    (["generate", "unit", "--width", "3"], "width=3: must be in [4, 30]"),
    (["generate", "unit", "--scalar-width", "12"], "scalar_width=12: must be at least width=16"),
    (["generate", "unit", "--width", "30", "--scalar-width", "30"],
     "scalar_width=30: the lane sums would need 73 bits"),
    (["generate", "unit", "--b-max", "0"], "b_max=0: must be at least 1"),
    (["generate", "unit", "--b-max", "70000"], "b_max=70000: must be in [1, 65536]"),
    (["generate", "unit", "--width", "8", "--scalar-width", "12", "--b-max", "600"],
     "b_max=600: 1 - c_B rounds to 0 in the 12-bit schedule words beyond B = 511"),
    (["generate", "unit", "--schedule", "shift", "--shift-s", "16", "--width", "8",
      "--scalar-width", "12"], "shift_s=16: 2**-shift_s rounds to 0"),
    (["generate", "unit", "--ns-steps", "0"], "ns_steps=0: must be at least 1"),
    (["generate", "unit", "--schedule", "oja"], "argument --schedule: invalid choice: 'oja'"),
    (["bench", "unit", "--k", "1", "--n-in", "8", "--n-out", "4", "--lanes", "1", "--words",
      "1", "--b-max", "4", "--batches", "5"], "batches='5': sizes must be in [1, 4] (b_max)"),
])
def test_bad_parameters_fail_with_one_line_and_exit_2(args, message, tmp_path):
    proc = sbpca(*args, "-o", str(tmp_path)) if args[0] in ("generate", "bench") else sbpca(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_generate_row_pass_with_banks_and_words(tmp_path):
    proc = sbpca("generate", "row_pass", "--banks", "37,11", "--k", "3", "--lanes", "4",
                 "--words", "4", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "row_pass.json").read_text())
    assert doc["parameters"]["banks"] == [37, 11] and doc["parameters"]["words"] == 4
    widths = {p["name"]: p["width"] for p in doc["ports"]}
    assert widths["inp_w__payload"] == 4 * 16 and widths["bank"] == 1
    assert widths["inp_buf"] == widths["buf"] == widths["inp_rewind"] == 1
    assert widths["lane_i"] % 4 == 0 and widths["lane_o"] % 4 == 0


def test_options_before_or_after_the_design_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert sbpca("generate", "-o", str(a), "mac_lane").returncode == 0
    assert sbpca("generate", "mac_lane", "-o", str(b)).returncode == 0
    assert (a / "mac_lane.v").read_text() == (b / "mac_lane.v").read_text()


def test_generate_unit_writes_its_ports_and_parameters(tmp_path):
    proc = sbpca("generate", "unit", "--n-in", "12", "--n-out", "7", "--k", "2", "--lanes", "4",
                 "--words", "2", "--b-max", "5", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "unit.json").read_text())
    assert doc["parameters"] == {"n_in": 12, "n_out": 7, "k": 2, "lanes": 4, "words": 2,
                                 "width": 16, "scalar_width": 18, "schedule": "harmonic",
                                 "shift_s": 3, "ns_steps": 6, "recip_steps": 2, "b_max": 5,
                                 "shift_lead": 1, "post_stages": 1, "alu_stages": 2,
                                 "operand_banks": 2, "alus": 1, "general": 1,
                                 "rom_stage": 1}
    widths = {p["name"]: p["width"] for p in doc["ports"]}
    assert widths["samples__payload"] == 2 * 16          # words x width
    assert widths["batch__payload"] == 3                 # holds b_max = 5
    assert widths["load_rows__payload"] == widths["rows_o__payload"] == 2 * 16
    # k x k state: Tx, Td (k x k), sigma, r (k) scalar words and ax, ad (k) exponents
    assert widths["kxk"] == widths["kxk_in"] == (2 * 4 + 2 * 2) * 18 + 2 * 2 * 5
    for name in ("busy", "done", "error", "overflow", "load", "readout"):
        assert widths[name] == 1


# -- help ----------------------------------------------------------------------------------------

#: Commands that take a design sub-parser.
DESIGN_COMMANDS = ("generate", "lint", "synth", "bench")
HELP_ARGV = [[name] for name in COMMANDS] + [[c, d] for c in DESIGN_COMMANDS for d in DESIGNS]


def test_top_level_help_lists_every_command():
    proc = sbpca("--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())           # independent of the terminal's width
    assert text.startswith("usage: sbpca [-h] COMMAND")
    listed = [line.split()[0] for line in proc.stdout.splitlines()
              if line.startswith("    ") and not line[4].isspace()]
    assert listed == list(COMMANDS)
    assert "no / or %)" in text                    # lint's help: a % that argparse must not read


@pytest.mark.parametrize("argv", HELP_ARGV, ids=" ".join)
def test_help_of_every_command_and_design(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert " ".join(out.split()).startswith(f"usage: sbpca {' '.join(argv)} [-h]"), out
