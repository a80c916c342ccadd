"""Training backends of ``sbpca train``: which update engine and weight applier the loop uses.

A backend is a pair on the training seam (:mod:`golden.seam`) plus the counters the run reports::

  backend  update engine (per layer)                      weight applier (holds the weights)
  -------  ---------------------------------------------  ----------------------------------------
  float    RuleEngine: the golden float rule              DenseApplier: W -= lr * update.matrix()
           (default the unit's float variant,             or, with a device, CrossbarApplier:
           SBPCAUnitRule(mode="float"); any rule name)    float pulse trains into CrossbarArrays
  fixed    RuleEngine over SBPCAUnitRule(mode="fixed"):   DriverApplier: the unit's integer factor
           the unit's bit-exact fixed-point model         words -> CrossbarDriverModel (pulses)
                                                          -> CrossbarArray of the device preset
  rtl      the co-simulated unit (cosim/unit_engine.py)   not wired yet (issue 9)

The fixed path, per layer and batch::

  (x, delta) --> SBPCAUnitRule.begin: scale by 2**x_shift, 2**d_shift, round --> unit model
  unit model --> unit_factors: raw words sigma, X, D --> CrossbarDriverModel.drive (k terms)
  each term: (BL, n_out) row pulses, (BL, n_in) column pulses --> CrossbarArray.apply_pulses
  network <-- CrossbarArray.weights (the array is the source of truth)

The unit's ``sigma`` is in the scaled units of ``x * delta``, so the driver of a layer is built at
its first batch, once the rule has fixed its input scales, with the learning rate
``lr * 2**-(x_shift + d_shift)`` (the driver's documented convention): the same multiplier as
``lr``, a different shift. ``lr`` itself is checked against the driver's format when the backend
is built (``ValueError`` naming it), so a bad ``lr`` fails before any training.

Everything is seeded from one ``seed``: the network's initial weights, the sample order and the
rules (:func:`golden.mlp.make_rules`), layer ``l``'s array (``SeedSequence(seed,
spawn_key=(l, 0))``) and, for the fixed backend, its driver's LFSR lanes (``(l, 2)``).

:func:`run_training` runs a whole configuration and returns a JSON-ready document (per-epoch
accuracy and loss, array update events, pulses, coincidences, update time in slots, per-layer
array and driver statistics). A ``KeyboardInterrupt`` (Ctrl-C, or raised by the progress
callback) ends the run cleanly: the document then holds the epochs done and a last record at the
point of interruption, with ``interrupted`` set.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .check import check_choice, check_int
from .crossbar import PRESETS, CrossbarApplier, CrossbarArray, get_preset
from .driver import SCHEMES, CrossbarDriverModel, unit_factors
from .mlp import MLP, make_rules, train_async
from .seam import DenseApplier, RuleEngine, run_sync
from .sbpca_unit import SBPCAUnitRule

__all__ = ["BACKENDS", "DEFAULT_LR", "DEFAULT_RULE", "TrainConfig", "DriverApplier", "Backend",
           "build_backend", "parse_sizes", "load_data", "check_device", "run_training",
           "run_training_async", "resolve_sizes", "CheckFailed", "SIMS", "CHECK_AGAINST",
           "layer_driver", "driver_seed", "array_seed"]

BACKENDS = ("float", "fixed", "rtl")

#: Simulators of the rtl backend.
SIMS = ("verilator", "icarus")

#: What the rtl backend can check itself against, batch by batch.
CHECK_AGAINST = ("fixed",)

#: The default learning rate: a power of two, so the driver represents it (0.1 is not).
DEFAULT_LR = 0.125

#: The float backend's default rule: the unit's algorithm in real numbers.
DEFAULT_RULE = "unit"

#: The fixed backend's default device.
DEFAULT_FIXED_DEVICE = "ideal"


def check_device(device: str) -> str:
    """The canonical preset name of ``device`` (case-insensitive); ``ValueError`` naming it."""
    if isinstance(device, str):
        folded = {name.lower(): name for name in PRESETS}
        if device.lower() in folded:
            return folded[device.lower()]
    raise ValueError(f"device={device!r}: unknown preset; choose from {', '.join(PRESETS)}")


def parse_sizes(text) -> tuple[int, ...]:
    """``"64,100,10"`` -> ``(64, 100, 10)``; ``ValueError`` naming ``sizes`` otherwise."""
    try:
        sizes = tuple(int(s) for s in str(text).split(","))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes={text!r}: expected at least two positive layer widths "
                         f"separated by commas")
    return sizes


@dataclass
class TrainConfig:
    """One training run (the options of ``sbpca train``). ``sizes=None``: the data's inputs, 100
    hidden, its classes; ``device=None``: dense float updates (float) or ``"ideal"`` (fixed);
    ``limit``: train on the first ``limit`` training samples only (quick runs)."""

    backend: str = "float"
    data: str = "digits"
    sizes: tuple | None = None
    rule: str = DEFAULT_RULE
    k: int = 4
    batch: int = 64
    epochs: int = 3
    lr: float = DEFAULT_LR
    bl: int = 31
    scheme: str = "stochastic"
    device: str | None = None
    seed: int = 0
    limit: int | None = None
    sim: str = "verilator"
    check_against: str | None = None
    lanes: int = 8

    def check(self) -> "TrainConfig":
        """Validate the values that need no data; ``ValueError("name=value: ...")``."""
        check_choice("backend", self.backend, BACKENDS)
        check_choice("sim", self.sim, SIMS)
        if self.check_against is not None:
            check_choice("check_against", self.check_against, CHECK_AGAINST)
            if self.backend != "rtl":
                raise ValueError(f"check_against={self.check_against!r}: only with backend=rtl "
                                 f"(backend={self.backend!r})")
        check_int("lanes", self.lanes, minimum=1, maximum=64)
        check_int("k", self.k, minimum=1, maximum=16)
        check_int("batch", self.batch, minimum=1, maximum=1 << 16)
        check_int("epochs", self.epochs, minimum=1)
        check_int("bl", self.bl, minimum=1, maximum=1023)
        check_choice("scheme", self.scheme, SCHEMES)
        check_int("seed", self.seed, minimum=0, maximum=(1 << 32) - 1)
        if self.limit is not None:
            check_int("limit", self.limit, minimum=1)
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: must be a positive number")
        if self.device is not None:
            self.device = check_device(self.device)
        if self.backend in ("fixed", "rtl"):
            if self.rule != DEFAULT_RULE:
                raise ValueError(f"rule={self.rule!r}: the {self.backend} backend runs the "
                                 f"unit's fixed-point rule only (rule={DEFAULT_RULE!r})")
            if self.device is None:
                self.device = DEFAULT_FIXED_DEVICE
        elif self.device is not None and self.scheme != "stochastic":
            raise ValueError(f"scheme={self.scheme!r}: the float crossbar applier pulses "
                             f"stochastically only (the deterministic trains are the driver's: "
                             f"backend=fixed)")
        return self

    def to_json(self) -> dict:
        d = asdict(self)
        d["sizes"] = None if self.sizes is None else list(self.sizes)
        return d


def array_seed(seed: int, layer: int) -> np.random.SeedSequence:
    """The seed of layer ``layer``'s crossbar array (module docstring)."""
    return np.random.SeedSequence(seed, spawn_key=(layer, 0))


