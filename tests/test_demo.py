"""The main job, ``sbpca demo``, end to end on a small scale (one simulator, one target)."""

import json

from cosim.demo import run_demo


def test_demo_runs_every_step(tmp_path):
    lines = []
    doc = run_demo(tmp_path, sims=("icarus",), targets=("ecp5-25k",), beats=300,
                   progress=lines.append)
    assert [ln[:5] for ln in lines if ln.startswith("[")] == \
        ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]
    assert doc["cosim"]["icarus"]["random"]["beats"] == 300
    unit = doc["unit"]["icarus"]
    assert [b["B"] for b in unit["batches"]] == [16, 1, 2]     # + the two timing batches
    assert unit["steady"]["cycles_per_sample"] == unit["steady"]["predicted_cycles_per_sample"]
    assert set(doc["training"]) == {"unit, 16-bit fixed point", "unit, float", "MBGD"}
    assert all(0.1 < r["test_accuracy"] <= 1 for r in doc["training"].values())
    assert doc["synth"]["ecp5-25k"]["resources"]["dsp"] == 1
    assert json.loads((tmp_path / "demo.json").read_text())["design"] == "mac_lane"
