"""The ``ns-steps`` experiment: its ``--quick`` run, the report, and its measurement helpers."""

import argparse
import json
import math

import numpy as np
import pytest

from cosim.cli import experiment as command
from golden.experiments import EXPERIMENTS
from golden.experiments import ns_steps as E
from golden.experiments.runner import QUICK_TRAIN
from golden.sbpca_unit import SBPCAUnitModel


def _parse(*argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def _leaves(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("ns") / "ns-steps"
    assert command.run(_parse("ns-steps", "--quick", "--epochs", "1", "--out", str(out))) == 0

    def reject(name):
        raise AssertionError(f"non-finite number {name} in results.json")

    doc = json.loads((out / "results.json").read_text(), parse_constant=reject)
    return doc, out


def test_registered():
    assert EXPERIMENTS["ns-steps"] == "ns_steps"


def test_quick_report_structure(quick):
    doc, out = quick
    assert doc["experiment"] == "ns-steps"
    assert doc["settings"]["quick"] is True and doc["settings"]["seeds"] == 1
    assert doc["settings"]["epochs"] == 1
    assert doc["data"]["n_train"] == QUICK_TRAIN
    png = out / "ns-steps.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    table = (out / "table.md").read_text()
    assert "|---|" in table and "MBGD" in table
    res = doc["results"]
    steps = res["ns_steps"]
    assert steps == [*E.QUICK_NS_STEPS, *E.EXTRA_STEPS]
    assert res["ref_steps"] in steps and res["converged_steps"] in steps
    st = res["stream"]
    B = doc["settings"]["batch"]
    assert st["batches"] == E.QUICK_STREAM_BATCHES
    for mode in ("float", str(res["width"])):
        per = st["per_mode"][mode]
        assert set(per) == {str(n) for n in steps}
        for row in per.values():
            assert row["samples"] == st["batches"] * B
            for side in ("X", "Delta", "both"):
                o = row["orthonormality"][side]
                assert 0 <= o["mean"] <= o["max"] and o["first_max"] <= o["max"]
                assert o["first_mean"] <= o["first_max"]
            both = row["orthonormality"]["both"]
            assert both["max"] == max(row["orthonormality"]["X"]["max"],
                                      row["orthonormality"]["Delta"]["max"])
            for key, s in row["update"].items():
                assert s["n"] == st["batches"], key
                if key.startswith("cosine"):
                    assert -1 - 1e-12 <= s["min"] <= s["max"] <= 1 + 1e-12
    tr = res["training"]
    assert set(tr["rows"]) == {str(n) for n in steps}
    for row in [*tr["rows"].values(), tr["mbgd"]]:
        assert len(row["per_seed"]) == 1 and 0 <= row["test_accuracy"]["mean"] <= 1
    for path, value in _leaves(doc):
        if isinstance(value, float):
            assert math.isfinite(value), path
    assert set(res["recommendation"]) == {"both", "accuracy", "orthonormality"}


def test_quick_orthonormality_and_update_properties(quick):
    res = quick[0]["results"]
    fl = res["stream"]["per_mode"]["float"]
    ref, conv = str(res["ref_steps"]), str(res["converged_steps"])
    fewest = str(min(res["ns_steps"]))
    # Enough steps orthonormalize every sample of the stream (float).
    assert fl[conv]["orthonormality"]["both"]["max"] < 1e-6
    # More steps never hurt: 8 steps are not worse than 2 (mean and max over the stream).
    for key in ("mean", "max"):
        assert fl[ref]["orthonormality"]["both"][key] <= fl[fewest]["orthonormality"]["both"][key]
    # The float reference run compared with itself.
    assert fl[ref]["update"]["vs_ref"]["max"] == 0.0
    assert fl[ref]["update"]["cosine_vs_ref"]["min"] == pytest.approx(1.0, abs=1e-12)
    assert fl[conv]["update"]["vs_converged"]["max"] == 0.0


def test_quick_kxk_macs_grow_linearly_with_steps(quick):
    res = quick[0]["results"]
    per = res["costs"]["per_steps"]
    steps = res["ns_steps"]
    macs = [per[str(n)]["kxk_macs_per_sample"] for n in steps]
    slopes = {(b - a) / (m - n) for n, m, a, b in zip(steps, steps[1:], macs, macs[1:])}
    assert len(slopes) == 1 and slopes.pop() > 0
    for n in steps:
        c = per[str(n)]
        assert c["kxk_share"] == pytest.approx(c["kxk_macs_per_sample"] / c["macs_per_sample"])


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_per_sample_readouts_match_a_hand_driven_model(mode):
    """The wrapped rule gives the errors of the model driven sample by sample by hand."""
    rng = np.random.default_rng(5)
    xs, ds = rng.normal(size=(2, 9, 12)) * 0.3, rng.normal(size=(2, 9, 7)) * 0.05
    rule = E.unit(12, 7, 3, mode)                    # 3 Newton-Schulz steps
    got = [E.batch_with_readouts(rule, x, d)[1] for x, d in zip(xs, ds)]
    assert "sample" not in vars(rule.model)          # the wrapper is gone afterwards

    ref = E.unit(12, 7, 3, mode)                     # same start state
    m = ref.model
    assert isinstance(m, SBPCAUnitModel)
    for b, (x, d) in enumerate(zip(xs, ds)):
        if mode == "fixed":
            if b == 0:
                ref.x_shift, ref.d_shift = ref._scale(x), ref._scale(d)
                m.load(*ref._init, ref.sigma0 * 2.0 ** (ref.x_shift + ref.d_shift))
            x = m.F.x.quantize(x * 2.0 ** ref.x_shift)[0]
            d = m.F.d.quantize(d * 2.0 ** ref.d_shift)[0]
        elif b == 0:
            m.load(*ref._init, ref.sigma0)
        for i in range(len(x)):
            m.sample(x[i], d[i], i + 1)
            _, X, D = m.readout()
            k = X.shape[1]
            want = (np.linalg.norm(X.T @ X - np.eye(k)), np.linalg.norm(D.T @ D - np.eye(k)))
            np.testing.assert_array_equal(got[b][i], want)


def test_recommend_applies_both_criteria():
    acc = {2: 0.80, 4: 0.897, 6: 0.90, 8: 0.90, 16: 0.899}
    orth = {2: 1.0, 4: 0.5, 6: 2e-3, 8: 1e-4, 16: 1e-12}
    assert E.recommend(acc, acc, orth) == {"both": 8, "accuracy": 4, "orthonormality": 8}
    assert E.recommend(acc, acc | {8: None}, orth)["accuracy"] is None
    assert E.recommend(acc, acc, {n: 1.0 for n in acc})["both"] is None
