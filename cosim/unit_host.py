"""The host side of the streaming-PCA unit: its protocol written once, for any simulator.

:class:`UnitHost` drives an :class:`hdl.sbpca_unit.SBPCAUnit` through its ports and keeps an
optional golden model (:class:`golden.sbpca_unit.SBPCAUnitModel`, fixed point) in step::

    host.load(X0, D0, sigma0)        kxk_in + load pulse, then n_in + n_out rows on load_rows
    host.batch(xs, ds)               batch beat, samples beats (x then delta, W words a beat),
                                     wait for done; the model takes the same batch
    host.readout()                   readout pulse, n_in + n_out rows from rows_o, kxk state
    host.check_state(label)          readout compared word for word with the model

The ports are reached through a small adapter with one vocabulary (Verilog port names, integer
values) and two implementations: :class:`cosim.ports_cocotb.CocotbPorts` for generated Verilog
under cocotb (Icarus, Verilator) and :class:`cosim.ports_amaranth.AmaranthPorts` for the
Amaranth simulator. An adapter provides::

    set(name, value)                 drive an input port (integer bits)
    get(name) -> int                 read a port (call after ``await settle()``)
    await settle()                   let the current cycle's values settle before reading
    await cycles(n)                  n rising clock edges
    now() -> int                     rising edges since the clock started
    await send(prefix, payloads, gaps, limit)
                                     transfer payloads on stream ``prefix`` (``prefix__payload``,
                                     ``__valid``, ``__ready``) in order; ``gaps()`` gives the idle
                                     cycles before each beat; returns after the last transfer;
                                     ``TimeoutError`` when a beat waits more than ``limit``
    await receive(prefix, count, stall, limit) -> [int]
                                     accept ``count`` payloads; ``stall()`` True holds ready low
    await wait_for(name, value, limit) -> int
                                     return right after the first rising edge at which ``name``
                                     is sampled at ``value`` and give that edge's number
                                     (``TimeoutError`` after ``limit`` edges)

The cocotb adapter sleeps on port edges (``ready``, ``done``, ``busy``) and uses the GPI clock,
so no Python runs per cycle while the unit computes.

Stall patterns (``idle`` on ``samples`` and ``load_rows``, ``backpressure`` on ``rows_o``) are
probabilities per cycle drawn from one seeded :class:`random.Random`, so a run can be replayed.
"""

from __future__ import annotations

import random

import numpy as np

from golden.check import check_float
from .scoreboard import compare_words
from .stream import pack_words, unpack_words

__all__ = ["UnitHost", "gap_counts", "stall_cycles", "sample_beats", "kxk_bits", "state_words",
           "readout_state", "compare_state"]


def gap_counts(probability: float, rng: random.Random):
    """Idle cycles before each beat: a cycle stays idle with ``probability`` (geometric)."""
    probability = check_float("idle", probability, low=0.0, high=1.0, high_open=True)

    def gaps() -> int:
        n = 0
        while probability and rng.random() < probability:
            n += 1
        return n
    return gaps


def stall_cycles(probability: float, rng: random.Random):
    """Per-cycle backpressure: True holds ``ready`` low in that cycle."""
    probability = check_float("backpressure", probability, low=0.0, high=1.0, high_open=True)
    return lambda: bool(probability) and rng.random() < probability


def sample_beats(unit, xs, ds) -> list:
    """``samples`` payloads of a batch: each sample's x then delta, ``unit.words`` a beat (the
    last beat of each vector padded with zeros)."""
    W, xw = unit.words, unit.formats.x.width
    out = []
    for x, d in zip(xs, ds):
        for vec in (x, d):
            words = [int(v) for v in vec] + [0] * (-len(vec) % W)
            out += [pack_words(words[j:j + W], xw) for j in range(0, len(words), W)]
    return out


def kxk_bits(unit, model) -> int:
    """The ``kxk_in`` bits of ``model``'s k x k state (upper triangles of ``Tx``, ``Td``)."""
    k = unit.k
    (ax, Tx), (ad, Td) = model.x_side, model.d_side
    tri = lambda T: [[int(T[i, j]) if j >= i else 0 for j in range(k)] for i in range(k)]
    return unit.kxk_engine.state_layout.const({
        "Tx": tri(Tx), "Td": tri(Td), "ax": [int(v) for v in ax],
        "ad": [int(v) for v in ad], "sigma": [int(v) for v in model.sigma],
        "r": [int(v) for v in model.r]}).as_bits()


