"""Generated Verilog is lint-clean under ``verilator --lint-only -Wall`` and the one waiver file,
has no division or modulo operator and no ``always @*`` block that needs the Verilog-2005 time-0
event (``synth.lint.time0_dependent_blocks``); each check can fail."""

import pytest
from amaranth.back import verilog

from hdl.generate import generate, to_verilog
from synth.lint import WAIVERS, forbidden_operators, lint_verilog, time0_dependent_blocks

CONFIGS = [
    dict(),
    dict(overflow="saturate"),
    dict(a_width=12, b_width=18, acc_width=40, a_frac=11, b_frac=17),
    dict(a_width=4, b_width=4, acc_width=8, overflow="saturate"),
]


def _id(params):
    return "-".join(f"{k}{v}" for k, v in params.items()) or "default"


@pytest.mark.parametrize("params", CONFIGS, ids=_id)
def test_mac_lane_lint_clean(params, tmp_path):
    doc = generate("mac_lane", tmp_path, **params)
    assert lint_verilog(doc["verilog"], doc["top"]) == []
    assert forbidden_operators(open(doc["verilog"]).read()) == []
    assert time0_dependent_blocks(open(doc["verilog"]).read()) == []


ROW_PASS_CONFIGS = [
    dict(),                                                   # (784, 100), k 4, 8 lanes
    dict(banks=(37, 11, 5), k=3, lanes=4, words=2),           # three banks: bank input clamped
    dict(banks=(8,), k=1, lanes=1),                           # one bank, one lane
]


@pytest.mark.parametrize("params", ROW_PASS_CONFIGS, ids=_id)
def test_row_pass_lint_clean(params, tmp_path):
    doc = generate("row_pass", tmp_path, **params)
    assert lint_verilog(doc["verilog"], doc["top"]) == []
    assert forbidden_operators(open(doc["verilog"]).read()) == []
    assert time0_dependent_blocks(open(doc["verilog"]).read()) == []


UNIT_CONFIGS = [
    dict(),                                                   # (784, 100), k 4, 8 lanes
    dict(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8),
    dict(n_in=37, n_out=11, k=3, lanes=4, words=2, schedule="shift", ns_steps=3, b_max=5),
]


@pytest.mark.parametrize("params", UNIT_CONFIGS, ids=_id)
def test_unit_lint_clean_and_division_free(params, tmp_path):
    doc = generate("unit", tmp_path, **params)
    assert lint_verilog(doc["verilog"], doc["top"]) == []
    assert forbidden_operators(open(doc["verilog"]).read()) == []
    assert time0_dependent_blocks(open(doc["verilog"]).read()) == []


def test_every_waiver_has_a_reason():
    lines = WAIVERS.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("lint_off"):
            j = i - 1
            while lines[j].startswith("lint_off"):
                j -= 1
            assert lines[j].startswith("//"), f"waiver without a reason: {line}"


def test_lint_reports_a_real_warning(tmp_path):
    """The lint check can fail: a warning outside the waivers is reported."""
    path = tmp_path / "bad.v"
    path.write_text("module bad(input wire clk, input wire [3:0] a, output reg [3:0] y);\n"
                    "  always @(posedge clk) y = a;\nendmodule\n")
    warnings = lint_verilog(path, "bad")
    assert any(w.startswith("%Warning-BLKSEQ") for w in warnings), warnings


def test_time0_check_names_the_blocks_of_amaranths_verilog(time0_table):
    """Amaranth's own Verilog of a design built to need the time-0 event fails the check, with
    both table blocks named (what they assign, what they read); the generated Verilog passes."""
    raw = verilog.convert(time0_table, name="time0_table", emit_src=False)
    found = time0_dependent_blocks(raw)
    assert len(found) == 2, found
    assert any("assigning o reads only signals still at their time-0 value after reset (count)"
               in line for line in found), found
    assert any("assigning p " in line and "(held)" in line for line in found), found
    assert all(line.startswith("time0_table: always @* at line ") for line in found)
    assert time0_dependent_blocks(to_verilog(time0_table, "time0_table")) == []


def test_time0_check_on_the_designs_as_amaranth_writes_them():
    """The designs' own Verilog, before the generator's trigger rewrite, has such blocks (a state
    decode of the unit, the row pass's beat table, the k x k engine's segment table), except
    the MAC lane, all of whose blocks read an input port or reset."""
    from hdl.designs import get_design
    unit, _ = get_design("unit").build(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8)
    found = time0_dependent_blocks(verilog.convert(unit, name="unit", emit_src=False))
    assert any(line.startswith("unit: ") and "assigning busy " in line for line in found)
    assert any(line.startswith("unit.rows: ") and "(beat, mode)" in line for line in found)
    assert any(line.startswith("unit.kxk") and "(segment)" in line for line in found)
    lane, _ = get_design("mac_lane").build()
    assert time0_dependent_blocks(verilog.convert(lane, name="mac_lane", emit_src=False)) == []


HAND_WRITTEN = """module top(clk, rst, a, y, z);
  input clk;
  input rst;
  input [1:0] a;
  output [1:0] y;
  reg [1:0] y;
  output [1:0] z;
  reg [1:0] z;
  reg [1:0] r = 2'h1;
  reg [1:0] q;
  always @(posedge clk)
    q <= a;
  always @* begin
    y = r;
  end
  always @* begin
    z = q;
  end
endmodule
"""


def test_time0_check_follows_inputs_through_registers_without_initial_value():
    """A block without any trigger reading a register at its initial value is reported; one
    reading a register without initial value, loaded from an input, is not."""
    found = time0_dependent_blocks(HAND_WRITTEN)
    assert found == ["top: always @* at line 13 assigning y reads only signals still at their "
                     "time-0 value after reset (r)"]


def test_time0_check_rejects_what_it_cannot_read():
    with pytest.raises(ValueError, match=r"line 2: unexpected module item: function"):
        time0_dependent_blocks("module m(a);\n  function f;\nendmodule\n")


def test_lint_command_fails_without_the_generators_trigger(monkeypatch, tmp_path, capsys):
    """``sbpca lint`` passes on the generated unit and fails, naming the blocks, when the
    generator writes Amaranth's Verilog as it comes (its trigger rewrite undone)."""
    import hdl.generate
    from cosim.cli import main

    argv = ["lint", "unit", "--n-in", "8", "--n-out", "4", "--k", "1", "--lanes", "1",
            "--words", "1", "--b-max", "8", "-o", str(tmp_path)]
    assert main(argv) == 0
    monkeypatch.setattr(hdl.generate, "explicit_time0_trigger", lambda text: text)
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "time-0 dependent block: unit: always @* at line " in out
    assert "assigning busy reads only signals still at their time-0 value after reset" in out
