"""cocotb bench of the row-pass engine (``hdl.row_pass.RowPass``) against ``golden.sbpca_unit``.

One session per run, the unit's use of the engine:

1. every bank's rows go in through ``row_w`` (random idle cycles), input buffer 0 is filled
   through ``inp_w`` (random idle cycles);
2. ``SBPCA_ROW_PASSES`` (default 3) UPDATE passes cycle through the banks (0, 1, 0, ...: the
   third writes back over the first) reading buffer 0, while the next inputs stream into buffer 1
   with random stalls spread over those passes; random beats on the lane port all the time
   (taken when idle, ignored while busy) must not disturb them;
3. PROJECT, then NORM, on every bank, reading buffer 1;
4. every bank is read back through ``row_o`` (random backpressure).

After each pass the Gram upper triangle, the projection, the squared norm and the saturation flag
are compared with the golden model as integers, and the cycles from ``start`` to ``done`` with
``RowPass.cycles_for``; at the end every stored word. The input stream must never have been
stalled before its buffer was full, and ``lane_o`` must stay quiet during passes (past the
results in flight at the start). Each pass's cycles go to the summary for the utilization figures.
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
from hdl.row_pass import PROJECT, UPDATE
from .row_pass_cases import (expected, input_beats, pass_plan, random_inputs, random_params,
                             random_rows)
from .scoreboard import compare_words
from .stream import StreamSink, StreamSource, pack_words, random_gaps, unpack_words
from .summary import record

PASSES = int(os.environ.get("SBPCA_ROW_PASSES", "3"))
PROGRAMS = ("update", "project", "norm")


async def pulse(dut, *signals):
    for signal in signals:
        signal.value = 1
    await RisingEdge(dut.clk)
    for signal in signals:
        signal.value = 0


async def lane_noise(dut, width, rng):
    """Random bits on ``lane_i`` every cycle: taken by idle lanes, ignored during passes."""
    while True:
        dut.lane_i.value = rng.getrandbits(width)
        await RisingEdge(dut.clk)


@cocotb.test()
async def passes_match_golden(dut):
    with open(os.environ["SBPCA_DESIGN_JSON"]) as f:
        doc = json.load(f)
    rp, _ = get_design(doc["design"]).build(**doc["parameters"])
    seed = int(os.environ.get("SBPCA_SEED", "1"))
    rng = np.random.default_rng(seed)
    gaps = random.Random(seed)
    dut._log.info("seed %d, banks %s, k %d, lanes %d, words %d", seed, rp.banks, rp.k,
                  rp.lanes, rp.words)
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    for sig in (dut.rewind, dut.inp_rewind, dut.readout, dut.start, dut.mode, dut.bank, dut.buf,
                dut.inp_buf, dut.row_w__valid, dut.inp_w__valid, dut.row_o__ready, dut.lane_i):
        sig.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    vw, k, nb = rp.vec_width, rp.k, len(rp.banks)
    sw = rp.sum_width
    npairs = k * (k + 1) // 2
    plan = pass_plan(rp, PASSES)
    row_src = StreamSource(dut, "row_w", dut.clk, idle=random_gaps(0.3, gaps))
    sink = StreamSink(dut, "row_o", dut.clk, backpressure=random_gaps(0.3, gaps))

    # ---- rows of every bank, inputs of buffer 0
    cases = [random_params(rp, rng, loud=(i == 2)) for i in range(len(plan))]
    for case in cases[nb:]:
        case.a = np.zeros(k, np.int64)           # rows written back may use the whole word
    S = [random_rows(n, k, vw, cases[b].a, rng) for b, n in enumerate(rp.banks)]
    for bank in range(nb):
        dut.bank.value = bank
        await pulse(dut, dut.rewind)
        row_src.send(pack_words(row, vw) for row in S[bank])
        while not row_src.idle:
            await RisingEdge(dut.clk)
    inputs = [random_inputs(rp, rng), random_inputs(rp, rng)]
    beats = [[pack_words(beat, vw) for beat in input_beats(rp, inp, rng)] for inp in inputs]
    inp_src = StreamSource(dut, "inp_w", dut.clk, idle=random_gaps(0.3, gaps))
    dut.inp_buf.value = 0
    await pulse(dut, dut.inp_rewind)
    inp_src.send(beats[0])
    while not inp_src.idle:
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert not int(dut.inp_w__ready.value), "inp_w ready after buffer 0 was filled"
    await RisingEdge(dut.clk)
    inp_src.stop()

    # buffer 1 streams in during the UPDATE passes: stalls spread it over about 80% of them
    update_cycles = sum(rp.cycles_for(mode, bank) for mode, bank, _ in plan if mode == UPDATE)
    stall = min(0.97, max(0.3, 1 - len(beats[1]) / max(1, 0.8 * update_cycles)))
    inp_src = StreamSource(dut, "inp_w", dut.clk, idle=random_gaps(stall, gaps))
    lane_bits = rp.lane_i.shape().size
    cocotb.start_soon(lane_noise(dut, lane_bits, random.Random(seed + 1)))
    valid = rp.lane_result_layout["valid"]
    valid_bits = sum(1 << (lane * rp.lane_result_layout.size + valid.offset)
                     for lane in range(rp.lanes))

    results = []
    overlapped = 0              # passes that ended with buffer 1 partly streamed in
    for index, ((mode, bank, buf), case) in enumerate(zip(plan, cases)):
        if buf == 1:
            while not inp_src.idle:
                await RisingEdge(dut.clk)
            await ReadOnly()
            assert not int(dut.inp_w__ready.value), "inp_w ready after buffer 1 was filled"
            assert inp_src.stalled_cycles == 0, "inp_w stalled while buffer 1 was not full"
            await RisingEdge(dut.clk)
        dut.params.value = rp.params_layout.const(
            {"a": [int(v) for v in case.a], "cT": [[int(v) for v in row] for row in case.cT],
             "w": [int(v) for v in case.w]}).as_bits()
        dut.mode.value = mode
        dut.bank.value = bank
        dut.buf.value = buf
        if index == 0:
            dut.inp_buf.value = 1
            await pulse(dut, dut.start, dut.inp_rewind)
            inp_src.send(beats[1])
        else:
            await pulse(dut, dut.start)
        # count edges from the one that takes `start` to the one after which `done` reads 1,
        # sampling settled values (ReadOnly) so both simulators count alike
        want = rp.cycles_for(mode, bank)
        cycles = 1
        while True:
            await ReadOnly()
            if cycles > rp.lane_latency:            # past the external results in flight
                assert not dut.lane_o.value.to_unsigned() & valid_bits, \
                    f"pass {index}: lane_o valid in cycle {cycles} of the pass"
            if int(dut.done.value):
                break
            await RisingEdge(dut.clk)
            cycles += 1
            assert cycles < 2 * want + 100, "pass did not finish"
        got_gram = unpack_words(dut.gram.value.to_unsigned(), sw, npairs)
        got_proj = unpack_words(dut.proj.value.to_unsigned(), sw, k)
        got_norm = unpack_words(dut.norm2.value.to_unsigned(), sw, 1)[0]
        got_sat = bool(int(dut.saturated.value))
        overlapped += 0 < inp_src.sent < len(beats[1])
        await RisingEdge(dut.clk)

        inp = inputs[buf][bank]
        label = f"pass {index} ({PROGRAMS[mode]}, bank {bank})"
        if mode == UPDATE:
            S[bank], gram, proj, sat = expected(rp, S[bank], case, inp)
            norm2 = 0
        else:
            proj, norm2 = row_project(S[bank], inp, with_rows=(mode == PROJECT))
            gram, sat = np.zeros(npairs, np.int64), False
        compare_words(f"{label} gram", gram, got_gram, width=sw)
        compare_words(f"{label} proj", proj, got_proj, width=sw)
        compare_words(f"{label} norm2", [norm2], [got_norm], width=sw)
        assert got_sat == sat, f"{label}: saturated {got_sat}, expected {sat}"
        assert cycles == want, f"{label}: {cycles} cycles, expected {want}"
        useful = rp.useful_macs_for(mode, bank)
        results.append({"program": PROGRAMS[mode], "bank": bank, "rows": rp.banks[bank],
                        "cycles": cycles, "saturated": sat, "useful_macs": useful,
                        "utilization": useful / (rp.lanes * cycles)})

    assert overlapped or PASSES < 2, "the buffer-1 stream did not span a pass boundary"

    # ---- read every bank back
    for bank in range(nb):
        before = len(sink.received)
        dut.bank.value = bank
        await pulse(dut, dut.readout)
        while len(sink.received) < before + rp.banks[bank]:
            await RisingEdge(dut.clk)
        rows = [unpack_words(bits, vw, k) for _, bits in sink.received[before:]]
        where = [f"bank {bank}, row {i // k}, word {i % k}" for i in range(rp.banks[bank] * k)]
        compare_words(f"bank {bank} rows", S[bank], rows, width=vw, where=where)
    record("passes", results)
