"""The host side of one layer's update hardware (:class:`hdl.unit_driver.UnitDriver`).

:class:`UpdateHost` is a :class:`cosim.unit_host.UnitHost` (state load and batches through the
unit's ports, the golden unit model kept in step) that also captures the update the top puts on
the crossbar lines after each batch::

    await host.set_lr_shift(model.lr_shift)     the driver's run-time learning-rate shift
    await host.batch(xs, ds)                    samples in, wait for done (UnitHost)
    upd = await host.update()                   every slot's pulses of the k terms, then
                                                update_done: LayerUpdate(rows, cols, cycles)

Pulses are read in each slot's first ``fire`` cycle, after the clock edge at which ``fire`` is
sampled high (the latches hold until the next load cycle's edge), so with the cocotb adapter
Python wakes twice per slot (``fire`` rising, then falling), never per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .unit_host import UnitHost

__all__ = ["UpdateHost", "LayerUpdate", "bits_to_pulses", "PrefixedPorts"]


def bits_to_pulses(pulse: int, sign: int, n: int) -> np.ndarray:
    """Line pulses as int8 -1/0/+1 from the pulse and sign bit vectors (bit ``j`` = line ``j``;
    sign 1 = negative)."""
    nbytes = max(1, (n + 7) // 8)
    p = np.unpackbits(np.frombuffer(int(pulse).to_bytes(nbytes, "little"), np.uint8),
                      bitorder="little")[:n]
    s = np.unpackbits(np.frombuffer(int(sign).to_bytes(nbytes, "little"), np.uint8),
                      bitorder="little")[:n]
    return (p.astype(np.int8) * (1 - 2 * s.astype(np.int8))).astype(np.int8)


@dataclass(frozen=True)
class LayerUpdate:
    """One batch's update as captured: ``rows`` ``(k, BL, n_out)`` and ``cols`` ``(k, BL, n_in)``
    int8 pulses, ``saturated`` (the FACTOR stage's flag), ``cycles`` from the host's return
    from the batch to ``update_done``, and ``clip_lines`` (per term, the driver's count of
    lines clipped at probability 1; empty when not read)."""

    rows: np.ndarray
    cols: np.ndarray
    saturated: bool
    cycles: int
    clip_lines: tuple = ()

    def terms(self):
        """``[(row_pulses, col_pulses)]`` per term (:meth:`CrossbarArray.apply_pulses`' args)."""
        return [(self.rows[r], self.cols[r]) for r in range(self.rows.shape[0])]


class PrefixedPorts:
    """An adapter whose port names carry ``prefix`` (a layer of the network top: ``l0__``)."""

    def __init__(self, ports, prefix: str):
        self.ports, self.prefix = ports, prefix

    def set(self, name, value):
        self.ports.set(self._n(name), value)

    def get(self, name):
        return self.ports.get(self._n(name))

    def now(self):
        return self.ports.now()

    async def settle(self):
        await self.ports.settle()

    async def cycles(self, n=1):
        await self.ports.cycles(n)

    async def send(self, prefix, payloads, gaps, limit=1_000_000):
        await self.ports.send(self._n(prefix), payloads, gaps, limit)

    async def receive(self, prefix, count, stall, limit=1_000_000):
        return await self.ports.receive(self._n(prefix), count, stall, limit)

    async def wait_for(self, name, value, limit):
        return await self.ports.wait_for(self._n(name), value, limit)

    def _n(self, name):
        return name if name == "rst" else self.prefix + name


class UpdateHost(UnitHost):
    """Drive a :class:`hdl.unit_driver.UnitDriver` (``top``) through ``ports``; the unit's
    protocol is :class:`UnitHost`'s (``model`` is the golden unit model kept in step, or
    ``None``)."""

    #: The unit's inputs but the readout ones (the top reads the unit out itself), and the
    #: driver's run-time learning-rate shift.
    INPUTS = tuple(name for name in UnitHost.INPUTS
                   if name not in ("readout", "rows_o__ready")) + ("lr_shift",)

    def __init__(self, ports, top, *, model="unit", rng=None, idle=0.0):
        super().__init__(ports, top.unit, model=model, rng=rng, idle=idle)
        self.top = top
        self.k, self.bl = top.k, top.model.bl
        sch = top.schedule
        self._limit = 4 * (top.factor.factor_cycles + sch.cycles_per_term
                           + sch.load_cycles + 100)

    async def set_lr_shift(self, value: int):
        """Set the driver's run-time ``lr_shift`` (signed 7 bits)."""
        self.ports.set("lr_shift", int(value) & 0x7F)
        await self.ports.cycles(1)

    async def readout(self, **_):
        raise RuntimeError("readout: the unit-driver top reads the unit out itself")

    async def update(self) -> LayerUpdate:
        """Capture the ``k`` terms' ``BL`` slots after a batch; return after ``update_done``."""
        p, top = self.ports, self.top
        t0 = p.now()
        rows = np.zeros((self.k, self.bl, top.n_out), np.int8)
        cols = np.zeros((self.k, self.bl, top.n_in), np.int8)
        clips = []
        for r in range(self.k):
            for t in range(self.bl):
                await p.wait_for("fire", 1, self._limit)
                await p.settle()
                if t == 0:
                    clips.append(p.get("clip_lines"))
                rows[r, t] = bits_to_pulses(p.get("row_pulse"), p.get("row_sign"), top.n_out)
                cols[r, t] = bits_to_pulses(p.get("col_pulse"), p.get("col_sign"), top.n_in)
                await p.cycles(1)               # (update_done rises one edge later)
                if r < self.k - 1 or t < self.bl - 1:
                    await p.wait_for("fire", 0, self._limit)
        t1 = await p.wait_for("update_done", 1, self._limit)
        await p.settle()
        saturated = bool(p.get("saturated"))
        await p.cycles(1)                       # out of the read-only phase for the caller
        return LayerUpdate(rows, cols, saturated, t1 - t0, tuple(clips))
