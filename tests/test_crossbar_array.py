"""CrossbarArray: coincidence semantics, counters, count writes, evaluations, seeding, errors."""

import math
import time

import numpy as np
import pytest

from golden.crossbar import (PRESETS, ConstantStep, CrossbarArray, IdealDevice, SoftBounds)

QUIET = dict(dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)

# A 3 x 4 array, three slots, built by hand.
ROWS = np.array([[1, 0, -1],
                 [0, 1, 1],
                 [-1, 0, 0]])
COLS = np.array([[1, -1, 0, 0],
                 [0, 1, 1, -1],
                 [1, 1, 0, 0]])
# Direction -row*col per coincidence:
#   slot 0: (0,0) -1, (0,1) +1, (2,0) +1, (2,1) -1
#   slot 1: (1,1) -1, (1,2) -1, (1,3) +1, (2,1) -1, (2,2) -1, (2,3) +1
#   slot 2: (0,0) +1, (0,1) +1
EXPECTED_W = np.array([[0, 2, 0, 0],
                       [0, -1, -1, 1],
                       [1, -2, -1, 1]], dtype=float)
EXPECTED_STEPS = np.array([[2, 2, 0, 0],
                           [0, 1, 1, 1],
                           [1, 2, 1, 1]])


def test_coincidences_by_hand():
    arr = CrossbarArray(3, 4, device=IdealDevice(dw_min=1.0))
    arr.apply_pulses(ROWS, COLS)
    assert np.array_equal(arr.weights, EXPECTED_W)
    assert np.array_equal(arr.device_steps, EXPECTED_STEPS)
    assert np.array_equal(arr.row_pulse_counts, [2, 1, 2])
    assert np.array_equal(arr.col_pulse_counts, [2, 3, 1, 1])
    st = arr.stats()
    assert (st["update_events"], st["slots"], st["coincidences"]) == (1, 3, 12)
    assert (st["row_pulses"], st["col_pulses"]) == (5, 7)
    assert (st["device_steps_max"], st["device_steps_mean"]) == (2, 1.0)
    arr.apply_pulses(ROWS[:1], COLS[:1])
    st = arr.stats()
    assert (st["update_events"], st["slots"], st["coincidences"]) == (2, 4, 16)


def test_sgd_sign_convention():
    # delta_i > 0 and x_j > 0 pulse +1 on both lines: the weight goes down (W -= lr d x^T)
    arr = CrossbarArray(1, 2, device=IdealDevice(dw_min=0.5))
    arr.apply_pulses([[1]], [[1, -1]])
    assert np.array_equal(arr.weights, [[-0.5, 0.5]])


def test_weights_view_is_read_only():
    arr = CrossbarArray(2, 2)
    with pytest.raises(ValueError):
        arr.weights[0, 0] = 1.0


def test_counts_evaluation_equals_steps_for_the_ideal_device():
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(-1, 2, (31, 20)), rng.integers(-1, 2, (31, 30))
    a = CrossbarArray(20, 30, device="ideal")
    b = CrossbarArray(20, 30, device="ideal", evaluation="counts")
    a.apply_pulses(rows, cols)
    b.apply_pulses(rows, cols)
    assert np.allclose(a.weights, b.weights, rtol=0, atol=1e-15)
    assert np.array_equal(a.device_steps, b.device_steps)
    assert a.stats()["coincidences"] == b.stats()["coincidences"]


def test_counts_evaluation_statistics_of_constant_step():
    dev = ConstantStep(dw_min=0.001, w_max=1.0, w_min=-1.0, **{**QUIET, "dw_min_std": 0.3})
    n, bl = 20000, 25
    arr = CrossbarArray(1, n, device=dev, seed=1, evaluation="counts")
    arr.apply_pulses(-np.ones((bl, 1)), np.ones((bl, n)))      # 25 up steps per cell
    w = arr.weights[0]
    assert w.mean() == pytest.approx(bl * 0.001, abs=4 * 0.0015 / math.sqrt(n))
    assert w.std() == pytest.approx(math.sqrt(bl) * 0.3 * 0.001, rel=0.03)


