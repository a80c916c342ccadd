"""Update schemes on the same crossbar device models, as the source papers compare them.

For each device preset (``--device``, a list) and each scheme of
:mod:`golden.device_baselines` (``--schemes``): SGD pulsed per sample (aihwkit), MBGD written
cell by cell, row by row (xbtorch, NeuroSim), the truncated SVD of rank ``k`` pulsed term by term,
the unit's float algorithm pulsed, and the unit's fixed-point model through the bit-exact driver
model (``sbpca train --backend fixed``). Every run starts from the same network and sample order
(one seed), on arrays of the same preset seeded alike, at one learning rate for all.

Measured per run: test accuracy and train loss at the end, epochs (and array update events) to
reach train loss ``TARGET_LOSS`` (None if never, at ``EVALS_PER_EPOCH`` evaluation points per
epoch), array update events, pulses, coincidences (device steps) and update time in slots, summed
over the layers (definitions in :mod:`golden.device_baselines`).

Defaults: digits, 64-32-10, batch 16, ``k`` 4, 10 epochs, lr 0.125 (a power of two, which the
driver represents), BL 31, presets :data:`DEFAULT_DEVICES`. ``--long``: the MNIST subset,
784-100-10, ``k`` 4, batch 64, 10 epochs (options given explicitly still win). Ctrl-C ends the
run in progress, keeps its points so far, and the report of what was done is written (the
command then exits with code 130).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..device_baselines import (SCHEME_LABELS, SCHEMES, build_scheme, check_devices,
                                check_schemes, train_scheme)
from ..check import check_int
from ..mlp import MLP
from ..train_backends import DEFAULT_LR
from .runner import Settings, fmt, markdown_table, spread

__all__ = ["NAME", "HELP", "DEFAULTS", "DEFAULT_DEVICES", "LONG", "DeviceSettings",
           "configure", "total_samples", "run", "table", "plot"]

NAME = "devices"
HELP = "update schemes (SGD, MBGD cell by cell, SVD, the unit) on the same crossbar devices"
DEFAULTS = {"epochs": 10, "seeds": 1, "batch": 16, "hidden": (32,)}
#: Presets run by default: the exact reference and four non-ideal devices of different kinds.
DEFAULT_DEVICES = ("ideal", "GokmenVlasov", "EcRam", "ReRamES", "PCMPair")
DEFAULT_DATA = "digits"
#: What ``--long`` sets (unless given): the issue's MNIST configuration.
LONG = {"data": "mnist", "hidden": (100,), "k": 4, "batch": 64, "epochs": 10}
TARGET_LOSS = 0.1
EVALS_PER_EPOCH = 2


@dataclass
class DeviceSettings(Settings):
    """:class:`~golden.experiments.runner.Settings` plus the devices experiment's own options.

    ``limit``: ``(n_train, n_test)`` kept of the data (tests and quick looks; None: all).
    """

    devices: tuple = DEFAULT_DEVICES
    schemes: tuple = SCHEMES
    k: int = 4
    bl: int = 31
    long: bool = False
    limit: tuple | None = None

    def __post_init__(self):
        self.devices = check_devices(self.devices)
        self.schemes = check_schemes(self.schemes)
        self.k = check_int("k", self.k, minimum=1, maximum=16)
        self.bl = check_int("bl", self.bl, minimum=1, maximum=1023)

    def dataset(self):
        if self._data is None:
            data = super().dataset()
            if self.limit is not None:
                data = data.limit(*self.limit)
            self._data = data
        return self._data

    def to_json(self) -> dict:
        return {**super().to_json(), "devices": list(self.devices), "schemes": list(self.schemes),
                "k": self.k, "bl": self.bl, "long": self.long,
                "limit": None if self.limit is None else list(self.limit),
                "target_loss": TARGET_LOSS, "evals_per_epoch": EVALS_PER_EPOCH}


def configure(settings: Settings, args) -> DeviceSettings:
    """The command line's settings with this experiment's options and defaults (digits unless
    ``--data`` or ``--long``; lr 0.125 unless ``--lr``; ``--long`` fills what was not given).
    ``ValueError`` naming the option for a bad value."""
    long = bool(getattr(args, "long", False))
    if long and settings.quick:
        raise ValueError("long=True: --long and --quick exclude each other")
    given = lambda name: getattr(args, name, None) is not None  # noqa: E731
    pick = lambda name, value: getattr(args, name) if given(name) else value  # noqa: E731
    kw = dict(name=settings.name, out=settings.out, seeds=settings.seeds, quick=settings.quick,
              data=pick("data", LONG["data"] if long else DEFAULT_DATA),
              epochs=settings.epochs if given("epochs") or not long else LONG["epochs"],
              batch=settings.batch if given("batch") or not long else LONG["batch"],
              hidden=settings.hidden if given("hidden") or not long else LONG["hidden"],
              lr=pick("lr", DEFAULT_LR),
              k=pick("k", LONG["k"] if long else 4), bl=pick("bl", 31), long=long)
    if given("device"):
        kw["devices"] = args.device
    if given("schemes"):
        kw["schemes"] = args.schemes
    return DeviceSettings(**kw)


def _as_device_settings(settings) -> DeviceSettings:
    if isinstance(settings, DeviceSettings):
        return settings
    return DeviceSettings(name=settings.name, out=settings.out, data=settings.data,
                          epochs=settings.epochs, seeds=settings.seeds, batch=settings.batch,
                          lr=settings.lr, hidden=settings.hidden, quick=settings.quick)


def _runs(s: DeviceSettings):
    return [(device, scheme, seed) for device in s.devices for scheme in s.schemes
            for seed in range(s.seeds)]


def total_samples(settings) -> int:
    s = _as_device_settings(settings)
    return len(_runs(s)) * s.epochs * len(s.dataset().y_train)


def _check_builds(s: DeviceSettings) -> None:
    """Build every (scheme, device) once before any training, so a value one of them cannot take
    (``k`` for a layer, the driver's ``lr``) fails at once, naming the parameter."""
    model = MLP(s.sizes(), seed=0)
    for device in s.devices:
        for scheme in s.schemes:
            build_scheme(scheme, model, device, k=s.k, batch=s.batch, lr=s.lr, bl=s.bl, seed=0)


def run(settings, progress) -> dict:
    s = _as_device_settings(settings)
    _check_builds(s)
    data = s.dataset()
    label = getattr(progress, "label", None)
    runs, interrupted = [], False
    for device, scheme, seed in _runs(s):
        if label is not None:
            progress.label = f"{label} {scheme} on {device}"
        try:
            r = train_scheme(scheme, device, data, s.sizes(), k=s.k, batch=s.batch, lr=s.lr,
                             bl=s.bl, epochs=s.epochs, seed=seed,
                             evals_per_epoch=EVALS_PER_EPOCH, target_loss=TARGET_LOSS,
                             progress=progress)
        except KeyboardInterrupt:      # between the loop's own points: nothing of this run
            interrupted = True
            break
        runs.append(r)
        if r["interrupted"]:
            interrupted = True
            break
    if label is not None:
        progress.label = label
    return {"sizes": s.sizes(), "rows": _rows(runs, s), "runs": runs,
            "interrupted": interrupted, "runs_planned": len(_runs(s)), "runs_done": len(runs)}


COUNTERS = ("update_events", "pulses", "coincidences", "slots", "driver_cycles")


def _rows(runs, s):
    """One row per (device, scheme) with runs: spreads over the seeds, counters' means;
    ``vs_sgd``: mean test accuracy minus that of SGD on the same device."""
    rows = []
    for device in s.devices:
        sgd = [r for r in runs if r["device"] == device and r["scheme"] == "sgd"]
        sgd_acc = spread(r["final"]["test_accuracy"] for r in sgd)["mean"]
        for scheme in s.schemes:
            rs = [r for r in runs if r["device"] == device and r["scheme"] == scheme]
            if not rs:
                continue
            reached = [r["epochs_to_target"] for r in rs if r["epochs_to_target"] is not None]
            acc = spread(r["final"]["test_accuracy"] for r in rs)
            rows.append({
                "device": device, "scheme": scheme, "label": SCHEME_LABELS[scheme],
                "seeds": len(rs), "epochs": max(r["final"]["epoch"] for r in rs),
                "interrupted": any(r["interrupted"] for r in rs),
                "test_accuracy": acc, "train_loss": spread(r["final"]["train_loss"] for r in rs),
                "vs_sgd": (None if sgd_acc is None or acc["mean"] is None
                                    else acc["mean"] - sgd_acc),
                "epochs_to_target": spread(reached), "reached_target": len(reached),
                "events_to_target": spread(r["events_to_target"] for r in rs
                                           if r["events_to_target"] is not None),
                **{c: spread(r["final"][c] for r in rs)["mean"] for c in COUNTERS}})
    return rows


def _int(v):
    return "-" if v is None else f"{v:,.0f}"


def table(doc) -> str:
    s, res = doc["settings"], doc["results"]
    sizes = "-".join(map(str, res["sizes"]))
    head = (f"Update schemes on the same devices ({doc['data']['name']}, {sizes}, batch "
            f"{s['batch']} (SGD: its samples one by one), k {s['k']}, {s['epochs']} epochs, "
            f"lr {s['lr']}, BL {s['bl']}, {s['seeds']} seed(s)). Counters summed over the "
            f"layers for the whole run: update events (pulsed terms; MBGD: row writes), pulses "
            f"(line pulses; MBGD: cell pulses), coincidences (device steps), update time in "
            f"slots (pulse-train slots; MBGD: row-by-row write slots). Epochs to train loss "
            f"{s['target_loss']}: first of {s['evals_per_epoch']} evaluation points per epoch, "
            f"'-' if never.\n")
    if res.get("interrupted"):
        head += (f"\n**Interrupted**: {res['runs_done']} of {res['runs_planned']} runs; the "
                 f"last one only up to the epoch shown.\n")
    rows = []
    for r in res["rows"]:
        ep = r["epochs_to_target"]
        to_target = "-" if ep["mean"] is None else (
            f"{ep['mean']:.1f}" + (f" ({r['reached_target']}/{r['seeds']} seeds)"
                                   if r["reached_target"] < r["seeds"] else ""))
        vs = r["vs_sgd"]
        rows.append([r["device"], r["label"] + (f" (to epoch {r['epochs']:g})"
                                                if r["interrupted"] else ""),
                     fmt(r["test_accuracy"]), "-" if r["scheme"] == "sgd" or vs is None
                     else f"{100 * vs:+.1f}", fmt(r["train_loss"]), to_target,
                     _int(r["update_events"]), _int(r["pulses"]), _int(r["coincidences"]),
                     _int(r["slots"])])
    return head + "\n" + markdown_table(
        ["device", "scheme", "test accuracy", "vs SGD (points)", "train loss",
         f"epochs to loss {s['target_loss']}", "update events", "pulses", "coincidences",
         "update slots"], rows)


def plot(doc):
    import matplotlib.pyplot as plt

    res = doc["results"]
    devices = list(dict.fromkeys(r["device"] for r in res["runs"])) or ["(none)"]
    fig, axes = plt.subplots(len(devices), 2, figsize=(11, 3.2 * len(devices)), squeeze=False)
    colors = {scheme: plt.cm.tab10(i) for i, scheme in enumerate(SCHEMES)}
    for (ax1, ax2), device in zip(axes, devices):
        for r in res["runs"]:
            if r["device"] != device or r["seed"] != 0:
                continue
            recs = r["records"]
            acc = [p["test_accuracy"] for p in recs]
            kw = dict(color=colors[r["scheme"]], label=SCHEME_LABELS[r["scheme"]], lw=1.3)
            ax1.plot([p["epoch"] for p in recs], acc, **kw)
            after = [p for p in recs if p["update_events"] > 0]   # a log axis has no 0
            ax2.plot([p["update_events"] for p in after], [p["test_accuracy"] for p in after],
                     **kw)
        ax1.set_ylabel(f"{device}\ntest accuracy")
        ax2.set_xscale("log")
        for ax in (ax1, ax2):
            ax.set_ylim(0.0, 1.0)
            ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("epoch")
    axes[-1][1].set_xlabel("array update events (all layers)")
    axes[0][1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Update schemes on the same devices, {doc['data']['name']}")
    fig.tight_layout()
    return fig
