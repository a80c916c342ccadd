"""A crossbar array of signed weights updated by pulse coincidences (Gokmen and Vlasov 2016).

Geometry and sign convention::

                 columns j = input lines (x side), n_cols
               +----+----+----+----+
    rows i     | w00| w01| w02| w03|    W[i, j], shape (n_rows, n_cols), the layer's
    = output   +----+----+----+----+    (n_out, n_in) weight: rows on the delta side,
    lines      | w10| w11| ...|    |    columns on the x side
    (delta     +----+----+----+----+
    side)
                  slot t: row pulses r_t[i] in {-1, 0, +1}, column pulses c_t[j] in {-1, 0, +1}

In slot ``t`` device ``(i, j)`` steps once, in direction ``-r_t[i] * c_t[j]``, when both its lines
pulse (a coincidence); otherwise it is left alone. The minus sign is SGD's: row pulses carry the
sign of ``delta_i``, column pulses the sign of ``x_j``, and the weight must move by
``-lr * delta_i * x_j``; a positive learning rate *decreases* a weight whose ``delta_i * x_j`` is
positive. (aihwkit likewise steps its devices down for ``sign(d) * sign(x) > 0``.)

Update paths and what is exact:

* :meth:`apply_pulses` with ``evaluation="steps"`` (default): slot by slot, in order; in a slot a
  device steps at most once, so each coincidence is one device step on the state left by the
  previous slot, with its own c2c noise, clipping and rounding. Exact for every device model.
* :meth:`apply_pulses` with ``evaluation="counts"`` (only for models with a closed form: the
  ideal device, ConstantStep without finite states): the coincidences of all slots of the call
  are counted per cell and direction (``n_up``, ``n_down``, by matrix products) and applied at
  once (:meth:`~golden.crossbar.devices.ConstantStep.step_counts`): the sum of ``n`` noisy
  steps is one normal with std ``sqrt(n) * dw_min_std * step``, and the bound is applied once at
  the end. Exact in distribution when no cell meets a bound within the call (the order of up and
  down steps matters only at a bound); an approximation otherwise. Not the same random draws as
  the step path, so not bit-equal to it. For the ideal device it equals the step path up to
  floating-point rounding.
* :meth:`apply_counts` (per-cell pulse counts, e.g. MBGD written cell by cell): with
  ``evaluation="steps"``, in rounds: round ``k`` steps every cell whose count is at least ``k``
  (all pulses of a cell go the same way), exact for every model; with ``"counts"`` the closed
  form above, exact in distribution as long as steps stay positive (a cell's path is then
  monotone, so clipping once at the end equals clipping at every step).
* :meth:`set_weights`: programming; each cell takes the value (clipped to its bounds, on its
  levels), exactly: a model of a program-and-verify write, not of its pulses.

Random streams (``numpy.random.default_rng`` of ``SeedSequence(entropy, spawn_key=(k,))``, with
``entropy`` the seed): ``k = 0`` device-to-device, drawn once at construction; ``k = 1``
cycle-to-cycle, per step: in a slot, the coincident cells in row-major order (for a pair: its
plus cells first, then its minus cells); in a round of :meth:`apply_counts`, the cells in flat
(row-major) order; ``k = 2`` write noise, after each call, for the cells it touched in flat
order. Same seed and same calls, same state, bit for bit.

Counters (:meth:`stats`): pulses per row line and per column line, steps per device (endurance),
update events (one per apply call), slots (``sum BL`` of :meth:`apply_pulses`: update time),
cell-by-cell writes (pulses, and the row-by-row write time in slots: per row, its largest up
count plus its largest down count, NeuroSim's convention), bound hits, programming events.
"""

from __future__ import annotations

import numpy as np

from ..check import check_choice, check_int
from .presets import get_preset

__all__ = ["CrossbarArray", "EVALUATIONS"]

EVALUATIONS = ("steps", "counts")


def _seed_sequence(seed, k: int) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k,))
    return np.random.SeedSequence(check_int("seed", seed, minimum=0), spawn_key=(k,))


def _check_pulses(name, pulses, n):
    p = np.asarray(pulses)
    if p.ndim != 2 or p.shape[1] != n:
        raise ValueError(f"{name}.shape={p.shape}: must be (BL, {n})")
    ok = np.isin(p, (-1, 0, 1))
    if not ok.all():
        _raise_at(name, p, ok, "must be -1, 0 or +1")
    return p.astype(np.int8)


def _raise_at(name, values, ok, expected):
    """Raise ``ValueError("name[i, j]=v: expected")`` at the first entry where ``ok`` is False."""
    at = tuple(int(i) for i in np.argwhere(~ok)[0])
    raise ValueError(f"{name}[{', '.join(map(str, at))}]={values[at].item()!r}: {expected}")