def driver_seed(seed: int, layer: int) -> int:
    """The LFSR seed of layer ``layer``'s driver (:func:`golden.driver.lfsr.lane_seeds` takes
    it): one 32-bit word of ``SeedSequence(seed, spawn_key=(layer, 2))``."""
    return int(np.random.SeedSequence(seed, spawn_key=(layer, 2)).generate_state(1)[0])


def layer_driver(n_in: int, n_out: int, *, dw_min: float, lr: float, formats, bl: int,
                 scheme: str, seed: int, layer: int) -> CrossbarDriverModel:
    """Layer ``layer``'s driver model as every backend builds it (the driver's defaults for
    ``p_bits``, ``gain_bits``, ``step_bits``, ``lr_bits``, ``group``, ``fire_cycles``), the
    RTL's network top included: ``lr`` is the driver's learning rate (for the unit's scaled
    inputs, ``lr * 2**-(x_shift + d_shift)``)."""
    return CrossbarDriverModel(n_in, n_out, dw_min=dw_min, lr=lr, formats=formats, bl=bl,
                               scheme=scheme, seed=driver_seed(seed, layer))


class CheckFailed(Exception):
    """A run checked against a reference stopped at the first difference: ``details`` (JSON-ready:
    layer, batch, what differs, where) and a one-line message."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


class DriverApplier:
    """Weight applier: each layer's update goes through the crossbar driver model into an array.

    ``apply(layer, update, lr)`` ignores ``update``'s real values: it reads the layer's unit
    state as integer words (:func:`golden.driver.unit_factors` of ``rules[layer].model``, the
    fixed-point model that just produced ``update``), drives every term through the layer's
    :class:`~golden.driver.CrossbarDriverModel` and applies each term's pulse trains to the
    layer's :class:`~golden.crossbar.CrossbarArray` (one update event per term, empty terms
    included: their slots run). ``weights(layer)`` reads the array.

    Parameters
    ----------
    weights : sequence of (n_out, n_in) arrays
        Initial weights, programmed into the arrays (clipped to the device's bounds).
    rules : sequence of SBPCAUnitRule
        The engine's fixed-point rules, one per layer.
    device : str
        Preset name (:data:`golden.crossbar.PRESETS`).
    lr : float
        The learning rate, representable by the driver (checked here, ``ValueError``).
    bl, scheme, seed
        Pulse train length, pulse scheme, root seed (module docstring).
    """

    def __init__(self, weights, rules, *, device: str, lr: float, bl: int = 31,
                 scheme: str = "stochastic", seed: int = 0):
        self._rules = list(rules)
        self._lr, self._bl, self._scheme, self._seed = lr, bl, scheme, seed
        self.arrays: list[CrossbarArray] = []
        for layer, (w, rule) in enumerate(zip(weights, self._rules)):
            if not isinstance(rule, SBPCAUnitRule) or rule.model.mode != "fixed":
                raise ValueError(f"rules[{layer}]: must be a fixed-point SBPCAUnitRule")
            arr = CrossbarArray(*np.shape(w), device=get_preset(device),
                                seed=array_seed(seed, layer))
            arr.set_weights(w)
            self.arrays.append(arr)
        # the driver's own checks of lr and bl, before any training (the layer's real driver
        # is built at its first batch, when the unit's input scales are known)
        for arr in self.arrays:
            CrossbarDriverModel(arr.n_cols, arr.n_rows, dw_min=arr.dw_min, lr=lr, bl=bl,
                                scheme=scheme)
        self.drivers: list[CrossbarDriverModel | None] = [None] * len(self.arrays)
        self.readout_saturations = [0] * len(self.arrays)
        self.last_drive = [None] * len(self.arrays)     # each layer's last BatchDrive

    @property
    def lr(self) -> float:
        """The learning rate the drivers were built for."""
        return self._lr

    def driver(self, layer: int) -> CrossbarDriverModel:
        """Layer ``layer``'s driver model (built at its first batch, when the unit's input
        scales are known: ``ValueError`` before)."""
        if self.drivers[layer] is None and self._rules[layer].x_shift is None:
            raise ValueError(f"layer {layer}: no batch yet, the input scales are not known")
        return self._driver(layer)

    def _driver(self, layer: int) -> CrossbarDriverModel:
        if self.drivers[layer] is None:
            rule, arr = self._rules[layer], self.arrays[layer]
            lr = self._lr * 2.0 ** -(rule.x_shift + rule.d_shift)
            self.drivers[layer] = layer_driver(
                arr.n_cols, arr.n_rows, dw_min=arr.dw_min, lr=lr, formats=rule.model.F,
                bl=self._bl, scheme=self._scheme, seed=self._seed, layer=layer)
        return self.drivers[layer]

    def apply(self, layer: int, update, lr: float) -> None:
        if lr != self._lr:
            raise ValueError(f"lr={lr!r}: the driver was built for lr={self._lr!r}")
        batch = self._driver(layer).drive(unit_factors(self._rules[layer].model))
        self.last_drive[layer] = batch
        self.readout_saturations[layer] += int(batch.readout_saturated)
        arr = self.arrays[layer]
        batch.apply(arr)
        arr.decay()

    def weights(self, layer: int) -> np.ndarray:
        return np.array(self.arrays[layer].weights)

    def driver_cycles(self) -> int:
        """The drivers' cycles so far, all layers (the model's cycle count)."""
        return sum(d.stats()["cycles"] for d in self.drivers if d is not None)

    def driver_stats(self, layer: int) -> dict:
        """The layer's driver counters (zeros before its first batch) and its lr split."""
        drv = self.drivers[layer]
        if drv is None:
            return {}
        return {**drv.stats(), **self._driver_facts(layer)}

    def _driver_facts(self, layer: int) -> dict:
        """Layer ``layer``'s driver constants (lr split, step constant, cycles per term) and
        its readout saturations (the driver must exist)."""
        drv = self.drivers[layer]
        return {"lr_mult": drv.lr_mult, "lr_shift": drv.lr_shift, "step": drv.step,
                "step_exp": drv.step_exp, "step_error": drv.step_error,
                "cycles_per_term": drv.cycles_per_term,
                "readout_saturations": self.readout_saturations[layer]}


