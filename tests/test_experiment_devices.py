"""Update schemes on the same crossbar devices (golden/device_baselines.py) and ``sbpca experiment
devices`` (golden/experiments/devices.py): each scheme's counters against an independent count,
a tiny end-to-end run and its files, Ctrl-C, and one-line errors naming the parameter."""

import json
import math

import numpy as np
import pytest

from cosim.cli import main
from golden.data import load_dataset
from golden.device_baselines import (SCHEMES, CellWriteApplier, DenseUpdate, build_scheme,
                                     check_devices, check_schemes, scheme_counters,
                                     train_scheme)
from golden.experiments import devices as experiment
from golden.experiments.runner import run_experiment
from golden.mlp import MLP

LR = 0.125
SIZES = (64, 8, 10)


@pytest.fixture(scope="module")
def tiny():
    return load_dataset("digits").limit(96, 48)


def _batch(rng, batch, sizes=SIZES, scale=0.5):
    """A batch's (xs, deltas) per layer, every sample non-zero on both sides; ``scale`` is the
    deltas' spread (small: bit-length management would shorten every train to 1 slot)."""
    xs = [rng.uniform(0.1, 1.0, (batch, n_in)) for n_in in sizes[:-1]]
    ds = [rng.normal(0.0, scale, (batch, n_out)) for n_out in sizes[1:]]
    return xs, ds


def _apply_batch(backend, xs, ds):
    for layer, (x, d) in enumerate(zip(xs, ds)):
        backend.applier.apply(layer, backend.engine.update(layer, x, d), LR)


# --- SGD: one pulsed term per sample ------------------------------------------------------------

def test_sgd_fixed_bl_is_one_event_and_bl_slots_per_sample():
    batch, bl = 5, 7
    backend = build_scheme("sgd", MLP(SIZES, seed=0), "ideal", batch=batch, bl=bl, lr=LR,
                           bl_management=False)
    _apply_batch(backend, *_batch(np.random.default_rng(1), batch, scale=1e-4))
    for arr in backend.arrays:
        st = arr.stats()
        assert st["update_events"] == batch and st["slots"] == batch * bl
    c = scheme_counters(backend)
    assert c["update_events"] == 2 * batch and c["slots"] == 2 * batch * bl


def test_sgd_pulses_and_coincidences_match_a_replay_of_the_trains():
    """aihwkit's per-sample pulsing recomputed from its formulas: BL, A, B of each sample's
    x and delta / B, the layer's pulse stream replayed; coincidences per slot = pulsing rows x
    pulsing columns."""
    batch, bl, seed = 4, 31, 3
    model = MLP(SIZES, seed=seed)
    backend = build_scheme("sgd", model, "ideal", batch=batch, bl=bl, lr=LR, seed=seed)
    xs, ds = _batch(np.random.default_rng(2), batch)
    _apply_batch(backend, xs, ds)
    dw = backend.arrays[0].dw_min
    for layer, (x_b, d_b) in enumerate(zip(xs, ds)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(layer, 1)))
        slots = pulses = coinc = 0
        for x, d in zip(x_b, d_b * (1.0 / batch)):   # the SGD rule's sigma = 1/B
            xm, dm = np.abs(x).max(), np.abs(d).max()
            n = max(1, min(math.ceil(LR * xm * dm / dw), bl))
            a = math.sqrt(LR / (dw * n)) * math.sqrt(xm / dm)
            b = math.sqrt(LR / (dw * n)) * math.sqrt(dm / xm)
            rows = rng.random((n, d.size)) < a * np.abs(d)
            cols = rng.random((n, x.size)) < b * np.abs(x)
            slots += n
            pulses += rows.sum() + cols.sum()
            coinc += int((rows.sum(axis=1) * cols.sum(axis=1)).sum())
        st = backend.arrays[layer].stats()
        assert st["update_events"] == batch
        assert st["slots"] == slots
        assert st["row_pulses"] + st["col_pulses"] == pulses
        assert st["coincidences"] == coinc


# --- MBGD cell by cell, row by row --------------------------------------------------------------

def test_mbgd_cell_writes_count_every_pulse_and_the_row_by_row_time():
    w0 = [np.zeros((3, 4))]
    m = np.array([[0.0, 0.0, 0.0, 0.0],
                  [1.0, -2.5, 0.3, 0.0],
                  [-0.02, 0.0, 4.0, -4.0]]) * 1e-3
    app = CellWriteApplier(w0, device="ideal", rounding="nearest")
    app.apply(0, DenseUpdate(m, matrix_updates=3), LR)
    dw = app.arrays[0].dw_min
    n = -np.sign(m) * np.rint(LR * np.abs(m) / dw)          # signed pulses, independently
    st = app.stats()[0]
    assert st["count_pulses"] == np.abs(n).sum() > 0
    assert st["row_writes"] == 2                            # row 0 has no pulse: not written
    assert st["write_slots"] == sum(np.maximum(r, 0).max() + np.maximum(-r, 0).max() for r in n)
    np.testing.assert_allclose(app.weights(0), n * dw, atol=1e-15)  # ideal: exact steps


