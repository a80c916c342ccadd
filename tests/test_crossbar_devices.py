"""Device models of golden.crossbar against hand-computed steps and their variation statistics.

Each directed case builds a one-row array of a model with its variation switched off, programs a
weight, steps once (or a few times) and compares with the step written out from the model's
equation (aihwkit's device equations, REFERENCES.md).
"""

import math
from pathlib import Path

import numpy as np
import pytest

import golden.crossbar
from golden.crossbar import (ConductancePair, ConstantStep, CrossbarArray, ExpStep, IdealDevice,
                             LinearStep, PowStep, SoftBounds)

ROOT = Path(__file__).resolve().parent.parent

#: Every source of variation off: a model's bare equation.
QUIET = dict(dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)


def test_imports_the_worktree_package():
    # tests/golden/ is a package named golden that could shadow the real one.
    assert Path(golden.crossbar.__file__).resolve().is_relative_to(ROOT / "golden" / "crossbar")


def one_cell(device, w0=None, seed=0):
    arr = CrossbarArray(1, 1, device=device, seed=seed)
    if w0 is not None:
        arr.set_weights([[w0]])
    return arr


def pulse(arr, direction, times=1):
    """Step cell (0, 0) ``times`` times in weight direction ``direction`` (+1 up, -1 down)."""
    for _ in range(times):
        # weight direction = -row * col: row = -direction, col = +1
        arr.apply_pulses([[-direction]], [[1]])
    return float(arr.weights[0, 0])


# --- directed steps ---------------------------------------------------------------------------

def test_ideal_steps_exactly():
    arr = one_cell(IdealDevice(dw_min=0.25))
    assert pulse(arr, +1) == 0.25
    assert pulse(arr, +1, 3) == 1.0
    assert pulse(arr, -1, 6) == -0.5
    assert arr.stats()["bound_hits"] == 0


def test_constant_step_up_and_down():
    dev = ConstantStep(dw_min=0.01, w_max=1.0, w_min=-1.0, **QUIET)
    arr = one_cell(dev, 0.2)
    assert pulse(arr, +1) == pytest.approx(0.21, abs=1e-15)
    assert pulse(arr, -1, 3) == pytest.approx(0.18, abs=1e-15)


@pytest.mark.parametrize("up_down, up, down", [(0.5, 0.01, 0.005), (-0.2, 0.008, 0.01)])
def test_constant_step_asymmetry(up_down, up, down):
    # up_bias = min(up_down, 0), down_bias = -max(up_down, 0)
    dev = ConstantStep(dw_min=0.01, up_down=up_down, w_max=1.0, w_min=-1.0, **QUIET)
    arr = one_cell(dev, 0.0)
    assert pulse(arr, +1) == pytest.approx(up, abs=1e-15)
    assert pulse(arr, -1) == pytest.approx(up - down, abs=1e-15)


def test_linear_step_slopes():
    dev = LinearStep(dw_min=0.01, gamma_up=0.5, gamma_down=0.25, gamma_up_dtod=0.0,
                     gamma_down_dtod=0.0, w_max=1.0, w_min=-0.5, **QUIET)
    # up at w: dw (1 - gamma_up w / w_max); down at w: dw (1 - gamma_down w / w_min)
    assert pulse(one_cell(dev, 0.4), +1) == pytest.approx(0.4 + 0.01 * 0.8, abs=1e-15)
    assert pulse(one_cell(dev, 0.4), -1) == pytest.approx(0.4 - 0.01 * 1.2, abs=1e-15)
    assert pulse(one_cell(dev, -0.4), -1) == pytest.approx(-0.4 - 0.01 * 0.8, abs=1e-15)


