"""Serial shell: wrap any Component so that synthesis places it on a real package with 3 pins.

A design with hundreds of port bits does not fit the pins of an FPGA package (an iCE40 UP5K in
SG48 has 39). For resource and Fmax reports the shell feeds every input port bit of the wrapped
design from a shift register loaded one bit per cycle through ``sin``, and captures every output
port bit into a second shift register read out through ``sout``. All design logic stays
observable, so synthesis keeps it, and every design port is registered, as it would be inside a
larger system: the reported Fmax is that of the design, not of the pins.

::

    sin --> [ in_shift : N bits ] ==> design inputs
                                      design outputs ==> [ out_shift : M bits ] --> sout
    capture: 1 = load out_shift from the outputs, 0 = shift it toward sout

With ``reset_buffer`` (the flow passes the target's), the design's reset goes
through that global buffer primitive, as a board design routes a reset of thousands of loads
(on ECP5 a ``DCCA``: nextpnr then routes it on a global network, not on the fabric's wires);
the design's logic is the same.

The shell is for synthesis only; it is not a way to drive the design.
"""

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, Const, DomainRenamer, Instance, Module,
                          ResetSignal, Signal, Value)
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.check import check_instance

__all__ = ["SerialShell", "RESET_BUFFERS"]

#: Global buffer primitives a reset can go through: name -> (input port, output port, constant
#: inputs).
RESET_BUFFERS = {"DCCA": ("CLKI", "CLKO", {"CE": 1})}


class SerialShell(wiring.Component):
    """Serial-in, serial-out synthesis shell around ``inner``.

    Parameters
    ----------
    inner : wiring.Component
        The design; all of its signature members are connected (inputs from the input shift
        register, outputs into the output shift register).
    reset_buffer : str, optional
        A primitive of :data:`RESET_BUFFERS` (``"DCCA"``) to put the design's reset through, or
        None (default): the reset as it is.

    Members
    -------
    sin : In(1)
        Serial input bit, shifted into the input register every cycle.
    capture : In(1)
        Load the output register from the design's outputs (else shift it).
    sout : Out(1)
        Serial output bit.
    """

    sin: In(1)
    capture: In(1)
    sout: Out(1)

    def __init__(self, inner: wiring.Component, *, reset_buffer=None):
        self._inner = check_instance("inner", inner, wiring.Component)
        if reset_buffer is not None and reset_buffer not in RESET_BUFFERS:
            raise ValueError(f"reset_buffer={reset_buffer!r}: must be None or one of "
                             f"{', '.join(RESET_BUFFERS)}")
        self._reset_buffer = reset_buffer
        inputs, outputs = self._split(inner)
        self._in_width = sum(len(v) for v in inputs)
        self._out_width = sum(len(v) for v in outputs)
        super().__init__()

    @staticmethod
    def _split(inner):
        inputs, outputs = [], []
        for _path, member, value in inner.signature.flatten(inner):
            (inputs if member.flow == In else outputs).append(Value.cast(value))
        return inputs, outputs

    @property
    def inner(self) -> wiring.Component:
        return self._inner

    @property
    def reset_buffer(self):
        return self._reset_buffer

    @property
    def in_width(self) -> int:
        """Total input port bits of the wrapped design."""
        return self._in_width

    @property
    def out_width(self) -> int:
        """Total output port bits of the wrapped design."""
        return self._out_width

    def elaborate(self, platform):
        m = Module()
        if self._reset_buffer is None:
            m.submodules.inner = self._inner
        else:                     # the design in a domain of its own, its reset buffered
            port_in, port_out, consts = RESET_BUFFERS[self._reset_buffer]
            rst = Signal(name="design_rst")
            m.submodules.reset_buffer = Instance(
                self._reset_buffer, **{f"i_{port_in}": ResetSignal("sync"),
                                       f"o_{port_out}": rst},
                **{f"i_{n}": Const(v, 1) for n, v in consts.items()})
            m.domains.design = ClockDomain("design")
            m.d.comb += [ClockSignal("design").eq(ClockSignal("sync")),
                         ResetSignal("design").eq(rst)]
            m.submodules.inner = DomainRenamer("design")(self._inner)
        inputs, outputs = self._split(self._inner)

        if inputs:
            in_shift = Signal(self._in_width)
            m.d.sync += in_shift.eq(Cat(self.sin, in_shift[:-1]))
            m.d.comb += Cat(*inputs).eq(in_shift)

        if outputs:
            out_shift = Signal(self._out_width)
            with m.If(self.capture):
                m.d.sync += out_shift.eq(Cat(*outputs))
            with m.Else():
                m.d.sync += out_shift.eq(out_shift >> 1)
            m.d.comb += self.sout.eq(out_shift[0])
        return m
