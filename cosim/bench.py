"""``sbpca bench``: cycle counts, lane utilization and simulation speed of a design.

Cycle counts come from the cocotb bench (cycles between ``start`` and ``done``, identical on both
simulators), one per program and bank (``"update bank 0"``, ...); lane utilization is useful
multiplies over ``lanes x cycles``; simulated cycles per second is wall-clock and
machine-dependent, reported and never asserted. Writes ``bench.json`` and ``bench.md``.

Benches: the row-pass engine (``row_pass``: cycles per pass) and the streaming-PCA unit
(``unit``: batches through ``cosim.tb_unit``; cycles per sample in steady state, measured as the
cycle difference of two stall-free batches, cycles per batch, lane utilization = useful multiplies
per sample over ``lanes x cycles per sample``, memory words, simulated samples per second).
"""

from __future__ import annotations

import json
from pathlib import Path

from .runner import run_cocotb

__all__ = ["run_bench", "bench_markdown"]

BENCHES = {"row_pass": "cosim.tb_row_pass", "unit": "cosim.tb_unit"}


def run_bench(design: str, params: dict, out_dir, *, sims, passes: int = 3, batches=None,
              stream: str | None = None, native: bool = True, progress=print):
    """Run ``design``'s cocotb bench on each simulator and summarize cycles and speed.

    ``passes`` is the row-pass bench's number of UPDATE passes; ``batches`` (comma-separated
    sizes; default :func:`default_unit_batches`), ``stream`` (default: the MNIST gradient stream
    where the layer shape fits, else random) and ``native`` (also build and run the native
    Verilator harness, the speed ceiling, when Verilator is among ``sims``) are the unit
    bench's.
    """
    if design not in BENCHES:
        raise ValueError(f"design={design!r}: no bench yet; choose from {', '.join(BENCHES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if design == "unit":
        return _run_unit_bench(params, out, sims=sims, batches=batches, stream=stream,
                               progress=progress, native=native)
    doc = {"design": design, "parameters": params, "passes": passes, "simulators": {}}
    for sim in sims:
        progress(f"[bench] {design} on {sim} ...")
        res = run_cocotb(design, params, BENCHES[design], sim=sim, build_dir=out / sim,
                         extra_env={"SBPCA_ROW_PASSES": str(passes)})
        runs = res["summary"]["passes"]
        cycles = sum(r["cycles"] for r in runs)
        seconds = res["seconds"]["simulate"]
        doc["simulators"][sim] = {
            "cycles_per_pass": {_label(r): r["cycles"] for r in runs},
            "lane_utilization": {_label(r): r["utilization"] for r in runs},
            "useful_macs_per_pass": {_label(r): r["useful_macs"] for r in runs},
            "simulated_cycles": cycles,
            "programs": res["summary"]["passes"],
            "build_seconds": res["seconds"]["build"],
            "simulate_seconds": seconds,
            "simulated_cycles_per_second": cycles / seconds if seconds > 0 else None,
            "note": "simulate_seconds includes host-stream loading and readout cycles",
        }
    (out / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "bench.md").write_text(bench_markdown(doc))
    return doc


def _label(run) -> str:
    return f"{run['program']} bank {run['bank']}"


def bench_markdown(doc) -> str:
    lines = [f"Bench of `{doc['design']}` {json.dumps(doc['parameters'], sort_keys=True)}, "
             f"{doc['passes']} update passes per simulator.", "",
             "| simulator | pass | rows | cycles | lane utilization |", "|---|---|---|---|---|"]
    for sim, r in doc["simulators"].items():
        for run in r["programs"]:
            lines.append(f"| {sim} | {_label(run)} | {run['rows']:,} | {run['cycles']:,} | "
                         f"{100 * run['utilization']:.1f}% |")
    lines += ["", "| simulator | build s | simulate s | pass cycles simulated per s |",
              "|---|---|---|---|"]
    for sim, r in doc["simulators"].items():
        rate = r["simulated_cycles_per_second"]
        lines.append(f"| {sim} | {r['build_seconds']:.1f} | {r['simulate_seconds']:.1f} | "
                     f"{'n/a' if rate is None else f'{rate:,.0f}'} |")
    return "\n".join(lines) + "\n\nWall-clock figures depend on the machine and its load.\n"


# -- the unit ----------------------------------------------------------------------------------

def _unit_stream(params, stream):
    from .unit_cases import STREAMS, gradient_layer
    if stream is not None:
        if stream not in STREAMS:
            raise ValueError(f"stream={stream!r}: must be one of {', '.join(STREAMS)}")
        return stream
    try:
        gradient_layer(784, 10, params["n_in"], params["n_out"])
        return "mnist"
    except ValueError:
        return "random"


def _run_unit_bench(params, out, *, sims, batches, stream, progress, native=True, seed=1):
    from hdl.designs import get_design, unused
    from .unit_cases import parse_batches

    unit, full = get_design("unit").build(**params)
    unused(unit)
    if unit.b_max < 2:
        raise ValueError(f"b_max={unit.b_max}: the bench measures the steady state as the "
                         f"difference of batches of 1 and 2 samples; needs b_max >= 2")
    given = None if batches is None else parse_batches(batches, unit.b_max)
    stream = _unit_stream(full, stream)
    lanes, cps = unit.lanes, unit.cycles_per_sample
    mem = unit.memory_words()
    doc = {"design": "unit", "parameters": full, "stream": stream, "seed": seed, "idle": 0.0,
           "batches": {sim: given or default_unit_batches(sim, unit.b_max) for sim in sims},
           "predicted": {"cycles_per_sample": cps,
                         "useful_macs_per_sample": unit.useful_macs_per_sample,
                         "lane_utilization": unit.useful_macs_per_sample / (lanes * cps)},
           "memory_words": mem, "simulators": {}}
    for sim in sims:
        sizes = doc["batches"][sim]
        progress(f"[bench] unit on {sim}: {len(sizes)} batch(es) of {stream} samples "
                 f"({sum(sizes)} samples) ...")
        res = run_cocotb("unit", full, "cosim.tb_unit", sim=sim, build_dir=out / sim, seed=seed,
                         extra_env={"SBPCA_UNIT_STREAM": stream, "SBPCA_UNIT_IDLE": "0",
                                    "SBPCA_UNIT_BATCHES": ",".join(map(str, sizes))},
                         testcase="batches_match_golden")
        st, runs = res["summary"]["steady"], res["summary"]["batches"]
        secs = res["summary"]["seconds"]
        per = st["cycles_per_sample"]
        first = st["first_sample_cycles"]
        timed = runs[:len(sizes)]
        doc["simulators"][sim] = {
            "cycles_per_sample": per,
            "first_sample_cycles": first,
            "cycles_per_batch": [{"B": r["B"], "cycles": r["cycles"], "idle": r["idle"]}
                                 for r in runs],
            "cycles_per_batch_of_b_max": first + (unit.b_max - 1) * per,
            "lane_utilization": st["lane_utilization"],
            "samples": st["samples"],
            "seconds": {"build": res["seconds"]["build"], "stream": round(secs["stream"], 3),
                        "batches": round(secs["batches"], 3),
                        "run": res["seconds"]["simulate"]},
            **_rates(sum(r["B"] for r in timed), sum(r["cycles"] for r in timed),
                     secs["batches"]),
            "note": "rates: the batches of the bench (no idle cycles) from the batch beat to "
                    "done, wall time; build, stream generation, state load, readouts and the "
                    "golden model's checks timed apart",
        }
        progress(f"[bench] unit on {sim}: "
                 f"{doc['simulators'][sim]['samples_per_second']:,.1f} samples/s")
    if native and "verilator" in sims:
        sizes = doc["batches"]["verilator"]
        doc["native"] = _native_bench(unit, full, out / "native", stream, sizes, seed, progress)
        nat = doc["native"]["samples_per_second"]
        for sim, r in doc["simulators"].items():
            r["of_native"] = r["samples_per_second"] / nat if nat else None
        if "verilator" in doc["simulators"]:
            want = [r["cycles"] for r in doc["simulators"]["verilator"]["cycles_per_batch"]
                    [:len(sizes)]]
            if doc["native"]["cycles"] != want:
                raise RuntimeError(f"native harness cycles {doc['native']['cycles']} differ "
                                   f"from the cocotb run's {want}")
    doc["golden_samples_per_second"] = _golden_rate(unit)
    (out / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "bench.md").write_text(unit_bench_markdown(doc))
    return doc


def default_unit_batches(sim: str, b_max: int) -> list:
    """The unit bench's batches when none are given: three of ``b_max`` on Verilator; one of
    ``min(b_max, 8)`` on Icarus, which simulates the unit at a few hundred cycles per second
    whatever drives it (a batch of 64 on the MNIST hidden layer would take about 13 minutes)."""
    return [b_max] * 3 if sim == "verilator" else [min(b_max, 8)]


def _rates(samples, cycles, seconds) -> dict:
    return {"samples_per_second": samples / seconds if seconds > 0 else None,
            "cycles_per_second": cycles / seconds if seconds > 0 else None}


def _native_bench(unit, params, out, stream, sizes, seed, progress) -> dict:
    """Build and run the native Verilator harness on the bench's batches; compare its final
    state with the golden model word for word."""
    from hdl.generate import generate
    from .native import build_native, run_native
    from .unit_cases import bench_case, load_start
    from .unit_host import compare_state

    progress("[bench] unit, native Verilator harness (C++ main, no cocotb): build ...")
    doc = generate("unit", out, **params)
    exe, build_seconds = build_native(doc["verilog"], doc["top"], out)
    batches, _, start = bench_case(unit, stream, sizes, seed)
    model = unit.model
    load_start(model, stream, start)
    res = run_native(exe, unit, model, batches, out)
    for xs, ds in batches:
        model.batch(xs, ds)
    compare_state(unit, model, res["readout"], "native harness")
    progress(f"[bench] unit, native: bit-exact; "
             f"{res['samples'] / res['seconds']:,.1f} samples/s")
    return {"cycles": res["cycles"], "samples": res["samples"],
            "seconds": {"build": round(build_seconds, 2), "batches": round(res["seconds"], 4)},
            "bit_exact": True, **_rates(res["samples"], sum(res["cycles"]), res["seconds"])}


def _golden_rate(unit, seconds=2.0) -> float:
    """Samples per second of the golden fixed-point model of ``unit`` (random samples, batches
    of ``b_max``, at least ``seconds`` of wall time)."""
    import time

    import numpy as np

    from .unit_cases import make_stream, start_state

    rng = np.random.default_rng(0)
    model = unit.model
    model.load(*start_state(unit.n_in, unit.n_out, unit.k, rng))
    xs, ds = make_stream("random", unit.formats, unit.n_in, unit.n_out, [unit.b_max], rng)[0]
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.batch(xs, ds)
        done += len(xs)
    return done / (time.perf_counter() - t0)


def unit_bench_markdown(doc) -> str:
    p, mem, pred = doc["parameters"], doc["memory_words"], doc["predicted"]
    lines = [f"Bench of `unit` ({p['n_in']}, {p['n_out']}), k={p['k']}, {p['lanes']} lanes, "
             f"{p['words']} words/beat, {p['width']}/{p['scalar_width']}-bit, "
             f"{p['schedule']} schedule, ns_steps={p['ns_steps']}, b_max={p['b_max']}; "
             f"{doc['stream']} stream, without idle cycles, seed {doc['seed']}; batches "
             + "; ".join(f"{sim} {','.join(map(str, b))}" for sim, b in doc["batches"].items())
             + " (+ 1 and 2 samples for the steady state).", "",
             "| simulator | cycles / sample | first sample | batch of b_max | "
             "lane utilization |", "|---|---|---|---|---|"]
    for sim, r in doc["simulators"].items():
        lines.append(f"| {sim} | {r['cycles_per_sample']:,.0f} | {r['first_sample_cycles']:,} | "
                     f"{r['cycles_per_batch_of_b_max']:,.0f} | "
                     f"{100 * r['lane_utilization']:.1f}% |")
    lines += ["", "Simulation speed, steady state (the bench's batches only; every run compared "
              "with the golden model word for word):", "",
              "| run | samples / s | cycles / s | of native | build s | stream s | "
              "batches s |", "|---|---|---|---|---|---|---|"]
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)
    for sim, r in doc["simulators"].items():
        s = r["seconds"]
        lines.append(f"| cocotb + {sim} | {fmt(r['samples_per_second'], ',.1f')} | "
                     f"{fmt(r['cycles_per_second'], ',.0f')} | "
                     f"{fmt(r.get('of_native'), '.2f')} | {s['build']:.1f} | "
                     f"{s['stream']:.1f} | {s['batches']:.2f} |")
    nat = doc.get("native")
    if nat:
        lines.append(f"| native Verilator (C++ main) | {fmt(nat['samples_per_second'], ',.1f')} | "
                     f"{fmt(nat['cycles_per_second'], ',.0f')} | 1.00 | "
                     f"{nat['seconds']['build']:.1f} | - | {nat['seconds']['batches']:.2f} |")
    golden = doc["golden_samples_per_second"]
    lines += ["", f"Predicted by `SBPCAUnit.cycles_per_sample`: {pred['cycles_per_sample']:,} "
              f"cycles, {pred['useful_macs_per_sample']:,} useful multiplies per sample "
              f"({100 * pred['lane_utilization']:.1f}%). Memory: {mem['state']:,} state + "
              f"{mem['buffers']:,} buffer words = {mem['total']:,} "
              f"({100 * mem['fraction']:.1f}% of n_in x n_out = {mem['dense']:,}). "
              f"Golden fixed-point model: {golden:,.0f} samples / s.", "",
              "The batch of b_max is first sample + (b_max - 1) x cycles per sample (input "
              "streaming overlaps processing after the first sample). "
              "Wall-clock figures depend on the machine and its load.", ""]
    return "\n".join(lines)
