"""cocotb bench: train the MLP through the co-simulated network top (the ``rtl`` backend).

Started by :func:`cosim.rtl_train.run_rtl_training` through :func:`cosim.runner.run_cocotb`.
Environment: ``SBPCA_TRAIN_CONFIG`` (the :class:`golden.train_backends.TrainConfig` as JSON),
``SBPCA_TRAIN_RESULTS`` (where the results document goes), ``SBPCA_TRAIN_PROGRESS`` (a small
JSON file rewritten after every batch: samples done, for the caller's progress line),
``SBPCA_TRAIN_STOP`` (a file whose existence stops the run after the current batch, as Ctrl-C
does), ``SBPCA_TRAIN_DATA`` (the data set as the caller loaded it, ``.npz``: already cut to
``limit``), ``SBPCA_DESIGN_JSON`` (the generated design's parameters).

The loop is :func:`golden.train_backends.run_training_async` with the rtl backend
(:mod:`cosim.rtl_backend`), one :class:`cosim.update_host.UpdateHost` per layer on the layer's
port prefix. A run stopped by Ctrl-C (SIGINT reaches the simulator too: it is turned into a stop
after the current batch), by the stop file or by the first difference of ``--check-against``
still writes its results; a difference then fails this test.
"""

from __future__ import annotations

import json
import os
import random
import signal

import cocotb

from golden.train_backends import TrainConfig, run_training_async
from hdl.designs import get_design, unused
from .ports_cocotb import CocotbPorts
from .rtl_backend import build_rtl_backend
from .summary import record
from .update_host import PrefixedPorts, UpdateHost


def _data():
    """The data set the caller loaded (``SBPCA_TRAIN_DATA``, an ``.npz`` file)."""
    import numpy as np

    from golden.data import Dataset

    with np.load(os.environ["SBPCA_TRAIN_DATA"]) as z:
        return Dataset(str(z["name"]), z["x_train"], z["y_train"], z["x_test"], z["y_test"])


def _config() -> TrainConfig:
    with open(os.environ["SBPCA_TRAIN_CONFIG"]) as f:
        doc = json.load(f)
    if doc.get("sizes") is not None:
        doc["sizes"] = tuple(doc["sizes"])
    return TrainConfig(**doc)


@cocotb.test()
async def train_through_the_network(dut):
    cfg = _config()
    with open(os.environ["SBPCA_DESIGN_JSON"]) as f:
        params = json.load(f)["parameters"]
    top, _ = get_design("network").build(**params)
    unused(top)                                  # built for its layouts and sizes only
    ports = CocotbPorts(dut)
    ports.start_clock()
    hosts = []

    def make_host(layer, ud, rule_model):
        host = UpdateHost(PrefixedPorts(ports, f"l{layer}__"), ud, model=rule_model,
                          rng=random.Random(cfg.seed + layer))
        hosts.append(host)
        return host

    built = {}

    def factory(model, c):
        built["backend"] = build_rtl_backend(model, c, top, make_host)
        return built["backend"]

    stop = {"now": False}
    stop_file = os.environ.get("SBPCA_TRAIN_STOP")
    progress_file = os.environ.get("SBPCA_TRAIN_PROGRESS")
    done = {"samples": 0}

    def on_sigint(*_):
        stop["now"] = True

    def progress(n):
        done["samples"] += n
        if progress_file:
            tmp = progress_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(done, f)
            os.replace(tmp, progress_file)
        if stop["now"] or (stop_file and os.path.exists(stop_file)):
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        doc = await run_training_async(cfg, progress=progress, data=_data(),
                                       backend_factory=factory)
    finally:
        signal.signal(signal.SIGINT, previous)
    with open(os.environ["SBPCA_TRAIN_RESULTS"], "w") as f:
        json.dump(doc, f, indent=1)
    be = built.get("backend")
    record("train", {"batches": be.engine.batches if be else [],
                     "checked_batches": be.applier.checked_batches if be else [],
                     "mismatch": doc.get("mismatch")})
    assert doc.get("mismatch") is None, doc["mismatch"]["message"]
