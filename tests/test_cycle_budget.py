"""``sbpca report --stages`` (``cosim/cycle_budget.py``): the variants the RTL builds give the
figures of ``SBPCAUnit`` built with those options (whose cycle count the cocotb benches measure),
the others stay consistent with them, and bad input is a one-line usage error."""

import json
import subprocess
import sys

import pytest

from cosim.cycle_budget import VARIANTS, Variant, build_budget, variant_figures
from hdl.designs import get_design

UNITS = {"hidden": {}, "output": dict(n_in=100, n_out=10, lanes=4, words=4),
         "one-lane": dict(n_in=20, n_out=6, k=2, lanes=1, words=1)}


@pytest.mark.parametrize("unit", list(UNITS))
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.rtl], ids=lambda v: v.label)
def test_rtl_variants_equal_the_unit_built_with_them(unit, variant):
    figures = variant_figures(variant, UNITS[unit])
    if figures is None:                     # more general lanes than the unit has
        assert variant.options.get("general", 1) > 1 and unit == "one-lane"
        return
    built = get_design("unit").build(**UNITS[unit], **variant.options)[0]
    assert figures["cycles_per_sample"] == built.cycles_per_sample
    assert figures["useful_macs"] == built.useful_macs_per_sample
    assert figures["lane_utilization"] == pytest.approx(
        built.useful_macs_per_sample / (built.lanes * built.cycles_per_sample))
    kxk = sum(built.kxk_engine.cycles_for(s) for s in built.kxk_engine.schedule.segments)
    assert figures["kxk_cycles"] == kxk


def test_schedule_only_variants_are_consistent():
    by = {f["label"]: f for f in build_budget()["variants"]}
    built, bound = by["the unit as built"], next(f for f in by.values() if "critical" in f["label"])
    assert built["cycles_per_sample"] == get_design("unit").build()[0].cycles_per_sample
    rows = {f["row_pass_cycles"] for f in by.values()}
    assert rows == {built["row_pass_cycles"]}                 # the row passes never change
    for f in by.values():                                     # the bound is below every variant
        same = (f["options"]["post_stages"], f["options"]["ns_steps"]) == (1, 6)
        assert not same or f["kxk_cycles"] >= bound["kxk_cycles"]
    # a second post stage lengthens every chain through a Dot; fewer NS steps shorten them
    assert by["2 post stages"]["kxk_cycles"] > built["kxk_cycles"] + 4
    five = by["5 Newton-Schulz steps"]
    assert five["kxk_cycles"] < built["kxk_cycles"] and five["useful_macs"] < built["useful_macs"]
    # the margin: the most cycles at 90% utilization, less the cycles
    for f in by.values():
        most = f["cycles_per_sample"] + f["margin_cycles"]
        assert f["useful_macs"] / (8 * most) >= 0.9 > f["useful_macs"] / (8 * (most + 1))


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match=r"^options='lanes': not a k x k engine option"):
        variant_figures(Variant("x", dict(lanes=2)))


def sbpca(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *args], capture_output=True, text=True)


def test_command_writes_json_and_table(tmp_path):
    r = sbpca("report", "--stages", "--layer", "100,10,4,4,4", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "stages.json").read_text())
    assert doc["unit"] == {"n_in": 100, "n_out": 10, "k": 4, "lanes": 4}
    table = (tmp_path / "stages.md").read_text()
    assert table in r.stdout
    assert len([ln for ln in table.splitlines() if ln.startswith("| ")]) == len(VARIANTS) + 1


@pytest.mark.parametrize("args, message", [
    (["--layer", "1,2"], "layer='1,2': expected N_IN,N_OUT,K,LANES"),
    (["--layer", "784,100,4,8", "--layer", "100,10,4,4"], "layer='100,10,4,4': --stages takes one"),
    (["--synth", "nowhere"], "synth='nowhere': --stages takes no synthesis report"),
    (["--layer", "784,100,4,0"], "lanes=0"),
])
def test_bad_input_is_a_usage_error(args, message, tmp_path):
    r = sbpca("report", "--stages", *args, "-o", str(tmp_path))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2              # usage line + the message


def test_readme_table_is_what_the_command_prints():
    """The README's stage table is ``sbpca report --stages``'s (regenerate it with the command)."""
    from pathlib import Path

    from cosim.cycle_budget import budget_markdown

    text = budget_markdown(build_budget())               # the table and its notes
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert text in readme, "README table stale: run sbpca report --stages"
