"""Every experiment's ``--quick`` run through the command line, and the report it writes."""

import argparse
import io
import json
import math

import numpy as np
import pytest

from cosim.cli import experiment as command
from cosim.cli.common import UsageError
from golden.experiments import EXPERIMENTS
from golden.experiments.runner import QUICK_TRAIN, Progress, spread
from golden.rules import RULES


def _parse(*argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def _no_nan(text):
    def reject(name):
        raise AssertionError(f"non-finite number {name} in results.json")
    return json.loads(text, parse_constant=reject)


def _walk(obj, path=""):
    """Yield ``(path, value)`` of every leaf."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, obj


def run_quick(name, tmp_path, *extra):
    out = tmp_path / name
    assert command.run(_parse(name, "--quick", "--out", str(out), *extra)) == 0
    doc = _no_nan((out / "results.json").read_text())
    png = out / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    table = (out / "table.md").read_text()
    assert "|---|" in table and len(table.splitlines()) >= 4
    assert doc["experiment"] == name
    assert doc["settings"]["quick"] is True and doc["settings"]["seeds"] == 1
    assert doc["data"]["n_train"] == QUICK_TRAIN and doc["data"]["name"].startswith("digits")
    for path, value in _walk(doc):
        if isinstance(value, float):
            assert math.isfinite(value), path
        if "accuracy" in path.rsplit(".", 1)[-1] and isinstance(value, float):
            assert 0.0 <= value <= 1.0, path
    return doc


def test_experiment_names_match_the_command_line():
    assert set(EXPERIMENTS) == {"spectrum", "convergence", "curves", "batch-sweep", "rank-table",
                                "variants", "baselines", "quantization", "ns-steps", "devices"}
    with pytest.raises(SystemExit):
        _parse("nonsense")


def test_spectrum(tmp_path):
    doc = run_quick("spectrum", tmp_path)
    runs = doc["results"]["runs"]
    assert {r["activation"] for r in runs} == {"relu", "sigmoid"}
    for r in runs:
        assert len(r["layers"]) == 3  # default hidden 256,128
        for layer in r["layers"]:
            s = np.array(layer["sigma"])
            assert np.all(s >= 0) and np.all(np.diff(s) <= 1e-12) and s.sum() <= 1 + 1e-9
            cum = [layer["cumulative"][k] for k in ("1", "2", "3", "5", "10")]
            assert np.all(np.diff(cum) >= -1e-12) and cum[0] == pytest.approx(s[0])
        # The output layer (10 outputs) has rank <= 10: its first 10 values hold everything.
        assert r["layers"][-1]["cumulative"]["10"] == pytest.approx(1.0)


def test_convergence(tmp_path):
    doc = run_quick("convergence", tmp_path)
    runs = doc["results"]["runs"]
    assert sorted({r["batch"] for r in runs}) == [16, 128]
    for r in runs:
        assert r["traced_batches"] >= 1
        for layer in r["layers"]:
            assert np.all(np.diff(layer["sample"]) > 0)
            for key in ("x_error", "delta_error"):
                assert all(0.0 <= v <= 1.0 + 1e-12 for v in layer[key])
            assert len(layer["batch_end"]) == r["traced_batches"]


def test_curves(tmp_path):
    doc = run_quick("curves", tmp_path)
    runs = {r["label"]: r for r in doc["results"]["runs"]}
    assert {"SGD", "MBGD", "SVD"} <= set(runs) and any(k.startswith("SBE") for k in runs)
    epochs = doc["settings"]["epochs"]
    batches = -(-QUICK_TRAIN // doc["settings"]["batch"])
    # Independent counts: SGD writes once per sample, MBGD (device count) once per batch.
    assert runs["SGD"]["matrix_updates"] == epochs * QUICK_TRAIN
    assert runs["MBGD"]["matrix_updates"] == epochs * batches
    for r in runs.values():
        recs = r["seeds"][0]["records"]
        assert recs[0]["epoch"] == 0 and recs[-1]["epoch"] == epochs
        assert len(recs) == 1 + epochs * doc["results"]["evals_per_epoch"]


def test_batch_sweep(tmp_path):
    doc = run_quick("batch-sweep", tmp_path)
    for r in doc["results"]["runs"]:
        loose, tight = r["reached"]["0.1"], r["reached"]["0.01"]
        if tight["epochs"] is not None:
            assert loose["epochs"] is not None and loose["epochs"] <= tight["epochs"]
        for reach in (loose, tight):
            if reach["epochs"] is not None:
                assert 0 < reach["epochs"] <= doc["settings"]["epochs"]
                assert reach["matrix_updates"] >= 1
    assert {(r["label"], r["batch"]) for r in doc["results"]["runs"]} >= {("SGD", 1),
                                                                         ("MBGD", 4)}


def test_rank_table(tmp_path):
    doc = run_quick("rank-table", tmp_path)
    rows = doc["results"]["rows"]
    assert [r["rank"] for r in rows] == [1, 3]
    assert rows[1]["layer_ranks"] == [3, 3]
    for r in rows:
        assert r["fixed"]["options"]["schedule"] == "harmonic"
        assert r["varied"]["options"]["schedule"] == "sbpcav"
    assert 0 < doc["results"]["mbgd"]["test_accuracy"]["mean"] <= 1


def test_variants(tmp_path):
    doc = run_quick("variants", tmp_path)
    res = doc["results"]
    ref = res["rows"][0]
    assert ref["variant"].startswith("reference") and ref["k"] == 4
    n_in, hidden, n_out = 64, 100, 10
    dense = n_in * hidden + hidden * n_out
    for r in res["rows"]:
        assert r["dense_words"] == dense and r["memory_words"] > 0 and r["macs_per_sample"] > 0
        assert 0 <= r["diverged"] <= 1
        assert r["memory_words"] == sum(c["memory_words"] for c in r["costs"])
    # Whatever else it keeps, a rank-4 rule stores X and Delta: 4 (n_in + n_out) per layer.
    state = sum(c["state_words"] for c in ref["costs"])
    assert state >= 4 * (n_in + hidden + hidden + n_out)
    acc = res["acceptance"]
    assert acc["rank"] == 4 and set(acc) >= {"mbgd", "reference", "best_division_free"}
    assert acc["reference"]["gap"] == pytest.approx(acc["mbgd"] - ref["test_accuracy"]["mean"])


def test_baselines(tmp_path):
    doc = run_quick("baselines", tmp_path)
    rules = [r["rule"] for r in doc["results"]["rows"]]
    assert set(rules) == set(RULES)
    by_rule = {r["rule"]: r for r in doc["results"]["rows"]}
    assert by_rule["sgd"]["batch"] == 1 and by_rule["mbgd"]["memory_words"] == 64 * 100 + 1000
    assert by_rule["sbpca"]["options"] == {"k": 4}


def test_devices(tmp_path):
    """Two schemes on one preset (the rest: tests/test_experiment_devices.py)."""
    doc = run_quick("devices", tmp_path, "--device", "ideal", "--schemes", "sgd,svd")
    rows = doc["results"]["rows"]
    assert [(r["device"], r["scheme"]) for r in rows] == [("ideal", "sgd"), ("ideal", "svd")]
    assert rows[1]["update_events"] < rows[0]["update_events"]


# -- command line and helpers --------------------------------------------------------------------

@pytest.mark.parametrize("argv,match", [
    (["curves", "--epochs", "0"], "epochs=0"), (["curves", "--seeds", "-1"], "seeds=-1"),
    (["curves", "--lr", "0"], "lr=0.0"), (["curves", "--hidden", "10,x"], "hidden='10,x'"),
    (["curves", "--data", "cifar"], "data='cifar'"),
    (["batch-sweep", "--batch", "8"], "batch=8: batch-sweep sweeps its own batch sizes"),
    (["curves", "--data", "idx:/nonexistent/mnist"], "/nonexistent/mnist: not a folder"),
])
def test_bad_options_raise_one_line_usage_errors(argv, match, tmp_path):
    with pytest.raises(UsageError, match=match) as info:
        command.run(_parse(*argv, "--out", str(tmp_path)))
    assert "\n" not in str(info.value)
    assert not any(tmp_path.iterdir())


def test_sbpca_command_turns_errors_into_exit_code_2(tmp_path, capsys):
    from cosim.cli import main

    assert main(["experiment", "curves", "--epochs", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sbpca experiment: error: epochs=0: must be at least 1"]


def test_progress_reports_rate_and_eta():
    stream = io.StringIO()
    p = Progress("demo", 100, stream=stream)
    p(40)
    p(60)
    p.close()
    line = stream.getvalue().strip().splitlines()[-1]
    assert line.startswith("demo: 100.0% 100/100 samples") and "ETA 0:00" in line


def test_spread_skips_missing_values():
    s = spread([0.5, None, 0.7, float("nan")])
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.6)
    assert s["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert spread([None])["mean"] is None


def test_convergence_errors_agree_with_golden_metrics():
    """The experiment's fast per-vector errors are the SBE paper's, as in golden.metrics."""
    from golden.experiments.convergence import value_error, vector_error
    from golden.linalg import batch_gradient, truncated_svd
    from golden.metrics import singular_value_errors, singular_vector_errors
    from golden.rules import make_rule

    rng = np.random.default_rng(3)
    xs, deltas = rng.normal(size=(20, 7)), rng.normal(size=(20, 5))
    update = make_rule("sbe", 7, 5, rng=rng).batch(xs[:6], deltas[:6])
    G = batch_gradient(xs, deltas)
    sigma, U, V = truncated_svd(G, 1)
    ex, ed = singular_vector_errors(update, G)
    assert vector_error(V[:, 0], update.X[:, 0]) == pytest.approx(ex[0], abs=1e-12)
    assert vector_error(U[:, 0], update.Delta[:, 0]) == pytest.approx(ed[0], abs=1e-12)
    assert value_error(sigma[0], update.sigma[0]) == pytest.approx(
        singular_value_errors(update, G)[0], abs=1e-12)


def test_experiment_on_idx_files(tmp_path):
    """An experiment reads MNIST-format IDX files from a folder (here: digits written as IDX)."""
    from golden.data import load_digits, write_idx

    d = load_digits()
    folder = tmp_path / "idx"
    folder.mkdir()
    for stem, x, y in (("train", d.x_train[:300], d.y_train[:300]),
                       ("t10k", d.x_test[:100], d.y_test[:100])):
        images = np.round(x * 255).astype(np.uint8).reshape(-1, 8, 8)
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte", y.astype(np.uint8))
    out = tmp_path / "out"
    assert command.run(_parse("rank-table", "--quick", "--data", f"idx:{folder}", "--out",
                          str(out))) == 0
    doc = _no_nan((out / "results.json").read_text())
    assert doc["data"] == {"name": f"idx:{folder}", "n_train": 300, "n_test": 100,
                           "n_features": 64, "n_classes": 10}


def test_quantization(tmp_path):
    doc = run_quick("quantization", tmp_path, "--epochs", "1")
    res = doc["results"]
    widths = [str(w) for w in res["widths"]]
    per = res["update_error"]["per_width"]
    assert per["float"]["vs_float"]["max"] == 0.0          # float against itself
    assert per["16"]["vs_float"]["mean"] < per["8"]["vs_float"]["mean"]
    assert per["16"]["cosine"]["mean"] > 0.9
    for w in widths:
        o = res["orthonormality"]["per_width"][w]
        assert o["samples"] >= 1024 and len(o["error"]) == len(o["checkpoints"]) >= 2
    assert res["orthonormality"]["per_width"]["16"]["max"] < 1e-2
    assert set(res["training"]["rows"]) == {"float", *widths}
