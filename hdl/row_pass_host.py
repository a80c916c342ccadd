"""The row-pass engine's host side: row writes, row readout and the input fill pointer.

Three pointers into the lanes' memories (``hdl/row_pass_banks.py`` for the address map), each
walking ``(lane, address)`` or ``(group, address)`` in storage order:

* ``row_w`` (ready when idle and no readout runs, so no row write meets a read of the row
  memories): ``rewind`` points it at the first row of the bank on ``bank``; each transferred
  row goes to lane ``wr_lane`` at ``wr_addr``; rows past ``n_b`` are dropped.
* ``row_o``: ``readout`` (idle, no readout running) starts streaming the ``n_b`` rows of the
  bank on ``bank``; one read is in flight at a time (``rd_pending``: the data is on the lane's
  read port in the next cycle, then held in ``row_o.payload`` until transferred).
* ``inp_w`` (accepted in every cycle, busy or not): ``inp_rewind`` points it at bank 0 of
  buffer ``inp_buf``; a beat's ``W`` words go to lane group ``in_group`` at ``in_addr``, a
  bank's last beat stores only its first words (``in_word_ok``) and moves on to the next
  bank's first address; after the last bank ``ready`` stays low until the next ``inp_rewind``.

The lanes (``hdl/row_pass_lane.py``) read these pointers for their memory ports; this module
moves them.
"""

from amaranth.hdl import Array, Mux, Signal

__all__ = ["HostPorts"]


