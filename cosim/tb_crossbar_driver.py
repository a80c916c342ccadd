"""cocotb bench of the crossbar driver (``hdl.crossbar_driver.CrossbarDriver``) against
``golden.driver.CrossbarDriverModel``.

Run through :func:`cosim.runner.run_cocotb`. Terms (:mod:`cosim.driver_cases`: random, a zero
``sigma``, a zero ``x``, one with clipped lines, one with lines on the clip boundary) go in on
the word and term streams with random idle cycles; a monitor samples the latches in the first
``fire`` cycle of every slot, and every slot's row and column pulses (pulse times sign,
-1/0/+1) are compared with the model's as integers. Each term's ``busy`` cycles are compared
with ``cycles_per_term``; for every term that is not skipped, the GAIN stage's ``plan`` output
with the model's ``plan``; for every term, in every slot, ``clip_lines`` and ``clip`` with the
plan's clipped lines and ``clipped_terms`` with the clipped terms so far.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.crossbar_driver import plan_fields
from hdl.designs import driver_model, get_design
from .driver_cases import boundary_term, driver_terms
from .scoreboard import compare_words
from .stream import StreamSource, pack, pack_words, random_gaps, unpack
from .summary import record

N_TERMS = int(os.environ.get("SBPCA_DRIVER_TERMS", "8"))
#: Self-check of the bench: flip one expected pulse, so the comparison must fail.
INJECT_ERROR = os.environ.get("SBPCA_INJECT_ERROR") == "1"


def _bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> j) & 1 for j in range(n)], np.int64)


class CrossbarDriverTB:
    """Clock, reset, the two sources, the slot monitor and the golden model of one run."""

    def __init__(self, dut, *, idle: float, salt: int):
        doc = json.load(open(os.environ["SBPCA_DESIGN_JSON"]))
        self.params = doc["parameters"]
        self.drv, _ = get_design(doc["design"]).build(**self.params)
        self.model = driver_model(**self.params)
        self.seed = int(os.environ.get("SBPCA_SEED", "1")) * 1000 + salt
        self.rng = random.Random(self.seed)
        self.np_rng = np.random.default_rng(self.seed)
        self.dut = dut
        self.idle = idle
        self.slots = []          # (rows, cols) int arrays per fired slot
        self.busy_runs = []      # busy cycles per term
        self.clipped_terms = 0   # the model's count of clipped terms since reset
        self.plans = []          # the plan output's fields per fired slot
        self.clips = []          # (clip_lines, clip, clipped_terms) per fired slot
        dut._log.info("seed %d, idle %.2f", self.seed, idle)
        Clock(dut.clk, 10, unit="ns", impl="gpi").start()

    async def reset(self):
        d = self.dut
        d.rst.value = 1
        d.i__valid.value = 0
        d.i_sigma__valid.value = 0
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        await RisingEdge(d.clk)
        gaps = lambda: random_gaps(self.idle, self.rng) if self.idle > 0 else None  # noqa: E731
        self.words = StreamSource(d, "i", d.clk, idle=gaps())
        self.sigmas = StreamSource(d, "i_sigma", d.clk, idle=gaps())
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        d, n_in, n_out = self.dut, self.drv.n_in, self.drv.n_out
        prev_fire, prev_busy, busy = 0, 0, 0
        while True:
            await RisingEdge(d.clk)
            fire, b = int(d.fire.value), int(d.busy.value)
            if fire and not prev_fire:
                rs = 1 - 2 * _bits(d.row_sign.value.to_unsigned(), n_out)
                cs = 1 - 2 * _bits(d.col_sign.value.to_unsigned(), n_in)
                self.plans.append(unpack(self.drv.plan_layout, d.plan.value.to_unsigned()))
                self.clips.append((int(d.clip_lines.value), int(d.clip.value),
                                   int(d.clipped_terms.value)))
                self.slots.append((_bits(d.row_pulse.value.to_unsigned(), n_out) * rs,
                                   _bits(d.col_pulse.value.to_unsigned(), n_in) * cs))
            busy += b
            if prev_busy and not b:
                self.busy_runs.append(busy)
                busy = 0
            prev_fire, prev_busy = fire, b

    async def run(self, terms, *, name: str):
        m, drv = self.model, self.drv
        G, vw = drv.group, m.formats.vec.width
        want_rows, want_cols, want_plans, want_clips, clipped, skipped = [], [], [], [], 0, 0
        for r, (x, d, s) in enumerate(terms):
            plan = m.plan(x, d, s, r)
            rows, cols = m.pulses(plan)
            want_rows.append(rows)
            want_cols.append(cols)
            clipped += plan.clipped_lines
            skipped += plan.skipped
            self.clipped_terms += plan.clip
            want_clips += [(plan.clipped_lines, int(plan.clip),
                            self.clipped_terms % (1 << 16))] * m.bl
            for words, groups in ((d, drv.row_groups), (x, drv.col_groups)):
                padded = np.full(G * groups, m.formats.vec.min_raw, np.int64)  # ignored lanes
                padded[:len(words)] = words
                self.words.send(pack_words(padded[b * G:(b + 1) * G], vw)
                                for b in range(groups))
            self.sigmas.send([pack(drv.sigma_layout, sigma=s)])
            want_plans.append(plan)
        want_rows, want_cols = np.concatenate(want_rows), np.concatenate(want_cols)
        if INJECT_ERROR:
            want_rows[len(want_rows) // 2, 0] ^= 1
        n_slots = len(terms) * m.bl
        budget = len(terms) * (drv.term_cycles + 40 * drv.load_cycles) + 200
        for cycle in range(budget):
            if len(self.busy_runs) >= len(terms):
                break
            await RisingEdge(self.dut.clk)
        assert len(self.busy_runs) == len(terms), \
            f"{name}: timeout, {len(self.busy_runs)} of {len(terms)} terms, {len(self.slots)} slots"
        assert len(self.slots) == n_slots, f"{name}: {len(self.slots)} slots, want {n_slots}"
        got_rows = np.array([r for r, _ in self.slots])
        got_cols = np.array([c for _, c in self.slots])
        where_r = [f"{name}: term {s // m.bl}, slot {s % m.bl}, row {i}"
                   for s in range(n_slots) for i in range(drv.n_out)]
        where_c = [f"{name}: term {s // m.bl}, slot {s % m.bl}, col {j}"
                   for s in range(n_slots) for j in range(drv.n_in)]
        compare_words(f"{name} row pulses", want_rows, got_rows, width=2, where=where_r)
        compare_words(f"{name} col pulses", want_cols, got_cols, width=2, where=where_c)
        for r, plan in enumerate(want_plans):
            if not plan.skipped:
                want = plan_fields(plan)
                got = self.plans[r * m.bl]
                assert {k: got[k] for k in want} == want, \
                    f"{name}: term {r}: plan {got}, model {want}"
        for k, (want, got) in enumerate(zip(want_clips, self.clips)):
            assert got == want, (f"{name}: term {k // m.bl}, slot {k % m.bl}: (clip_lines, clip, "
                                 f"clipped_terms) {got}, model {want}")
        want_cycles = m.cycles_per_term
        assert self.busy_runs == [want_cycles] * len(terms), \
            f"{name}: busy cycles {self.busy_runs}, model {want_cycles} per term"
        record(name, {"terms": len(terms), "slots": n_slots, "term_cycles": want_cycles,
                      "row_pulses": int(np.abs(want_rows).sum()),
                      "col_pulses": int(np.abs(want_cols).sum()), "clipped_lines": clipped,
                      "clipped_terms": sum(w[1] for w in want_clips[::m.bl]),
                      "skipped_terms": skipped,
                      "input_stall_cycles": self.words.stalled_cycles + self.sigmas.stalled_cycles,
                      "seed": self.seed})


@cocotb.test()
async def random_terms_with_stalls(dut):
    """N_TERMS terms (random, zero, extreme) and a clip-boundary term with idle cycles on both
    input streams."""
    tb = CrossbarDriverTB(dut, idle=0.4, salt=1)
    await tb.reset()
    terms = driver_terms(tb.model, tb.np_rng, N_TERMS)
    terms.insert(4, boundary_term(tb.model, tb.np_rng)[:3])
    await tb.run(terms, name="random")


@cocotb.test()
async def back_to_back_terms(dut):
    """Terms without idle cycles: the generators' state carries from term to term."""
    tb = CrossbarDriverTB(dut, idle=0.0, salt=2)
    await tb.reset()
    await tb.run(driver_terms(tb.model, tb.np_rng, 4), name="back_to_back")