def test_linear_step_additive_noise_only_on_the_constant_part():
    dev = LinearStep(dw_min=0.01, gamma_up=0.5, gamma_up_dtod=0.0, gamma_down_dtod=0.0,
                     mult_noise=False, w_max=1.0, w_min=-1.0,
                     **{**QUIET, "dw_min_std": 0.3})
    arr = CrossbarArray(1, 20000, device=dev, seed=3)
    arr.set_weights(np.full((1, 20000), 0.8))
    arr.apply_pulses([[-1]], np.ones((1, 20000)))
    dw = arr.weights[0] - 0.8
    # mean dw (1 - 0.5 * 0.8) = 0.006; std 0.3 * dw (the slope part is not noisy)
    assert dw.mean() == pytest.approx(0.006, abs=3e-5)
    assert dw.std() == pytest.approx(0.003, rel=0.03)


def test_soft_bounds_saturate_towards_the_bound():
    dev = SoftBounds(dw_min=0.01, w_max=0.5, w_min=-1.0, **QUIET)
    arr = one_cell(dev, 0.0)
    w = pulse(arr, +1, 50)
    # w_n = b_max (1 - (1 - dw/b_max)^n)
    assert w == pytest.approx(0.5 * (1 - (1 - 0.01 / 0.5) ** 50), rel=1e-12)
    w = pulse(arr, +1, 2000)
    assert 0.5 - 1e-12 < w <= 0.5
    assert pulse(arr, +1) <= 0.5
    # down from the top: the down step there is dw (1 - w/b_min) = 0.01 * 1.5
    assert pulse(arr, -1) == pytest.approx(w - 0.015, abs=1e-12)


def test_soft_bounds_refer_to_each_devices_own_bound():
    dev = SoftBounds(dw_min=0.05, w_max=0.5, w_min=-0.5, **{**QUIET, "w_max_dtod": 0.3})
    arr = CrossbarArray(1, 200, device=dev, seed=0)
    arr.apply_pulses(-np.ones((600, 1)), np.ones((600, 200)))
    lo, hi = arr.bounds
    assert hi.std() > 0.1
    assert np.allclose(arr.weights, hi, rtol=0, atol=1e-9)


def test_exp_step_formula_at_a_point():
    a, b, A_up, A_down, g_up, g_down = -0.5, -0.5, -1.18445, -0.081404, 5.0, 4.0
    dev = ExpStep(dw_min=0.01, a=a, b=b, A_up=A_up, A_down=A_down, gamma_up=g_up,
                  gamma_down=g_down, w_max=1.0, w_min=-1.0, **QUIET)
    w = 0.3
    z = 2 * a * w / (1.0 - (-1.0)) + b
    up = max(1 - A_up * math.exp(g_up * z), 0) * 0.01
    down = max(1 - A_down * math.exp(-g_down * z), 0) * 0.01
    assert pulse(one_cell(dev, w), +1) == pytest.approx(w + up, abs=1e-15)
    assert pulse(one_cell(dev, w), -1) == pytest.approx(w - down, abs=1e-15)
    # max(., 0): with A_up = 0.5, gamma_up = 1, a = 1, b = 0, z = w and the up step vanishes
    # for w >= ln 2; the down step does not
    cut = ExpStep(dw_min=0.01, a=1.0, b=0.0, A_up=0.5, gamma_up=1.0, A_down=0.5, gamma_down=1.0,
                  w_max=1.0, w_min=-1.0, **QUIET)
    assert pulse(one_cell(cut, 0.8), +1) == 0.8
    assert pulse(one_cell(cut, 0.6), +1) == pytest.approx(0.6 + 0.01 * (1 - 0.5 * math.exp(0.6)),
                                                          abs=1e-15)
    assert pulse(one_cell(cut, 0.8), -1) == pytest.approx(0.8 - 0.01 * (1 - 0.5 * math.exp(-0.8)),
                                                          abs=1e-15)


def test_exp_step_complex_noise_statistics():
    dev = ExpStep(dw_min=0.01, a=-1.0, b=0.0, A_up=-2.0, A_down=-1.0, gamma_up=2.5,
                  gamma_down=2.5, w_max=2.0, w_min=0.0, dw_min_std_add=0.05,
                  dw_min_std_slope=0.1, **{**QUIET, "dw_min_std": 0.6})
    n, w = 40000, 0.5
    arr = CrossbarArray(1, n, device=dev, seed=5)
    arr.set_weights(np.full((1, n), w))
    arr.apply_pulses([[-1]], np.ones((1, n)))
    dw = arr.weights[0] - w
    step = (1 + 2.0 * math.exp(2.5 * (-w))) * 0.01
    std = 0.6 * (step + 0.05 + 0.1 * w)
    assert dw.mean() == pytest.approx(step, abs=4 * std / math.sqrt(n))
    assert dw.std() == pytest.approx(std, rel=0.03)


