"""``sbpca train``: outputs, one-line errors with exit code 2, seeding, Ctrl-C."""

import json
import subprocess
import sys

import pytest

from cosim.cli import _build_parser, main
from cosim.cli import train as train_cli

TINY = ["--limit", "160", "--sizes", "64,8,10", "--k", "2", "--batch", "32", "--epochs", "2"]


def _outputs(out):
    return {p.name for p in out.iterdir()}


def test_fixed_backend_writes_results_table_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--backend", "fixed", "--device", "Idealized", *TINY,
                 "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("done: 320 samples, epoch 2.00, test accuracy ")
    assert "train fixed Idealized: 100.0% 320/320 samples" in cap.err    # progress line
    assert "/s elapsed" in cap.err and "ETA" in cap.err
    assert _outputs(out) == {"results.json", "table.md", "accuracy.png", "accuracy_updates.png",
                             "coincidences.png"}
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["backend"] == "fixed" and doc["config"]["device"] == "Idealized"
    assert doc["config"]["sizes"] == [64, 8, 10]
    assert [r["epoch"] for r in doc["records"]] == [0.0, 1.0, 2.0]
    fin = doc["final"]
    for key in ("test_accuracy", "train_loss", "update_events", "pulses", "coincidences",
                "slots", "driver_cycles"):
        assert key in fin
    assert fin["update_events"] == 2 * 5 * 2 * 2 and fin["slots"] == fin["update_events"] * 31
    assert [st["device"] for st in doc["layers"]] == ["ConstantStep"] * 2
    assert all(st["driver"]["terms"] == 20 for st in doc["layers"])
    table = (out / "table.md").read_text()
    assert "| 2.00 | 320 |" in table and "| 1 | 10x8 | ConstantStep |" in table
    assert all((out / p).stat().st_size > 1000 for p in _outputs(out) if p.endswith(".png"))


def test_float_backend_default_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *TINY, "--epochs", "1"]) == 0
    doc = json.loads((tmp_path / "build/train/float-dense/results.json").read_text())
    assert doc["config"]["rule"] == "unit" and doc["config"]["device"] is None
    assert doc["layers"] == [] and doc["final"]["update_events"] == 0
    assert doc["final"]["matrix_updates"] == 5 * 2 * 2


def test_same_seed_same_results_json(tmp_path, capsys):
    def run(name, seed):
        out = tmp_path / name
        assert main(["train", "--backend", "fixed", *TINY, "--seed", str(seed),
                     "-o", str(out)]) == 0
        doc = json.loads((out / "results.json").read_text())
        for key in ("elapsed_s", "samples_per_s"):         # wall-clock, the only difference
            doc.pop(key)
        return doc

    a, b, c = run("a", 5), run("b", 5), run("c", 6)
    assert a == b
    assert a["records"] != c["records"]


def _args(argv):
    return _build_parser(["train", *argv]).parse_args(["train", *argv])


@pytest.mark.parametrize("backend", ["float", "fixed"])
def test_ctrl_c_stops_and_writes_what_was_done(backend, tmp_path, capsys):
    out = tmp_path / "run"
    calls = []

    def hook(n):
        calls.append(n)
        if len(calls) == 7:
            raise KeyboardInterrupt

    args = _args(["--backend", backend, "--device", "ideal", *TINY, "-o", str(out)])
    assert train_cli.run(args, progress_hook=hook) == train_cli.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().out.startswith("interrupted: 224 samples, epoch 1.40")
    doc = json.loads((out / "results.json").read_text())
    assert doc["interrupted"] is True
    assert [r["samples"] for r in doc["records"]] == [0, 160, 224]
    assert doc["final"]["update_events"] == 7 * 2 * 2
    assert "(interrupted)" in (out / "table.md").read_text()
    assert (out / "coincidences.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--device", "nosuch"], "device='nosuch': unknown preset; choose from ideal, Idealized, "
                             "GokmenVlasov, EcRam, ReRamES, Capacitor, PCMPair"),
    (["--backend", "fixed", "--bl", "0"], "bl=0: must be in [1, 1023]"),
    (["--backend", "fixed", "--lr", "0.1"], "lr=0.1: not a small multiple of a power of two"),
    (["--backend", "fixed", "--sizes", "64,3,10"], "k=4: must be in [1, 3]"),
    (["--sizes", "64,8"], "sizes=64,8: data digits has 64 features and 10 classes"),
    (["--sizes", "64,x,10"], "sizes='64,x,10': expected at least two positive layer widths"),
    (["--backend", "rtl", "--rule", "sbe"], "rule='sbe': the rtl backend runs"),
    (["--backend", "rtl", "--lr", "0.1"], "lr=0.1: not a small multiple of a power of two"),
    (["--backend", "rtl", "--sizes", "64,3,10"], "k=4: must be in [1, 3]"),
    (["--backend", "rtl", "--lanes", "0"], "lanes=0: must be in [1, 64]"),
    (["--backend", "rtl", "--bl", "2000"], "bl=2000: must be in [1, 1023]"),
    (["--backend", "rtl", "--device", "PCM"], "device='PCM': unknown preset"),
    (["--check-against", "fixed"], "check_against='fixed': only with backend=rtl"),
    (["--backend", "fixed", "--rule", "sbe"], "rule='sbe': the fixed backend runs"),
    (["--epochs", "0"], "epochs=0: must be at least 1"),
])
def test_bad_options_fail_with_one_line_and_exit_2(argv, message, capsys):
    assert main(["train", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sbpca train: error: {message}")


def test_missing_idx_files_fail_with_one_line(tmp_path, capsys):
    assert main(["train", "--data", f"idx:{tmp_path}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "file not found" in lines[0] and str(tmp_path) in lines[0]


def test_a_real_process_exits_2_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosim", "train", "--backend", "rtl", "--bl",
                           "0"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "sbpca train: error: bl=0: must be in [1, 1023]\n"
    proc = subprocess.run([sys.executable, "-m", "cosim", "train", "--scheme", "bursty"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'bursty'" in proc.stderr and "Traceback" not in proc.stderr
