"""The crossbar weight applier of the training seam, and the stochastic pulse trains it drives.

:class:`CrossbarApplier` is a :class:`golden.seam.WeightApplier`: each layer's weights live in a
:class:`~golden.crossbar.array.CrossbarArray` and ``apply(layer, update, lr)`` turns the update
into pulses (the float reference of the crossbar driver; its bit-exact model is separate)::

    low-rank update (sigma, X, Delta), k terms        dense update (matrix() only),
    term t: d = sigma_t Delta[:, t] (rows),           or scheme="counts":
            x = X[:, t]             (columns)         n_ij = round(lr |M_ij| / dw_min)
       | pulse_plan: BL, A, B                            | apply_counts(-sign(M) n)
       | pulse_trains: Bernoulli(A|d_i|), (B|x_j|)       v
       v                                              one update event
    apply_pulses(rows, cols): one update event per term

Update management (aihwkit's ``UpdateParameters`` defaults, ``StochasticCompressed`` pulses,
``calculateBlAB`` and ``performUpdateManagement`` in ``rpu_pulsed_meta_parameter.cpp``), per
term, with ``x_amax = max|x|``, ``d_amax = max|d|`` (each at least ``dw_min**2``):

* ``BL = min(ceil(lr x_amax d_amax / dw_min), bl)`` with ``bl_management`` (else ``BL = bl``),
  and ``A = B = sqrt(lr / (dw_min BL))``, so that ``BL A B = lr / dw_min``;
* with ``update_management``: ``A *= sqrt(x_amax / d_amax)``, ``B *= sqrt(d_amax / x_amax)``,
  which makes the largest row and column probabilities equal;
* row ``i`` pulses in each slot with probability ``min(A |d_i|, 1)`` and sign ``sign(d_i)``,
  column ``j`` with ``min(B |x_j|, 1)`` and sign ``sign(x_j)``, all independent. The expected
  coincidences of cell ``(i, j)`` are ``BL p_i q_j = lr |d_i x_j| / dw_min``, each a step of about
  ``dw_min`` in direction ``-sign(d_i x_j)``: in expectation ``W -= lr d x^T``, as long as no
  probability is clipped at 1 (which happens when ``lr x_amax d_amax / dw_min > bl``: the update
  is then smaller than asked; clipped lines are counted).

Random draws: the pulse generator of layer ``l`` is ``default_rng(SeedSequence(seed,
spawn_key=(l, 1)))`` (the layer's array is seeded with ``SeedSequence(seed, spawn_key=(l, 0))``);
per term, ``random((BL, n_rows))`` for the rows, then ``random((BL, n_cols))`` for the columns
(a line pulses in a slot when its draw is below its probability); ``dense_rounding="stochastic"``
draws ``random((n_rows, n_cols))`` per dense update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..check import check_choice, check_float, check_int
from .array import EVALUATIONS, CrossbarArray

__all__ = ["layer_arrays", "PulsePlan", "pulse_plan", "pulse_trains", "dense_counts",
           "CrossbarApplier", "SCHEMES", "ROUNDINGS"]

SCHEMES = ("pulses", "counts")
ROUNDINGS = ("nearest", "stochastic")


def layer_arrays(weights, *, device, seed: int, evaluation: str = "steps"):
    """One :class:`CrossbarArray` per layer programmed with ``weights[l]`` (``(n_out, n_in)``),
    seeded ``SeedSequence(seed, spawn_key=(l, 0))``, and each layer's random stream
    ``default_rng(SeedSequence(seed, spawn_key=(l, 1)))``: ``(arrays, rngs)``. ``ValueError``
    for a weight that is not 2-D or no weights at all."""
    arrays, rngs = [], []
    for layer, w in enumerate(weights):
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"weights[{layer}].shape={w.shape}: must be 2-D (n_out, n_in)")
        arr = CrossbarArray(*w.shape, device=device, seed=np.random.SeedSequence(
            seed, spawn_key=(layer, 0)), evaluation=evaluation)
        arr.set_weights(w)
        arrays.append(arr)
        rngs.append(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(layer, 1))))
    if not arrays:
        raise ValueError("weights: must hold at least one (n_out, n_in) array, got none")
    return arrays, rngs


@dataclass(frozen=True)
class PulsePlan:
    """Pulse train length and probability scales of one outer-product update.

    ``bl`` slots; row ``i`` pulses with probability ``min(a |d_i|, 1)``, column ``j`` with
    ``min(b |x_j|, 1)``.
    """

    bl: int
    a: float
    b: float


def pulse_plan(x_amax: float, d_amax: float, lr: float, dw_min: float, *, bl: int = 31,
               bl_management: bool = True, update_management: bool = True) -> PulsePlan:
    """The aihwkit update management for one term (module docstring).

    ``lr`` must be positive; ``bl`` is the desired (with ``bl_management``: the largest) train
    length.
    """
    check_float("lr", lr, low=0.0, low_open=True)
    check_float("dw_min", dw_min, low=0.0, low_open=True)
    reg = dw_min * dw_min
    x_amax, d_amax = max(float(x_amax), reg), max(float(d_amax), reg)
    n = bl
    if bl_management:
        n = max(1, min(int(math.ceil(lr * x_amax * d_amax / dw_min)), bl))
    a = b = math.sqrt(lr / (dw_min * n))
    if update_management or bl_management:
        a *= math.sqrt(x_amax / d_amax)
        b *= math.sqrt(d_amax / x_amax)
    return PulsePlan(bl=n, a=a, b=b)


def pulse_trains(d: np.ndarray, x: np.ndarray, plan: PulsePlan, rng: np.random.Generator):
    """Stochastic signed pulse trains of one term.

    Returns ``(row_pulses, col_pulses, clipped)``: int8 arrays ``(plan.bl, len(d))`` and
    ``(plan.bl, len(x))`` of -1/0/+1, and the number of lines whose probability was clipped at 1.
    Draws ``random((bl, len(d)))`` then ``random((bl, len(x)))`` from ``rng``.
    """
    p_d = plan.a * np.abs(d)
    p_x = plan.b * np.abs(x)
    clipped = int(np.count_nonzero(p_d > 1.0) + np.count_nonzero(p_x > 1.0))
    rows = (rng.random((plan.bl, d.size)) < p_d) * np.sign(d).astype(np.int8)
    cols = (rng.random((plan.bl, x.size)) < p_x) * np.sign(x).astype(np.int8)
    return rows.astype(np.int8), cols.astype(np.int8), clipped


def dense_counts(matrix: np.ndarray, lr: float, dw_min: float, *, rounding: str = "nearest",
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Signed per-cell pulse counts of the step ``W -= lr * matrix``: ``-sign(M) n`` with
    ``n = round(lr |M| / dw_min)`` (``"nearest"``, half to even) or stochastically rounded
    (``"stochastic"``: up with probability the fractional part, one ``random`` per cell)."""
    check_choice("rounding", rounding, ROUNDINGS)
    m = np.asarray(matrix, dtype=np.float64)
    level = lr * np.abs(m) / dw_min
    if rounding == "nearest":
        n = np.rint(level)
    else:
        if rng is None:
            raise ValueError("rng=None: must be a numpy Generator with rounding='stochastic'")
        base = np.floor(level)
        n = base + (rng.random(m.shape) < level - base)
    return (-np.sign(m) * n).astype(np.int64)


