"""Port adapter for a Component on the Amaranth simulator (``sim.add_testbench``).

Implements the adapter vocabulary of :mod:`cosim.unit_host` on an Amaranth testbench context, so
the Amaranth-simulator tests drive the unit through the same :class:`cosim.unit_host.UnitHost`
as the cocotb benches. Port names are the Verilog names of the flattened signature
(``samples__payload`` is ``component.samples.payload``); values are integers (a layout's bits).
The Amaranth simulator runs Python every cycle anyway, so this adapter simply ticks.
"""

from __future__ import annotations

from amaranth.hdl import Value

__all__ = ["AmaranthPorts", "simulate_unit"]


class AmaranthPorts:
    """The ports of ``component`` in testbench context ``ctx`` (clock domain ``sync``)."""

    def __init__(self, ctx, component):
        self.ctx, self.component = ctx, component
        self._signals = {}
        self._now = 0

    def _sig(self, name: str):
        sig = self._signals.get(name)
        if sig is None:
            if name == "rst":
                raise NotImplementedError("rst: the Amaranth adapter does not drive reset")
            obj = self.component
            for part in name.split("__"):
                obj = getattr(obj, part)
            sig = self._signals[name] = Value.cast(obj)
        return sig

    def set(self, name: str, value: int):
        self.ctx.set(self._sig(name), int(value))

    def get(self, name: str) -> int:
        return int(self.ctx.get(self._sig(name)))

    def now(self) -> int:
        return self._now

    async def settle(self):
        pass

    async def cycles(self, n: int = 1):
        for _ in range(n):
            await self.ctx.tick()
            self._now += 1

    async def send(self, prefix: str, payloads, gaps, limit: int = 1_000_000):
        for index, bits in enumerate(payloads):
            n = gaps()
            if n:
                self.set(f"{prefix}__valid", 0)
                await self.cycles(n)
            self.set(f"{prefix}__payload", bits)
            self.set(f"{prefix}__valid", 1)
            for _ in range(limit):
                *_, ready = await self.ctx.tick().sample(self._sig(f"{prefix}__ready"))
                self._now += 1
                if ready:
                    break
            else:
                raise TimeoutError(f"{prefix}: beat {index} not taken within {limit} cycles")
        self.set(f"{prefix}__valid", 0)

    async def receive(self, prefix: str, count: int, stall, limit: int = 1_000_000) -> list:
        valid, payload = self._sig(f"{prefix}__valid"), self._sig(f"{prefix}__payload")
        out, start = [], self._now
        while len(out) < count:
            if self._now - start > limit:
                raise TimeoutError(f"{prefix}: {len(out)} of {count} payloads in {limit} cycles")
            take = not stall()
            self.set(f"{prefix}__ready", int(take))
            *_, v, bits = await self.ctx.tick().sample(valid, payload)
            self._now += 1
            if take and v:
                out.append(int(bits))
        self.set(f"{prefix}__ready", 0)
        return out

    async def wait_for(self, name: str, value: int, limit: int) -> int:
        sig = self._sig(name)
        for _ in range(int(limit)):
            *_, v = await self.ctx.tick().sample(sig)
            self._now += 1
            if int(v) == value:
                return self._now
        raise TimeoutError(f"{name} not {value} within {limit} cycles")


def watch_collisions(row_pass):
    """A background testbench (``sim.add_testbench(..., background=True)``) that fails in the
    first cycle a row memory of ``row_pass`` reads the address it writes
    (:attr:`hdl.row_pass.RowPass.collision`: the row memories are synthesized without
    read-during-write logic, so this must never happen)."""
    async def watch(ctx):
        cycle = 0
        async for _, _, hit in ctx.tick().sample(row_pass.collision):
            assert not hit, f"cycle {cycle}: a row memory read and wrote one address"
            cycle += 1
    return watch


def simulate_unit(unit, model, batches, *, seed=1, idle=0.0, backpressure=0.0) -> list:
    """Run ``unit`` on the Amaranth simulator through :class:`cosim.unit_host.UnitHost`: load
    ``model``'s state (integer words, transforms included), run ``batches`` [(xs, ds)] of raw
    words and read the state out after each. Returns ``[(readout, cycles)]``; ``model`` is not
    advanced (compare with :func:`cosim.unit_host.compare_state` after each ``model.batch``)."""
    import random

    from amaranth.sim import Simulator

    from .unit_host import UnitHost

    out = []

    async def tb(ctx):
        host = UnitHost(AmaranthPorts(ctx, unit), unit, model=None, rng=random.Random(seed),
                        idle=idle, backpressure=backpressure)
        await host.load_model_state(model)
        for xs, ds in batches:
            cycles = await host.batch(xs, ds)
            out.append((await host.readout(), cycles))

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.add_testbench(watch_collisions(unit.row_pass), background=True)
    sim.run()
    return out