def state_words(unit, model) -> list:
    """The ``load_rows`` payloads of ``model``'s stored rows (``Xs`` then ``Ds``)."""
    return [pack_words(row, unit.formats.vec.width)
            for row in np.concatenate([model.Xs, model.Ds])]


def readout_state(unit, rows, kxk: int, overflow) -> dict:
    """A readout as integers: ``rows`` ((n_in + n_out) x k words, from the ``rows_o`` payloads),
    the k x k state from the ``kxk`` bits (``Tx``, ``Td`` with the lower triangle 0; ``ax``,
    ``ad``, ``sigma``, ``r``) and ``overflow``."""
    k = unit.k
    st = unit.kxk_engine.state_layout.from_bits(int(kxk))
    out = {"rows": np.array([unpack_words(bits, unit.formats.vec.width, k) for bits in rows],
                            dtype=np.int64).reshape(len(rows), k),
           "overflow": bool(overflow)}
    for name in ("Tx", "Td"):
        out[name] = np.array([[int(st[name][i][j]) if j >= i else 0 for j in range(k)]
                              for i in range(k)], dtype=np.int64)
    for name in ("ax", "ad", "sigma", "r"):
        out[name] = np.array([int(st[name][i]) for i in range(k)], dtype=np.int64)
    return out


class UnitHost:
    """Drive one streaming-PCA unit and keep its golden model in step.

    Parameters
    ----------
    ports : adapter
        The unit's ports (see the module docstring).
    unit : SBPCAUnit
        The Component the Verilog was generated from (layouts, widths, sizes).
    model : SBPCAUnitModel, optional
        Golden model advanced with every batch; default ``unit.model``. ``None`` runs the
        hardware alone (:meth:`check_state` is then unavailable).
    rng : random.Random
        Source of the stall patterns.
    idle, backpressure : float
        Default per-cycle probabilities of an idle input cycle (``samples``, ``load_rows``) and
        of ``ready`` held low on ``rows_o``.
    """

    def __init__(self, ports, unit, *, model="unit", rng=None, idle=0.0, backpressure=0.0):
        self.ports, self.unit = ports, unit
        self.model = unit.model if model == "unit" else model
        self.rng = rng if rng is not None else random.Random(1)
        self.idle = check_float("idle", idle, low=0.0, high=1.0, high_open=True)
        self.backpressure = check_float("backpressure", backpressure, low=0.0, high=1.0,
                                        high_open=True)
        self.rows = unit.n_in + unit.n_out

    # -- reset and state -----------------------------------------------------------------------

    INPUTS = ("samples__valid", "samples__payload", "batch__valid", "batch__payload", "load",
              "load_rows__valid", "load_rows__payload", "readout", "rows_o__ready", "kxk_in")

    async def reset(self, cycles: int = 3):
        """Hold reset for ``cycles`` edges with every input low; return one edge later."""
        p = self.ports
        for name in self.INPUTS:
            p.set(name, 0)
        p.set("rst", 1)
        await p.cycles(cycles)
        p.set("rst", 0)
        await p.cycles(1)

    async def load(self, X0, D0, sigma0, *, idle=None):
        """Load a start state (real values, quantized by the model) into unit and model."""
        model = self.model if self.model is not None else self.unit.model
        model.load(X0, D0, sigma0)
        await self.load_model_state(model, idle=idle)

    async def load_model_state(self, model, *, idle=None):
        """Load ``model``'s current state (integer words) into the unit."""
        p = self.ports
        p.set("kxk_in", kxk_bits(self.unit, model))
        p.set("load", 1)
        await p.cycles(1)
        p.set("load", 0)
        await p.send("load_rows", state_words(self.unit, model), self._gaps(idle), 1000)
        await self.wait_idle()
        await p.settle()
        if p.get("overflow") or p.get("error"):
            raise AssertionError(f"after load: overflow {p.get('overflow')}, "
                                 f"error {p.get('error')}")
        await p.cycles(1)

    async def wait_idle(self, limit: int = 10_000_000):
        """Return after the first edge at which ``busy`` is low."""
        await self.ports.wait_for("busy", 0, limit)

    # -- batches -------------------------------------------------------------------------------

    async def start_batch(self, B: int) -> int:
        """Offer ``B`` on ``batch`` until taken; return the edge it was taken at."""
        p = self.ports
        p.set("batch__payload", B)
        p.set("batch__valid", 1)
        taken = await p.wait_for("batch__ready", 1, 10_000_000)
        p.set("batch__valid", 0)
        return taken

    def beats(self, xs, ds) -> list:
        """``samples`` payloads of a batch (:func:`sample_beats`)."""
        return sample_beats(self.unit, xs, ds)

    async def batch(self, xs, ds, *, idle=None, beats=None, model=True) -> int:
        """Run one batch of raw input words; return its cycles from the ``batch`` beat to
        ``done``. The golden model (if any, and ``model``) takes the same batch afterwards.
        ``beats`` may carry the packed payloads (:meth:`beats`) when the caller prepared them."""
        p = self.ports
        limit = 4 * self.unit.cycles_per_sample + 1000      # no beat waits more than a sample
        t0 = await self.start_batch(len(xs))
        await p.send("samples", self.beats(xs, ds) if beats is None else beats,
                     self._gaps(idle), limit)
        # done rises after edge t1 and is sampled high at edge t1 + 1
        t1 = await p.wait_for("done", 1, len(xs) * limit) - 1
        await p.settle()
        if p.get("error"):
            raise AssertionError(f"batch of {len(xs)}: error raised by a valid batch")
        if p.get("samples__ready"):              # it took its samples, and takes no more
            raise AssertionError(f"batch of {len(xs)}: samples still taken after done")
        await p.cycles(1)
        if model and self.model is not None:
            self.model.batch(xs, ds)
        return t1 - t0

    async def invalid_batch(self, B: int):
        """Offer an out-of-range batch size: ``done`` with ``error`` within 10 cycles."""
        p = self.ports
        t0 = await self.start_batch(B)
        try:
            await p.wait_for("done", 1, 10)
        except TimeoutError:
            raise AssertionError(f"no done after batch {B} (taken at edge {t0})") from None
        await p.settle()
        if not p.get("error"):
            raise AssertionError(f"batch {B}: error not raised")
        await p.cycles(1)

    # -- readout -------------------------------------------------------------------------------

    async def readout(self, *, backpressure=None) -> dict:
        """Stream the stored rows out; return ``rows`` ((n_in + n_out) x k raw words), the k x k
        state (``Tx``, ``Td``: k x k with the lower triangle 0; ``ax``, ``ad``, ``sigma``,
        ``r``) and ``overflow``."""
        p, unit = self.ports, self.unit
        bp = self.backpressure if backpressure is None else backpressure
        p.set("readout", 1)
        await p.cycles(1)
        p.set("readout", 0)
        got = await p.receive("rows_o", self.rows, stall_cycles(bp, self.rng),
                              50 * self.rows + 100)
        await self.wait_idle()
        await p.settle()
        out = readout_state(unit, got, p.get("kxk"), p.get("overflow"))
        await p.cycles(1)
        return out

    async def check_state(self, label: str, *, backpressure=None) -> dict:
        """Read the state out and compare every row word, the k x k state and the overflow flag
        with the golden model (integer equality); raise :class:`cosim.scoreboard.Mismatch`
        naming the word. Returns the readout."""
        if self.model is None:
            raise RuntimeError("check_state needs a golden model")
        got = await self.readout(backpressure=backpressure)
        compare_state(self.unit, self.model, got, label)
        return got

    def _gaps(self, idle):
        return gap_counts(self.idle if idle is None else idle, self.rng)


