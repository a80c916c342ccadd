"""``sbpca bench``: cycle counts, lane utilization and simulation speed of a design.

Cycle counts come from the cocotb bench (cycles between ``start`` and ``done``, identical on both
simulators), one per program and bank (``"update bank 0"``, ...); lane utilization is useful
multiplies over ``lanes x cycles``; simulated cycles per second is wall-clock and
machine-dependent, reported and never asserted. Writes ``bench.json`` and ``bench.md``.

Today: the row-pass engine (``row_pass``). The streaming-PCA unit joins with its top level.
"""

from __future__ import annotations

import json
from pathlib import Path

from .runner import run_cocotb

__all__ = ["run_bench", "bench_markdown"]

BENCHES = {"row_pass": "cosim.tb_row_pass"}


def run_bench(design: str, params: dict, out_dir, *, sims, passes: int = 3, progress=print):
    """Run ``design``'s cocotb bench on each simulator and summarize cycles and speed."""
    if design not in BENCHES:
        raise ValueError(f"design={design!r}: no bench yet; choose from {', '.join(BENCHES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
