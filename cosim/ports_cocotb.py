"""Port adapter for generated Verilog under cocotb (Icarus Verilog, Verilator).

Implements the adapter vocabulary of :mod:`cosim.unit_host` on a cocotb ``dut`` so that no Python
runs per clock cycle while the design computes: the clock is cocotb's GPI (C) clock, a stream
source sleeps on ``ready`` when the design does not take input, and waits sleep on the awaited
port's edge with a simulator timer as the time limit. Values read at a rising edge are the values
sampled by that edge (cocotb reads before the edge's non-blocking updates land); values read
after :meth:`CocotbPorts.settle` (``ReadOnly``) are the settled values of the current cycle.
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import (ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer,
                             ValueChange)
from cocotb.utils import get_sim_time

__all__ = ["CocotbPorts"]


class CocotbPorts:
    """The ports of a cocotb ``dut`` by Verilog name, with integer values.

    Parameters
    ----------
    dut : cocotb handle of the top level
    clock : name of the clock input (default ``clk``)
    period_ns : clock period in ns
    """

    def __init__(self, dut, *, clock: str = "clk", period_ns: int = 10):
        self.dut = dut
        self.period_ns = int(period_ns)
        self._handles = {}
        self._widths = {}
        self.clk = self._handle(clock)
        self._clock = None

    def start_clock(self):
        """Start the GPI clock on the clock input (rising edge at the current time)."""
        self._clock = Clock(self.clk, self.period_ns, unit="ns", impl="gpi")
        self._clock.start()
        return self._clock

    def _handle(self, name):
        h = self._handles.get(name)
        if h is None:
            h = self._handles[name] = getattr(self.dut, name)
            self._widths[name] = len(h)
        return h

    def set(self, name: str, value: int):
        self._handle(name).value = int(value)

    def get(self, name: str) -> int:
        h = self._handle(name)
        return int(h.value) if self._widths[name] == 1 else h.value.to_unsigned()

    def now(self) -> int:
        return int(get_sim_time(unit="ns")) // self.period_ns

    async def settle(self):
        await ReadOnly()

    async def cycles(self, n: int = 1):
        if n == 1:
            await RisingEdge(self.clk)
        elif n > 1:
            await ClockCycles(self.clk, n)

    async def send(self, prefix: str, payloads, gaps, limit: int = 1_000_000):
        payload = self._handle(f"{prefix}__payload")
        valid = self._handle(f"{prefix}__valid")
        ready = self._handle(f"{prefix}__ready")
        clk, rises = self.clk, RisingEdge(ready)
        for index, bits in enumerate(payloads):
            n = gaps()
            if n:
                valid.value = 0
                await self.cycles(n)
            payload.value = int(bits)
            valid.value = 1
            deadline = self.now() + limit
            while True:
                await RisingEdge(clk)
                if int(ready.value):        # sampled at this edge: transferred
                    break
                left = deadline - self.now()
                if left <= 0:
                    raise TimeoutError(f"{prefix}: beat {index} not taken within {limit} "
                                       f"cycles")
                await ReadOnly()
                if not int(ready.value):    # sleep until the design takes input again
                    await First(rises, Timer(left * self.period_ns, unit="ns"))
        valid.value = 0

    async def receive(self, prefix: str, count: int, stall, limit: int = 1_000_000) -> list:
        payload = self._handle(f"{prefix}__payload")
        valid = self._handle(f"{prefix}__valid")
        ready = self._handle(f"{prefix}__ready")
        out, start = [], self.now()
        while len(out) < count:
            if self.now() - start > limit:
                raise TimeoutError(f"{prefix}: {len(out)} of {count} payloads in {limit} cycles")
            take = not stall()
            ready.value = int(take)
            await RisingEdge(self.clk)
            if take and int(valid.value):
                out.append(payload.value.to_unsigned())
        ready.value = 0
        return out

    async def wait_for(self, name: str, value: int, limit: int) -> int:
        h = self._handle(name)
        deadline = self.now() + int(limit)
        if self._widths[name] == 1:
            change = RisingEdge(h) if value else FallingEdge(h)
        else:
            change = ValueChange(h)
        while True:
            await ReadOnly()
            if self.get(name) == value:
                await RisingEdge(self.clk)
                return self.now()
            left = deadline - self.now()
            if left <= 0:
                raise TimeoutError(f"{name} not {value} within {limit} cycles")
            await First(change, Timer(left * self.period_ns, unit="ns"))
