"""Shared machinery of the experiments: settings, progress bar, training runs and the report files.

An experiment module defines ``NAME``, ``HELP``, ``DEFAULTS`` (its default ``epochs``,
``seeds``, ``batch``, ``hidden`` as a dict) and four functions::

    total_samples(settings) -> int       # samples it will train on (upper bound), for the ETA
    run(settings, progress) -> dict      # measure; returns the JSON-ready "results" part
    table(doc) -> str                    # Markdown table of the whole report
    plot(doc) -> matplotlib Figure       # saved as NAME.png

:func:`run_experiment` wraps them: it loads the data, runs, and writes ``results.json``,
``table.md`` and ``NAME.png`` into the output folder. The JSON document is::

    {"experiment": NAME, "settings": {...}, "data": {...}, "elapsed_s": t, "results": {...}}

Non-finite numbers (a diverged run) are written as ``null``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import Dataset, load_dataset
from ..mlp import MLP, train

__all__ = ["Settings", "Progress", "run_experiment", "train_run", "spread", "rank_option",
           "cost_summary", "sbe_configs"]

#: Data used by ``--quick`` unless ``--data`` is given, and how much of it.
QUICK_DATA = "digits"
QUICK_TRAIN, QUICK_TEST = 1000, 300


@dataclass
class Settings:
    """Resolved settings of one experiment run (command-line values or the experiment defaults).

    ``hidden`` is the tuple of hidden-layer widths (``(100,)`` for 784-100-10); ``data`` a
    :func:`golden.data.load_dataset` spec. ``quick`` trims the data to ``QUICK_TRAIN`` training
    samples and lets the experiment drop configurations.
    """

    name: str
    out: Path
    data: str = "mnist"
    epochs: int = 10
    seeds: int = 1
    batch: int | None = 64  # None: the experiment sweeps its own batch sizes
    lr: float = 0.1
    hidden: tuple = (100,)
    quick: bool = False
    _data: Dataset | None = field(default=None, init=False, repr=False, compare=False)

    def dataset(self) -> Dataset:
        """The data set, trimmed when ``quick`` (loaded once, then kept)."""
        if self._data is None:
            d = load_dataset(self.data)
            self._data = d.limit(QUICK_TRAIN, QUICK_TEST) if self.quick else d
        return self._data

    def sizes(self, hidden=None) -> list[int]:
        """Layer widths of the network: input features, ``hidden`` (or the setting), classes."""
        d = self.dataset()
        return [d.n_features, *(self.hidden if hidden is None else hidden), d.n_classes]

    def to_json(self) -> dict:
        return {"name": self.name, "out": str(self.out), "data": self.data,
                "epochs": self.epochs, "seeds": self.seeds, "batch": self.batch, "lr": self.lr,
                "hidden": list(self.hidden), "quick": self.quick}


class Progress:
    """A one-line progress report on stderr: done/total, rate and ETA.

    On a terminal the line is redrawn at most every 0.2 s; otherwise (a log, a test) a line is
    printed at most every 10 s and once at the end. ``total`` may be an upper bound (runs that
    stop early); :meth:`close` prints the final count.
    """

    def __init__(self, label: str, total: float, unit: str = "samples", stream=None):
        self.label, self.total, self.unit = label, max(float(total), 1.0), unit
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.done = 0.0
        self.start = self.last = time.monotonic()

    def __call__(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= (0.2 if self.tty else 10.0):
            self.last = now
            self._write(now, end="\r" if self.tty else "\n")

    def _write(self, now, end):
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "--:--" if not math.isfinite(left) else _clock(max(left, 0.0))
        pct = 100.0 * min(self.done / self.total, 1.0)
        self.stream.write(f"{self.label}: {pct:5.1f}% {self.done:,.0f}/{self.total:,.0f} "
                          f"{self.unit} {rate:,.0f}/s elapsed {_clock(elapsed)} ETA {eta}   "
                          + end)
        self.stream.flush()

    def close(self) -> None:
        self._write(time.monotonic(), end="\n")


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


# -- training helpers ----------------------------------------------------------------------------

def rank_option(rule: str) -> str | None:
    """The name of ``rule``'s rank option (``k``, ``rank``, or ``d`` random directions), or None."""
    from ..rules import rule_options

    opts = rule_options(rule)
    return next((n for n in ("k", "rank", "d") if n in opts), None)


