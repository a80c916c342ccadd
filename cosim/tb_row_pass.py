"""cocotb bench of the row-pass engine (``hdl.row_pass.RowPass``) against ``golden.sbpca_unit``.

Each run loads random rows through ``row_w`` and input words through ``inp_w`` (random idle
cycles), runs several UPDATE passes in a row (each works on the rows the previous one wrote
back), then a PROJECT and a NORM pass, and after each pass compares every row read back through
``row_o`` (random backpressure), the Gram upper triangle, the projection, the squared norm and
the saturation flag with the golden model as integers. Each pass's cycle count goes to the
summary for the utilization figures.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden.sbpca_unit import row_project
from hdl.designs import get_design
from hdl.row_pass import NORM, PROJECT, UPDATE
from .row_pass_cases import expected, random_params, random_rows
from .scoreboard import compare_words
from .stream import StreamSink, StreamSource, pack_words, random_gaps, unpack_words

PASSES = int(os.environ.get("SBPCA_ROW_PASSES", "3"))


def _summary(key, value):
    path = os.environ.get("SBPCA_SUMMARY")
    if path:
        doc = json.load(open(path)) if os.path.exists(path) else {}
        doc[key] = value
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)


async def pulse(dut, signal):
    signal.value = 1
    await RisingEdge(dut.clk)
    signal.value = 0


@cocotb.test()
async def passes_match_golden(dut):
    doc = json.load(open(os.environ["SBPCA_DESIGN_JSON"]))
    rp, _ = get_design(doc["design"]).build(**doc["parameters"])
    seed = int(os.environ.get("SBPCA_SEED", "1"))
    rng = np.random.default_rng(seed)
    gaps = random.Random(seed)
    dut._log.info("seed %d, n %d, k %d, lanes %d", seed, rp.n, rp.k, rp.lanes)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for sig in (dut.rewind, dut.readout, dut.start, dut.mode, dut.row_w__valid,
                dut.inp_w__valid, dut.row_o__ready):
        sig.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    W, k = rp.vec_width, rp.k
    row_src = StreamSource(dut, "row_w", dut.clk, idle=random_gaps(0.3, gaps))
    inp_src = StreamSource(dut, "inp_w", dut.clk, idle=random_gaps(0.3, gaps))
    sink = StreamSink(dut, "row_o", dut.clk, backpressure=random_gaps(0.3, gaps))
    npairs = k * (k + 1) // 2
    sw = rp.sum_width

    first = random_params(rp, rng)
    S = random_rows(rp.n, k, W, first.a, rng)
    await pulse(dut, dut.rewind)
    row_src.send(pack_words(row, W) for row in S)
    while not row_src.idle:
        await RisingEdge(dut.clk)

    results = []
    programs = [UPDATE] * PASSES + [PROJECT, NORM]
    for index, mode in enumerate(programs):
        if index == 0:
            case = first
        else:
            case = random_params(rp, rng, loud=(index == 2))
            case.a = np.zeros(k, np.int64)       # rows written back may use the whole word
        await pulse(dut, dut.rewind)
        inp_src.send(int(v) & ((1 << W) - 1) for v in case.inp)
        while not inp_src.idle:
            await RisingEdge(dut.clk)
        dut.params.value = rp.params_layout.const(
            {"a": [int(v) for v in case.a], "cT": [[int(v) for v in row] for row in case.cT],
             "w": [int(v) for v in case.w]}).as_bits()
        dut.mode.value = mode
        await pulse(dut, dut.start)
        # count edges from the one that takes `start` to the one after which `done` reads 1,
        # sampling settled values (ReadOnly) so both simulators count alike
        cycles = 1
        while True:
            await ReadOnly()
            if int(dut.done.value):
                break
            await RisingEdge(dut.clk)
            cycles += 1
            assert cycles < 2 * rp.cycles + 100, "pass did not finish"
        got_gram = unpack_words(dut.gram.value.to_unsigned(), sw, npairs)
        got_proj = unpack_words(dut.proj.value.to_unsigned(), sw, k)
        got_norm = unpack_words(dut.norm2.value.to_unsigned(), sw, 1)[0]
        got_sat = bool(int(dut.saturated.value))
        await RisingEdge(dut.clk)

        before = len(sink.received)
        await pulse(dut, dut.readout)
        while len(sink.received) < before + rp.n:
            await RisingEdge(dut.clk)
        rows = [unpack_words(bits, W, k) for _, bits in sink.received[before:]]
        where = [f"pass {index}, row {i // k}, word {i % k}" for i in range(rp.n * k)]
        label = ("update", "project", "norm")[mode]

        if mode == UPDATE:
            new, gram, proj, sat = expected(rp, S, case)
            compare_words(f"pass {index} gram", gram, got_gram, width=sw)
            compare_words(f"pass {index} proj", proj, got_proj, width=sw)
            assert got_sat == sat, f"pass {index}: saturated {got_sat}, expected {sat}"
        else:
            new = S                                  # read-only programs
            proj, norm2 = row_project(S, case.inp, with_rows=(mode == PROJECT))
            if mode == PROJECT:
                compare_words(f"pass {index} proj", proj, got_proj, width=sw)
            compare_words(f"pass {index} norm2", [norm2], [got_norm], width=sw)
            sat = False
        compare_words(f"pass {index} rows", new, rows, width=W, where=where)
        want = rp.cycles_for(mode)
        assert cycles == want, f"pass {index}: {cycles} cycles, expected {want}"
        results.append({"program": label, "cycles": cycles, "saturated": sat,
                        "utilization": rp.useful_macs_for(mode) / (rp.lanes * cycles)})
        S = new
    _summary("passes", results)
    _summary("useful_macs", rp.useful_macs)
