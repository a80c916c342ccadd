# amaranth: UnusedElaboratable=no
"""``sbpca bench``: cycle counts match the engine's own count; bad designs fail with exit 2."""

import json
import subprocess
import sys

from cosim.bench import run_bench
from hdl.designs import unused
from hdl.row_pass import NORM, PROJECT, UPDATE, RowPass
from hdl.sbpca_unit import SBPCAUnit


def test_row_pass_bench_reports_cycles_and_utilization(tmp_path):
    params = dict(banks=(20, 6), k=2, lanes=4, words=2)
    doc = run_bench("row_pass", params, tmp_path, sims=("icarus",), passes=2,
                    progress=lambda _: None)
    rp = RowPass(vec_width=16, coef_width=18, shift=14, gw=2, **params)
    r = doc["simulators"]["icarus"]
    plan = [(UPDATE, 0), (UPDATE, 1), (PROJECT, 0), (PROJECT, 1), (NORM, 0), (NORM, 1)]
    names = ("update", "project", "norm")
    assert r["cycles_per_pass"] == {f"{names[m]} bank {b}": rp.cycles_for(m, b) for m, b in plan}
    assert r["lane_utilization"]["update bank 0"] == \
        rp.useful_macs_for(UPDATE, 0) / (rp.lanes * rp.cycles_for(UPDATE, 0))
    assert r["simulated_cycles"] == sum(rp.cycles_for(m, b) for m, b in plan)
    assert json.loads((tmp_path / "bench.json").read_text())["design"] == "row_pass"
    md = (tmp_path / "bench.md").read_text()
    assert "| icarus | update bank 1 | 6 |" in md and "| icarus | " in md


def test_bench_without_a_bench_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosim", "bench", "mac_lane", "-o",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sbpca bench: error: design='mac_lane': no bench yet; choose from row_pass, unit"]


def test_unit_bench_reports_steady_state_cycles_and_utilization(tmp_path):
    params = dict(n_in=12, n_out=7, k=2, lanes=4, words=2, b_max=4)
    doc = run_bench("unit", params, tmp_path, sims=("icarus",), batches="3",
                    progress=lambda _: None)
    unit = unused(SBPCAUnit(**params))
    # cycles per sample from the engines' own pass and segment counts (each tested on its own)
    rp, kx = unit.row_pass, unit.kxk_engine
    passes = (rp.cycles_for(NORM, 0) + rp.cycles_for(PROJECT, 1) + rp.cycles_for(UPDATE, 0)
              + rp.cycles_for(UPDATE, 1))
    segments = sum(kx.cycles_for(s) for s in ("norm_x", "pre_x", "post_x", "post_d"))
    r = doc["simulators"]["icarus"]
    assert r["cycles_per_sample"] == passes + segments == doc["predicted"]["cycles_per_sample"]
    assert [b["B"] for b in r["cycles_per_batch"]] == [3, 1, 2]
    assert r["cycles_per_batch"][2]["cycles"] - r["cycles_per_batch"][1]["cycles"] == \
        r["cycles_per_sample"]
    assert r["lane_utilization"] == unit.useful_macs_per_sample / (4 * r["cycles_per_sample"])
    assert r["samples"] == 6
    assert doc["memory_words"]["dense"] == 84 and doc["stream"] == "random"
    md = (tmp_path / "bench.md").read_text()
    assert "| icarus |" in md and "cycles / sample" in md
