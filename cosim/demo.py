"""``sbpca demo``: the project's main job, end to end on what exists today.

1. generate the MAC lane's Verilog;
2. co-simulate it on Icarus Verilog and Verilator against the golden model (bit-exact, with
   random idle cycles and backpressure), reporting beats, cycles and simulated beats per second;
3. synthesize it for iCE40 UP5K and ECP5-25F (resources, Fmax).

Training a network through the simulated hardware joins the demo with the streaming-PCA unit.
Results go to ``build/demo/demo.json`` and ``build/demo/demo.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["run_demo"]

DEMO_PARAMS = dict(a_width=16, b_width=16, acc_width=32, overflow="saturate")


def run_demo(out_dir="build/demo", *, sims=None, targets=("ice40-up5k", "ecp5-25k"),
             beats: int = 10_000, progress=print) -> dict:
    from hdl.generate import generate
    from synth.flow import run_synth, write_markdown
    from .runner import run_cocotb
    from .toolchain import selected_simulators

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sims = sims or selected_simulators()
    doc = {"design": "mac_lane", "parameters": DEMO_PARAMS, "cosim": {}, "synth": {}}

    progress("[1/3] generate: MAC lane, 16x16 -> 32-bit saturating accumulator")
    gen = generate("mac_lane", out / "mac_lane", **DEMO_PARAMS)
    progress(f"      wrote {gen['verilog']}")

    progress(f"[2/3] co-simulate against the golden model ({beats} random pairs, idle and "
             f"backpressure 30%)")
    for sim in sims:
        t0 = time.monotonic()
        res = run_cocotb("mac_lane", DEMO_PARAMS, "cosim.tb_mac_lane", sim=sim,
                         build_dir=out / f"cosim-{sim}",
                         extra_env={"SBPCA_MAC_BEATS": str(beats)})
        seconds = time.monotonic() - t0
        rnd = res["summary"]["random"]
        doc["cosim"][sim] = {"tests_passed": res["tests"], "seconds_with_build": round(seconds, 1),
                             **{k: res["summary"][k] for k in res["summary"]}}
        progress(f"      {sim:9s}: {res['tests']} benches bit-exact; random stream "
                 f"{rnd['beats']} pairs -> {rnd['results']} results, {rnd['overflows']} "
                 f"flagged overflow, {rnd['cycles']} cycles ({seconds:.0f} s with build)")

    progress(f"[3/3] synthesize for {', '.join(targets)}")
    reports = []
    for target in targets:
        rep = run_synth("mac_lane", DEMO_PARAMS, target, out / f"synth-{target}",
                        progress=lambda msg: progress("      " + msg))
        reports.append(rep)
        doc["synth"][target] = {k: rep[k] for k in ("resources", "fmax_mhz", "timing_met",
                                                   "freq_constraint_mhz")}
    table = write_markdown(reports)
    progress(table)
    (out / "demo.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "demo.md").write_text(table)
    progress(f"wrote {out / 'demo.json'} and {out / 'demo.md'}")
    return doc