def test_pow_step_formula_at_a_point():
    dev = PowStep(dw_min=0.01, pow_gamma=2.0, pow_gamma_dtod=0.0, w_max=1.0, w_min=-1.0, **QUIET)
    w = 0.2
    omega = (1.0 - w) / 2.0
    assert pulse(one_cell(dev, w), +1) == pytest.approx(w + 0.01 * omega ** 2, abs=1e-15)
    assert pulse(one_cell(dev, w), -1) == pytest.approx(w - 0.01 * (1 - omega) ** 2, abs=1e-15)


def test_clipping_at_the_bounds_is_counted():
    dev = ConstantStep(dw_min=0.25, w_max=0.5, w_min=-0.625, **QUIET)
    arr = one_cell(dev, 0.0)
    assert [pulse(arr, +1) for _ in range(4)] == [0.25, 0.5, 0.5, 0.5]
    assert arr.stats()["bound_hits"] == 2
    assert [pulse(arr, -1) for _ in range(5)] == [0.25, 0.0, -0.25, -0.5, -0.625]
    assert arr.stats()["bound_hits"] == 3
    arr.set_weights([[7.0]])
    assert arr.weights[0, 0] == 0.5


def test_finite_states():
    # 11 levels on [-1, 1]: spacing 0.2
    big = ConstantStep(dw_min=0.15, n_states=11, w_max=1.0, w_min=-1.0, **QUIET)
    small = ConstantStep(dw_min=0.09, n_states=11, w_max=1.0, w_min=-1.0, **QUIET)
    assert big.level == pytest.approx(0.2)
    arr = one_cell(big, 0.33)
    assert arr.weights[0, 0] == pytest.approx(0.4)             # programmed onto a level
    assert pulse(arr, +1) == pytest.approx(0.6)                  # 0.75 -> 0.6 (nearest level)
    assert pulse(arr, +1, 5) == pytest.approx(1.0)
    arr = one_cell(small, 0.0)
    assert pulse(arr, +1, 10) == 0.0                             # a step under half a level is lost
    levels = np.linspace(-1, 1, 11)
    dev = ConstantStep(dw_min=0.13, n_states=11, w_max=1.0, w_min=-1.0)   # with variation
    arr = CrossbarArray(20, 20, device=dev, seed=1)
    rng = np.random.default_rng(0)
    arr.apply_pulses(rng.integers(-1, 2, (40, 20)), rng.integers(-1, 2, (40, 20)))
    w = arr.weights.ravel()
    assert np.abs(w[:, None] - levels[None, :]).min(axis=1).max() < 1e-12
    lo, hi = arr.bounds
    assert (arr.weights >= lo - 1e-12).all() and (arr.weights <= hi + 1e-12).all()


# --- variation statistics ---------------------------------------------------------------------