def _has_factors(update) -> bool:
    return all(getattr(update, name, None) is not None for name in ("sigma", "X", "Delta"))


class CrossbarApplier:
    """A :class:`golden.seam.WeightApplier` whose layers are crossbar arrays.

    Parameters
    ----------
    weights : sequence of (n_out, n_in) arrays
        Initial weights of each layer (``model.weights``), programmed into the arrays with
        :meth:`CrossbarArray.set_weights` (so clipped to each device's bounds).
    device : str or device model
        Preset name or model, the same for every layer (``"Idealized"`` by default).
    seed : int
        Root seed: layer ``l``'s array uses ``SeedSequence(seed, spawn_key=(l, 0))``, its pulse
        generator ``(l, 1)``.
    bl : int
        Desired (largest, with ``bl_management``) pulse train length, 31 as in aihwkit.
    bl_management, update_management : bool
        aihwkit's update management (module docstring); both on by default.
    scheme : {"pulses", "counts"}
        ``"pulses"``: low-rank updates as stochastic coincidences, one update event per term
        (dense updates without factors always go as counts); ``"counts"``: every update as per-cell
        pulse counts of ``update.matrix()`` (MBGD written cell by cell).
    dense_rounding : {"nearest", "stochastic"}
        Rounding of the per-cell counts.
    evaluation : {"steps", "counts"}
        Passed to each :class:`CrossbarArray`.
    decay : bool
        Call :meth:`CrossbarArray.decay` once per ``apply`` (for devices with a ``lifetime``).
    """

    def __init__(self, weights, *, device="Idealized", seed: int = 0, bl: int = 31,
                 bl_management: bool = True, update_management: bool = True,
                 scheme: str = "pulses", dense_rounding: str = "nearest",
                 evaluation: str = "steps", decay: bool = True):
        self._bl = check_int("bl", bl, minimum=1)
        check_choice("scheme", scheme, SCHEMES)
        check_choice("dense_rounding", dense_rounding, ROUNDINGS)
        check_choice("evaluation", evaluation, EVALUATIONS)
        seed = check_int("seed", seed, minimum=0)
        self._scheme, self._rounding = scheme, dense_rounding
        self._bl_management, self._update_management = bool(bl_management), bool(update_management)
        self._decay = bool(decay)
        self.arrays, self._rngs = layer_arrays(weights, device=device, seed=seed,
                                               evaluation=evaluation)
        self._pulse_stats = [{"terms": 0, "skipped_terms": 0, "clipped_lines": 0,
                              "dense_updates": 0} for _ in self.arrays]

    @property
    def bl(self) -> int:
        return self._bl

    @property
    def scheme(self) -> str:
        return self._scheme

    def apply(self, layer: int, update, lr: float) -> None:
        """Change layer ``layer`` by ``-lr`` times ``update`` through its array's pulses."""
        arr = self.arrays[layer]
        check_float("lr", lr, low=0.0, low_open=True)
        st = self._pulse_stats[layer]
        rng = self._rngs[layer]
        if self._scheme == "pulses" and _has_factors(update):
            sigma = np.asarray(update.sigma, dtype=np.float64)
            xs = np.asarray(update.X, dtype=np.float64)
            ds = np.asarray(update.Delta, dtype=np.float64)
            if xs.shape != (arr.n_cols, sigma.size) or ds.shape != (arr.n_rows, sigma.size):
                raise ValueError(f"update.X.shape={xs.shape}, update.Delta.shape={ds.shape}, "
                                 f"update.sigma.shape={sigma.shape}: must be ({arr.n_cols}, k), "
                                 f"({arr.n_rows}, k), (k,) for layer {layer}'s {arr.shape} "
                                 f"array")
            for t in range(sigma.size):
                d = sigma[t] * ds[:, t]
                x = xs[:, t]
                d_amax, x_amax = float(np.abs(d).max()), float(np.abs(x).max())
                if d_amax == 0.0 or x_amax == 0.0 or not (np.isfinite(d_amax)
                                                           and np.isfinite(x_amax)):
                    st["skipped_terms"] += 1
                    continue
                plan = pulse_plan(x_amax, d_amax, lr, arr.dw_min, bl=self._bl,
                                  bl_management=self._bl_management,
                                  update_management=self._update_management)
                rows, cols, clipped = pulse_trains(d, x, plan, rng)
                arr.apply_pulses(rows, cols)
                st["terms"] += 1
                st["clipped_lines"] += clipped
        else:
            m = np.asarray(update.matrix(), dtype=np.float64)
            if m.shape != arr.shape:
                raise ValueError(f"update.matrix().shape={m.shape}: must be {arr.shape}, the "
                                 f"shape of layer {layer}'s array")
            arr.apply_counts(dense_counts(m, lr, arr.dw_min, rounding=self._rounding, rng=rng))
            st["dense_updates"] += 1
        if self._decay:
            arr.decay()

    def weights(self, layer: int) -> np.ndarray:
        """Layer ``layer``'s weights as the network reads them (a copy)."""
        return np.array(self.arrays[layer].weights)

    def stats(self) -> list[dict]:
        """Per layer: the array's :meth:`CrossbarArray.stats` plus the pulse generator's counts
        (``terms`` pulsed, ``skipped_terms`` with a zero factor, ``clipped_lines`` whose
        probability was clipped at 1, ``dense_updates`` written as counts)."""
        return [{**arr.stats(), **st} for arr, st in zip(self.arrays, self._pulse_stats)]
