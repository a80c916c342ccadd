"""MAC lane: a pipelined signed multiply-accumulate with valid/ready streams.

The building block of the streaming-PCA unit's lanes. One multiply per cycle at full throughput;
the arithmetic is defined by the golden model ``golden.mac_lane.MACLaneModel``::

    p     = -(a * b) if sub else a * b
    base  = c if clear else acc
    acc   = acc_format.fit(base + p)          wrap or saturate
    flag  = (0 if clear else flag) | overflowed
    emit (acc, flag) when last

Datapath::

              i.payload = {a, b, c, clear, last, sub}
                  |
          a ------+---- b
              [ x ]                          stage 1: multiply (one DSP block)
                |
           [p1, c1, clear1, last1, sub1, valid1]   register
                |
      acc --[mux clear1]-- c1
                |
             [ +/- ]<---- p1                 stage 2: add (or subtract) in acc_width+1 bits,
                |                                     wrap or saturate to acc_width
           [acc, flag]  register  --(last1)--> [o.payload, o.valid]  output register

Timing: a beat accepted in cycle t updates the accumulator in cycle t+2 and, if it has ``last``,
presents its result on ``o`` from cycle t+2 (``latency`` = 2). The pipeline stalls only when a
result must be emitted while the previous one is still waiting on ``o``; otherwise bubbles and
results flow without loss, so with ``o.ready`` held high ``i.ready`` stays high.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.fixed import FixedFormat
from golden.mac_lane import check_mac_formats

__all__ = ["MACLane", "LATENCY"]

#: Cycles from accepting a beat to its result on ``o`` (without stalls): multiply, then add.
LATENCY = 2


class MACLane(wiring.Component):
    """Pipelined signed multiply-accumulate lane.

    Parameters
    ----------
    a_format, b_format : FixedFormat
        Operand formats. Only widths matter to the integer datapath; their fraction bits must add
        up to ``acc_format.frac``.
    acc_format : FixedFormat
        Accumulator format: ``width >= a_format.width + b_format.width``; its ``overflow`` mode
        (``"wrap"`` or ``"saturate"``) is applied on every accumulation.

    Members
    -------
    i : In(stream.Signature(i_layout))
        Operand beats ``{a, b, c, clear, last, sub}``: ``clear`` starts a new sum from addend
        ``c`` (use ``c = 0`` for a dot product); ``last`` emits the sum after this beat; ``sub``
        subtracts the beat's product instead of adding it.
    o : Out(stream.Signature(o_layout))
        Results ``{value, overflow}``: the accumulator after a ``last`` beat, and whether any
        accumulation since the last ``clear`` wrapped or saturated.
    """

    def __init__(self, a_format: FixedFormat, b_format: FixedFormat, acc_format: FixedFormat):
        check_mac_formats(a_format, b_format, acc_format)
        self._a_format = a_format
        self._b_format = b_format
        self._acc_format = acc_format
        super().__init__({
            "i": In(stream.Signature(self.i_layout)),
            "o": Out(stream.Signature(self.o_layout)),
        })

    @property
    def a_format(self) -> FixedFormat:
        return self._a_format

    @property
    def b_format(self) -> FixedFormat:
        return self._b_format

    @property
    def acc_format(self) -> FixedFormat:
        return self._acc_format

    @property
    def latency(self) -> int:
        """Cycles from accepting a beat to its result appearing on ``o`` (without stalls)."""
        return LATENCY

    @property
    def i_layout(self) -> data.StructLayout:
        return data.StructLayout({
            "a": signed(self._a_format.width),
            "b": signed(self._b_format.width),
            "c": signed(self._acc_format.width),
            "clear": unsigned(1),
            "last": unsigned(1),
            "sub": unsigned(1),
        })

    @property
    def o_layout(self) -> data.StructLayout:
        return data.StructLayout({
            "value": signed(self._acc_format.width),
            "overflow": unsigned(1),
        })

    @property
    def parameters(self) -> dict:
        """The construction parameters, JSON-serializable."""
        return {"a_format": self._a_format.as_dict(), "b_format": self._b_format.as_dict(),
                "acc_format": self._acc_format.as_dict()}

    def elaborate(self, platform):
        m = Module()
        acc_w = self._acc_format.width
        prod_w = self._a_format.width + self._b_format.width

        # Stage 1 registers: the product and the beat's control.
        # Only valid1 needs a reset: the rest is qualified by it (and reset-less registers let
        # synthesis fold the product register into the DSP block).
        p1 = Signal(signed(prod_w), reset_less=True)
        c1 = Signal(signed(acc_w), reset_less=True)
        clear1 = Signal(reset_less=True)
        last1 = Signal(reset_less=True)
        sub1 = Signal(reset_less=True)
        valid1 = Signal()

        # Stage 2 state: accumulator and its sticky overflow flag.
        acc = Signal(signed(acc_w))
        flag = Signal()

        stall = Signal()
        advance = Signal()
        m.d.comb += [
            stall.eq(self.o.valid & ~self.o.ready & valid1 & last1),
            advance.eq(~stall),
            self.i.ready.eq(advance),
        ]

        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                p1.eq(self.i.payload.a * self.i.payload.b),
                c1.eq(self.i.payload.c),
                clear1.eq(self.i.payload.clear),
                last1.eq(self.i.payload.last),
                sub1.eq(self.i.payload.sub),
            ]

        # Add in acc_w + 1 bits: the sum (or difference) of an acc_w-bit base and a product no
        # wider than acc_w always fits, so overflow is exactly "the two top bits differ".
        base = Mux(clear1, c1, acc)
        total = Signal(signed(acc_w + 1))
        overflowed = Signal()
        fitted = Signal(signed(acc_w))
        m.d.comb += [
            total.eq(Mux(sub1, base - p1, base + p1)),
            overflowed.eq(total[acc_w] != total[acc_w - 1]),
        ]
        if self._acc_format.saturate:
            most_neg = Const(self._acc_format.min_raw, signed(acc_w))
            most_pos = Const(self._acc_format.max_raw, signed(acc_w))
            m.d.comb += fitted.eq(Mux(overflowed, Mux(total[acc_w], most_neg, most_pos),
                                      total[:acc_w]))
        else:
            m.d.comb += fitted.eq(total[:acc_w])
        new_flag = (flag & ~clear1) | overflowed

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(advance & valid1):
            m.d.sync += [acc.eq(fitted), flag.eq(new_flag)]
            with m.If(last1):
                m.d.sync += [
                    self.o.valid.eq(1),
                    self.o.payload.value.eq(fitted),
                    self.o.payload.overflow.eq(new_flag),
                ]

        return m