def test_device_to_device_statistics():
    dev = ConstantStep(dw_min=0.001, dw_min_dtod=0.3, up_down_dtod=0.05, w_max=1.0, w_min=-0.5,
                       w_max_dtod=0.2, w_min_dtod=0.1, dw_min_std=0.0)
    n = 200
    arr = CrossbarArray(n, n, device=dev, seed=11)
    lo, hi = arr.bounds
    assert hi.mean() == pytest.approx(1.0, abs=0.005)
    assert hi.std() == pytest.approx(0.2, rel=0.03)
    assert lo.mean() == pytest.approx(-0.5, abs=0.002)
    assert lo.std() == pytest.approx(0.05, rel=0.03)
    assert abs(np.corrcoef(hi.ravel(), lo.ravel())[0, 1]) < 0.03     # drawn independently
    # one up step and, on a copy with the same seed, one down step per device
    up = CrossbarArray(n, n, device=dev, seed=11)
    down = CrossbarArray(n, n, device=dev, seed=11)
    up.apply_pulses(-np.ones((1, n)), np.ones((1, n)))
    down.apply_pulses(np.ones((1, n)), np.ones((1, n)))
    s_up, s_down = up.weights.ravel(), -down.weights.ravel()
    assert s_up.mean() == pytest.approx(0.001, rel=0.01)
    # gain std 0.3 and r std 0.05: scale_up = (gain + r) dw, std sqrt(0.3^2 + 0.05^2) dw
    assert s_up.std() == pytest.approx(math.hypot(0.3, 0.05) * 0.001, rel=0.03)
    assert (s_up - s_down).std() == pytest.approx(2 * 0.05 * 0.001, rel=0.03)
    # the same device (same seed) is the same in both copies: the spread is per device, not per step
    assert np.array_equal(up.bounds[1], down.bounds[1])


def test_cycle_to_cycle_statistics():
    dev = ConstantStep(dw_min=0.001, w_max=1.0, w_min=-1.0, **{**QUIET, "dw_min_std": 0.3})
    arr = CrossbarArray(1, 1, device=dev, seed=2)
    steps = []
    for k in range(20000):
        before = arr.weights[0, 0]
        direction = 1 if k % 2 == 0 else -1          # stay well inside the bounds
        pulse(arr, direction)
        steps.append(direction * (arr.weights[0, 0] - before))
    steps = np.array(steps)
    assert steps.mean() == pytest.approx(0.001, abs=4 * 0.0003 / math.sqrt(20000))
    assert steps.std() == pytest.approx(0.0003, rel=0.03)
    # steps of one direction, one device: independent from step to step
    ups = steps[0::2]
    assert abs(np.corrcoef(ups[:-1], ups[1:])[0, 1]) < 0.05


