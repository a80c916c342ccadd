"""Training through the RTL: digits through the co-simulated network top on each simulator with
``--check-against fixed`` (pulses and crossbar states equal to the fixed backend's after every
batch), then the whole run compared with a separate run of the fixed backend: every record
(accuracy, loss, update events, pulses, coincidences, slots) equal, and the driver cycles the
bench measured equal to the cycle model's.

Verilator: 2 epochs of 640 samples (10 batches each) of 64-32-10, k = 4, batch 64 (the whole
digits training set under ``-m slow``). Icarus (a few hundred cycles/s on this
Verilog): 10 batches of 2 samples of 64-16-10, k = 2, BL = 5, under ``-m slow`` (two minutes).
The MNIST run of the issue is under ``-m slow`` too.
"""

import math

import pytest

from cosim.rtl_train import network_params, run_rtl_training
from golden.train_backends import TrainConfig, load_data, run_training
from hdl.designs import get_design, unused

RUNS = {      # name: (simulator, run); the default run takes only "verilator"
    "verilator": ("verilator", dict(sizes=(64, 32, 10), batch=64, epochs=2, limit=640)),
    "verilator-all": ("verilator", dict(sizes=(64, 32, 10), batch=64, epochs=2)),
    "icarus": ("icarus", dict(sizes=(64, 16, 10), k=2, batch=2, bl=5, epochs=1, limit=20)),
}


def compare_with_fixed(cfg, doc, data):
    assert doc["mismatch"] is None
    fixed = run_training(TrainConfig(**{**cfg.to_json(), "backend": "fixed",
                                        "check_against": None,
                                        "sizes": tuple(cfg.sizes)}).check(), data=data)
    strip = lambda recs: [{k: v for k, v in r.items() if k != "driver_cycles"} for r in recs]
    assert strip(doc["records"]) == strip(fixed["records"])
    assert doc["final"]["test_accuracy"] == fixed["final"]["test_accuracy"]
    # the measured driver cycles: the cycle model of every layer's unit-driver, every batch
    top, _ = get_design("network").build(**network_params(cfg, cfg.sizes))
    unused(top)
    batches = math.ceil(len(data.y_train) / cfg.batch) * cfg.epochs
    assert doc["final"]["driver_cycles"] == batches * sum(ud.update_cycles
                                                          for ud in top.layers)
    layers = doc["layers"]
    assert [st["driver"]["checked_batches"] for st in layers] == [batches] * len(layers)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n != "verilator"
                                  else n for n in RUNS])
def test_digits_through_the_rtl_equals_the_fixed_backend(name, tmp_path):
    sim, run = RUNS[name]
    cfg = TrainConfig(backend="rtl", data="digits", sim=sim, check_against="fixed",
                      **run).check()
    data = load_data(cfg)
    seen = []
    doc = run_rtl_training(cfg, data=data, build_dir=tmp_path / "rtl", progress=seen.append)
    assert sum(seen) == len(data.y_train) * cfg.epochs          # progress reached the caller
    assert not doc["interrupted"]
    compare_with_fixed(cfg, doc, data)
    assert doc["final"]["update_events"] > 0 and doc["final"]["coincidences"] > 0


def test_a_stopped_run_writes_what_was_done(tmp_path):
    """The stop request (what Ctrl-C does) ends the run after the current batch; the document
    holds the batches done, checked, and a last record at the stop."""
    from cosim.rtl_train import request_stop

    cfg = TrainConfig(backend="rtl", data="digits", sizes=(64, 8, 10), k=1, batch=8, bl=3,
                      epochs=1, limit=160, check_against="fixed").check()
    data = load_data(cfg)
    build = tmp_path / "rtl"
    doc = run_rtl_training(cfg, data=data, build_dir=build,
                           progress=lambda n: request_stop(build))
    assert doc["interrupted"] and doc["mismatch"] is None
    done = doc["final"]["samples"]
    assert 0 < done < 160 and done % 8 == 0
    assert doc["records"][-1]["samples"] == done
    assert [st["driver"]["checked_batches"] for st in doc["layers"]] == [done // 8] * 2


@pytest.mark.slow
def test_mnist_784_100_10_through_the_rtl(tmp_path):
    """The issue's figure: MNIST subset, 784-100-10, k = 4, batch 64, 16-bit, ideal device, 10
    epochs on Verilator with the check on; within 3 points of float MBGD (README)."""
    cfg = TrainConfig(backend="rtl", data="mnist", sizes=(784, 100, 10), epochs=10,
                      check_against="fixed").check()
    data = load_data(cfg)
    doc = run_rtl_training(cfg, data=data, build_dir=tmp_path / "rtl")
    assert doc["mismatch"] is None and not doc["interrupted"]
    mbgd = run_training(TrainConfig(backend="float", data="mnist", sizes=(784, 100, 10),
                                    rule="mbgd", epochs=10).check(), data=data)
    assert doc["final"]["test_accuracy"] >= mbgd["final"]["test_accuracy"] - 0.03