@dataclass
class Backend:
    """A built backend: the seam's pair and the arrays (empty for dense float updates)."""

    name: str
    engine: object
    applier: object
    arrays: list = field(default_factory=list)

    def counters(self) -> dict:
        """Cumulative totals over the layers' arrays (and drivers): update events, pulses,
        coincidences, update time in slots, driver cycles (0 without arrays)."""
        out = {"update_events": 0, "pulses": 0, "coincidences": 0, "slots": 0,
               "driver_cycles": 0}
        for arr in self.arrays:
            st = arr.stats()
            out["update_events"] += st["update_events"]
            out["pulses"] += st["row_pulses"] + st["col_pulses"] + st["count_pulses"]
            out["coincidences"] += st["coincidences"] + st["count_pulses"]
            out["slots"] += st["slots"] + st["write_slots"]
        if isinstance(self.applier, DriverApplier):
            out["driver_cycles"] = self.applier.driver_cycles()
        return out

    def layer_stats(self) -> list[dict]:
        """Per layer: the array's counters, weight statistics, and the driver's counters."""
        out = []
        for layer, arr in enumerate(self.arrays):
            w = np.asarray(arr.weights)
            lo, hi = arr.bounds
            steps = arr.device_steps
            st = {**arr.stats(), "dw_min": arr.dw_min, "weight_mean": float(w.mean()),
                  "weight_std": float(w.std()), "weight_absmax": float(np.abs(w).max()),
                  "at_bound": int(np.count_nonzero((w <= lo) | (w >= hi))),
                  "devices_never_stepped": int(np.count_nonzero(steps == 0))}
            if isinstance(self.applier, DriverApplier):
                st["driver"] = self.applier.driver_stats(layer)
            elif isinstance(self.applier, CrossbarApplier):
                st.update(self.applier.stats()[layer])
            out.append(st)
        return out


