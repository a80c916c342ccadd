"""One layer's update hardware: the streaming-PCA unit, the FACTOR stage and the crossbar driver.

Samples in, pulses out. After every valid batch the top reads the unit's state out into the
FACTOR stage (:class:`hdl.crossbar_factor.CrossbarFactor`), which forms the ``k`` terms' factor
words and plays them, term by term, into the driver (:class:`hdl.crossbar_driver.CrossbarDriver`,
with its run-time ``lr_shift`` port)::

    samples, batch --> SBPCAUnit --done--> readout --rows_o--> CrossbarFactor --o, o_sigma-->
    load, load_rows, kxk_in -->  |  kxk (Tx, Td, ax, ad, sigma) -------^          |
                                                                                  v
    row_pulse/row_sign (n_out), col_pulse/col_sign (n_in), fire  <-- CrossbarDriver <-- lr_shift

The contract, bit for bit: the golden fixed-point unit (:class:`golden.sbpca_unit.
SBPCAUnitModel`) followed by :meth:`golden.driver.CrossbarDriverModel.drive` of its
:func:`~golden.driver.unit_factors` (the ``fixed`` training backend's path): every slot's pulses
of every term. The unit's ports keep their names and behaviour (:mod:`hdl.sbpca_unit`), except
that ``readout``/``rows_o`` belong to the top: a ``batch`` beat is not taken from the cycle of
``done`` until the unit has begun its readout. ``update_done`` pulses when the batch's ``k``-th
term has been pulsed; the unit may run the next batch meanwhile (the FACTOR stage holds the
words). ``busy`` covers the unit, the pending readout, the FACTOR stage and the driver.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.driver import CrossbarDriverModel
from .crossbar_driver import CrossbarDriver
from .crossbar_factor import CrossbarFactor
from .sbpca_unit import SBPCAUnit

__all__ = ["UnitDriver"]

#: The unit ports the top forwards unchanged.
UNIT_PORTS = ("samples", "batch", "load", "load_rows", "kxk_in", "kxk", "error", "overflow")


class UnitDriver(wiring.Component):
    """The streaming-PCA unit chained with the crossbar driver (module docstring).

    Parameters
    ----------
    unit : SBPCAUnit
        The layer's unit (its parameters are the design's).
    model : CrossbarDriverModel
        The driver's parameters (``n_in``/``n_out`` and formats must be the unit's); its
        ``lr_mult`` and step constant are built in, its ``lr_shift`` is the run-time port's value
        the host sets (:attr:`lr_shift`).

    Members
    -------
    the unit's ``samples``, ``batch``, ``load``, ``load_rows``, ``kxk_in``, ``kxk``, ``error``,
    ``overflow``; ``lr_shift`` : In(signed(7)); ``row_pulse``, ``row_sign`` : Out(n_out);
    ``col_pulse``, ``col_sign`` : Out(n_in); ``fire``, ``done``, ``update_done``, ``busy``,
    ``saturated`` (a factor word of the batch was clamped) : Out(1); the driver's ``clip_lines``
    (the current term's clipped lines), ``clip`` and ``clipped_terms`` (a wrapping count).
    """

    def __init__(self, unit: SBPCAUnit, model: CrossbarDriverModel):
        if not isinstance(unit, SBPCAUnit):
            raise TypeError(f"unit={unit!r}: must be an SBPCAUnit")
        if not isinstance(model, CrossbarDriverModel):
            raise TypeError(f"model={model!r}: must be a CrossbarDriverModel")
        if (model.n_in, model.n_out) != (unit.n_in, unit.n_out):
            raise ValueError(f"model: a {model.n_in} -> {model.n_out} driver for a "
                             f"{unit.n_in} -> {unit.n_out} unit")
        if model.formats != unit.formats:
            raise ValueError("model: its formats differ from the unit's")
        self._unit, self._model = unit, model
        F = unit.formats
        self._driver = CrossbarDriver.for_model(model, lr_shift_port=True)
        self._factor = CrossbarFactor(n_in=unit.n_in, n_out=unit.n_out, k=unit.k,
                                      vec_width=F.vec.width, mat_width=F.mat.width,
                                      mat_frac=F.mat.frac, a_bits=unit.kxk_engine.a_bits,
                                      group=model.group)
        if F.sigma.width != F.mat.width:
            raise ValueError(f"formats: sigma is {F.sigma.width} bits, the k x k words "
                             f"{F.mat.width}; the FACTOR stage passes sigma in the latter")
        members = {name: unit.signature.members[name] for name in UNIT_PORTS}
        n_in, n_out = unit.n_in, unit.n_out
        super().__init__({
            **members,
            "lr_shift": In(signed(7)),
            "row_pulse": Out(n_out), "row_sign": Out(n_out),
            "col_pulse": Out(n_in), "col_sign": Out(n_in),
            "fire": Out(1), "done": Out(1), "update_done": Out(1), "busy": Out(1),
            "saturated": Out(1),
            "clip_lines": Out(range(n_in + n_out + 1)), "clip": Out(1), "clipped_terms": Out(16),
        })

    unit = property(lambda self: self._unit)
    model = property(lambda self: self._model)
    driver = property(lambda self: self._driver)
    factor = property(lambda self: self._factor)
    n_in = property(lambda self: self._unit.n_in)
    n_out = property(lambda self: self._unit.n_out)
    k = property(lambda self: self._unit.k)
    schedule = property(lambda self: self._driver.schedule)

    #: Cycles from the host's return from a batch (one edge after ``done``) to the first row
    #: the FACTOR stage takes: the readout request and the unit's readout latency.
    READOUT_LATENCY = 3
    #: The unit's bank switch: cycles from the last ``Xs`` row's transfer to the first ``Ds``
    #: row's ``valid`` (the FACTOR stage waits when its rows take fewer cycles).
    SWITCH_LATENCY = 4

    @property
    def update_cycles(self) -> int:
        """Cycles from the host's return from a batch to ``update_done``::

            READOUT_LATENCY + max(0, SWITCH_LATENCY - k (k + 1) / 2)
              + CrossbarDriverModel.cycles_per_batch(k) + 1

        (``cycles_per_batch``: the FACTOR stage, then per term ``R + C`` word beats, the
        ``sigma`` beat and the driver's term; one cycle for ``update_done``). Exact for
        ``k >= 2``, a lower bound for ``k = 1`` (the unit's readout then sets the pace); measured
        by the tests."""
        T = self._factor.cycles_per_row
        assert self._factor.factor_cycles == self._model.factor_cycles(self.k)
        return (self.READOUT_LATENCY + max(0, self.SWITCH_LATENCY - T)
                + self._model.cycles_per_batch(self.k) + 1)

    @property
    def parameters(self) -> dict:
        return {"unit": {"n_in": self.n_in, "n_out": self.n_out, "k": self.k,
                         "lanes": self._unit.lanes, "words": self._unit.words,
                         "b_max": self._unit.b_max},
                "driver": self._driver.parameters}

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._unit
        m.submodules.factor = factor = self._factor
        m.submodules.driver = driver = self._driver
        k = self.k

        # forwarded unit ports; a batch waits while a readout is due
        due = Signal()
        block = Signal()
        m.d.comb += block.eq(unit.done | due)
        m.d.comb += [unit.samples.payload.eq(self.samples.payload),
                     unit.samples.valid.eq(self.samples.valid),
                     self.samples.ready.eq(unit.samples.ready),
                     unit.batch.payload.eq(self.batch.payload),
                     unit.batch.valid.eq(self.batch.valid & ~block),
                     self.batch.ready.eq(unit.batch.ready & ~block),
                     unit.load.eq(self.load),
                     unit.load_rows.payload.eq(self.load_rows.payload),
                     unit.load_rows.valid.eq(self.load_rows.valid),
                     self.load_rows.ready.eq(unit.load_rows.ready),
                     unit.kxk_in.eq(self.kxk_in),
                     self.kxk.eq(unit.kxk), self.error.eq(unit.error),
                     self.overflow.eq(unit.overflow), self.done.eq(unit.done)]

        # after a valid batch: the unit's readout into the FACTOR stage
        with m.If(unit.done & ~unit.error):
            m.d.sync += due.eq(1)
        with m.If(due & ~unit.busy):
            m.d.comb += unit.readout.eq(1)
            m.d.sync += due.eq(0)
        kx = unit.kxk
        m.d.comb += [factor.rows.payload.eq(unit.rows_o.payload),
                     factor.rows.valid.eq(unit.rows_o.valid),
                     unit.rows_o.ready.eq(factor.rows.ready),
                     factor.kxk.Tx.eq(kx.Tx), factor.kxk.Td.eq(kx.Td),
                     factor.kxk.ax.eq(kx.ax), factor.kxk.ad.eq(kx.ad),
                     factor.kxk.sigma.eq(kx.sigma),
                     self.saturated.eq(factor.saturated)]
        wiring.connect(m, factor.o, driver.i)
        wiring.connect(m, factor.o_sigma, driver.i_sigma)
        m.d.comb += [driver.lr_shift.eq(self.lr_shift),
                     self.row_pulse.eq(driver.row_pulse), self.row_sign.eq(driver.row_sign),
                     self.col_pulse.eq(driver.col_pulse), self.col_sign.eq(driver.col_sign),
                     self.fire.eq(driver.fire), self.clip_lines.eq(driver.clip_lines),
                     self.clip.eq(driver.clip), self.clipped_terms.eq(driver.clipped_terms)]

        # update_done: the k-th term's end (busy falling)
        was_busy = Signal()
        ended = Signal(range(max(2, k)))
        m.d.sync += [was_busy.eq(driver.busy), self.update_done.eq(0)]
        with m.If(was_busy & ~driver.busy):
            m.d.sync += ended.eq(ended + 1)
            with m.If(ended == k - 1):
                m.d.sync += [ended.eq(0), self.update_done.eq(1)]
        m.d.comb += self.busy.eq(unit.busy | due | factor.busy | driver.busy | was_busy)
        return m