def test_counts_evaluation_needs_a_closed_form():
    with pytest.raises(ValueError, match=r"evaluation='counts': device SoftBounds has no closed "
                                         r"form"):
        CrossbarArray(2, 2, device=SoftBounds(), evaluation="counts")
    with pytest.raises(ValueError, match="evaluation='counts': device ConstantStep"):
        CrossbarArray(2, 2, device=ConstantStep(n_states=10), evaluation="counts")


def test_apply_counts_by_hand():
    counts = np.array([[2, -1, 0, 3],
                       [0, 0, -4, 0],
                       [1, 1, 1, -1]])
    arr = CrossbarArray(3, 4, device=IdealDevice(dw_min=0.5))
    arr.apply_counts(counts)
    assert np.array_equal(arr.weights, 0.5 * counts)
    st = arr.stats()
    assert st["update_events"] == 1 and st["count_pulses"] == 14
    # row by row: largest up count + largest down count of each row: (3 + 1) + (0 + 4) + (1 + 1)
    assert st["write_slots"] == 10
    assert st["slots"] == 0 and st["row_pulses"] == 0
    assert np.array_equal(arr.device_steps, np.abs(counts))
    with pytest.raises(ValueError, match=r"signed_counts\[0, 0\]=2\.5: must be a whole number of "
                                         r"pulses"):
        arr.apply_counts(counts + 0.5)


def test_apply_counts_is_sequential_steps_bit_for_bit():
    # On one row, round k of apply_counts pulses exactly the cells slot k of these trains does,
    # in the same order: the same random draws, the same steps.
    counts = np.array([[3, -2, 0, 5, -5, 1]])
    rows = -np.ones((5, 1), dtype=int)
    cols = np.array([[np.sign(c) if abs(c) > k else 0 for c in counts[0]] for k in range(5)])
    for name in PRESETS:
        a = CrossbarArray(1, 6, device=name, seed=7)
        b = CrossbarArray(1, 6, device=name, seed=7)
        a.set_weights(np.full((1, 6), 0.1))
        b.set_weights(np.full((1, 6), 0.1))
        a.apply_counts(counts)
        b.apply_pulses(rows, cols)
        assert a.weights.tobytes() == b.weights.tobytes(), name


def test_apply_counts_soft_bounds_formula():
    dev = SoftBounds(dw_min=0.05, w_max=0.5, w_min=-0.5, **QUIET)
    arr = CrossbarArray(1, 3, device=dev)
    arr.apply_counts([[10, -10, 0]])
    b = 0.5
    assert arr.weights[0] == pytest.approx([b * (1 - (1 - 0.05 / b) ** 10),
                                            -b * (1 - (1 - 0.05 / b) ** 10), 0.0], abs=1e-15)


def test_set_weights_programs_and_clips():
    dev = ConstantStep(w_max=0.5, w_min=-0.25, **QUIET)
    arr = CrossbarArray(2, 2, device=dev)
    arr.set_weights([[0.1, 0.9], [-0.9, -0.2]])
    assert np.array_equal(arr.weights, [[0.1, 0.5], [-0.25, -0.2]])
    st = arr.stats()
    assert st["program_events"] == 1 and st["update_events"] == 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_same_seed_same_state_bit_for_bit(name):
    rng = np.random.default_rng(3)
    calls = [(rng.integers(-1, 2, (31, 6)), rng.integers(-1, 2, (31, 9))) for _ in range(4)]
    counts = rng.integers(-3, 4, (6, 9))

    def run(seed):
        arr = CrossbarArray(6, 9, device=name, seed=seed)
        arr.set_weights(rng_w.normal(0, 0.2, (6, 9)))
        for rows, cols in calls:
            arr.apply_pulses(rows, cols)
        arr.apply_counts(counts)
        return arr

    rng_w = np.random.default_rng(0)
    a = run(5)
    rng_w = np.random.default_rng(0)
    b = run(5)
    rng_w = np.random.default_rng(0)
    c = run(6)
    assert a.weights.tobytes() == b.weights.tobytes()
    assert a.stats() == b.stats()
    if name == "ideal":
        assert np.array_equal(a.weights, c.weights)       # nothing random in it
    else:
        assert not np.array_equal(a.weights, c.weights)


