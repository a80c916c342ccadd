"""Device models of one crossbar cell: how a weight moves when the cell receives one pulse.

A device model is a frozen dataclass of parameters (no state); :class:`~golden.crossbar.array.
CrossbarArray` asks it to ``build`` the per-device state of an array (drawing the
device-to-device variation once) and to ``step`` chosen cells once, up or down. The models follow
IBM aihwkit's pulsed devices (``src/aihwkit/simulator/configs/devices.py``,
``src/rpucuda/rpu_*_device.cpp``, MIT); the code is our own.

Direction convention: ``up`` (+1) increases the weight, ``down`` (-1) decreases it. (aihwkit's
C++ passes the gradient sign instead, ``sign > 0`` meaning *down*; here the array has already
turned the coincidence into a weight direction.)

Per device, at construction (``build``), with ``xi`` standard normals of the d2d stream::

    b_max = w_max * (1 + w_max_dtod * xi)       b_min = w_min * (1 + w_min_dtod * xi)
    gain  = 1 + dw_min_dtod * xi                r     = up_down_dtod * xi
    scale_up   = (up_bias + gain + r) * dw_min  up_bias   = min(up_down, 0)
    scale_down = (down_bias + gain - r) * dw_min  down_bias = -max(up_down, 0)
    reset = reset + reset_dtod * xi
    (enforce_consistency: |scale_up|, |scale_down|, b_max >= 0 >= b_min)

Per step of a cell in direction ``up``/``down`` (``xi`` one c2c normal per step, ``std`` =
``dw_min_std``), then clipped to ``[b_min, b_max]`` and, with ``n_states``, put on the grid:

==============  ===================================================================
model           step
==============  ===================================================================
IdealDevice     ``w += +/- dw_min`` exactly (no bounds, no noise, no variation)
ConstantStep    ``w += scale_up (1 + std xi)`` / ``w -= scale_down (1 + std xi)``
LinearStep      ``w += (slope_up w + scale_up)(1 + std xi)`` / ``w -= (slope_down w +
                scale_down)(1 + std xi)``, ``slope_up = -gamma_up scale_up / w_ref_up``,
                ``slope_down = -gamma_down scale_down / w_ref_down`` (``w_ref`` = nominal
                ``w_max``/``w_min``, or the device's own ``b_max``/``b_min``);
                additive noise (``mult_noise=False``): only the constant part is noisy
SoftBounds      LinearStep with ``gamma = 1`` referred to the device's own bounds: the step
                is ``scale_up (1 - w/b_max)`` up, ``scale_down (1 - w/b_min)`` down
ExpStep         ``z = 2 a w / (b_max - b_min) + b``; ``y_up = max(1 - A_up e^(gamma_up z),
                0)``, ``y_down = max(1 - A_down e^(-gamma_down z), 0)``; ``w += y_up
                scale_up (1 + std xi)`` / ``w -= y_down scale_down (1 + std xi)``; with
                ``dw_min_std_add`` or ``dw_min_std_slope`` (PCM) the noise is additive:
                ``w += dw + std (|dw| + std_add + std_slope |w|) xi``
PowStep         ``omega = (b_max - w)/(b_max - b_min)``; ``w += scale_up omega^g (1 + std
                xi)`` / ``w -= scale_down (1 - omega)^g (1 + std xi)``
==============  ===================================================================

Finite number of states (``n_states=N``): the device holds only the ``N`` levels
``w_min + k (w_max - w_min)/(N - 1)`` of the nominal range that lie inside its own bounds; after
every step (and every programming) the value goes to the nearest such level, so a step smaller
than half a level is lost, as on a device with ``N`` stable conductance levels.

Write noise (``write_noise_std``, in units of ``dw_min``): the steps act on a hidden weight; the
weight the network reads is that plus ``write_noise_std * dw_min * xi``, drawn anew for a cell
each time the cell is written (stepped or programmed): once per cell per apply call, after its
steps, from the write-noise stream.

Leakage (``lifetime``, in apply calls of the training seam, i.e. mini-batches; 0 = none):
``decay`` moves every weight towards its reset value by the factor ``1 - 1/lifetime_ij``.

Random draws, in this order, so another implementation can reproduce an array exactly:

* ``build`` draws from the d2d generator, one ``standard_normal(n)`` vector (cells in C order,
  row-major) per parameter, always (even when its spread is 0): ``w_max``, ``w_min``, ``gain``,
  ``r``, ``reset``, ``lifetime``, then the model's own (LinearStep: ``gamma_up``, ``gamma_down``;
  PowStep: ``gamma``).
* ``step`` draws one ``standard_normal(m)`` vector from the c2c generator for its ``m`` cells,
  in the order given, when the model has c2c noise (``dw_min_std > 0``), none otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..check import check_float, check_int

__all__ = ["IdealDevice", "PulsedDevice", "ConstantStep", "LinearStep", "SoftBounds", "ExpStep",
           "PowStep", "DEVICE_MODELS"]


@dataclass(frozen=True)
class IdealDevice:
    """An exact float device: each pulse moves the weight by exactly ``dw_min``, up or down.

    No bounds, no noise, no device-to-device variation: the reference against which the
    stochastic pulse scheme itself (not the device) is judged.

    Parameters
    ----------
    dw_min : float
        Step per pulse (the ``Idealized`` preset's 0.0002 by default).
    """

    dw_min: float = 0.0002

    #: Steps of this model do not depend on the weight and have no bounds: per-cell pulse counts
    #: can be applied in closed form (see :meth:`step_counts`).
    closed_form = True
    has_write_noise = False

    def __post_init__(self):
        check_float("dw_min", self.dw_min, low=0.0, low_open=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def build(self, n: int, rng: np.random.Generator) -> dict:
        """Per-device state of ``n`` cells (no draws: the ideal device has no variation)."""
        return {"w": np.zeros(n)}

    def step(self, st: dict, idx: np.ndarray, up: np.ndarray, rng: np.random.Generator) -> int:
        """Step cells ``idx`` (distinct flat indices) once, up where ``up``; return bound hits."""
        st["w"][idx] += np.where(up, self.dw_min, -self.dw_min)
        return 0

    def step_counts(self, st, n_up, n_down, rng) -> int:
        """Apply ``n_up`` up and ``n_down`` down pulses per cell (flat int arrays) at once."""
        st["w"] += (n_up - n_down) * self.dw_min
        return 0

    def program(self, st: dict, values: np.ndarray, rng=None) -> None:
        st["w"][:] = values

    def read(self, st: dict) -> np.ndarray:
        return st["w"]

    def rewrite_noise(self, st, idx, rng) -> None:
        pass

    def decay(self, st) -> None:
        pass

    def bounds(self, st) -> tuple[np.ndarray, np.ndarray]:
        n = st["w"].shape[0]
        return np.full(n, -np.inf), np.full(n, np.inf)


@dataclass(frozen=True)
class PulsedDevice:
    """Parameters shared by every pulsed device model (aihwkit's ``PulsedDevice`` defaults).

    Parameters
    ----------
    dw_min : float
        Mean step per pulse (weight units).
    dw_min_dtod : float
        Device-to-device spread of the step (relative, Gaussian).
    dw_min_std : float
        Cycle-to-cycle spread of each step (relative: each step times ``1 + std * xi``).
    up_down, up_down_dtod : float
        Systematic and per-device asymmetry between up and down steps (relative to ``dw_min``).
    w_max, w_min : float
        Nominal bounds; ``w_min <= 0 <= w_max``.
    w_max_dtod, w_min_dtod : float
        Per-device spread of the bounds (relative).
    write_noise_std : float
        Noise on the read weight after each write, in units of ``dw_min`` (0: none).
    reset, reset_dtod, reset_std : float
        Value a reset (refresh of a conductance pair) takes, its per-device offset and per-reset
        spread.
    lifetime, lifetime_dtod : float
        Leakage time constant in apply calls (0: no leakage) and its per-device spread.
    enforce_consistency : bool
        Make steps positive and bounds enclose 0 after drawing the variation (aihwkit's default).
    n_states : int, optional
        Finite number of weight levels over ``[w_min, w_max]`` (None: continuous).
    """

    dw_min: float = 0.001
    dw_min_dtod: float = 0.3
    dw_min_std: float = 0.3
    up_down: float = 0.0
    up_down_dtod: float = 0.01
    w_max: float = 0.6
    w_min: float = -0.6
    w_max_dtod: float = 0.3
    w_min_dtod: float = 0.3
    write_noise_std: float = 0.0
    reset: float = 0.0
    reset_dtod: float = 0.0
    reset_std: float = 0.01
    lifetime: float = 0.0
    lifetime_dtod: float = 0.0
    enforce_consistency: bool = True
    n_states: int | None = None

    closed_form = False

    def __post_init__(self):
        check_float("dw_min", self.dw_min, low=0.0, low_open=True)
        for name in ("dw_min_dtod", "dw_min_std", "up_down_dtod", "w_max_dtod", "w_min_dtod",
                     "write_noise_std", "reset_dtod", "reset_std", "lifetime", "lifetime_dtod"):
            check_float(name, getattr(self, name), low=0.0)
        for name in ("up_down", "w_max", "w_min", "reset"):
            check_float(name, getattr(self, name))
        if not self.w_min <= 0.0 <= self.w_max:
            raise ValueError(f"w_min={self.w_min!r}, w_max={self.w_max!r}: the range "
                             f"[w_min, w_max] must contain 0")
        if self.n_states is not None:
            n = check_int("n_states", self.n_states, minimum=2)
            if not self.w_max > self.w_min:
                raise ValueError(f"n_states={n}: needs w_max > w_min, got w_min={self.w_min!r}, "
                                 f"w_max={self.w_max!r}")

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def has_write_noise(self) -> bool:
        return self.write_noise_std > 0

    @property
    def level(self) -> float | None:
        """Spacing of the finite states (None when continuous)."""
        if self.n_states is None:
            return None
        return (self.w_max - self.w_min) / (self.n_states - 1)

    def replace(self, **changes):
        """A copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # --- construction -------------------------------------------------------------------------

    def build(self, n: int, rng: np.random.Generator) -> dict:
        """Draw the device-to-device variation of ``n`` cells; weights start at 0 (clipped)."""
        xi = {key: rng.standard_normal(n) for key in
              ("w_max", "w_min", "gain", "r", "reset", "lifetime")}
        b_max = self.w_max * (1.0 + self.w_max_dtod * xi["w_max"])
        b_min = self.w_min * (1.0 + self.w_min_dtod * xi["w_min"])
        gain = 1.0 + self.dw_min_dtod * xi["gain"]
        r = self.up_down_dtod * xi["r"]
        up_bias = min(self.up_down, 0.0)
        down_bias = -max(self.up_down, 0.0)
        scale_up = (up_bias + gain + r) * self.dw_min
        scale_down = (down_bias + gain - r) * self.dw_min
        if self.enforce_consistency:
            scale_up, scale_down = np.abs(scale_up), np.abs(scale_down)
            b_max, b_min = np.maximum(b_max, b_min), np.minimum(b_max, b_min)
            b_max, b_min = np.abs(b_max), -np.abs(b_min)
        else:
            # A device whose bounds crossed is stuck in the middle (aihwkit's "turned off").
            crossed = b_min > b_max
            mid = 0.5 * (b_min + b_max)
            b_max = np.where(crossed, mid, b_max)
            b_min = np.where(crossed, mid, b_min)
        st = {"b_max": b_max, "b_min": b_min, "scale_up": scale_up, "scale_down": scale_down,
              "reset": self.reset + self.reset_dtod * xi["reset"]}
        if self.lifetime > 0:
            t = self.lifetime * (1.0 + self.lifetime_dtod * xi["lifetime"])
            st["decay"] = np.where(t > 1.0, 1.0 - 1.0 / np.where(t > 1.0, t, 2.0), 0.0)
        self._build_model(st, n, rng)
        st["w"] = self._settle(np.zeros(n), b_min, b_max)
        if self.has_write_noise:
            st["w_app"] = st["w"].copy()
        return st

    def _build_model(self, st: dict, n: int, rng: np.random.Generator) -> None:
        """Draw the model's own per-device parameters (after the shared ones)."""

    # --- update ------------------------------------------------------------------------------

    def _new_value(self, st, idx, w, up, xi):
        """The unclipped weight after one step of cells ``idx`` (``xi``: c2c normals or None)."""
        raise NotImplementedError

    def step(self, st: dict, idx: np.ndarray, up: np.ndarray, rng: np.random.Generator) -> int:
        """Step cells ``idx`` (distinct flat indices) once, up where ``up``; return how many
        steps a bound clipped."""
        if idx.size == 0:
            return 0
        w = st["w"][idx]
        xi = rng.standard_normal(idx.size) if self.dw_min_std > 0 else None
        new = self._new_value(st, idx, w, up, xi)
        lo, hi = st["b_min"][idx], st["b_max"][idx]
        hits = int(np.count_nonzero((new > hi) | (new < lo)))
        st["w"][idx] = self._settle(new, lo, hi)
        return hits

    def step_counts(self, st, n_up, n_down, rng) -> int:
        raise TypeError(f"device={self.name}: its steps depend on the weight; per-cell pulse "
                        f"counts are applied step by step (evaluation='steps')")

    def _settle(self, w, lo, hi):
        """Clip to the device's bounds and, with finite states, go to the nearest level."""
        w = np.minimum(np.maximum(w, lo), hi)
        q = self.level
        if q is None:
            return w
        k = np.rint((w - self.w_min) / q)
        k_lo = np.maximum(np.ceil((lo - self.w_min) / q - 1e-9), 0)
        k_hi = np.minimum(np.floor((hi - self.w_min) / q + 1e-9), self.n_states - 1)
        return self.w_min + np.minimum(np.maximum(k, k_lo), k_hi) * q

    def program(self, st: dict, values: np.ndarray, rng=None) -> None:
        """Set every cell to ``values`` (flat), clipped to its bounds and put on its levels."""
        st["w"][:] = self._settle(np.asarray(values, dtype=np.float64), st["b_min"], st["b_max"])
        if self.has_write_noise:
            self.rewrite_noise(st, np.arange(st["w"].size), rng)

    def read(self, st: dict) -> np.ndarray:
        """The weights as the network sees them (with write noise when the model has it)."""
        return st["w_app"] if self.has_write_noise else st["w"]

    def rewrite_noise(self, st, idx, rng) -> None:
        """Draw new write noise for cells ``idx`` (no-op without write noise)."""
        if self.has_write_noise and idx.size:
            noise = self.write_noise_std * self.dw_min * rng.standard_normal(idx.size)
            st["w_app"][idx] = st["w"][idx] + noise

    def decay(self, st) -> None:
        """One leakage step towards the reset value (no-op with ``lifetime == 0``)."""
        if "decay" in st:
            w = (st["w"] - st["reset"]) * st["decay"] + st["reset"]
            st["w"][:] = self._settle(w, st["b_min"], st["b_max"])

    def bounds(self, st) -> tuple[np.ndarray, np.ndarray]:
        return st["b_min"], st["b_max"]


@dataclass(frozen=True)
class ConstantStep(PulsedDevice):
    """Constant step: ``w += scale_up (1 + std xi)`` up, ``w -= scale_down (1 + std xi)`` down.

    The step does not depend on the weight, so per-cell pulse counts have a closed form
    (:meth:`step_counts`, used with ``evaluation="counts"``).
    """

    @property
    def closed_form(self) -> bool:
        return self.n_states is None

    def _new_value(self, st, idx, w, up, xi):
        dw = np.where(up, st["scale_up"][idx], -st["scale_down"][idx])
        return w + (dw if xi is None else dw * (1.0 + self.dw_min_std * xi))

    def step_counts(self, st, n_up, n_down, rng) -> int:
        """Apply ``n_up`` up and ``n_down`` down pulses per cell at once, clipping once.

        The sum of ``n`` noisy steps is drawn as one normal per direction per cell with mean
        ``n * scale`` and std ``sqrt(n) * dw_min_std * scale`` (two ``standard_normal(n_cells)``
        draws, up then down, when ``dw_min_std > 0``). Exact in distribution when no cell meets
        a bound during the call (the order of up and down steps matters only at a bound);
        otherwise an approximation. Returns the number of cells clipped at the end.
        """
        if self.n_states is not None:
            raise TypeError(f"device={self.name}: with n_states every step is rounded to a "
                            f"level; counts are applied step by step (evaluation='steps')")
        su, sd = st["scale_up"], st["scale_down"]
        dw = n_up * su - n_down * sd
        if self.dw_min_std > 0:
            xi_up = rng.standard_normal(dw.size)
            xi_down = rng.standard_normal(dw.size)
            dw = dw + self.dw_min_std * (su * np.sqrt(n_up) * xi_up
                                         - sd * np.sqrt(n_down) * xi_down)
        new = st["w"] + dw
        hits = int(np.count_nonzero((new > st["b_max"]) | (new < st["b_min"])))
        st["w"][:] = self._settle(new, st["b_min"], st["b_max"])
        return hits


@dataclass(frozen=True)
class LinearStep(PulsedDevice):
    """Step linear in the weight: ``(slope_up w + scale_up)`` up, ``(slope_down w + scale_down)``
    down, times ``1 + std xi``.

    Parameters (besides :class:`PulsedDevice`'s)
    ----------
    gamma_up, gamma_down : float
        Relative decrease of the step at the reference bound (0: constant step; 1: zero at it).
    gamma_up_dtod, gamma_down_dtod : float
        Per-device spread of the gammas (absolute).
    allow_increasing : bool
        Keep a drawn negative gamma (steps growing towards the bound); default: ``|gamma|``.
    mean_bound_reference : bool
        Refer the slope to the nominal ``w_max``/``w_min`` (True) or to the device's own bounds.
    mult_noise : bool
        c2c noise multiplies the whole step (True) or only its constant part.
    """

    gamma_up: float = 0.0
    gamma_down: float = 0.0
    gamma_up_dtod: float = 0.05
    gamma_down_dtod: float = 0.05
    allow_increasing: bool = False
    mean_bound_reference: bool = True
    mult_noise: bool = True

    def __post_init__(self):
        super().__post_init__()
        for name in ("gamma_up", "gamma_down"):
            check_float(name, getattr(self, name))
        for name in ("gamma_up_dtod", "gamma_down_dtod"):
            check_float(name, getattr(self, name), low=0.0)

    def _build_model(self, st, n, rng):
        g_up = self.gamma_up + self.gamma_up_dtod * rng.standard_normal(n)
        g_down = self.gamma_down + self.gamma_down_dtod * rng.standard_normal(n)
        if not self.allow_increasing:
            g_up, g_down = np.abs(g_up), np.abs(g_down)
        if self.mean_bound_reference:
            ref_up = np.full(n, self.w_max)
            ref_down = np.full(n, self.w_min)
        else:
            ref_up, ref_down = st["b_max"], st["b_min"]
        with np.errstate(divide="ignore", invalid="ignore"):
            st["slope_up"] = np.where(ref_up != 0, -g_up * st["scale_up"] / ref_up, 0.0)
            st["slope_down"] = np.where(ref_down != 0, -g_down * st["scale_down"] / ref_down, 0.0)

    def _new_value(self, st, idx, w, up, xi):
        su, sd = st["scale_up"][idx], st["scale_down"][idx]
        lu, ld = st["slope_up"][idx], st["slope_down"][idx]
        if xi is None:
            return w + np.where(up, lu * w + su, -(ld * w + sd))
        noise = 1.0 + self.dw_min_std * xi
        if self.mult_noise:
            return w + np.where(up, lu * w + su, -(ld * w + sd)) * noise
        return w + np.where(up, lu * w + su * noise, -(ld * w + sd * noise))


@dataclass(frozen=True)
class SoftBounds(LinearStep):
    """Soft bounds: the step shrinks linearly to zero at the device's own bound.

    :class:`LinearStep` with ``gamma_up = gamma_down = 1``, no gamma spread and the slope referred
    to each device's ``b_max``/``b_min``: up ``scale_up (1 - w/b_max)``, down
    ``scale_down (1 - w/b_min)``.
    """

    gamma_up: float = 1.0
    gamma_down: float = 1.0
    gamma_up_dtod: float = 0.0
    gamma_down_dtod: float = 0.0
    mean_bound_reference: bool = False


@dataclass(frozen=True)
class ExpStep(PulsedDevice):
    """Exponential step (aihwkit's ``ExpStepDevice``; its defaults).

    ``z = 2 a w / (b_max - b_min) + b``; up step ``max(1 - A_up exp(gamma_up z), 0) scale_up``,
    down step ``max(1 - A_down exp(-gamma_down z), 0) scale_down``; a device with
    ``b_max == b_min`` does not move. c2c noise multiplies the step, unless ``dw_min_std_add``
    or ``dw_min_std_slope`` is set: then it is additive with std
    ``dw_min_std (|dw| + dw_min_std_add + dw_min_std_slope |w|)``.
    """

    A_up: float = 0.00081
    A_down: float = 0.36833
    gamma_up: float = 12.44625
    gamma_down: float = 12.78785
    a: float = 0.244
    b: float = 0.2425
    dw_min_std_add: float = 0.0
    dw_min_std_slope: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        for name in ("A_up", "A_down", "gamma_up", "gamma_down", "a", "b"):
            check_float(name, getattr(self, name))
        for name in ("dw_min_std_add", "dw_min_std_slope"):
            check_float(name, getattr(self, name), low=0.0)

    @property
    def complex_noise(self) -> bool:
        return self.dw_min_std_add > 0 or self.dw_min_std_slope > 0

    def _new_value(self, st, idx, w, up, xi):
        b_diff = st["b_max"][idx] - st["b_min"][idx]
        live = b_diff > 0
        z = 2.0 * self.a * w / np.where(live, b_diff, 1.0) + self.b
        y_up = np.maximum(1.0 - self.A_up * np.exp(self.gamma_up * z), 0.0)
        y_down = np.maximum(1.0 - self.A_down * np.exp(-self.gamma_down * z), 0.0)
        dw = np.where(up, y_up * st["scale_up"][idx], -y_down * st["scale_down"][idx])
        if xi is not None:
            if self.complex_noise:
                std = self.dw_min_std * (np.abs(dw) + self.dw_min_std_add
                                         + self.dw_min_std_slope * np.abs(w))
                dw = dw + std * xi
            else:
                dw = dw * (1.0 + self.dw_min_std * xi)
        return np.where(live, w + dw, w)


@dataclass(frozen=True)
class PowStep(PulsedDevice):
    """Power-law step: ``omega = (b_max - w)/(b_max - b_min)``; up ``scale_up omega^g``, down
    ``scale_down (1 - omega)^g``, times ``1 + std xi``; ``g = pow_gamma (1 + pow_gamma_dtod xi)``
    per device (``g = 1`` is soft bounds)."""

    pow_gamma: float = 1.0
    pow_gamma_dtod: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        check_float("pow_gamma", self.pow_gamma, low=0.0, low_open=True)
        check_float("pow_gamma_dtod", self.pow_gamma_dtod, low=0.0)

    def _build_model(self, st, n, rng):
        st["gamma"] = np.abs(self.pow_gamma * (1.0 + self.pow_gamma_dtod * rng.standard_normal(n)))

    def _new_value(self, st, idx, w, up, xi):
        b_max, b_min = st["b_max"][idx], st["b_min"][idx]
        rng_ = b_max - b_min
        live = rng_ > 0
        omega = np.clip((b_max - w) / np.where(live, rng_, 1.0), 0.0, 1.0)
        g = st["gamma"][idx]
        dw = np.where(up, st["scale_up"][idx] * omega ** g,
                      -st["scale_down"][idx] * (1.0 - omega) ** g)
        if xi is not None:
            dw = dw * (1.0 + self.dw_min_std * xi)
        return np.where(live, w + dw, w)


#: Model name -> class (the pair is in :mod:`golden.crossbar.pair`).
DEVICE_MODELS = {cls.__name__: cls for cls in (IdealDevice, ConstantStep, LinearStep, SoftBounds,
                                               ExpStep, PowStep)}