def sbe_configs() -> list[tuple[str, dict]]:
    """``(label, options)`` of the ``sbe`` rule, once per warm-start reading it offers.

    The SBE paper's "X^{i+1,1} = X^{i,n}" can be read with or without normalizing the carried
    vectors; the rule offers both (``warm_start``), and they train very differently, so the
    experiments show both.
    """
    from ..rules import RULES, rule_options

    modes = getattr(RULES["sbe"], "WARM_STARTS", ())
    if not modes or "warm_start" not in rule_options("sbe"):
        return [("SBE", {})]
    return [(f"SBE ({m})", {"warm_start": m}) for m in modes]


def train_run(settings: Settings, rule, options: dict, *, seed: int, progress=None,
              batch: int | None = None, epochs: int | None = None, hidden=None,
              activation: str = "relu", **kwargs) -> dict:
    """Train a fresh network (init seed ``seed``) with one rule and return a JSON-ready summary.

    ``rule`` is a registry name or a factory (see :func:`golden.mlp.train`); ``options`` its
    keyword options. Returns ``{"records", "final", "diverged", "stopped", "costs", "seed",
    "batch", "epochs"}``; ``kwargs`` go to :func:`golden.mlp.train` (``evals_per_epoch``,
    ``stop_loss``, ``on_batch``).
    """
    batch = settings.batch if batch is None else batch
    epochs = settings.epochs if epochs is None else epochs
    model = MLP(settings.sizes(hidden), activation=activation, seed=seed)
    hist = train(model, settings.dataset(), rule, rule_options=options, lr=settings.lr,
                 batch_size=batch, epochs=epochs, seed=seed, progress=progress, **kwargs)
    costs = [cost_summary(c, batch) for c in hist.costs]
    return {"seed": seed, "batch": batch, "epochs": epochs, "records": hist.records,
            "final": hist.final, "diverged": hist.diverged, "stopped": hist.stopped,
            "costs": costs, "model": model}


def samples_for(settings: Settings, configs) -> int:
    """Training samples of running every config of ``configs`` for every seed and epoch."""
    return len(configs) * settings.seeds * settings.epochs * len(settings.dataset().y_train)


def cost_summary(cost: dict, batch: int) -> dict:
    """Add ``macs_per_sample_total`` (block and batch work spread over the samples) to a cost."""
    if not cost:
        return {}
    blocks = cost.get("notes", {}).get("blocks_per_batch", 1 if cost["macs_per_block"] else 0)
    total = cost["macs_per_sample"] + (cost["macs_per_block"] * blocks
                                       + cost["macs_per_batch"]) / batch
    return cost | {"macs_per_sample_total": total, "dense_words": cost["n_in"] * cost["n_out"]}


def spread(values) -> dict:
    """Mean, sample standard deviation, min, max and count of the finite ``values``."""
    vals = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if vals.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    std = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
    return {"mean": float(vals.mean()), "std": std, "min": float(vals.min()),
            "max": float(vals.max()), "n": int(vals.size)}


def fmt(s: dict, digits: int = 3) -> str:
    """``mean ± std`` of a :func:`spread` dict for tables (``n/a`` when empty)."""
    if not s or s.get("mean") is None:
        return "n/a"
    if s["n"] > 1:
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
    return f"{s['mean']:.{digits}f}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table (values already formatted as strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# -- report files --------------------------------------------------------------------------------

def jsonable(obj):
    """Convert NumPy scalars and arrays to Python, non-finite floats to None; drop models."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items() if not isinstance(v, MLP)}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def run_experiment(module, settings: Settings) -> dict:
    """Run one experiment module and write ``results.json``, ``table.md`` and ``NAME.png``.

    Returns the JSON document (as written).
    """
    start = time.monotonic()
    data = settings.dataset()
    progress = Progress(module.NAME, module.total_samples(settings))
    results = module.run(settings, progress)
    progress.close()
    doc = jsonable({"experiment": module.NAME, "settings": settings.to_json(),
                    "data": data.summary(), "elapsed_s": time.monotonic() - start,
                    "results": results})
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "table.md").write_text(module.table(doc))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = module.plot(doc)
    fig.savefig(out / f"{module.NAME}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return doc