class CrossbarArray:
    """An ``n_rows x n_cols`` array of devices holding signed weights.

    Parameters
    ----------
    n_rows, n_cols : int
        Output lines (delta side) and input lines (x side).
    device : str or device model
        A preset name (:func:`golden.crossbar.presets.get_preset`) or a model from
        :mod:`golden.crossbar.devices` / :class:`~golden.crossbar.pair.ConductancePair`.
    seed : int or numpy.random.SeedSequence
        Root of the random streams (module docstring).
    evaluation : {"steps", "counts"}
        How pulses are applied (module docstring); ``"counts"`` needs a closed-form model.

    Every weight starts at 0 (clipped to its device's bounds); :meth:`set_weights` programs others.
    """

    def __init__(self, n_rows: int, n_cols: int, *, device="ideal", seed=0,
                 evaluation: str = "steps"):
        self._n_rows = check_int("n_rows", n_rows, minimum=1)
        self._n_cols = check_int("n_cols", n_cols, minimum=1)
        self._device = get_preset(device) if isinstance(device, str) else device
        for method in ("build", "step", "read", "program"):
            if not callable(getattr(self._device, method, None)):
                raise TypeError(f"device={device!r}: must be a preset name or a device model "
                                f"(it has no {method}() method)")
        check_choice("evaluation", evaluation, EVALUATIONS)
        if evaluation == "counts" and not self._device.closed_form:
            raise ValueError(f"evaluation='counts': device {self._device.name} has no "
                             f"closed form for pulse counts (its steps depend on the weight or "
                             f"are rounded to levels); use evaluation='steps'")
        self._evaluation = evaluation
        n = self._n_rows * self._n_cols
        self._state = self._device.build(n, np.random.default_rng(_seed_sequence(seed, 0)))
        self._rng_c2c = np.random.default_rng(_seed_sequence(seed, 1))
        self._rng_wn = np.random.default_rng(_seed_sequence(seed, 2))
        self._row_pulses = np.zeros(self._n_rows, dtype=np.int64)
        self._col_pulses = np.zeros(self._n_cols, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._count = {"update_events": 0, "slots": 0, "coincidences": 0, "count_pulses": 0,
                       "write_slots": 0, "bound_hits": 0, "program_events": 0, "decays": 0,
                       "refreshed_cells": 0}

    # --- properties ---------------------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def n_cols(self) -> int:
        return self._n_cols

    @property
    def shape(self) -> tuple[int, int]:
        return self._n_rows, self._n_cols

    @property
    def device(self):
        return self._device

    @property
    def evaluation(self) -> str:
        return self._evaluation

    @property
    def dw_min(self) -> float:
        """The device's nominal step (what update management divides by)."""
        return float(self._device.dw_min)

    @property
    def weights(self) -> np.ndarray:
        """Read-only ``(n_rows, n_cols)`` view of the weights as the network reads them."""
        view = self._device.read(self._state).reshape(self.shape).view()
        view.flags.writeable = False
        return view

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each device's ``(b_min, b_max)``, ``(n_rows, n_cols)`` each (a pair: ``-g_minus_max``,
        ``g_plus_max``; the ideal device: infinite)."""
        lo, hi = self._device.bounds(self._state)
        return lo.reshape(self.shape).copy(), hi.reshape(self.shape).copy()

    @property
    def conductances(self) -> tuple[np.ndarray, np.ndarray]:
        """``(g_plus, g_minus)`` of a conductance pair (``TypeError`` for other devices)."""
        if "plus" not in self._state:
            raise TypeError(f"device={self._device.name}: must be a conductance pair to have "
                            f"conductances")
        return (self._state["plus"]["w"].reshape(self.shape).copy(),
                self._state["minus"]["w"].reshape(self.shape).copy())

    @property
    def row_pulse_counts(self) -> np.ndarray:
        """Pulses each row line has carried (:meth:`apply_pulses`)."""
        return self._row_pulses.copy()

    @property
    def col_pulse_counts(self) -> np.ndarray:
        """Pulses each column line has carried (:meth:`apply_pulses`)."""
        return self._col_pulses.copy()

    @property
    def device_steps(self) -> np.ndarray:
        """``(n_rows, n_cols)``: steps each device has taken (coincidences plus counted pulses),
        its endurance use."""
        return self._steps.reshape(self.shape).copy()

    # --- updates ------------------------------------------------------------------------------

    def apply_pulses(self, row_pulses, col_pulses) -> None:
        """Apply ``BL`` slots of signed pulses: one update event.

        Parameters
        ----------
        row_pulses : (BL, n_rows) array of -1, 0, +1
            Pulses on the row (delta) lines, slot by slot.
        col_pulses : (BL, n_cols) array of -1, 0, +1
            Pulses on the column (x) lines, the same slots.

        Device ``(i, j)`` steps once in slot ``t`` in direction ``-row[t, i] * col[t, j]`` when
        both are non-zero.
        """
        rows = _check_pulses("row_pulses", row_pulses, self._n_rows)
        cols = _check_pulses("col_pulses", col_pulses, self._n_cols)
        if rows.shape[0] != cols.shape[0]:
            raise ValueError(f"row_pulses.shape[0]={rows.shape[0]}, col_pulses.shape[0]="
                             f"{cols.shape[0]}: must be equal (the same BL slots)")
        bl = rows.shape[0]
        self._count["update_events"] += 1
        self._count["slots"] += bl
        self._row_pulses += np.count_nonzero(rows, axis=0)
        self._col_pulses += np.count_nonzero(cols, axis=0)
        if self._evaluation == "counts":
            rp, rn = (rows > 0).astype(np.float64), (rows < 0).astype(np.float64)
            cp, cn = (cols > 0).astype(np.float64), (cols < 0).astype(np.float64)
            n_up = (rp.T @ cn + rn.T @ cp).ravel().astype(np.int64)
            n_down = (rp.T @ cp + rn.T @ cn).ravel().astype(np.int64)
            total = n_up + n_down
            self._steps += total
            self._count["coincidences"] += int(total.sum())
            self._count["bound_hits"] += self._device.step_counts(self._state, n_up, n_down,
                                                                  self._rng_c2c)
            self._finish(np.flatnonzero(total))
            return
        touched = np.zeros(self._steps.size, dtype=bool)
        for t in range(bl):
            r_idx = np.flatnonzero(rows[t])
            if r_idx.size == 0:
                continue
            c_idx = np.flatnonzero(cols[t])
            if c_idx.size == 0:
                continue
            idx = (r_idx[:, None] * self._n_cols + c_idx[None, :]).ravel()
            # rows[t] * cols[t] > 0 means delta_i * x_j > 0: the weight steps down.
            up = (rows[t, r_idx][:, None] * cols[t, c_idx][None, :]).ravel() < 0
            self._count["bound_hits"] += self._device.step(self._state, idx, up, self._rng_c2c)
            self._steps[idx] += 1
            self._count["coincidences"] += idx.size
            touched[idx] = True
        self._finish(np.flatnonzero(touched))

    def apply_counts(self, signed_counts) -> None:
        """Apply per-cell pulse counts: one update event.

        Parameters
        ----------
        signed_counts : (n_rows, n_cols) integer array
            Cell ``(i, j)`` receives ``|n_ij|`` pulses in the weight direction ``sign(n_ij)``
            (positive: the weight goes *up*; an SGD step ``W -= lr * M`` is
            ``-sign(M) * round(lr * |M| / dw_min)``).
        """
        c = np.asarray(signed_counts)
        if c.shape != self.shape:
            raise ValueError(f"signed_counts.shape={c.shape}: must be {self.shape}")
        if c.size and not np.issubdtype(c.dtype, np.integer):
            whole = np.isfinite(c) & (c == np.rint(c))
            if not whole.all():
                _raise_at("signed_counts", c, whole, "must be a whole number of pulses")
        c = c.astype(np.int64).ravel()
        mag = np.abs(c)
        self._count["update_events"] += 1
        self._count["count_pulses"] += int(mag.sum())
        per_row = c.reshape(self.shape)
        self._count["write_slots"] += int(np.maximum(per_row, 0).max(axis=1).sum()
                                          + np.maximum(-per_row, 0).max(axis=1).sum())
        self._steps += mag
        if self._evaluation == "counts":
            self._count["bound_hits"] += self._device.step_counts(
                self._state, np.maximum(c, 0), np.maximum(-c, 0), self._rng_c2c)
        else:
            for k in range(1, int(mag.max(initial=0)) + 1):
                idx = np.flatnonzero(mag >= k)
                self._count["bound_hits"] += self._device.step(self._state, idx, c[idx] > 0,
                                                               self._rng_c2c)
        self._finish(np.flatnonzero(mag))

    def _finish(self, touched: np.ndarray) -> None:
        self._device.rewrite_noise(self._state, touched, self._rng_wn)
        finish = getattr(self._device, "finish", None)
        if finish is not None:
            self._count["refreshed_cells"] += finish(self._state, self._rng_c2c)

    def set_weights(self, weights) -> None:
        """Program every cell to ``weights`` (clipped to its bounds; on its levels): one
        programming event (not an update event)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != self.shape:
            raise ValueError(f"weights.shape={w.shape}: must be {self.shape}")
        finite = np.isfinite(w)
        if not finite.all():
            _raise_at("weights", w, finite, "must be finite")
        self._device.program(self._state, w.ravel(), self._rng_wn)
        self._count["program_events"] += 1

    def decay(self) -> None:
        """One leakage step of every device (models with ``lifetime > 0``; no-op otherwise)."""
        self._device.decay(self._state)
        self._count["decays"] += 1

    # --- counters -----------------------------------------------------------------------------

    def stats(self) -> dict:
        """Counters as a JSON-ready dict (module docstring); totals and maxima, the per-line and
        per-device arrays are :attr:`row_pulse_counts`, :attr:`col_pulse_counts`,
        :attr:`device_steps`."""
        out = {"shape": [self._n_rows, self._n_cols], "device": self._device.name,
               "evaluation": self._evaluation, **self._count,
               "row_pulses": int(self._row_pulses.sum()),
               "col_pulses": int(self._col_pulses.sum()),
               "row_pulses_max": int(self._row_pulses.max()),
               "col_pulses_max": int(self._col_pulses.max()),
               "device_steps_max": int(self._steps.max()),
               "device_steps_mean": float(self._steps.mean())}
        extra = getattr(self._device, "extra_stats", None)
        if extra is not None:
            out.update(extra(self._state))
        return out
