"""``sbpca demo``: the project's main job, end to end on what exists today.

1. generate the MAC lane's Verilog;
2. co-simulate it on Icarus Verilog and Verilator against the golden model (bit-exact, with
   random idle cycles and backpressure), reporting beats and cycles;
3. generate the streaming-PCA unit for the output layer of a 64-100-10 network (100 inputs, 10
   outputs, rank 4, 4 lanes) and co-simulate it on a real gradient stream (that network training
   on digits) against the golden fixed-point model: every stored row, the k x k state and the
   flag equal after every batch; cycles per sample and lane utilization;
4. train a 64-100-10 MLP on scikit-learn digits through the unit's 16-bit fixed-point model (the
   model step 3 checks the RTL against, word for word) and through its float variant, with MBGD
   for reference (training through the co-simulated RTL itself is the training harness's job);
5. synthesize the MAC lane for iCE40 UP5K and ECP5-25F (resources, Fmax).

Results go to ``build/demo/demo.json`` and ``build/demo/demo.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["run_demo"]

DEMO_PARAMS = dict(a_width=16, b_width=16, acc_width=32, overflow="saturate")
UNIT_PARAMS = dict(n_in=100, n_out=10, k=4, lanes=4, words=4, b_max=16)
UNIT_BATCHES = "16"


def _train_through_unit(progress) -> dict:
    """MLP on digits with the unit's fixed-point model and its float variant, and MBGD."""
    from golden.data import load_dataset
    from golden.mlp import MLP, train
    from golden.sbpca_unit import SBPCAUnitRule

    data = load_dataset("digits")
    out = {}
    for label, rule, opts in (("unit, 16-bit fixed point", SBPCAUnitRule,
                               {"k": 4, "mode": "fixed", "width": 16}),
                              ("unit, float", SBPCAUnitRule, {"k": 4, "mode": "float"}),
                              ("MBGD", "mbgd", {})):
        model = MLP([64, 100, 10], seed=0)
        hist = train(model, data, rule, rule_options=opts, lr=0.1, batch_size=64, epochs=3,
                     seed=0)
        acc = hist.final["test_accuracy"]
        updates = hist.final["matrix_updates"]
        out[label] = {"test_accuracy": acc, "matrix_updates": updates}
        progress(f"      {label:26s} test accuracy {acc:.3f}, {updates} matrix updates")
    return out


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

    progress("[1/5] generate: MAC lane, 16x16 -> 32-bit saturating accumulator")
    gen = generate("mac_lane", out / "mac_lane", **DEMO_PARAMS)
    progress(f"      wrote {gen['verilog']}")

    progress(f"[2/5] co-simulate against the golden model ({beats} random pairs, idle and "
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

    progress(f"[3/5] generate the streaming-PCA unit (100 -> 10, k=4, 4 lanes) and co-simulate "
             f"it on a digits gradient stream (batches {UNIT_BATCHES})")
    doc["unit"] = {"parameters": UNIT_PARAMS, "batches": UNIT_BATCHES}
    for sim in sims:
        res = run_cocotb("unit", UNIT_PARAMS, "cosim.tb_unit", sim=sim,
                         build_dir=out / f"unit-{sim}", testcase="batches_match_golden",
                         extra_env={"SBPCA_UNIT_STREAM": "digits",
                                    "SBPCA_UNIT_BATCHES": UNIT_BATCHES})
        st = res["summary"]["steady"]
        util = st["lane_utilization"]
        doc["unit"][sim] = res["summary"]
        progress(f"      {sim:9s}: {st['samples']} samples in {len(res['summary']['batches'])} "
                 f"batches bit-exact (rows, k x k state, flag); {st['cycles_per_sample']:,.0f} "
                 f"cycles per sample, lane utilization {100 * util:.1f}%")

    progress("[4/5] train 64-100-10 on digits through the unit model (rank 4, 3 epochs)")
    doc["training"] = _train_through_unit(progress)

    progress(f"[5/5] synthesize the MAC lane for {', '.join(targets)}")
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