def test_write_noise_on_the_read_weight():
    dev = ConstantStep(dw_min=0.001, write_noise_std=50.0, w_max=1.0, w_min=-1.0, **QUIET)
    n = 200
    arr = CrossbarArray(n, n, device=dev, seed=4)
    arr.set_weights(np.zeros((n, n)))
    assert arr.weights.std() == pytest.approx(0.05, rel=0.03)
    first = arr.weights.copy()
    arr.apply_pulses(-np.ones((1, n)), np.r_[np.ones(n // 2), np.zeros(n // 2)][None, :])
    # touched cells: new noise around 0.001; untouched: the noise they had
    assert np.array_equal(arr.weights[:, n // 2:], first[:, n // 2:])
    assert arr.weights[:, :n // 2].mean() == pytest.approx(0.001, abs=0.001)
    assert not np.allclose(arr.weights[:, :n // 2] - 0.001, first[:, :n // 2])


def test_leakage_towards_reset():
    dev = ConstantStep(dw_min=0.01, lifetime=10.0, reset=0.1, **QUIET)
    arr = one_cell(dev, 0.5)
    arr.decay()
    assert arr.weights[0, 0] == pytest.approx(0.1 + 0.4 * 0.9)
    assert arr.stats()["decays"] == 1


# --- conductance pair -------------------------------------------------------------------------

def one_sided(**kw):
    return ConstantStep(**{**dict(dw_min=0.1, w_max=1.0, w_min=0.0, reset=0.0, reset_std=0.0),
                           **QUIET, **kw})


def test_pair_steps_one_side_each_way():
    pair = ConductancePair(plus=one_sided(), refresh=False)
    arr = one_cell(pair, 0.3)
    assert arr.conductances == pytest.approx((0.3, 0.0))
    assert pulse(arr, +1) == pytest.approx(0.4)
    assert pulse(arr, -1, 2) == pytest.approx(0.2)
    gp, gm = arr.conductances
    assert (gp[0, 0], gm[0, 0]) == pytest.approx((0.4, 0.2))
    assert arr.stats()["steps_plus_total"] == 1 and arr.stats()["steps_minus_total"] == 2
    assert arr.bounds[0][0, 0] == -1.0 and arr.bounds[1][0, 0] == 1.0


def test_pair_refresh_resets_and_rewrites_the_weight():
    pair = ConductancePair(plus=one_sided(), refresh=True)
    arr = one_cell(pair, 0.0)
    pulse(arr, +1, 8)          # g+ = 0.8
    pulse(arr, -1, 2)          # g- = 0.2: 0.2 is not above 0.25 * 1.0, no refresh yet
    assert arr.stats()["refreshes"] == 0
    w = pulse(arr, -1, 1)      # g- = 0.3 > 0.25 and g+ = 0.8 > 0.75: refresh
    st = arr.stats()
    assert st["refreshes"] == 1 and st["refreshed_cells"] == 1
    gp, gm = arr.conductances
    assert gm[0, 0] == 0.0                           # reset
    assert gp[0, 0] == pytest.approx(0.5)            # 0.8 - 0.3 rewritten, 5 verified pulses
    assert w == pytest.approx(0.5)
    assert st["refresh_pulses"] == 5


def test_pair_without_refresh_saturates():
    arr = one_cell(ConductancePair(plus=one_sided(), refresh=False), 0.0)
    pulse(arr, +1, 20)
    pulse(arr, -1, 20)
    assert arr.conductances == pytest.approx((1.0, 1.0))
    assert pulse(arr, +1) == 0.0                       # stuck: both saturated


def test_pcm_pair_preset_refresh_keeps_weights_movable():
    arr = CrossbarArray(4, 4, device="PCMPair", seed=0)
    rng = np.random.default_rng(1)
    for _ in range(30):
        arr.apply_pulses(rng.integers(-1, 2, (31, 4)), rng.integers(-1, 2, (31, 4)))
    gp, gm = arr.conductances
    assert arr.stats()["refreshes"] > 0
    assert np.allclose(arr.weights, gp - gm)
    assert (gp >= 0).all() and (gm >= 0).all()


# --- construction errors ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(dw_min=0.0), "dw_min=0.0: must be > 0.0"),
    (dict(dw_min_std=-0.1), "dw_min_std=-0.1: must be >= 0.0"),
    (dict(w_min=0.1), "w_min=0.1, w_max=0.6: the range [w_min, w_max] must contain 0"),
    (dict(n_states=1), "n_states=1: must be at least 2"),
    (dict(dw_min=float("nan")), "dw_min=nan: must be finite"),
])
def test_device_parameter_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        ConstantStep(**kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize("model, kwargs, message", [
    (ConstantStep, dict(dw_min="0.001"), "dw_min='0.001': must be a number"),
    (ConstantStep, dict(w_max=None), "w_max=None: must be a number"),
    (ConstantStep, dict(n_states=8.0), "n_states=8.0: must be an integer"),
    (IdealDevice, dict(dw_min=True), "dw_min=True: must be a number"),
])
def test_device_parameter_type_errors(model, kwargs, message):
    with pytest.raises(TypeError) as err:
        model(**kwargs)
    assert str(err.value) == message


def test_pair_errors():
    with pytest.raises(ValueError, match=r"plus\.w_min=-0\.6: must be 0 \(a pair's devices are "
                                         r"one-sided\)"):
        ConductancePair(plus=ConstantStep())
    with pytest.raises(TypeError, match="plus=1: must be a PulsedDevice"):
        ConductancePair(plus=1)
    one_sided = ConstantStep(w_min=0.0)
    with pytest.raises(ValueError, match=r"lower_thres=-0\.1: must be >= 0\.0"):
        ConductancePair(plus=one_sided, lower_thres=-0.1)
    with pytest.raises(ValueError, match="max_refresh_pulses=0: must be at least 1"):
        ConductancePair(plus=one_sided, max_refresh_pulses=0)
    with pytest.raises(TypeError, match=r"max_refresh_pulses=1\.5: must be an integer"):
        ConductancePair(plus=one_sided, max_refresh_pulses=1.5)
