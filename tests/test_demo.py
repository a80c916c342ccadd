"""The main job, ``sbpca demo``, end to end on a small scale (one epoch cut to 128 samples)."""

import json

from cosim.demo import run_demo
from cosim.cli import main


def test_demo_runs_every_step(tmp_path):
    lines = []
    doc = run_demo(tmp_path, sim="verilator", epochs=1, limit=128, progress=lines.append)
    assert [ln[:5] for ln in lines if ln.startswith("[")] == \
        ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert doc["rtl"]["mismatch"] is None
    assert doc["rtl"]["checked_batches"] == [8, 8]          # 8 batches, each layer
    assert doc["rtl"]["final"]["samples"] == 128
    assert set(doc["references"]) == {"float MBGD", "float unit"}
    assert all(0.0 <= r["test_accuracy"] <= 1 for r in doc["references"].values())
    for name in ("results.json", "table.md", "accuracy.png", "accuracy_updates.png",
                 "coincidences.png"):
        assert (tmp_path / "train" / name).exists(), name
    assert json.loads((tmp_path / "demo.json").read_text())["verilog"].endswith("network.v")
    assert "through the RTL (verilator)" in (tmp_path / "demo.md").read_text()


def test_bad_epochs_is_a_usage_error(capsys):
    assert main(["demo", "--epochs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "sbpca demo: error: epochs=0: must be at least 1"