def compare_state(unit, model, got: dict, label: str):
    """Compare a readout (:meth:`UnitHost.readout`) with ``model`` word for word."""
    k, n_in = unit.k, unit.n_in
    want = np.concatenate([model.Xs, model.Ds])
    where = [f"{'X' if r < n_in else 'Delta'} row {r if r < n_in else r - n_in}, column {c}"
             for r in range(len(want)) for c in range(k)]
    compare_words(f"{label}: rows", want, got["rows"], width=unit.formats.vec.width,
                  frac=unit.formats.vec.frac, where=where)
    (ax, Tx), (ad, Td) = model.x_side, model.d_side
    sw = unit.formats.mat.width
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    for name, T in (("Tx", Tx), ("Td", Td)):
        compare_words(f"{label}: {name}", [T[i, j] for i, j in pairs],
                      [got[name][i, j] for i, j in pairs], width=sw,
                      where=[f"{name}[{i},{j}]" for i, j in pairs])
    for name, value in (("ax", ax), ("ad", ad), ("sigma", model.sigma), ("r", model.r)):
        compare_words(f"{label}: {name}", value, got[name], width=sw)
    if got["overflow"] != bool(model.overflow):
        raise AssertionError(f"{label}: overflow {got['overflow']}, golden {model.overflow}")
