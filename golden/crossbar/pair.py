"""A conductance pair: one signed weight from two one-sided devices, ``w = g_plus - g_minus``.

PCM cells only step one way gradually (SET pulses raise the conductance; RESET is abrupt), so a
signed weight is the difference of two cells that are only ever pulsed up (aihwkit's
``OneSidedUnitCell``, used by its ``PCMPresetUnitCell``)::

    weight up   (+1)  -->  g_plus  steps up
    weight down (-1)  -->  g_minus steps up
    w = g_plus - g_minus

Both conductances keep growing with training until they saturate and the weight cannot move any
more, hence a **refresh** policy (the one of aihwkit's ``OneSidedUnitCell``, checked once per
apply call as ``PCMPresetUnitCell``'s ``refresh_every=1`` mini-batch does):

* criterion: with ``hi``/``lo`` the larger/smaller of the pair and ``g_max`` the sub-devices'
  nominal ``w_max``: ``hi > upper_thres * g_max and lo > lower_thres * g_max`` (defaults 0.75,
  0.25);
* such a cell is reset: both devices go to their reset value (``reset + reset_dtod`` per
  device, plus ``reset_std`` per reset, clipped to the bounds);
* the weight ``w = hi - lo`` it had is then written back onto the side that was larger, **with
  write-verify**: that device is pulsed up one pulse at a time, each pulse a normal device step,
  until its difference with the other side reaches ``w`` (or ``max_refresh_pulses`` pulses).
  (aihwkit rewrites open loop, with one stochastic pulsed update; write-verify keeps the rewrite
  error within one step and is what a driver would do.) The rewrite pulses count as steps of
  that device.

``refresh=False`` turns the policy off (the pair then saturates). Random draws: the d2d stream
builds ``plus`` then ``minus``; a step draws the ``plus`` cells' c2c normals then the ``minus``
cells'; a refresh draws the reset spread (``plus`` then ``minus``, cells in flat order) and the
rewrite pulses' c2c normals from the c2c stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..check import check_float, check_instance, check_int
from .devices import PulsedDevice

__all__ = ["ConductancePair"]


@dataclass(frozen=True)
class ConductancePair:
    """Two one-sided devices, ``w = g_plus - g_minus``, each pulsed up only.

    Parameters
    ----------
    plus, minus : PulsedDevice
        The two devices (usually the same one-sided model, ``w_min = 0``); ``minus`` defaults to
        ``plus``.
    refresh : bool
        Apply the refresh policy (module docstring) after every apply call.
    upper_thres, lower_thres : float
        Refresh criterion thresholds, relative to the devices' nominal ``w_max``.
    max_refresh_pulses : int
        Limit of write-verify pulses per refreshed cell.
    """

    plus: PulsedDevice
    minus: PulsedDevice | None = None
    refresh: bool = True
    upper_thres: float = 0.75
    lower_thres: float = 0.25
    max_refresh_pulses: int = 1000

    closed_form = False

    def __post_init__(self):
        if self.minus is None:
            object.__setattr__(self, "minus", self.plus)
        for side in ("plus", "minus"):
            dev = check_instance(side, getattr(self, side), PulsedDevice)
            if dev.w_min != 0.0:
                raise ValueError(f"{side}.w_min={dev.w_min!r}: must be 0 (a pair's devices are "
                                 f"one-sided)")
            if dev.has_write_noise:
                raise ValueError(f"{side}.write_noise_std={dev.write_noise_std!r}: must be 0 "
                                 f"(write noise is not modelled inside a pair)")
        for name in ("upper_thres", "lower_thres"):
            check_float(name, getattr(self, name), low=0.0)
        check_int("max_refresh_pulses", self.max_refresh_pulses, minimum=1)

    @property
    def name(self) -> str:
        return f"ConductancePair({self.plus.name})"

    @property
    def dw_min(self) -> float:
        """Nominal step of the weight (the ``plus`` device's ``dw_min``)."""
        return self.plus.dw_min

    has_write_noise = False

    def build(self, n: int, rng: np.random.Generator) -> dict:
        return {"plus": self.plus.build(n, rng), "minus": self.minus.build(n, rng),
                "steps_plus": np.zeros(n, dtype=np.int64),
                "steps_minus": np.zeros(n, dtype=np.int64),
                "refreshes": 0, "refresh_pulses": 0}

    def step(self, st, idx, up, rng) -> int:
        p_idx, m_idx = idx[up], idx[~up]
        hits = self.plus.step(st["plus"], p_idx, np.ones(p_idx.size, bool), rng)
        hits += self.minus.step(st["minus"], m_idx, np.ones(m_idx.size, bool), rng)
        st["steps_plus"][p_idx] += 1
        st["steps_minus"][m_idx] += 1
        return hits

    def step_counts(self, st, n_up, n_down, rng) -> int:
        raise TypeError(f"device={self.name}: counts are applied step by step "
                        f"(evaluation='steps')")

    def read(self, st) -> np.ndarray:
        return st["plus"]["w"] - st["minus"]["w"]

    def program(self, st, values, rng=None) -> None:
        """``g_plus = max(w, 0)``, ``g_minus = max(-w, 0)`` (each clipped to its bounds)."""
        values = np.asarray(values, dtype=np.float64)
        self.plus.program(st["plus"], np.maximum(values, 0.0), rng)
        self.minus.program(st["minus"], np.maximum(-values, 0.0), rng)

    def rewrite_noise(self, st, idx, rng) -> None:
        pass

    def decay(self, st) -> None:
        self.plus.decay(st["plus"])
        self.minus.decay(st["minus"])

    def bounds(self, st):
        return -st["minus"]["b_max"], st["plus"]["b_max"]

    def finish(self, st, rng) -> int:
        """Refresh the cells that meet the criterion; return how many were refreshed."""
        if not self.refresh:
            return 0
        gp, gm = st["plus"]["w"], st["minus"]["w"]
        g_max = self.plus.w_max
        hi, lo = np.maximum(gp, gm), np.minimum(gp, gm)
        cells = np.flatnonzero((hi > self.upper_thres * g_max) & (lo > self.lower_thres * g_max))
        if cells.size == 0:
            return 0
        target = (gp - gm)[cells]
        for side, dev in (("plus", self.plus), ("minus", self.minus)):
            s = st[side]
            value = s["reset"][cells] + dev.reset_std * rng.standard_normal(cells.size)
            s["w"][cells] = dev._settle(value, s["b_min"][cells], s["b_max"][cells])
        # Write-verify: pulse the formerly larger side up until the difference reaches target.
        pos = target >= 0
        pulses = 0
        for side, dev, mask in (("plus", self.plus, pos), ("minus", self.minus, ~pos)):
            todo, goal = cells[mask], np.abs(target[mask])
            other = st["minus" if side == "plus" else "plus"]
            for _ in range(self.max_refresh_pulses):
                w = st[side]["w"][todo]
                # A device at its upper bound cannot climb further: stop pulsing it.
                short = (w - other["w"][todo] < goal) & (w < st[side]["b_max"][todo])
                if not short.any():
                    break
                todo, goal = todo[short], goal[short]
                dev.step(st[side], todo, np.ones(todo.size, bool), rng)
                st["steps_" + side][todo] += 1
                pulses += todo.size
        st["refreshes"] += int(cells.size)
        st["refresh_pulses"] += pulses
        return int(cells.size)

    def extra_stats(self, st) -> dict:
        return {"steps_plus_max": int(st["steps_plus"].max(initial=0)),
                "steps_minus_max": int(st["steps_minus"].max(initial=0)),
                "steps_plus_total": int(st["steps_plus"].sum()),
                "steps_minus_total": int(st["steps_minus"].sum()),
                "refreshes": int(st["refreshes"]), "refresh_pulses": int(st["refresh_pulses"])}
