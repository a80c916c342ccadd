"""The performance report of ``sbpca report``: what the unit (and the crossbar driver behind it)
would sustain on an FPGA, per layer configuration, from the cycle models the simulators are
tested against and, where given, the Fmax a synthesis run measured.

Per configuration (a :class:`Layer`: the unit's parameters, the rest at ``sbpca generate unit``'s
defaults) and batch size ``B``::

    cycles / sample     SBPCAUnit.cycles_per_sample (steady state; the cocotb bench measures it)
    MAC bound           ceil(useful_macs_per_sample / lanes): every lane busy every cycle
    lane utilization    useful_macs_per_sample / (lanes * cycles_per_sample)
    memory words        SBPCAUnit.memory_words()["total"], against n_in * n_out (mini-batch GD)
    unit batch          B * cycles_per_sample
    driver batch        CrossbarDriverModel(n_in, n_out, ...).cycles_per_batch(k)
    batch cycles        unit batch + driver batch (serial: no overlap is assumed, the unit +
                        driver top does not exist yet)
    per MHz             samples/s = 1e6 B / batch cycles; rank-1 crossbar updates/s
                        (k outer products per batch) = 1e6 k / batch cycles
    at Fmax             those times Fmax in MHz, only for an Fmax read from a synthesis report

The unit batch leaves out the first sample's input transfer (the next samples stream in while a
sample is computed; ``sbpca bench unit`` measures the first sample: 113 extra cycles on the
hidden layer). An Fmax is never estimated: a configuration without a matching synthesis report
(or whose report has none, e.g. Xilinx 7-series: synthesis only) is marked "not measured".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layer", "MNIST_LAYERS", "DRIVER_DEFAULTS", "DEFAULT_BATCH", "parse_layer",
           "layer_figures", "read_fmax", "build_report", "markdown", "write_report",
           "write_json_and_table"]

#: Driver parameters of the report (group = latch lanes G; the cycle model depends on bl, group
#: and fire_cycles only; dw_min and lr are what the model is constructed with).
DRIVER_DEFAULTS = {"dw_min": 0.001, "lr": 0.125, "bl": 31, "group": 8, "fire_cycles": 1}

#: The MNIST MLP's training batch (and the unit's default ``b_max``).
DEFAULT_BATCH = 64


@dataclass(frozen=True)
class Layer:
    """A unit configuration: layer shape, rank, lanes, words per beat (``words`` 0: = lanes)."""

    name: str
    n_in: int
    n_out: int
    k: int
    lanes: int
    words: int = 0

    def params(self) -> dict:
        """The unit's full generation parameters (``sbpca generate unit``'s defaults for the rest),
        as ``report.json`` of ``sbpca synth unit`` records them."""
        from hdl.designs import get_design

        params = get_design("unit").defaults()
        params.update(n_in=self.n_in, n_out=self.n_out, k=self.k, lanes=self.lanes,
                      words=self.words or self.lanes)
        return params

    def label(self) -> str:
        words = self.words or self.lanes
        return (f"{self.name} ({self.n_in}, {self.n_out}), k={self.k}, {self.lanes} "
                f"lane{'s' * (self.lanes != 1)}, {words} word{'s' * (words != 1)}").lstrip()


MNIST_LAYERS = (Layer("MNIST hidden layer", 784, 100, 4, 8, 8),
                Layer("MNIST output layer", 100, 10, 4, 4, 4))


def parse_layer(text: str) -> Layer:
    """``N_IN,N_OUT,K,LANES[,WORDS]`` -> :class:`Layer` (values are checked by the unit).

    Raises ``ValueError`` naming the text when it is not 4 or 5 comma-separated integers.
    """
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 5):
        raise ValueError(f"layer={text!r}: expected N_IN,N_OUT,K,LANES[,WORDS] (integers)")
    return Layer("", *values)


def layer_figures(layer: Layer, *, batch: int = DEFAULT_BATCH, driver=None) -> dict:
    """The cycle, utilization and memory figures of ``layer`` (see the module docstring).

    Raises ``TypeError``/``ValueError`` naming the parameter for an invalid configuration,
    ``batch`` outside ``[1, b_max]`` or invalid driver parameters.
    """
    from golden.check import check_int
    from golden.driver import CrossbarDriverModel
    from hdl.designs import get_design, unused

    driver = {**DRIVER_DEFAULTS, **(driver or {})}
    unit, params = get_design("unit").build(**layer.params())
    unused(unit)
    batch = check_int("batch", batch, 1, params["b_max"])
    drv = CrossbarDriverModel(layer.n_in, layer.n_out, formats=unit.formats, **driver)
    cps, macs, L = unit.cycles_per_sample, unit.useful_macs_per_sample, unit.lanes
    memory = unit.memory_words()
    unit_batch = batch * cps
    driver_batch = drv.cycles_per_batch(layer.k)
    cycles = unit_batch + driver_batch
    return {
        "name": layer.name, "label": layer.label(), "parameters": params,
        "cycles_per_sample": cps, "useful_macs_per_sample": macs,
        "mac_bound": -(-macs // L), "lane_utilization": macs / (L * cps),
        "memory_words": memory["total"], "memory": memory, "dense_words": memory["dense"],
        "batch": batch, "unit_batch_cycles": unit_batch, "driver_batch_cycles": driver_batch,
        "driver_cycles_per_term": drv.cycles_per_term, "batch_cycles": cycles,
        "samples_per_s_per_mhz": 1e6 * batch / cycles,
        "updates_per_s_per_mhz": 1e6 * layer.k / cycles,
        "unit_samples_per_s_per_mhz": 1e6 / cps,
    }


def read_fmax(path) -> dict:
    """The Fmax of an ``sbpca synth`` output folder (its ``report.json``) or of that file.

    Returns ``{"design", "parameters", "target", "device", "fmax_mhz" (None: not measured),
    "status", "source"}``. Raises ``ValueError`` naming ``path`` when there is no readable report.
    """
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    try:
        doc = json.loads(file.read_text())
        fields = {key: doc[key] for key in ("design", "parameters", "target", "fmax_mhz")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        detail = type(exc).__name__ if isinstance(exc, KeyError) else str(exc).split("\n")[0]
        raise ValueError(f"synth={str(path)!r}: no readable sbpca synth report.json "
                         f"({detail})") from None
    fmax = fields["fmax_mhz"]
    if fmax is not None and not (isinstance(fmax, (int, float)) and math.isfinite(fmax)
                                 and fmax > 0):
        raise ValueError(f"synth={str(path)!r}: fmax_mhz={fmax!r} is not a frequency")
    status = doc.get("pnr_status", "")
    kind = doc.get("fmax_kind", "routed")
    measured = "measured" if kind == "routed" else f"measured: {kind}"
    return {**fields, "device": doc.get("device"), "source": str(file),
            "status": measured if fmax is not None else f"not measured ({status})"}


def _at(figures: dict, fmax: dict) -> dict:
    f = fmax["fmax_mhz"]
    out = {k: fmax[k] for k in ("target", "device", "fmax_mhz", "status", "source")}
    if f is None:
        return {**out, "samples_per_s": None, "updates_per_s": None, "unit_samples_per_s": None}
    return {**out, "samples_per_s": f * figures["samples_per_s_per_mhz"],
            "updates_per_s": f * figures["updates_per_s_per_mhz"],
            "unit_samples_per_s": f * figures["unit_samples_per_s_per_mhz"]}


def build_report(layers=MNIST_LAYERS, *, batch: int = DEFAULT_BATCH, driver=None,
                 synth=()) -> dict:
    """The report document: each layer's :func:`layer_figures` with an ``fmax`` list, one entry
    per synthesis report (``synth``: folders or files for :func:`read_fmax`) of the ``unit``
    with exactly that layer's parameters; empty when none was given.

    Raises ``ValueError`` for a synthesis report of another design or of parameters that match
    none of ``layers`` (an Fmax only holds for the design it was measured on).
    """
    figures = [layer_figures(layer, batch=batch, driver=driver) for layer in layers]
    for f in figures:
        f["fmax"] = []
    for path in synth:
        fmax = read_fmax(path)
        if fmax["design"] != "unit":
            raise ValueError(f"synth={str(path)!r}: a report of design {fmax['design']!r}; "
                             f"the unit's Fmax needs one of 'sbpca synth unit'")
        matches = [f for f in figures if f["parameters"] == fmax["parameters"]]
        if not matches:
            p = fmax["parameters"]
            shape = ", ".join(f"{k}={p.get(k)}" for k in ("n_in", "n_out", "k", "lanes", "words"))
            raise ValueError(f"synth={str(path)!r}: the unit it synthesized ({shape}, ...) is "
                             f"none of the configurations reported")
        for f in matches:
            f["fmax"].append(_at(f, fmax))
    return {"batch": batch, "driver": {**DRIVER_DEFAULTS, **(driver or {})}, "layers": figures}


def _n(value, digits=0) -> str:
    return f"{value:,.{digits}f}"


def markdown(report: dict) -> str:
    """The report as a Markdown table (one row per configuration and Fmax source) and notes."""
    head = ["configuration", "cycles / sample", "MAC bound (useful MACs / L)",
            "lane utilization", "memory words (of n_in x n_out)",
            f"batch of {report['batch']}: unit + driver cycles", "samples / s per MHz",
            "crossbar updates / s per MHz", "Fmax MHz", "samples / s", "crossbar updates / s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in report["layers"]:
        base = [f["label"], _n(f["cycles_per_sample"]), _n(f["mac_bound"]),
                f"{100 * f['lane_utilization']:.1f}%",
                f"{_n(f['memory_words'])} of {_n(f['dense_words'])} "
                f"({100 * f['memory_words'] / f['dense_words']:.1f}%)",
                f"{_n(f['unit_batch_cycles'])} + {_n(f['driver_batch_cycles'])}",
                _n(f["samples_per_s_per_mhz"], 1), _n(f["updates_per_s_per_mhz"], 1)]
        for at in f["fmax"] or [None]:
            if at is None:
                tail = ["not measured", "-", "-"]
            elif at["fmax_mhz"] is None:
                tail = [f"{at['status']} ({at['target']})", "-", "-"]
            else:
                est = "" if at["status"] == "measured" else ", after placement, not routed"
                tail = [f"{at['fmax_mhz']:.1f} ({at['target']}{est})", _n(at["samples_per_s"]),
                        _n(at["updates_per_s"])]
            lines.append("| " + " | ".join(base + tail) + " |")
    d = report["driver"]
    notes = (f"\nCycle models: `SBPCAUnit.cycles_per_sample` (steady state) and "
             f"`CrossbarDriverModel.cycles_per_batch(k)` (BL = {d['bl']}, G = {d['group']} "
             f"latch lanes, fire_cycles = {d['fire_cycles']}, dw_min = {d['dw_min']:g}, "
             f"lr = {d['lr']:g}), run one after the other. A crossbar update is one rank-1 "
             f"outer product (k per batch). Fmax comes only from an `sbpca synth unit` "
             f"report of the same parameters (`--synth DIR`).\n")
    return "\n".join(lines) + "\n" + notes


def write_json_and_table(doc: dict, table: str, out_dir, stem: str) -> tuple:
    """Write ``STEM.json`` (``doc``) and ``STEM.md`` (``table``) into ``out_dir``; return their
    paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    j, m = out / f"{stem}.json", out / f"{stem}.md"
    j.write_text(json.dumps(doc, indent=2) + "\n")
    m.write_text(table)
    return j, m


def write_report(report: dict, out_dir) -> tuple:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
    return write_json_and_table(report, markdown(report), out_dir, "report")