class HostPorts:
    """The host pointers of ``rp`` (a ``RowPass``) over ``banks`` (a ``BankMap``).

    Attributes read by the lanes: ``wr_lane``, ``wr_addr``, ``wr_left`` (row writes),
    ``rd_lane``, ``rd_addr``, ``reading``, ``rd_pending`` (readout), ``in_addr``, ``in_group``,
    ``in_take``, ``in_word_ok`` (input fill).
    """

    def __init__(self, m, rp, banks):
        L, W, nb, depth = rp.lanes, rp.words, len(banks), banks.depth
        self._rp, self._banks = rp, banks
        wr_lane = Signal(range(max(L, 2)))
        wr_addr = Signal(range(depth + 1))
        wr_left = Signal(range(max(banks.banks) + 1), init=banks.banks[0])
        rd_lane = Signal(range(max(L, 2)))
        rd_addr = Signal(range(depth + 1))
        rd_left = Signal(range(max(banks.banks) + 1))
        reading = Signal()
        rd_pending = Signal()            # a read was issued last cycle; its data is on the port
        groups = L // W                  # an input beat writes one group of W lanes
        in_group = Signal(range(max(groups, 2)))
        in_addr = Signal(range(2 * depth + 1))
        in_bank = Signal(range(max(nb, 2)))
        in_beats = banks.input_beats
        in_left = Signal(range(max(in_beats) + 1), init=in_beats[0])   # beats left in the bank
        in_full = Signal()
        in_take = Signal()
        in_last = Signal()               # this beat is the last of its bank
        m.d.comb += [
            rp.inp_w.ready.eq(~in_full),
            in_take.eq(rp.inp_w.valid & ~in_full),
            in_last.eq(in_left == 1),
        ]
        in_word_ok = Signal(W)           # words of this beat that are stored
        m.d.comb += in_word_ok.eq(Mux(in_last, banks.lookup(banks.last_words, in_bank, W),
                                      (1 << W) - 1))
        self.wr_lane, self.wr_addr, self.wr_left = wr_lane, wr_addr, wr_left
        self.rd_lane, self.rd_addr, self.rd_left = rd_lane, rd_addr, rd_left
        self.reading, self.rd_pending = reading, rd_pending
        self.groups, self.in_group, self.in_addr, self.in_bank = groups, in_group, in_addr, in_bank
        self.in_left, self.in_full, self.in_take, self.in_last = in_left, in_full, in_take, in_last
        self.in_word_ok = in_word_ok

    def elaborate(self, m, *, busy, bank_sel, read_ports):
        """Move the pointers: ``busy`` (a pass runs), ``bank_sel`` (the bank input, in range),
        ``read_ports`` (each lane's row memory read port, for the readout data)."""
        rp, banks = self._rp, self._banks
        L, nb, depth = rp.lanes, len(banks), banks.depth
        per_bank = banks.lookup
        wr_lane, wr_addr, wr_left = self.wr_lane, self.wr_addr, self.wr_left
        rd_lane, rd_addr, rd_left = self.rd_lane, self.rd_addr, self.rd_left
        reading, rd_pending = self.reading, self.rd_pending
        groups, in_group, in_addr, in_bank = self.groups, self.in_group, self.in_addr, self.in_bank
        in_left, in_full, in_take, in_last = self.in_left, self.in_full, self.in_take, self.in_last
        in_beats = banks.input_beats

        m.d.comb += rp.row_w.ready.eq(~busy & ~reading)    # a write never meets a read

        def advance(lane_sig, addr_sig):
            return [lane_sig.eq(Mux(lane_sig == L - 1, 0, lane_sig + 1)),
                    addr_sig.eq(Mux(lane_sig == L - 1, addr_sig + 1, addr_sig))]

        with m.If(rp.row_w.valid & rp.row_w.ready & (wr_left != 0)):
            m.d.sync += advance(wr_lane, wr_addr)
            m.d.sync += wr_left.eq(wr_left - 1)

        # input fill: a bank's last beat moves on to the next bank's first address and group
        with m.If(in_take):
            with m.If(in_last):
                m.d.sync += [in_group.eq(0), in_addr.eq(in_addr + 1)]
                with m.If(in_bank == nb - 1):
                    m.d.sync += in_full.eq(1)
                if nb > 1:
                    with m.Else():
                        m.d.sync += [in_bank.eq(in_bank + 1),
                                     in_left.eq(per_bank(in_beats[1:], in_bank, in_left.shape()))]
            with m.Else():
                m.d.sync += in_left.eq(in_left - 1)
                if groups > 1:
                    m.d.sync += [in_group.eq(Mux(in_group == groups - 1, 0, in_group + 1)),
                                 in_addr.eq(Mux(in_group == groups - 1, in_addr + 1, in_addr))]
                else:
                    m.d.sync += in_addr.eq(in_addr + 1)
        with m.If(rp.inp_rewind):
            m.d.sync += [in_group.eq(0), in_addr.eq(Mux(rp.inp_buf, depth, 0)), in_bank.eq(0),
                         in_left.eq(in_beats[0]), in_full.eq(0)]

        rd_lane_q = Signal(range(max(L, 2)))
        issue_rd = Signal()
        m.d.comb += issue_rd.eq(~busy & reading & ~rd_pending
                                & (~rp.row_o.valid | rp.row_o.ready))
        with m.If(rp.row_o.valid & rp.row_o.ready):
            m.d.sync += rp.row_o.valid.eq(0)
        with m.If(issue_rd):
            m.d.sync += [rd_pending.eq(1), rd_lane_q.eq(rd_lane), rd_left.eq(rd_left - 1)]
            m.d.sync += advance(rd_lane, rd_addr)
            with m.If(rd_left == 1):
                m.d.sync += reading.eq(0)
        with m.If(rd_pending):
            m.d.sync += [rd_pending.eq(0), rp.row_o.valid.eq(1),
                         rp.row_o.payload.eq(Array(p.data for p in read_ports)[rd_lane_q])]

        with m.If(rp.rewind & ~busy):
            m.d.sync += [wr_lane.eq(0),
                         wr_addr.eq(per_bank(banks.bases, bank_sel, wr_addr.shape())),
                         wr_left.eq(per_bank(banks.banks, bank_sel, wr_left.shape()))]
        with m.If(rp.readout & ~busy & ~reading):
            m.d.sync += [reading.eq(1), rd_lane.eq(0),
                         rd_addr.eq(per_bank(banks.bases, bank_sel, rd_addr.shape())),
                         rd_left.eq(per_bank(banks.banks, bank_sel, rd_left.shape()))]