def test_seed_sequence_and_int_seed_agree():
    rows, cols = np.ones((3, 2)), -np.ones((3, 3))
    a = CrossbarArray(2, 3, device="GokmenVlasov", seed=9)
    b = CrossbarArray(2, 3, device="GokmenVlasov", seed=np.random.SeedSequence(9))
    a.apply_pulses(rows, cols)
    b.apply_pulses(rows, cols)
    assert a.weights.tobytes() == b.weights.tobytes()


def test_stats_keys():
    st = CrossbarArray(2, 3).stats()
    assert set(st) >= {"shape", "device", "evaluation", "update_events", "slots", "coincidences",
                       "count_pulses", "write_slots", "bound_hits", "program_events", "decays",
                       "row_pulses", "col_pulses", "row_pulses_max", "col_pulses_max",
                       "device_steps_max", "device_steps_mean", "refreshed_cells"}
    assert st["shape"] == [2, 3] and st["device"] == "IdealDevice"


def test_large_array_is_fast():
    arr = CrossbarArray(100, 784, device="Idealized", seed=0)
    rng = np.random.default_rng(0)
    rows = (rng.random((31, 100)) < 0.1) * rng.choice([-1, 1], (31, 100))
    cols = (rng.random((31, 784)) < 0.1) * rng.choice([-1, 1], (31, 784))
    t0 = time.perf_counter()
    for _ in range(10):
        arr.apply_pulses(rows, cols)
    per_slot = (time.perf_counter() - t0) / 310
    print(f"100 x 784 Idealized, 10% of lines pulsing: {per_slot * 1e6:.0f} us per slot")
    assert per_slot < 5e-3


@pytest.mark.parametrize("call, message", [
    (lambda a: a.apply_pulses(np.zeros((2, 4)), np.zeros((2, 4))),
     r"row_pulses\.shape=\(2, 4\): must be \(BL, 3\)"),
    (lambda a: a.apply_pulses(np.zeros((2, 3)), np.zeros((3, 4))),
     r"row_pulses\.shape\[0\]=2, col_pulses\.shape\[0\]=3: must be equal"),
    (lambda a: a.apply_pulses(np.zeros((1, 3)), np.array([[0, 1, -1, 3]])),
     r"col_pulses\[0, 3\]=3: must be -1, 0 or \+1"),
    (lambda a: a.apply_counts(np.zeros((4, 3))),
     r"signed_counts\.shape=\(4, 3\): must be \(3, 4\)"),
    (lambda a: a.set_weights(np.zeros((4, 3))), r"weights\.shape=\(4, 3\): must be \(3, 4\)"),
    (lambda a: a.set_weights(np.where(np.eye(3, 4) > 0, np.nan, 0.0)),
     r"weights\[0, 0\]=nan: must be finite"),
])
def test_call_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(CrossbarArray(3, 4))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_rows=0), ValueError, "n_rows=0: must be at least 1"),
    (dict(n_cols=2.5), TypeError, "n_cols=2.5: must be an integer"),
    (dict(n_rows=True), TypeError, "n_rows=True: must be an integer"),
    (dict(evaluation="fast"), ValueError, "evaluation='fast': must be one of 'steps', 'counts'"),
    (dict(evaluation=None), TypeError, "evaluation=None: must be one of 'steps', 'counts'"),
    (dict(device="memristor"), ValueError, "preset='memristor': must be one of 'ideal',"),
    (dict(device=3), TypeError,
     r"device=3: must be a preset name or a device model \(it has no build\(\) method\)"),
    (dict(seed=-1), ValueError, "seed=-1: must be at least 0"),
    (dict(seed=0.5), TypeError, r"seed=0\.5: must be an integer"),
])
def test_construction_errors(kwargs, error, message):
    args = {"n_rows": 2, "n_cols": 2, **kwargs}
    with pytest.raises(error, match=message):
        CrossbarArray(args.pop("n_rows"), args.pop("n_cols"), **args)
