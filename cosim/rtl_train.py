"""Run a training through the RTL: generate the network top, co-simulate it, collect the results.

:func:`run_rtl_training` is the ``rtl`` backend of ``sbpca train`` (and of ``make demo``)::

    TrainConfig --> network_params --> sbpca generate network (Verilog, JSON, FuseSoC core)
                --> cocotb on Icarus or Verilator: cosim.tb_network (the training loop, awaited)
                <-- results.json (the same document as the golden backends', plus "rtl")

The caller's progress callback is fed from a small file the bench rewrites after every batch
(the simulator's output goes to its log). Ctrl-C: the simulator gets SIGINT too and stops after
its current batch, writing what was done; this process waits for it (a second Ctrl-C is not
caught) and returns the document with ``interrupted`` set.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np

from golden.crossbar import get_preset
from golden.train_backends import TrainConfig, resolve_sizes
from .runner import CosimFailure, run_cocotb

__all__ = ["network_params", "run_rtl_training", "request_stop", "STOP_FILE"]

#: The file in the build folder whose existence stops a run after its current batch.
STOP_FILE = "train_stop"


def request_stop(build_dir) -> None:
    """Ask the run in ``build_dir`` to stop after its current batch (what Ctrl-C does)."""
    (Path(build_dir).resolve() / STOP_FILE).touch()


def network_params(cfg: TrainConfig, sizes) -> dict:
    """The ``network`` design's parameters for ``cfg`` (the device preset's ``dw_min``)."""
    return {"sizes": tuple(int(s) for s in sizes), "k": cfg.k, "lanes": cfg.lanes,
            "b_max": cfg.batch, "bl": cfg.bl, "scheme": cfg.scheme,
            "dw_min": float(get_preset(cfg.device).dw_min), "lr": cfg.lr,
            "lfsr_seed": cfg.seed}


def run_rtl_training(cfg: TrainConfig, *, data, build_dir, progress=None) -> dict:
    """Train ``cfg`` (``backend="rtl"``) through the co-simulated network top in ``build_dir``;
    return the results document (``"rtl"``: simulator, build and simulation seconds, Verilog).

    ``progress(n)`` gets the samples done (from a polling thread); :func:`request_stop` (or
    Ctrl-C in the main thread) ends the run after the current batch, ``interrupted`` set.

    ``ValueError`` for a configuration the design cannot be generated for (one line, naming the
    parameter). A difference found by ``check_against`` is in the document's ``mismatch``.
    """
    cfg.check()
    if cfg.backend != "rtl":
        raise ValueError(f"backend={cfg.backend!r}: run_rtl_training runs backend='rtl'")
    sizes = resolve_sizes(cfg, data)
    cfg.sizes = sizes
    params = network_params(cfg, sizes)
    from hdl.designs import get_design, unused

    unused(get_design("network").build(**params)[0])    # parameter errors before any build
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    conf = cfg.to_json()
    if conf["data"].startswith("idx:"):
        conf["data"] = "idx:" + str(Path(conf["data"][4:]).resolve())
    files = {name: build_dir / f"train_{name}.json" for name in ("config", "results",
                                                                  "progress")}
    files["data"] = build_dir / "train_data.npz"
    stop_file = build_dir / STOP_FILE
    for path in (*files.values(), stop_file):
        path.unlink(missing_ok=True)
    files["config"].write_text(json.dumps(conf, indent=1))
    # the data as loaded here (importing the loaders inside a simulator is slow: 10 s for
    # scikit-learn's digits under Verilator, 1 s here)
    np.savez(files["data"], name=np.array(data.name), x_train=data.x_train,
             y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)

    finished = threading.Event()
    seen = {"samples": 0}

    def poll():
        while not finished.wait(0.5):
            _report(files["progress"], seen, progress)

    interrupted = {"yes": False}

    def on_sigint(*_):
        interrupted["yes"] = True
        stop_file.touch()
        signal.signal(signal.SIGINT, previous)         # a second Ctrl-C is not caught

    watcher = threading.Thread(target=poll, daemon=True)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    watcher.start()
    failure = None
    t0 = time.monotonic()
    try:
        result = run_cocotb("network", params, "cosim.tb_network", sim=cfg.sim,
                            build_dir=build_dir, seed=cfg.seed,
                            extra_env={"SBPCA_TRAIN_CONFIG": str(files["config"]),
                                       "SBPCA_TRAIN_RESULTS": str(files["results"]),
                                       "SBPCA_TRAIN_PROGRESS": str(files["progress"]),
                                       "SBPCA_TRAIN_DATA": str(files["data"]),
                                       "SBPCA_TRAIN_STOP": str(stop_file)})
    except CosimFailure as exc:
        failure, result = exc, None
    finally:
        finished.set()
        watcher.join()
        if main_thread and signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, previous)
    _report(files["progress"], seen, progress)
    if not files["results"].exists():
        raise failure or CosimFailure(f"network on {cfg.sim}: no results written; log: "
                                      f"{build_dir / 'sim.log'}")
    doc = json.loads(files["results"].read_text())
    if failure is not None and doc.get("mismatch") is None:
        raise failure
    doc["interrupted"] = doc["interrupted"] or interrupted["yes"]
    doc["rtl"] = {"sim": cfg.sim, "build_dir": str(build_dir),
                  "verilog": str(build_dir / "network.v"),
                  "seconds": (result or {}).get("seconds"),
                  "wall_s": round(time.monotonic() - t0, 2),
                  "summary": (result or {}).get("summary")}
    return doc


def _report(path: Path, seen: dict, progress) -> None:
    """Feed ``progress`` the samples done since the last report (from the bench's file)."""
    if progress is None or not path.exists():
        return
    try:
        samples = int(json.loads(path.read_text())["samples"])
    except (ValueError, KeyError, OSError):
        return                                          # being rewritten: next time
    if samples > seen["samples"]:
        progress(samples - seen["samples"])
        seen["samples"] = samples
