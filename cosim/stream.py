"""cocotb drivers for Amaranth ``lib.stream`` ports, and payload packing with the hardware layouts.

Amaranth flattens a stream member ``i`` of a Component into the Verilog ports ``i__payload``,
``i__valid`` and ``i__ready``. :class:`StreamSource` drives such an input with random idle cycles;
:class:`StreamSink` accepts an output with random backpressure and records every transferred
payload. Both follow the stream rules: ``valid`` never waits for ``ready`` and a payload is held
until it is transferred.

Payloads are packed and unpacked with the same ``data.StructLayout`` object the Component uses
(:func:`pack`, :func:`unpack`), reading each field's offset and shape from the layout.
"""

from __future__ import annotations

import random
from collections import deque

import cocotb
from cocotb.triggers import RisingEdge

__all__ = ["pack", "unpack", "pack_words", "unpack_words", "StreamSource", "StreamSink",
           "random_gaps", "never"]


def pack(layout, **fields) -> int:
    """Pack integer field values into the payload bits of ``layout`` (signed fields wrap)."""
    bits = 0
    for name, field in layout:
        value = int(fields.pop(name, 0))
        bits |= (value & ((1 << field.width) - 1)) << field.offset
    if fields:
        raise KeyError(f"fields not in the layout: {', '.join(fields)}")
    return bits


def _field(bits: int, offset: int, width: int, signed: bool) -> int:
    value = (int(bits) >> offset) & ((1 << width) - 1)
    return value - (1 << width) if signed and value >> (width - 1) else value


def unpack(layout, bits: int) -> dict:
    """Unpack payload bits into a dict of integer field values (signed fields sign-extended)."""
    return {name: _field(bits, field.offset, field.width, getattr(field.shape, "signed", False))
            for name, field in layout}


def pack_words(values, width: int) -> int:
    """Pack signed words into the bits of an ``ArrayLayout(signed(width), len(values))``."""
    bits = 0
    for i, v in enumerate(values):
        bits |= (int(v) & ((1 << width) - 1)) << (i * width)
    return bits


def unpack_words(bits: int, width: int, count: int) -> list:
    """Signed words of an ``ArrayLayout(signed(width), count)`` value."""
    return [_field(bits, i * width, width, True) for i in range(count)]


def never():
    """A stall pattern that never stalls."""
    while True:
        yield False


def random_gaps(probability: float, rng: random.Random):
    """A stall pattern: stall each cycle with ``probability`` (idle or backpressure)."""
    while True:
        yield rng.random() < probability


class StreamSource:
    """Drive an Amaranth stream input ``<prefix>__payload/valid/ready`` from a queue of payloads.

    ``idle`` is an iterator of booleans (one per cycle): True leaves a cycle without ``valid``.
    """

    def __init__(self, dut, prefix: str, clk, idle=None):
        self._payload = getattr(dut, f"{prefix}__payload")
        self._valid = getattr(dut, f"{prefix}__valid")
        self._ready = getattr(dut, f"{prefix}__ready")
        self._clk = clk
        self._idle = idle if idle is not None else never()
        self._queue = deque()
        self._busy = False
        self.sent = 0
        self.stalled_cycles = 0  # cycles with valid high and ready low
        self._valid.value = 0
        self._payload.value = 0
        self._task = cocotb.start_soon(self._run())

    def send(self, payloads):
        """Queue payload words (ints) to be sent in order."""
        self._queue.extend(payloads)

    @property
    def idle(self) -> bool:
        """True when every queued payload has been transferred."""
        return not self._queue and not self._busy

    async def _run(self):
        while True:
            await RisingEdge(self._clk)
            if self._busy:
                if int(self._ready.value):
                    self.sent += 1
                    self._busy = False
                else:
                    self.stalled_cycles += 1
            if not self._busy:
                if self._queue and not next(self._idle):
                    self._payload.value = self._queue.popleft()
                    self._busy = True
                self._valid.value = int(self._busy)

    def stop(self):
        self._task.cancel()


class StreamSink:
    """Accept an Amaranth stream output ``<prefix>__payload/valid/ready`` and record payloads.

    ``backpressure`` is an iterator of booleans (one per cycle): True holds ``ready`` low.
    Each record is ``(cycle, payload_int)``.
    """

    def __init__(self, dut, prefix: str, clk, backpressure=None):
        self._payload = getattr(dut, f"{prefix}__payload")
        self._valid = getattr(dut, f"{prefix}__valid")
        self._ready = getattr(dut, f"{prefix}__ready")
        self._clk = clk
        self._backpressure = backpressure if backpressure is not None else never()
        self.received = []
        self.cycle = 0
        self._ready.value = 0
        self._ready_now = False
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self._clk)
            self.cycle += 1
            if self._ready_now and int(self._valid.value):
                self.received.append((self.cycle, self._payload.value.to_unsigned()))
            self._ready_now = not next(self._backpressure)
            self._ready.value = int(self._ready_now)

    def stop(self):
        self._task.cancel()
