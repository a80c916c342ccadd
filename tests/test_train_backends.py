"""Training backends of ``sbpca train`` (golden/train_backends.py): float, float into a crossbar,
fixed point through the driver model into a crossbar; learning, seeding, errors, Ctrl-C."""

import numpy as np
import pytest

from golden.crossbar import CrossbarApplier
from golden.driver import unit_factors
from golden.mlp import MLP
from golden.seam import DenseApplier
from golden.train_backends import (DriverApplier, TrainConfig, build_backend, load_data,
                                   parse_sizes, run_training)


@pytest.fixture(scope="module")
def digits():
    return load_data(TrainConfig(data="digits"))


@pytest.fixture(scope="module")
def tiny(digits):
    return digits.limit(192, 90)


TINY = dict(sizes=(64, 8, 10), k=2, batch=32, epochs=2)

VARIANTS = [
    dict(backend="float"),
    dict(backend="float", rule="sbpca"),
    dict(backend="float", device="Idealized"),
    dict(backend="fixed"),
    dict(backend="fixed", device="GokmenVlasov", scheme="deterministic", bl=15),
    dict(backend="fixed", device="PCMPair"),
]


def _id(kw):
    return "-".join(str(v) for v in kw.values())


@pytest.mark.parametrize("kw", VARIANTS, ids=_id)
def test_backends_run_end_to_end(kw, tiny):
    doc = run_training(TrainConfig(**TINY, **kw), data=tiny)
    recs = doc["records"]
    assert [r["epoch"] for r in recs] == [0.0, 1.0, 2.0]
    assert [r["samples"] for r in recs] == [0, 192, 384]
    assert not doc["interrupted"] and not doc["diverged"]
    batches = 2 * (192 // 32)
    assert recs[-1]["matrix_updates"] == batches * 2 * TINY["k"]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["train_loss"] > 0 for r in recs)
    arrays = kw.get("device") is not None or kw["backend"] == "fixed"
    assert len(doc["layers"]) == (2 if arrays else 0)
    if arrays:
        # one update event per term on each layer's array, its slots the update time (the
        # float applier's bit-length management shortens trains; the driver's BL is fixed)
        assert recs[-1]["update_events"] == recs[-1]["matrix_updates"]
        full = recs[-1]["update_events"] * kw.get("bl", 31)
        assert (recs[-1]["slots"] == full) if kw["backend"] == "fixed" else \
            (0 < recs[-1]["slots"] <= full)
        assert recs[-1]["coincidences"] > 0 and recs[-1]["pulses"] > 0
        for st, h in zip(doc["layers"], doc["coincidence_histograms"]):
            assert sum(h["counts"]) == st["shape"][0] * st["shape"][1]
            assert h["max"] == st["device_steps_max"]
    else:
        assert recs[-1]["update_events"] == 0 and doc["coincidence_histograms"] == []
    if kw["backend"] == "fixed":
        drv = [st["driver"] for st in doc["layers"]]
        assert [d["terms"] for d in drv] == [batches * TINY["k"]] * 2
        assert recs[-1]["driver_cycles"] == sum(d["cycles"] for d in drv)
        assert all(d["lr_mult"] == 1 for d in drv)      # lr = 0.125 = 1 * 2**-3


def test_backend_pairs(tiny):
    model = MLP((64, 8, 10), seed=0)
    assert isinstance(build_backend(model, TrainConfig(**TINY)).applier, DenseApplier)
    assert isinstance(build_backend(model, TrainConfig(**TINY, device="ideal")).applier,
                      CrossbarApplier)
    fixed = build_backend(model, TrainConfig(**TINY, backend="fixed"))
    assert isinstance(fixed.applier, DriverApplier)
    assert fixed.applier.arrays[0].device.name == "IdealDevice"    # the fixed default
    for layer, w in enumerate(model.weights):
        np.testing.assert_array_equal(fixed.applier.weights(layer), w)


def test_fixed_backend_applies_the_drivers_coincidences_to_the_array(tiny):
    """On the ideal device a batch moves W by exactly -dw_min sum_r sign_r counts_r, the pulses
    the driver model generated from the unit's integer factor words."""
    model = MLP((64, 8, 10), seed=1)
    be = build_backend(model, TrainConfig(**TINY, backend="fixed", seed=1))
    _, xs, ds = model.backward(tiny.x_train[:32], tiny.y_train[:32])
    ap = be.applier
    for layer in range(2):
        before = ap.weights(layer)
        update = be.engine.update(layer, xs[layer], ds[layer])
        rule = be.engine.rules[layer]
        factors = unit_factors(rule.model)
        ap.apply(layer, update, 0.125)
        drv = ap.drivers[layer]
        assert drv.lr == 0.125 * 2.0 ** -(rule.x_shift + rule.d_shift)
        # replay the same terms on a fresh driver with the same lanes: the same pulses
        from golden.driver import CrossbarDriverModel
        replay = CrossbarDriverModel(drv.n_in, drv.n_out, dw_min=drv.dw_min, lr=drv.lr,
                                     formats=drv.formats, seed=list(drv.lane_seeds))
        batch = replay.drive(factors)
        want = -drv.dw_min * sum(t.plan.signs() * t.counts for t in batch.terms)
        np.testing.assert_allclose(ap.weights(layer) - before, want, atol=1e-12)
        assert ap.arrays[layer].stats()["update_events"] == TINY["k"]


