"""The native Verilator harness of the unit: the co-simulation speed ceiling, without cocotb.

:func:`build_native` Verilates the generated unit with the C++ main ``native_unit.cpp`` (the host
protocol of :mod:`cosim.unit_host` in C++, no idle cycles, no backpressure) at ``-O3``
(:func:`cosim.runner.cxx_opt`);
:func:`run_native` writes a start state and batches to a word file, runs the program and reads
back the per-batch cycles, the wall time of the batch phase and the final state, which the
caller compares with the golden model word for word like any other run.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from .runner import cxx_opt
from .toolchain import tool_env
from .unit_host import kxk_bits, readout_state, sample_beats, state_words

__all__ = ["build_native", "run_native", "NativeError"]

CPP = Path(__file__).with_name("native_unit.cpp")


class NativeError(RuntimeError):
    """The native harness did not build or did not run."""


def build_native(verilog, top: str, build_dir) -> tuple:
    """Build the native harness of ``verilog`` (top module ``top``) in ``build_dir``; return
    ``(executable, build seconds)``."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(tool_env())
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-O3", "-Wno-fatal", "-Wno-lint",
           "-Wno-style", "--top-module", top, "--prefix", "Vtop", "-Mdir", str(build_dir),
           "-o", "native_unit", "-MAKEFLAGS", f"OPT_FAST={cxx_opt()}", str(verilog), str(CPP)]
    t0 = time.monotonic()
    log = build_dir / "native_build.log"
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode:
        raise NativeError(f"native harness build failed ({proc.returncode}); log: {log}")
    return build_dir / "native_unit", time.monotonic() - t0


def _words(value: int, count: int) -> list:
    return [(int(value) >> (32 * i)) & 0xFFFFFFFF for i in range(count)]


def _n32(bits: int) -> int:
    return -(-bits // 32)


def run_native(exe, unit, model, batches, work_dir) -> dict:
    """Load ``model``'s state, run ``batches`` [(xs, ds)] of raw words on the native harness.

    Returns ``cycles`` (per batch, counted as the cocotb bench counts them), ``seconds`` (wall
    time of the batch phase only), ``samples`` and ``readout`` (:func:`readout_state` after the
    last batch). ``model`` is not advanced.
    """
    work_dir = Path(work_dir)
    layout_bits = unit.kxk_engine.state_layout.size
    kw = _n32(layout_bits)
    rw = _n32(unit.k * unit.formats.vec.width)
    bw = _n32(unit.words * unit.formats.x.width)
    words = [kw] + _words(kxk_bits(unit, model), kw)
    rows = state_words(unit, model)
    words += [len(rows), rw]
    for r in rows:
        words += _words(r, rw)
    words.append(len(batches))
    for xs, ds in batches:
        beats = sample_beats(unit, xs, ds)
        words += [len(xs), len(beats), bw]
        for b in beats:
            words += _words(b, bw)
    src, dst = work_dir / "native_in.bin", work_dir / "native_out.bin"
    np.asarray(words, dtype="<u4").tofile(src)
    proc = subprocess.run([str(exe), str(src), str(dst)], capture_output=True, text=True)
    if proc.returncode:
        raise NativeError(f"native harness exited with {proc.returncode}: "
                          f"{proc.stderr.strip()[-400:]}")
    doc = json.loads(proc.stdout)
    out = np.fromfile(dst, dtype="<u4").astype(np.uint64)
    n_rows, row_w = int(out[0]), int(out[1])
    at = 2
    got_rows = []
    for _ in range(n_rows):
        got_rows.append(sum(int(w) << (32 * i) for i, w in enumerate(out[at:at + row_w])))
        at += row_w
    n_k = int(out[at])
    kxk = sum(int(w) << (32 * i) for i, w in enumerate(out[at + 1:at + 1 + n_k]))
    overflow = int(out[at + 1 + n_k])
    doc["readout"] = readout_state(unit, got_rows, kxk, overflow)
    doc["samples"] = sum(len(xs) for xs, _ in batches)
    return doc
