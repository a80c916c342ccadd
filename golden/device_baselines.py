"""Update schemes on the same crossbar device models: SGD, MBGD cell by cell, SVD rank k, the unit.

The source papers compare the ways a batch's gradient can reach a crossbar; this module builds
each of them as a pair on the training seam (:mod:`golden.seam`) over the same
:class:`~golden.crossbar.CrossbarArray` devices, seeded alike, so only the scheme differs::

  scheme      update engine (per layer, per batch)      weight applier -> array, per layer
  ----------  ----------------------------------------  ----------------------------------------
  sgd         SGD rule: the B samples as B terms,       CrossbarApplier: each term pulsed with
              sigma_t = 1/B, x_t, delta_t               update management, one event per sample
  mbgd        MeanGradientEngine: dense G = mean_j      CellWriteApplier: n_ij = sround(lr |G_ij|
              delta_j x_j^T                             / dw_min) pulses per cell, row by row
  svd         SVD rule: top-k triplets of G             CrossbarApplier: k terms, k events
  unit-float  the unit's algorithm in float             CrossbarApplier: k terms, k events
  unit-fixed  the unit's fixed-point model              DriverApplier (golden.train_backends):
              (golden.train_backends, backend fixed)    integer factor words -> driver pulses

How each scheme handles a batch of ``B`` samples (every scheme sees the same ``(x_j, delta_j)``,
computed by one forward and backward pass over the batch at the weights of the batch start, and
every scheme's biases get the exact mean gradient, outside the array):

* **sgd** is aihwkit's analog SGD (``AnalogSGD`` on a pulsed tile): the tile's update loops over
  the samples of the batch in order and pulses each outer product as its own stochastic train,
  with its own update management (``BL``, ``A``, ``B`` of :func:`golden.crossbar.pulse_plan` from
  that sample's ``max|x|`` and ``max|d|``). PyTorch's mean loss gives each sample's error as
  ``delta_j / B``, which is the SGD rule's ``sigma_t = 1/B``: term ``t`` drives the rows with
  ``delta_t / B`` and the columns with ``x_t`` at the learning rate ``lr``, so in expectation the
  batch changes ``W`` by ``-lr * G``, as the other schemes do. The gradients of the later samples
  are not recomputed after the earlier samples' pulses (as in aihwkit: backward before update).
  Cost per layer and batch: ``B`` update events (fewer when a sample's ``x`` or ``delta`` is all
  zero: nothing to pulse), ``sum_t BL_t`` slots.
* **mbgd** is xbtorch's and NeuroSim's write: the dense batch gradient becomes a signed pulse
  count per cell, ``n_ij = -sign(G_ij) * sround(lr |G_ij| / dw_min)`` (xbtorch's
  ``stochastic_round(g / (w_max - w_min) * max_level)`` with ``dw_min = (w_max - w_min) /
  max_level`` and ``lr`` folded in; ``dw_min`` is the preset's nominal step), and the array is
  written row by row (the array's rows: the ``n_out`` output lines; NeuroSim's rows are its word
  lines). Cost per layer and batch: one update event per row with any pulse, write time per row
  its largest up count plus its largest down count (NeuroSim), coincidences = pulses =
  ``sum |n_ij|`` (each pulse is one cell's step).
* **svd** pulses the top-``k`` singular triplets of ``G`` (exact, from a dense SVD), one term
  each: ``k`` events, each ``BL_t <= bl`` slots.
* **unit-float** pulses the unit's rank-``k`` estimate in real numbers the same way;
  **unit-fixed** is ``sbpca train --backend fixed``: the golden fixed-point unit, the bit-exact
  driver model (division-free update management, LFSR trains, always ``bl`` slots per term) and
  the array: ``k`` events, ``k * bl`` slots.

Counters (:func:`scheme_counters`, summed over the layers): ``update_events`` (array update
operations: pulsed terms; for mbgd row writes), ``pulses`` (line pulses of the pulsed schemes;
cell pulses of mbgd), ``coincidences`` (device steps), ``slots`` (update time: pulse-train slots,
or mbgd's row-by-row write slots), ``driver_cycles`` (unit-fixed only).

Seeding, for every scheme: the network's initial weights ``MLP(seed)``, the sample order and
the rules :func:`golden.mlp.make_rules` ``(seed)``, layer ``l``'s array ``SeedSequence(seed,
spawn_key=(l, 0))`` and its pulse generator or rounding stream ``(l, 1)`` (the driver's LFSR
lanes ``(l, 2)``), as in :mod:`golden.train_backends`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .check import check_bool, check_choice, check_float, check_int
from .crossbar import CrossbarApplier, dense_counts, get_preset
from .crossbar.applier import ROUNDINGS, layer_arrays
from .mlp import MLP, make_rules, train
from .seam import RuleEngine
from .sbpca_unit import SBPCAUnitRule
from .train_backends import Backend, TrainConfig, build_backend, check_device

__all__ = ["SCHEMES", "SCHEME_LABELS", "DenseUpdate", "MeanGradientEngine", "CellWriteApplier",
           "build_scheme", "scheme_counters", "train_scheme", "check_schemes", "check_devices"]

#: Scheme name -> what it is (table label).
SCHEME_LABELS = {
    "sgd": "SGD (pulsed per sample)",
    "mbgd": "MBGD (cell by cell)",
    "svd": "SVD rank k (pulsed)",
    "unit-float": "unit, float (pulsed)",
    "unit-fixed": "unit, fixed point -> driver",
}
SCHEMES = tuple(SCHEME_LABELS)


def check_schemes(schemes) -> tuple[str, ...]:
    """``schemes`` (a sequence or ``"a,b"``) as a tuple of known names; ``ValueError`` naming
    ``schemes`` otherwise."""
    items = schemes.split(",") if isinstance(schemes, str) else list(schemes)
    items = [s.strip() for s in items]
    items = [s for s in items if s]
    if not items:
        raise ValueError(f"schemes={schemes!r}: must name at least one of {', '.join(SCHEMES)}")
    bad = [s for s in items if s not in SCHEMES]
    if bad:
        raise ValueError(f"schemes={','.join(items)!r}: unknown scheme {bad[0]!r}; choose from "
                         f"{', '.join(SCHEMES)}")
    return tuple(dict.fromkeys(items))


def check_devices(devices) -> tuple[str, ...]:
    """``devices`` (a sequence or ``"a,b"``) as canonical preset names; ``ValueError`` naming
    ``device`` for an unknown one."""
    items = devices.split(",") if isinstance(devices, str) else list(devices)
    items = [d.strip() for d in items if d.strip()]
    if not items:
        raise ValueError(f"device={devices!r}: must name at least one preset")
    return tuple(dict.fromkeys(check_device(d) for d in items))


@dataclass
class DenseUpdate:
    """A dense batch update ``G`` (``(n_out, n_in)``) with no factors: appliers write it cell by
    cell. ``matrix_updates`` is the row writes it costs (``n_out``, the trainer's count)."""

    G: np.ndarray
    matrix_updates: int

    def matrix(self) -> np.ndarray:
        return self.G


class MeanGradientEngine:
    """Update engine: layer ``l``'s update is the exact mean gradient ``deltas.T @ xs / B``
    (what the MBGD rule returns, without its factorization)."""

    def update(self, layer: int, xs: np.ndarray, deltas: np.ndarray) -> DenseUpdate:
        xs = np.asarray(xs, dtype=np.float64)
        deltas = np.asarray(deltas, dtype=np.float64)
        if xs.ndim != 2 or deltas.ndim != 2 or xs.shape[0] != deltas.shape[0] or not len(xs):
            raise ValueError(f"xs.shape={xs.shape}, deltas.shape={deltas.shape}: must be "
                             f"(B, n_in) and (B, n_out) with B >= 1")
        return DenseUpdate(deltas.T @ xs / xs.shape[0], matrix_updates=deltas.shape[1])


class CellWriteApplier:
    """Weight applier that writes each dense update cell by cell, row by row (xbtorch, NeuroSim).

    ``apply(layer, update, lr)``: ``n = dense_counts(update.matrix(), lr, dw_min)`` (signed
    pulses per cell, :func:`golden.crossbar.dense_counts`) into the layer's array with
    :meth:`~golden.crossbar.CrossbarArray.apply_counts`; every row with a pulse is one row write
    (an update event, :attr:`row_writes`). The array applies all rows in one call: each cell's
    pulses all go one way, so its path is the same as in a row-at-a-time write; only the order
    of the cycle-to-cycle draws differs. Its ``write_slots`` are the row-by-row write time.

    Parameters
    ----------
    weights : sequence of (n_out, n_in) arrays
        Initial weights, programmed into the arrays (clipped to the device's bounds).
    device : str or device model
        Preset name or model, the same for every layer.
    seed : int
        Layer ``l``'s array ``SeedSequence(seed, spawn_key=(l, 0))``, its rounding stream
        ``(l, 1)``.
    rounding : {"stochastic", "nearest"}
        Rounding of the counts (xbtorch: stochastic).
    decay : bool
        One :meth:`CrossbarArray.decay` per ``apply`` (devices with a lifetime), as the pulsed
        appliers do.
    """

    def __init__(self, weights, *, device="ideal", seed: int = 0, rounding: str = "stochastic",
                 decay: bool = True):
        self._rounding = check_choice("rounding", rounding, ROUNDINGS)
        seed = check_int("seed", seed, minimum=0)
        self._decay = check_bool("decay", decay)
        self.arrays, self._rngs = layer_arrays(weights, device=device, seed=seed)
        self.row_writes = [0] * len(self.arrays)
        self.dense_updates = [0] * len(self.arrays)

    def apply(self, layer: int, update, lr: float) -> None:
        check_float("lr", lr, low=0.0, low_open=True)
        arr = self.arrays[layer]
        m = np.asarray(update.matrix(), dtype=np.float64)
        if m.shape != arr.shape:
            raise ValueError(f"update.matrix().shape={m.shape}: must be {arr.shape}, the shape "
                             f"of layer {layer}'s array")
        counts = dense_counts(m, lr, arr.dw_min, rounding=self._rounding, rng=self._rngs[layer])
        arr.apply_counts(counts)
        self.row_writes[layer] += int(np.count_nonzero(np.any(counts != 0, axis=1)))
        self.dense_updates[layer] += 1
        if self._decay:
            arr.decay()

    def weights(self, layer: int) -> np.ndarray:
        return np.array(self.arrays[layer].weights)

    def stats(self) -> list[dict]:
        """Per layer: the array's counters plus ``row_writes`` and ``dense_updates``."""
        return [{**arr.stats(), "row_writes": rw, "dense_updates": du}
                for arr, rw, du in zip(self.arrays, self.row_writes, self.dense_updates)]


def build_scheme(scheme: str, model: MLP, device: str, *, k: int = 4, batch: int = 64,
                 lr: float = 0.125, bl: int = 31, seed: int = 0,
                 bl_management: bool = True) -> Backend:
    """The engine, applier and arrays of ``scheme`` for ``model`` on ``device``.

    ``model``'s weights are the arrays' initial weights. ``bl_management`` is the float pulsed
    appliers' (sgd, svd, unit-float; aihwkit's default on); the driver of unit-fixed always runs
    ``bl`` slots. ``ValueError`` naming the parameter for what cannot be built (unknown scheme or
    preset, ``k`` out of range for a layer, an ``lr`` the driver cannot represent, ...).
    """
    check_choice("scheme", scheme, SCHEMES)
    device = check_device(device)
    k = check_int("k", k, minimum=1, maximum=16)
    batch = check_int("batch", batch, minimum=1)
    bl = check_int("bl", bl, minimum=1, maximum=1023)
    seed = check_int("seed", seed, minimum=0, maximum=(1 << 32) - 1)
    check_float("lr", lr, low=0.0, low_open=True)
    if scheme == "unit-fixed":
        cfg = TrainConfig(backend="fixed", k=k, batch=batch, lr=lr, bl=bl, device=device,
                          seed=seed, sizes=model.sizes)
        return build_backend(model, cfg)
    if scheme == "mbgd":
        applier = CellWriteApplier(model.weights, device=get_preset(device), seed=seed)
        return Backend(scheme, MeanGradientEngine(), applier, applier.arrays)
    rule, options = {"sgd": ("sgd", {}), "svd": ("svd", {"k": k}),
                     "unit-float": (SBPCAUnitRule, {"k": k, "mode": "float", "b_max": batch})
                     }[scheme]
    rules = make_rules(model, rule, rule_options=options, seed=seed)
    applier = CrossbarApplier(model.weights, device=get_preset(device), seed=seed, bl=bl,
                              bl_management=bl_management)
    return Backend(scheme, RuleEngine(rules), applier, applier.arrays)


def scheme_counters(backend: Backend) -> dict:
    """Cumulative totals over the layers (module docstring): ``update_events``, ``pulses``,
    ``coincidences``, ``slots``, ``driver_cycles``; for a cell-by-cell writer the update events
    are its row writes."""
    out = backend.counters()
    if isinstance(backend.applier, CellWriteApplier):
        out["update_events"] = int(sum(backend.applier.row_writes))
    return out


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def train_scheme(scheme: str, device: str, data, sizes, *, k: int = 4, batch: int = 64,
                 lr: float = 0.125, bl: int = 31, epochs: int = 3, seed: int = 0,
                 evals_per_epoch: int = 2, target_loss: float = 0.1,
                 bl_management: bool = True,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Train a fresh ``MLP(sizes, seed=seed)`` on ``data`` with ``scheme`` on ``device``.

    Returns a JSON-ready dict: ``records`` (one per evaluation point, ``evals_per_epoch`` per
    epoch plus one before training: ``epoch``, ``samples``, ``train_loss``, ``test_accuracy``
    and the :func:`scheme_counters`), ``final``, ``epochs_to_target`` and
    ``events_to_target`` (first evaluation point with train loss at or below ``target_loss``;
    None if never), ``diverged``, ``interrupted`` (Ctrl-C, or ``KeyboardInterrupt`` raised by
    ``progress``: the run ends there with a last record), ``elapsed_s``, ``layers`` (per-layer
    array statistics). ``progress(n)`` is called after every batch with its sample count.
    """
    evals_per_epoch = check_int("evals_per_epoch", evals_per_epoch, minimum=1)
    epochs = check_int("epochs", epochs, minimum=1)
    model = MLP(sizes, seed=seed)
    backend = build_scheme(scheme, model, device, k=k, batch=batch, lr=lr, bl=bl, seed=seed,
                           bl_management=bl_management)
    n_train = len(data.y_train)
    n_batches = -(-n_train // batch)
    eval_after = {round(n_batches * (i + 1) / evals_per_epoch) for i in range(evals_per_epoch)}
    records: list[dict] = []
    state = {"batches": 0, "samples": 0}

    def record():
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss = _finite(model.loss(data.x_train, data.y_train))
            acc = model.accuracy(data.x_test, data.y_test)
        epoch, bi = divmod(state["batches"], n_batches)
        records.append({"epoch": epoch + bi / n_batches, "samples": state["samples"],
                        "train_loss": loss, "test_accuracy": acc, **scheme_counters(backend)})

    def after_batch(n):
        state["batches"] += 1
        state["samples"] += n
        if (state["batches"] - 1) % n_batches + 1 in eval_after:
            record()
        if progress is not None:
            progress(n)

    record()
    t0 = time.monotonic()
    interrupted, hist = False, None
    try:
        hist = train(model, data, lr=lr, batch_size=batch, epochs=epochs, seed=seed,
                     progress=after_batch, engine=backend.engine, applier=backend.applier)
    except KeyboardInterrupt:
        interrupted = True
        for layer in range(len(model.weights)):  # the arrays hold the truth
            model.weights[layer] = np.array(backend.applier.weights(layer), dtype=np.float64)
    if records[-1]["samples"] != state["samples"]:
        record()                                  # an interrupted or diverged run's last point
    elapsed = time.monotonic() - t0
    hit = next((r for r in records if r["train_loss"] is not None
                and r["train_loss"] <= target_loss), None)
    layers = backend.layer_stats()
    if isinstance(backend.applier, CellWriteApplier):
        for st, extra in zip(layers, backend.applier.stats()):
            st.update(row_writes=extra["row_writes"], dense_updates=extra["dense_updates"])
    return {"scheme": scheme, "device": device, "seed": seed, "records": records,
            "final": records[-1], "target_loss": target_loss,
            "epochs_to_target": None if hit is None else hit["epoch"],
            "events_to_target": None if hit is None else hit["update_events"],
            "diverged": bool(hist.diverged) if hist is not None else False,
            "interrupted": interrupted, "elapsed_s": elapsed, "layers": layers}