def test_mbgd_scheme_counts_row_writes_as_events_and_pulses_as_coincidences():
    batch = 6
    backend = build_scheme("mbgd", MLP(SIZES, seed=0), "ideal", batch=batch, lr=LR)
    xs, ds = _batch(np.random.default_rng(4), batch)
    _apply_batch(backend, xs, ds)
    c = scheme_counters(backend)
    total = sum(a.stats()["count_pulses"] for a in backend.arrays)
    assert c["coincidences"] == c["pulses"] == total > 0
    assert c["update_events"] == sum(backend.applier.row_writes)
    assert c["update_events"] <= sum(SIZES[1:])
    assert c["slots"] == sum(a.stats()["write_slots"] for a in backend.arrays)
    # the counts are the stochastically rounded lr |G| / dw_min of the exact mean gradient
    g = ds[0].T @ xs[0] / batch
    level = LR * np.abs(g).sum() / backend.arrays[0].dw_min
    assert abs(backend.arrays[0].stats()["count_pulses"] - level) < 4 * math.sqrt(g.size) + 1


# --- SVD rank k and the unit: k events per layer and batch --------------------------------------

@pytest.mark.parametrize("scheme", ["svd", "unit-float", "unit-fixed"])
def test_rank_k_schemes_make_k_events_per_batch(scheme):
    batch, k, bl = 8, 3, 9
    backend = build_scheme(scheme, MLP(SIZES, seed=0), "ideal", batch=batch, k=k, bl=bl,
                           lr=LR, bl_management=False)
    rng = np.random.default_rng(5)
    for _ in range(2):
        _apply_batch(backend, *_batch(rng, batch, scale=1e-4))
    for arr in backend.arrays:
        assert arr.stats()["update_events"] == 2 * k
        assert arr.stats()["slots"] == 2 * k * bl
    assert scheme_counters(backend)["update_events"] == 2 * 2 * k


def test_bl_management_shortens_small_trains_but_keeps_the_events():
    batch, k = 8, 2
    for scheme, events in (("svd", k), ("sgd", batch)):
        backend = build_scheme(scheme, MLP(SIZES, seed=0), "ideal", batch=batch, k=k, lr=LR)
        _apply_batch(backend, *_batch(np.random.default_rng(6), batch, scale=1e-4))
        for arr in backend.arrays:      # lr max|x| max|d| / dw_min < 1: one slot per term
            assert arr.stats()["update_events"] == arr.stats()["slots"] == events


# --- training runs ------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", SCHEMES)
def test_train_scheme_records_and_counters(scheme, tiny):
    batch, epochs = 32, 2
    r = train_scheme(scheme, "ideal", tiny, SIZES, k=2, batch=batch, lr=LR, epochs=epochs,
                     evals_per_epoch=2)
    recs = r["records"]
    # 3 batches an epoch, evaluated after batches round(1.5) = 2 and 3
    assert [round(p["epoch"], 3) for p in recs] == [0.0, 0.667, 1.0, 1.667, 2.0]
    assert recs[-1]["samples"] == epochs * 96 and not r["interrupted"]
    for key in ("update_events", "pulses", "coincidences", "slots"):
        values = [p[key] for p in recs]
        assert values == sorted(values) and values[0] == 0 and values[-1] > 0
    final, layers = r["final"], r["layers"]
    batches = epochs * math.ceil(96 / batch)
    if scheme == "sgd":   # one event per sample and layer, unless the sample had nothing to pulse
        assert final["update_events"] + sum(l["skipped_terms"] for l in layers) == \
            epochs * 96 * 2
    elif scheme == "mbgd":
        assert final["update_events"] == sum(l["row_writes"] for l in layers) <= \
            batches * sum(SIZES[1:])
        assert final["pulses"] == final["coincidences"]
    elif scheme == "unit-fixed":
        assert final["update_events"] == batches * 2 * 2 and final["slots"] == \
            final["update_events"] * 31 and final["driver_cycles"] > 0
    else:
        assert final["update_events"] + sum(l["skipped_terms"] for l in layers) == \
            batches * 2 * 2
    hit = r["epochs_to_target"]
    assert hit is None or any(p["epoch"] == hit and p["train_loss"] <= 0.1 for p in recs)


