"""Generated Verilog is lint-clean under ``verilator --lint-only -Wall`` and the one waiver file."""

import pytest

from hdl.generate import generate
from synth.lint import WAIVERS, forbidden_operators, lint_verilog

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