def test_fixed_backend_with_the_ideal_device_learns(digits):
    doc = run_training(TrainConfig(backend="fixed", device="ideal", sizes=(64, 16, 10), k=2,
                                   batch=16, epochs=1, lr=0.25), data=digits)
    acc = doc["final"]["test_accuracy"]
    print(f"fixed backend, ideal device, 64-16-10 k=2, 1 epoch on digits: test accuracy {acc:.3f}")
    assert acc > 0.6                                  # chance is 0.1; measured 0.717
    assert doc["records"][-1]["train_loss"] < doc["records"][0]["train_loss"]


@pytest.mark.parametrize("kw", [VARIANTS[0], VARIANTS[2], VARIANTS[3], VARIANTS[4]], ids=_id)
def test_same_seed_same_results(kw, tiny):
    def run(seed):
        doc = run_training(TrainConfig(**TINY, **kw, seed=seed), data=tiny)
        return {k: doc[k] for k in ("records", "layers", "coincidence_histograms")}

    a, b = run(3), run(3)
    assert a == b
    assert run(4)["records"] != a["records"]


@pytest.mark.parametrize("kw, message", [
    (dict(backend="rtl"), "backend=rtl: built by cosim.rtl_backend inside the co-simulation"),
    (dict(check_against="fixed"), "check_against='fixed': only with backend=rtl"),
    (dict(backend="rtl", sim="xcelium"), "sim='xcelium'"),
    (dict(backend="gpu"), "backend='gpu'"),
    (dict(device="nosuch"), "device='nosuch': unknown preset; choose from ideal, Idealized"),
    (dict(backend="fixed", bl=0), "bl=0: must be in [1, 1023]"),
    (dict(device="ideal", bl=0), "bl=0: must be in [1, 1023]"),
    (dict(backend="fixed", lr=0.1), "lr=0.1: not a small multiple of a power of two"),
    (dict(backend="fixed", lr=2.0 ** -60), "is outside the shifter's range"),
    (dict(backend="fixed", lr=-1.0), "lr=-1.0: must be a positive number"),
    (dict(backend="fixed", sizes=(64, 3, 10), k=4), "k=4: must be in [1, 3]"),
    (dict(sizes=(60, 10)), "sizes=60,10: data digits"),
    (dict(backend="fixed", rule="sbpca"), "rule='sbpca': the fixed backend runs"),
    (dict(rule="nosuch"), "rule='nosuch': unknown"),
    (dict(device="Idealized", scheme="deterministic"), "scheme='deterministic': the float"),
    (dict(scheme="bursty"), "scheme='bursty'"),
    (dict(epochs=0), "epochs=0"),
    (dict(batch=0), "batch=0"),
])
def test_bad_configurations_name_the_parameter(kw, message, tiny):
    with pytest.raises(ValueError) as info:
        run_training(TrainConfig(**{**TINY, **kw}), data=tiny)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_idx_files_name_the_path(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        run_training(TrainConfig(data=f"idx:{tmp_path}"))


@pytest.mark.parametrize("text, sizes", [("64,100,10", (64, 100, 10)), ("8,2", (8, 2))])
def test_parse_sizes(text, sizes):
    assert parse_sizes(text) == sizes


@pytest.mark.parametrize("text", ["64", "64,x", "64,0,10", ""])
def test_parse_sizes_rejects(text):
    with pytest.raises(ValueError, match="sizes="):
        parse_sizes(text)


@pytest.mark.parametrize("backend", ["float", "fixed"])
def test_keyboard_interrupt_keeps_what_was_done(backend, tiny):
    seen = []

    def progress(n):
        seen.append(n)
        if len(seen) == 8:                            # two batches into the second epoch
            raise KeyboardInterrupt

    doc = run_training(TrainConfig(**TINY, backend=backend, device="ideal"), data=tiny,
                       progress=progress)
    assert doc["interrupted"]
    recs = doc["records"]
    assert [r["samples"] for r in recs] == [0, 192, 8 * 32]
    assert recs[-1]["update_events"] == recs[-1]["matrix_updates"] == 8 * 2 * 2
    assert doc["final"] is recs[-1]
