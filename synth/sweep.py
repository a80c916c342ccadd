"""Synthesis sweep of the unit (``sbpca synth unit --sweep``): one :func:`run_synth` per point.

The grid: every layer (``n_in x n_out``), rank ``k``, lane count (``words = lanes``) and word
width (``scalar_width = min(max(width + 2, 11), 30)``) on every target; the unit's other
parameters come from ``base``. A point the unit cannot build (``lanes > n_out``, a width whose
k x k formats do not exist, ...) is recorded as skipped with the constructor's one-line reason.

What is kept (``out_dir``)::

    sweep.json          every point: parameters, target, status, resources, fits, placed,
                        Fmax, pnr status, seconds, tool versions, its folder
    sweep.md, *.png     tables and plots of sweep.json (synth.sweep_report)
    points/<slug>/      one point's run_synth folder: top.v, logs, report.json

``sweep.json`` is rewritten (atomically) after every point, so an interrupted sweep (Ctrl-C)
keeps every point finished before it, and the next call resumes: a point already recorded with
the same identity (parameters, target, frequency, seed, place-and-route mode) is reused, not
run again, unless ``force``. A point whose synthesis fails is recorded as ``failed: ...`` and
the sweep goes on. Place and route runs only for points whose counts fit the device
(``pnr="if_fits"``), as ``run_synth`` decides.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

from amaranth.hdl import UnusedElaboratable

from golden.sbpca_unit import MIN_SCALAR_WIDTH

from .flow import PNR_MODES, SynthError, over_capacity, run_synth, tool_versions
from .targets import TARGETS, get_target

__all__ = ["DEFAULT_LAYERS", "DEFAULT_RANKS", "DEFAULT_LANES", "DEFAULT_WIDTHS",
           "DEFAULT_TARGETS", "parse_ints", "parse_layers", "parse_targets", "scalar_width",
           "sweep_points", "point_identity", "load_points", "run_sweep"]

DEFAULT_LAYERS = ((784, 100), (100, 10))       # the MNIST MLP's layers
DEFAULT_RANKS = (1, 2, 4)
DEFAULT_LANES = (1, 2, 4, 8)
DEFAULT_WIDTHS = (8, 12, 16)
DEFAULT_TARGETS = tuple(TARGETS)

#: Word widths the unit accepts (``hdl.designs``: 4..30).
WIDTH_RANGE = (4, 30)


def scalar_width(width: int) -> int:
    """The k x k word width swept with ``width``: two bits wider, at least
    :data:`golden.sbpca_unit.MIN_SCALAR_WIDTH` (11) and at most 30."""
    return min(max(width + 2, MIN_SCALAR_WIDTH), 30)


def _split(option: str, text: str) -> list:
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"{option}={text!r}: must be a comma-separated list (e.g. 1,2,4)")
    return parts


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))


def parse_ints(option: str, text: str, minimum: int = 1, maximum: int | None = None) -> tuple:
    """``"1,2,4"`` -> ``(1, 2, 4)`` (duplicates dropped); ``ValueError`` naming ``option`` and
    the value for anything but integers in ``[minimum, maximum]``."""
    out = []
    for part in _split(option, text):
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"{option}={text!r}: {part!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
            raise ValueError(f"{option}={text!r}: {value} must be {bound}")
        out.append(value)
    return _unique(out)


def parse_layers(option: str, text: str) -> tuple:
    """``"784x100,100x10"`` -> ``((784, 100), (100, 10))``; ``ValueError`` naming ``option``."""
    out = []
    for part in _split(option, text):
        sides = part.lower().split("x")
        try:
            n_in, n_out = (int(s) for s in sides)
        except ValueError:
            raise ValueError(f"{option}={text!r}: {part!r} is not N_INxN_OUT "
                             f"(e.g. 784x100)") from None
        if n_in < 1 or n_out < 1:
            raise ValueError(f"{option}={text!r}: {part!r} needs positive sizes")
        out.append((n_in, n_out))
    return _unique(out)


def parse_targets(option: str, text: str) -> tuple:
    """``"ice40-up5k,xilinx7"`` -> a tuple of target names; ``ValueError`` naming ``option``."""
    out = _split(option, text)
    for name in out:
        if name not in TARGETS:
            raise ValueError(f"{option}={text!r}: {name!r} is not a target; choose from "
                             f"{', '.join(TARGETS)}")
    return _unique(out)


def sweep_points(layers, ranks, lanes, widths, targets, base: dict | None = None) -> list:
    """Every point of the grid, in order (layer, rank, lanes, width, target): dicts with
    ``layer`` (``"784x100"``), ``target`` and ``parameters`` (``base`` with the swept ones)."""
    points = []
    for n_in, n_out in layers:
        for k in ranks:
            for L in lanes:
                for w in widths:
                    params = dict(base or {})
                    params.update(n_in=n_in, n_out=n_out, k=k, lanes=L, words=L, width=w,
                                  scalar_width=scalar_width(w))
                    for target in targets:
                        points.append({"layer": f"{n_in}x{n_out}", "target": target,
                                       "parameters": params})
    return points


def point_identity(point: dict, *, freq_mhz, seed, pnr) -> str:
    """The string two runs of the same point share (parameters, target, frequency, seed,
    place-and-route mode): what a resumed sweep matches."""
    freq = freq_mhz if freq_mhz is not None else get_target(point["target"]).default_freq_mhz
    return json.dumps({"design": "unit", "parameters": point["parameters"],
                       "target": point["target"], "freq_mhz": float(freq), "seed": seed,
                       "pnr": pnr}, sort_keys=True)


def _label(point: dict) -> str:
    p = point["parameters"]
    return (f"unit {point['layer']} k={p['k']} lanes={p['lanes']} width={p['width']} "
            f"on {point['target']}")


def _slug(point: dict, identity: str) -> str:
    p = point["parameters"]
    digest = hashlib.sha1(identity.encode()).hexdigest()[:6]
    return (f"{point['layer']}-k{p['k']}-l{p['lanes']}-w{p['width']}-{point['target']}-"
            f"{digest}")


def load_points(path) -> list:
    """The points recorded in ``sweep.json`` (empty if there is none yet)."""
    path = Path(path)
    if not path.exists():
        return []
    return json.loads(path.read_text())["points"]


def _save(path: Path, points: list):
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"design": "unit", "points": points}, indent=2) + "\n")
    os.replace(tmp, path)


def _summary(rec: dict) -> str:
    if not rec["status"].startswith("ok"):
        return rec["status"]
    r = rec["resources"]
    text = f"ok: logic {r.get('logic', 0)}, ff {r.get('ff', 0)}, dsp {r.get('dsp', 0)}, " \
           f"bram {r.get('bram', 0)}"
    if rec["fmax_mhz"] is not None:
        text += f", Fmax {rec['fmax_mhz']:.1f} MHz"
    if rec["placed"] is not None:
        text += ", placed" if rec["placed"] else f", not placed ({rec['pnr_status']})"
    elif rec["fits"] is False:
        text += ", does not fit"
    return text


def _run_point(point: dict, identity: str, folder: Path, *, freq_mhz, seed, pnr,
               progress) -> dict:
    rec = {**point, "identity": identity, "dir": str(folder), "status": None,
           "resources": None, "capacity": get_target(point["target"]).capacity, "fits": None,
           "over_capacity": None, "placed": None, "fmax_mhz": None, "timing_met": None,
           "pnr_status": None, "pnr_utilization": None, "seconds": None,
           "tools": tool_versions()}
    t0 = time.monotonic()
    report = None
    with warnings.catch_warnings():
        # a unit whose constructor raised is half-built, never elaborated: no warning for it
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            report = run_synth("unit", point["parameters"], point["target"], folder,
                               freq_mhz=freq_mhz, seed=seed, pnr=pnr,
                               progress=lambda msg: progress("    " + msg))
        except (TypeError, ValueError) as exc:
            rec["status"] = f"skipped: {exc}"
        except SynthError as exc:
            rec["status"] = f"failed: {exc}"
        except Exception as exc:              # recorded, and the sweep goes on
            rec["status"] = f"failed: {type(exc).__name__}: {exc}"
        gc.collect()
    if report is not None:
        over = over_capacity(report["resources"], report["capacity"])
        placed = None
        if get_target(point["target"]).nextpnr and not report["pnr_status"].startswith("not run"):
            placed = report["pnr_status"] == "ok"
        rec.update(status="ok", parameters=report["parameters"],
                   resources={k: v for k, v in report["resources"].items() if k != "other"},
                   fits=not over, over_capacity=over, placed=placed,
                   fmax_mhz=report["fmax_mhz"], timing_met=report["timing_met"],
                   pnr_status=report["pnr_status"], pnr_utilization=report["pnr_utilization"],
                   freq_constraint_mhz=report["freq_constraint_mhz"], seconds=report["seconds"],
                   tools=report["tools"])
    rec["seconds_total"] = round(time.monotonic() - t0, 1)
    return rec


def run_sweep(points: list, out_dir, *, freq_mhz=None, seed: int = 1, pnr: str = "if_fits",
              force: bool = False, progress=print, report=None) -> list:
    """Run (or reuse) every point of ``points`` (:func:`sweep_points`) into ``out_dir``.

    Writes ``sweep.json`` after every point, and ``report(records, out_dir)`` (the tables and
    plots, :func:`synth.sweep_report.write_report` by default) at the end, also when
    interrupted (``KeyboardInterrupt`` is re-raised after). Returns the records of ``points``
    in order. ``pnr`` is one of ``synth.flow.PNR_MODES``.
    """
    if pnr not in PNR_MODES:
        raise ValueError(f"pnr={pnr!r}: must be one of {', '.join(PNR_MODES)}")
    if report is None:
        from .sweep_report import write_report as report
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.json"
    recorded = load_points(path)
    by_identity = {rec["identity"]: i for i, rec in enumerate(recorded)}
    results, ran, t_ran = [], 0, 0.0
    n = len(points)
    try:
        for i, point in enumerate(points, 1):
            identity = point_identity(point, freq_mhz=freq_mhz, seed=seed, pnr=pnr)
            head = f"[sweep {i}/{n}] {_label(point)}"
            if identity in by_identity and not force:
                rec = recorded[by_identity[identity]]
                progress(f"{head}: reused ({_summary(rec)})")
                results.append(rec)
                continue
            eta = ""
            if ran:
                left = (n - i + 1) * t_ran / ran
                eta = f" (ETA at most {left / 60:.0f} min)"
            progress(f"{head} ...{eta}")
            folder = out / "points" / _slug(point, identity)
            rec = _run_point(point, identity, folder, freq_mhz=freq_mhz, seed=seed, pnr=pnr,
                             progress=progress)
            if not rec["status"].startswith("skipped"):
                ran += 1
                t_ran += rec["seconds_total"]
            progress(f"{head}: {_summary(rec)} ({rec['seconds_total']:.0f} s)")
            if identity in by_identity:
                recorded[by_identity[identity]] = rec
            else:
                by_identity[identity] = len(recorded)
                recorded.append(rec)
            _save(path, recorded)
            results.append(rec)
    finally:
        report(recorded, out)
    return results