def test_train_scheme_stops_cleanly_on_ctrl_c(tiny):
    calls = []

    def progress(n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    r = train_scheme("svd", "EcRam", tiny, SIZES, k=2, batch=16, lr=LR, epochs=3,
                     progress=progress)
    assert r["interrupted"] and r["final"]["samples"] == 32
    assert r["final"]["update_events"] == 2 * 2 * 2 - sum(l["skipped_terms"]
                                                          for l in r["layers"])


def _settings(tmp_path, **kw):
    base = dict(name="devices", out=tmp_path, data="digits", epochs=1, batch=32, hidden=(8,),
                lr=LR, limit=(96, 48), devices=("ideal", "EcRam"), k=2)
    return experiment.DeviceSettings(**{**base, **kw})


def test_experiment_runs_and_writes_its_files(tmp_path):
    doc = run_experiment(experiment, _settings(tmp_path))
    for name in ("results.json", "table.md", "devices.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["experiment"] == "devices"
    rows = doc["results"]["rows"]
    assert [(r["device"], r["scheme"]) for r in rows] == \
        [(d, s) for d in ("ideal", "EcRam") for s in SCHEMES]
    assert not doc["results"]["interrupted"]
    md = (tmp_path / "table.md").read_text()
    assert md.count("\n| ideal |") == md.count("\n| EcRam |") == len(SCHEMES)
    assert all(r["vs_sgd"] == 0.0 for r in rows if r["scheme"] == "sgd")


def test_experiment_ctrl_c_writes_what_was_done(tmp_path, monkeypatch):
    from golden.experiments import runner

    calls = []
    real = runner.Progress.__call__

    def interrupting(self, n=1):
        calls.append(n)
        if len(calls) == 5:
            raise KeyboardInterrupt
        real(self, n)

    monkeypatch.setattr(runner.Progress, "__call__", interrupting)
    # 3 batches per run: the 5th batch is the second of the second run (mbgd on ideal)
    code = main(["experiment", "devices", "--quick", "--epochs", "1", "--batch", "400",
                 "--device", "ideal", "--schemes", "sgd,mbgd,svd", "--hidden", "8",
                 "--out", str(tmp_path)])
    assert code == 130
    doc = json.loads((tmp_path / "results.json").read_text())
    res = doc["results"]
    assert res["interrupted"] and res["runs_done"] == 2 and res["runs_planned"] == 3
    assert res["runs"][1]["interrupted"] and res["runs"][1]["final"]["samples"] == 800
    assert "Interrupted" in (tmp_path / "table.md").read_text()


def test_cli_quick_run(tmp_path, capsys):
    code = main(["experiment", "devices", "--quick", "--epochs", "1", "--device", "ideal",
                 "--schemes", "mbgd,sgd", "--hidden", "8", "--k", "2", "--out",
                 str(tmp_path)])
    assert code == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    s = doc["settings"]
    assert s["data"] == "digits" and s["lr"] == LR and s["batch"] == 16 and s["k"] == 2
    assert [r["scheme"] for r in doc["results"]["rows"]] == ["mbgd", "sgd"]


def test_long_sets_the_mnist_configuration():
    import argparse

    from cosim.cli.experiment import add_arguments, settings_for
    from cosim.cli.common import Parser

    p = Parser()
    add_arguments(p)
    args = p.parse_args(["devices", "--long", "--epochs", "3"])
    s = experiment.configure(settings_for("devices", args, "/tmp/x"), args)
    assert (s.data, s.hidden, s.k, s.batch, s.epochs, s.long) == ("mnist", (100,), 4, 64, 3,
                                                                  True)
    args = p.parse_args(["devices"])
    s = experiment.configure(settings_for("devices", args, "/tmp/x"), args)
    assert (s.data, s.hidden, s.batch, s.lr, s.devices) == ("digits", (32,), 16, LR,
                                                            experiment.DEFAULT_DEVICES)
    assert isinstance(args, argparse.Namespace)


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    (dict(devices=("ideal", "memristor9")), "device='memristor9'"),
    (dict(k=0), "k=0"),
    (dict(bl=0), "bl=0"),
    (dict(schemes=("sgd", "adam")), "unknown scheme 'adam'"),
])
def test_bad_settings_name_the_parameter(kw, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _settings(tmp_path, **kw)


def test_bad_builds_name_the_parameter():
    model = MLP(SIZES, seed=0)
    with pytest.raises(ValueError, match="device='nope'"):
        build_scheme("sgd", model, "nope")
    with pytest.raises(ValueError, match="k=0"):
        build_scheme("svd", model, "ideal", k=0)
    with pytest.raises(ValueError, match="k=9"):            # above the 8 -> 10 layer's rank
        build_scheme("svd", model, "ideal", k=9)
    with pytest.raises(ValueError, match="scheme='adam'"):
        build_scheme("adam", model, "ideal")
    with pytest.raises(ValueError, match="lr=0.1"):          # the driver cannot represent it
        build_scheme("unit-fixed", model, "ideal", lr=0.1)
    assert check_devices("ideal, ecram") == ("ideal", "EcRam")
    assert check_schemes("svd,sgd,svd") == ("svd", "sgd")


@pytest.mark.parametrize("argv, message", [
    (["--device", "ideal,nope"], "device='nope'"),
    (["--k", "0"], "k=0"),
    (["--schemes", "sgd,adam"], "adam"),
    (["--lr", "0.1"], "lr=0.1"),
    (["--long", "--quick"], "long"),
])
def test_cli_errors_are_one_line_exit_2(argv, message, tmp_path, capsys):
    code = main(["experiment", "devices", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "results.json").exists()


def test_cli_rejects_device_options_for_other_experiments(tmp_path, capsys):
    code = main(["experiment", "curves", "--device", "ideal", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "only the devices experiment takes --device" in err
