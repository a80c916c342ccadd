# amaranth: UnusedElaboratable=no
"""``sbpca bench``: cycle counts match the engine's own count; bad designs fail with exit 2."""

import json
import subprocess
import sys

from cosim.bench import run_bench
from hdl.row_pass import RowPass


def test_row_pass_bench_reports_cycles_and_utilization(tmp_path):
    params = dict(n=20, k=2, lanes=4)
    doc = run_bench("row_pass", params, tmp_path, sims=("icarus",), passes=2,
                    progress=lambda _: None)
    rp = RowPass(vec_width=16, coef_width=18, shift=14, gw=2, **params)
    r = doc["simulators"]["icarus"]
    assert r["cycles_per_pass"] == rp.cycles
    assert r["lane_utilization"] == rp.useful_macs / (rp.lanes * rp.cycles)
    assert r["simulated_cycles"] == 2 * rp.cycles + rp.cycles_for(1) + rp.cycles_for(2)
    assert json.loads((tmp_path / "bench.json").read_text())["design"] == "row_pass"
    assert "| icarus | " in (tmp_path / "bench.md").read_text()


def test_bench_without_a_bench_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosim", "bench", "mac_lane", "-o",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sbpca bench: error: design='mac_lane': no bench yet; choose from row_pass"]
