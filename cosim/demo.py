"""``sbpca demo``: the project's main job, end to end.

1. generate the network top of a 64-32-10 MLP (per layer: the streaming-PCA unit, rank 4, the
   FACTOR stage and the crossbar driver; BL = 31, stochastic pulses, ideal devices): Verilog,
   parameters (JSON) and a FuseSoC core;
2. co-simulate it (Verilator when available, else Icarus) and train the MLP on scikit-learn
   digits through it: every layer's update computed by its unit, the pulses its driver puts on
   the lines captured and applied to a crossbar array model; after every batch the pulses and the
   arrays' states are compared with the golden fixed-point chain (``--check-against fixed``);
3. train the same network with float mini-batch gradient descent (dense updates) and with the
   unit's algorithm in float, for reference;
4. print the accuracies, the update counts (array update events, pulses, coincidences, slots,
   driver cycles) and where the Verilog, the results and the plots are.

Results: ``build/demo/demo.json``, ``build/demo/demo.md``, and the training outputs of
``sbpca train`` (``results.json``, ``table.md``, PNGs) in ``build/demo/train``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["run_demo", "DEMO_CONFIG"]

#: The training run of step 2 (``sbpca train --backend rtl`` with these options).
DEMO_CONFIG = dict(backend="rtl", data="digits", sizes=(64, 32, 10), k=4, batch=16, epochs=2,
                   bl=31, device="ideal", check_against="fixed")


def _reference(cfg, data, rule) -> dict:
    from golden.train_backends import TrainConfig, run_training

    ref = TrainConfig(backend="float", data=cfg.data, sizes=tuple(cfg.sizes), rule=rule,
                      k=cfg.k, batch=cfg.batch, epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed,
                      limit=cfg.limit).check()
    doc = run_training(ref, data=data)
    fin = doc["final"]
    return {"test_accuracy": fin["test_accuracy"], "matrix_updates": fin["matrix_updates"],
            "train_loss": fin["train_loss"]}


def run_demo(out_dir="build/demo", *, sim=None, epochs=None, limit=None,
             progress=print) -> dict:
    """Run the demo into ``out_dir``; return its document. ``sim``: the simulator (default
    Verilator when selected, else Icarus); ``epochs``, ``limit``: shorten the training (tests)."""
    from cosim.cli.train import write_outputs
    from golden.train_backends import TrainConfig, load_data
    from hdl.generate import generate
    from .rtl_train import network_params, run_rtl_training
    from .toolchain import selected_simulators

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sims = selected_simulators()
    sim = sim or ("verilator" if "verilator" in sims else sims[0])
    cfg = TrainConfig(**{**DEMO_CONFIG, "sim": sim,
                         **({"epochs": epochs} if epochs else {}),
                         **({"limit": limit} if limit else {})}).check()
    data = load_data(cfg)
    params = network_params(cfg, cfg.sizes)
    doc = {"config": cfg.to_json(), "network": params}

    sizes = "-".join(map(str, cfg.sizes))
    progress(f"[1/4] generate the network top: {sizes}, per layer unit (k={cfg.k}) + FACTOR + "
             f"crossbar driver (BL={cfg.bl}, {cfg.scheme})")
    gen = generate("network", out / "network", **params)
    doc["verilog"] = gen["verilog"]
    progress(f"      wrote {gen['verilog']} ({Path(gen['verilog']).stat().st_size / 1e6:.1f} MB)"
             f", {gen['json']}" + (f", {gen['core']}" if gen.get("core") else ""))

    progress(f"[2/4] co-simulate it on {sim} and train {sizes} on digits through it "
             f"({cfg.epochs} epochs, batch {cfg.batch}; pulses and crossbar states checked "
             f"against the fixed-point models after every batch)")
    from golden.experiments.runner import Progress

    bar = Progress(f"      train through the RTL ({sim})", len(data.y_train) * cfg.epochs)
    t0 = time.monotonic()
    rtl = run_rtl_training(cfg, data=data, build_dir=out / "train" / "rtl", progress=bar)
    bar.close()
    write_outputs(rtl, out / "train")
    fin, sec = rtl["final"], rtl["rtl"]["seconds"] or {}
    doc["rtl"] = {"final": fin, "seconds": sec, "wall_s": round(time.monotonic() - t0, 1),
                  "mismatch": rtl["mismatch"],
                  "checked_batches": [st["driver"]["checked_batches"] for st in rtl["layers"]]}
    if rtl["mismatch"]:
        progress(f"      {rtl['mismatch']['message']}")
    else:
        progress(f"      {sim}: build {sec.get('build', 0):.0f} s, simulation "
                 f"{sec.get('simulate', 0):.0f} s; every batch equal to the fixed-point models "
                 f"({sum(doc['rtl']['checked_batches'])} layer updates checked)")

    progress("[3/4] references: float MBGD (dense updates) and the unit's algorithm in float")
    doc["references"] = {"float MBGD": _reference(cfg, data, "mbgd"),
                         "float unit": _reference(cfg, data, "unit")}

    progress("[4/4] results")
    table = _table(doc, rtl)
    progress(table)
    (out / "demo.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "demo.md").write_text(table)
    progress(f"wrote {out / 'demo.json'}, {out / 'demo.md'}; training results and plots in "
             f"{out / 'train'} (results.json, table.md, accuracy.png, accuracy_updates.png, "
             f"coincidences.png); Verilog {doc['verilog']}")
    return doc


def _table(doc, rtl) -> str:
    fin = rtl["final"]
    c = doc["config"]
    lines = [f"| digits {'-'.join(map(str, c['sizes']))}, {c['epochs']} epochs, batch "
             f"{c['batch']} | test accuracy | matrix updates | array update events | pulses | "
             f"coincidences | update slots | driver cycles |",
             "|---|---|---|---|---|---|---|---|",
             f"| through the RTL ({c['sim']}), ideal devices | {fin['test_accuracy']:.3f} | "
             f"{fin['matrix_updates']:,} | {fin['update_events']:,} | {fin['pulses']:,} | "
             f"{fin['coincidences']:,} | {fin['slots']:,} | {fin['driver_cycles']:,} |"]
    for name, ref in doc["references"].items():
        lines.append(f"| {name} (dense) | {ref['test_accuracy']:.3f} | "
                     f"{ref['matrix_updates']:,} | - | - | - | - | - |")
    return "\n".join(lines) + "\n"
