# amaranth: UnusedElaboratable=no
"""``sbpca bench``: cycle counts match the engine's own count; bad designs fail with exit 2."""

import json
import subprocess
import sys

from cosim.bench import run_bench
from hdl.row_pass import NORM, PROJECT, UPDATE, RowPass


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
        "sbpca bench: error: design='mac_lane': no bench yet; choose from row_pass"]