def _rule_spec(cfg: TrainConfig, mode: str):
    """``(rule, rule_options)`` for :func:`golden.mlp.make_rules`."""
    if cfg.rule == DEFAULT_RULE:
        return SBPCAUnitRule, {"k": cfg.k, "mode": mode, "b_max": max(cfg.batch, 1)}
    from .rules import RULES, rule_options

    if cfg.rule not in RULES:
        raise ValueError(f"rule={cfg.rule!r}: unknown; choose from "
                         f"{', '.join([DEFAULT_RULE, *sorted(RULES)])}")
    rank = next((n for n in ("k", "rank", "d") if n in rule_options(cfg.rule)), None)
    return cfg.rule, ({} if rank is None else {rank: cfg.k})


def build_backend(model: MLP, cfg: TrainConfig) -> Backend:
    """The engine and applier of ``cfg.backend`` for ``model`` (its weights are the arrays'
    initial weights). ``ValueError`` naming the parameter for what the backend cannot build (a
    rank too large for a layer, an ``lr`` the driver cannot represent, ...)."""
    cfg.check()
    if cfg.backend == "rtl":
        raise ValueError("backend=rtl: built by cosim.rtl_backend inside the co-simulation "
                         "(cosim.rtl_train.run_rtl_training)")
    mode = "fixed" if cfg.backend == "fixed" else "float"
    rule, options = _rule_spec(cfg, mode)
    rules = make_rules(model, rule, rule_options=options, seed=cfg.seed)
    engine = RuleEngine(rules)
    if cfg.backend == "fixed":
        applier = DriverApplier(model.weights, rules, device=cfg.device, lr=cfg.lr, bl=cfg.bl,
                                scheme=cfg.scheme, seed=cfg.seed)
        return Backend("fixed", engine, applier, applier.arrays)
    if cfg.device is None:
        return Backend("float", engine, DenseApplier(model))
    applier = CrossbarApplier(model.weights, device=get_preset(cfg.device), seed=cfg.seed,
                              bl=cfg.bl)
    return Backend("float", engine, applier, applier.arrays)


def load_data(cfg: TrainConfig):
    """``cfg.data`` loaded (and cut to ``cfg.limit`` training samples); ``ValueError`` from the
    loader (a missing IDX file names its path)."""
    from .data import load_dataset

    data = load_dataset(cfg.data)
    return data if cfg.limit is None else data.limit(cfg.limit)


def resolve_sizes(cfg: TrainConfig, data) -> tuple:
    """``cfg.sizes``, or the default network of ``data``; ``ValueError`` if they do not fit."""
    sizes = tuple(int(s) for s in (cfg.sizes or (data.n_features, 100, data.n_classes)))
    if sizes[0] != data.n_features or sizes[-1] < data.n_classes:
        raise ValueError(f"sizes={','.join(map(str, sizes))}: data {data.name} has "
                         f"{data.n_features} features and {data.n_classes} classes")
    return sizes


