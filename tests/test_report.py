"""``sbpca report`` (``cosim/performance.py``, ``cosim/cli/report.py``): every figure recomputed
here from its formula (memory words and the driver's cycles from their definitions, the unit's
cycle count anchored to the bench's measurement), Fmax only from a synthesis report of the same
unit, one-line errors, and the README table equal to what the command prints."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Layer -> (cycles per sample measured on the simulators, README's table; useful MACs): the
#: cocotb bench's steady state on Icarus and Verilator (tests/test_unit_cocotb.py) and the cycle
#: differences of stall-free batches of 1, 2, 3 samples on the Amaranth simulator.
MEASURED = {(784, 100, 4, 8, 8): (3712, 26914), (100, 10, 4, 4, 4): (1265, 4108)}


def sbpca(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *args], capture_output=True, text=True)


def unit_params(n_in, n_out, k, lanes, words):
    return {"n_in": n_in, "n_out": n_out, "k": k, "lanes": lanes, "words": words, "width": 16,
            "scalar_width": 18, "schedule": "harmonic", "shift_s": 3, "ns_steps": 6,
            "recip_steps": 2, "b_max": 64, "shift_lead": 1, "post_stages": 1, "alu_stages": 2,
            "operand_banks": 2, "alus": 1, "general": 1, "rom_stage": 1}


def memory_words(n_in, n_out, k, lanes):
    """State (rows padded to the lanes x k, two triangles, four k-vectors) + two input buffers."""
    rows = (math.ceil(n_in / lanes) + math.ceil(n_out / lanes)) * lanes
    return rows * k + k * (k + 1) + 4 * k + 2 * rows


def driver_cycles(n_in, n_out, k, *, bl=31, group=8, gain=13, plan_latency=9, fire=1):
    """golden/driver's cycle model written out: FACTOR (one multiply per cycle, k(k+1)/2 per
    line, + 2), then per term its word beats, its sigma beat, GAIN, the PLAN pass and BL
    slots."""
    loads = math.ceil(n_out / group) + math.ceil(n_in / group)
    return ((n_in + n_out) * (k * (k + 1) // 2) + 2
            + k * (loads + 1 + gain + loads + plan_latency + bl * (loads + fire)))


def expected(layer, batch=64):
    n_in, n_out, k, lanes, words = layer
    cps, macs = MEASURED[layer]
    cycles = batch * cps + driver_cycles(n_in, n_out, k)
    return {"cycles_per_sample": cps, "mac_bound": math.ceil(macs / lanes),
            "lane_utilization": macs / (lanes * cps),
            "memory_words": memory_words(n_in, n_out, k, lanes), "dense_words": n_in * n_out,
            "driver_batch_cycles": driver_cycles(n_in, n_out, k), "batch_cycles": cycles,
            "samples_per_s_per_mhz": 1e6 * batch / cycles,
            "updates_per_s_per_mhz": 1e6 * k / cycles}


def fake_synth(path: Path, layer, *, design="unit", target="ecp5-25k", fmax=50.0,
               status="ok") -> Path:
    """A report.json as ``sbpca synth`` writes it (only the fields the report reads)."""
    path.mkdir(parents=True)
    doc = {"design": design, "parameters": unit_params(*layer), "target": target,
           "device": "test", "fmax_mhz": fmax, "pnr_status": status}
    (path / "report.json").write_text(json.dumps(doc))
    return path


def test_default_report_figures(tmp_path):
    proc = sbpca("report", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [tuple(f["parameters"][p] for p in ("n_in", "n_out", "k", "lanes", "words"))
            for f in doc["layers"]] == list(MEASURED)
    for f, layer in zip(doc["layers"], MEASURED):
        assert f["parameters"] == unit_params(*layer)
        for key, value in expected(layer).items():
            assert f[key] == pytest.approx(value, rel=1e-12), (layer, key)
        assert f["fmax"] == []
    assert (tmp_path / "report.md").read_text() in proc.stdout
    assert proc.stdout.count("not measured") == 2


def test_cycle_model_is_the_units():
    from hdl.designs import unused
    from hdl.sbpca_unit import SBPCAUnit
    from cosim.performance import MNIST_LAYERS, layer_figures

    for layer in MNIST_LAYERS:
        unit = unused(SBPCAUnit(**unit_params(layer.n_in, layer.n_out, layer.k, layer.lanes,
                                              layer.words)))
        f = layer_figures(layer, batch=10, driver={"bl": 7, "group": 3})
        assert f["cycles_per_sample"] == unit.cycles_per_sample
        assert f["unit_batch_cycles"] == 10 * unit.cycles_per_sample
        assert f["driver_batch_cycles"] == driver_cycles(layer.n_in, layer.n_out, layer.k,
                                                         bl=7, group=3)


def test_fmax_from_a_matching_synthesis_report(tmp_path):
    hidden, output = MEASURED
    a = fake_synth(tmp_path / "a", hidden, fmax=50.0)
    b = fake_synth(tmp_path / "b", hidden, target="xilinx7", fmax=None,
                   status="not run (no place and route)")
    proc = sbpca("report", "--synth", str(a), "--synth", str(b), "-o", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    at, none = doc["layers"][0]["fmax"]
    e = expected(hidden)
    assert at["fmax_mhz"] == 50.0 and at["target"] == "ecp5-25k"
    assert at["samples_per_s"] == pytest.approx(50e6 * 64 / e["batch_cycles"])
    assert at["updates_per_s"] == pytest.approx(50e6 * 4 / e["batch_cycles"])
    assert at["unit_samples_per_s"] == pytest.approx(50e6 / MEASURED[hidden][0])
    assert none["fmax_mhz"] is None and none["samples_per_s"] is None
    assert doc["layers"][1]["fmax"] == []
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| 50.0 (ecp5-25k) | " + f"{50e6 * 64 / e['batch_cycles']:,.0f}" in md
    assert "not measured (not run (no place and route)) (xilinx7)" in md
    assert md.count("| not measured |") == 1                 # the output layer


@pytest.mark.parametrize("args, message", [
    (["--batch", "0"], "batch=0: must be in [1, 64]"),
    (["--batch", "65"], "batch=65: must be in [1, 64]"),
    (["--layer", "784,100,4,101"], "lanes=101: must be in [1, 100]"),
    (["--layer", "784,100"], "layer='784,100': expected N_IN,N_OUT,K,LANES[,WORDS]"),
    (["--layer", "8,4,1,1,2"], "words=2: must be in [1, 1]"),
    (["--group", "0"], "group=0: must be in [1, 64]"),
    (["--bl", "1024"], "bl=1024: must be in [1, 1023]"),
    (["--dw-min", "0"], "dw_min=0.0: must be > 0.0"),
    (["--batch", "x"], "argument --batch: invalid int value: 'x'"),
    (["--synth", "/nonexistent/synth"], "synth='/nonexistent/synth': no readable"),
    (["--synth", "DESIGN"], "a report of design 'mac_lane'; the unit's Fmax needs"),
    (["--synth", "OTHER"], "is none of the configurations reported"),
    (["--synth", "NOTFREQ"], "fmax_mhz=-3 is not a frequency"),
])
def test_bad_parameters_are_one_line_errors(tmp_path, args, message):
    fakes = {"DESIGN": lambda p: fake_synth(p, (784, 100, 4, 8, 8), design="mac_lane"),
             "OTHER": lambda p: fake_synth(p, (784, 100, 4, 8, 4)),
             "NOTFREQ": lambda p: fake_synth(p, (784, 100, 4, 8, 8), fmax=-3)}
    args = [str(fakes[a](tmp_path / "s")) if a in fakes else a for a in args]
    proc = sbpca("report", *args, "-o", str(tmp_path / "r"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_readme_table_is_what_the_command_prints():
    """The README's table is ``sbpca report``'s (regenerate it with the command)."""
    from cosim.performance import build_report, markdown

    table = markdown(build_report()).split("\n\n")[0]
    assert table in (ROOT / "README.md").read_text(), "README table stale: run sbpca report"