def run_training(cfg: TrainConfig, *, progress: Callable[[int], None] | None = None,
                 data=None) -> dict:
    """Train ``cfg``'s network through its backend; return the results document.

    ``progress(n)`` is called after every batch with its sample count (it may raise
    ``KeyboardInterrupt`` to stop the run). ``data``: an already loaded
    :class:`golden.data.Dataset` (else ``cfg.data`` is loaded). ``ValueError`` (one line, naming
    the parameter) for a configuration the data or the backend cannot run. The rtl backend
    runs inside a co-simulation: :func:`run_training_async` with its backend factory.
    """
    return run_sync(run_training_async(cfg, progress=progress, data=data), "run_training")


async def run_training_async(cfg: TrainConfig, *, progress: Callable[[int], None] | None = None,
                             data=None, backend_factory=None) -> dict:
    """:func:`run_training` awaiting the engine and applier (:func:`golden.mlp.train_async`);
    ``backend_factory(model, cfg) -> Backend`` builds the backend (default
    :func:`build_backend`; the co-simulation passes the rtl backend's)."""
    cfg.check()
    data = load_data(cfg) if data is None else data
    cfg.sizes = sizes = resolve_sizes(cfg, data)
    model = MLP(sizes, seed=cfg.seed)
    backend = (backend_factory or build_backend)(model, cfg)
    n_train = len(data.y_train)
    records = []
    state = {"samples": 0, "matrix_updates": 0}

    def record(epoch):
        rec = {"epoch": epoch, "samples": state["samples"],
               "matrix_updates": state["matrix_updates"],
               "train_loss": _finite(model.loss(data.x_train, data.y_train)),
               "test_accuracy": model.accuracy(data.x_test, data.y_test),
               **backend.counters()}
        records.append(rec)

    def on_batch(step, xs, deltas, rules, updates):
        state["matrix_updates"] += sum(int(u.matrix_updates) for u in updates)

    def after_batch(n):
        state["samples"] += n
        if state["samples"] % n_train == 0 or state["samples"] == n_train * cfg.epochs:
            record(state["samples"] / n_train)
        if progress is not None:
            progress(n)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        record(0.0)
    t0 = time.monotonic()
    interrupted, hist, mismatch = False, None, None
    try:
        hist = await train_async(model, data, lr=cfg.lr, batch_size=cfg.batch,
                                 epochs=cfg.epochs, seed=cfg.seed, progress=after_batch,
                                 on_batch=on_batch, engine=backend.engine,
                                 applier=backend.applier)
    except (KeyboardInterrupt, CheckFailed) as exc:
        interrupted = True
        if isinstance(exc, CheckFailed):
            mismatch = {"message": str(exc), **exc.details}
        # the arrays hold the truth: a layer may have been updated after the last read-back
        for layer in range(len(model.weights)):
            model.weights[layer] = np.array(backend.applier.weights(layer), dtype=np.float64)
        if not records or records[-1]["samples"] != state["samples"]:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                record(state["samples"] / n_train)
    if not interrupted and records[-1]["samples"] != state["samples"]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            record(state["samples"] / n_train)     # a diverged run's last point
    elapsed = time.monotonic() - t0
    return {"config": cfg.to_json(), "data": {"name": data.name, "train": n_train,
                                              "test": len(data.y_test)},
            "records": records, "final": records[-1], "interrupted": interrupted,
            "mismatch": mismatch,
            "diverged": bool(hist.diverged) if hist is not None else False,
            "elapsed_s": elapsed,
            "samples_per_s": state["samples"] / elapsed if elapsed > 0 else None,
            "layers": backend.layer_stats(),
            "coincidence_histograms": [_histogram(arr.device_steps) for arr in backend.arrays]}


def _histogram(steps, bins: int = 30) -> dict:
    """Devices per number of steps taken (coincidences plus counted pulses): ``edges`` (
    ``bins + 1`` integers) and ``counts``; JSON-ready."""
    steps = np.asarray(steps).ravel()
    top = int(steps.max(initial=0))
    edges = np.unique(np.linspace(0, top + 1, bins + 1).round().astype(np.int64))
    if edges.size < 2:
        edges = np.array([0, 1])
    counts, _ = np.histogram(steps, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "mean": float(steps.mean()),
            "max": top}


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None
