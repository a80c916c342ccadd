"""The row-pass engine's pass control: start, the slot counters, the fetches, the final sums.

A pass runs through three phases (:class:`Phase`) from ``start`` to ``done``::

    PREFETCH  1 cycle       row 0 (and its input word) is read from the memories
    SLOTS     the slots     slot j = 0 .. last (UPDATE: rows_b, else rows_b - 1); the next row
                            is fetched during a slot's last beat (``slot_end``). A slot plays
                            beats 0 .. slot - 1, except UPDATE's first slot (row -1 has no G
                            beats: beats 0 .. max(U, lane_latency + 1) - 1; row 0 completes in
                            slot 1, at beat RowPass.row0_beat, before slot 1's G beats read it;
                            with one row address, beats 0 .. U + lane_latency, so that row 0
                            is complete at the slot end) and its last slot (beats U .. slot - 1:
                            row rows_b has no U beats)
    DRAIN     to the end    no beats; the reduction finishes

The reduction (one produced sum a cycle added over the lanes into ``gram``, ``proj``, ``norm2``;
the sums the program does not produce are 0 from ``start``) begins ``pass_latency + 1`` cycles
after the last slot's first beat (the lanes run ``ISSUE_STAGES`` behind this control,
``hdl/row_pass_beats.IssueRegister``), while that slot still runs: the last slot touches the sums in
the order they are reduced, one a beat, so each is read in the cycle after its last result is
written. It reduces ``k(k+1)/2 + k`` sums (UPDATE), ``k + 1`` (PROJECT) or 1 (NORM), each in
two steps (``REDUCE_STAGES``: read into a register, then added over the lanes), and ``done``
follows its last sum's addition.

``start`` (idle, no readout running) latches ``params``, ``mode`` (3 runs ``UPDATE``), the bank
on ``bank`` (its base address, last address and tail mask) and the input buffer ``buf``. The
lanes (``hdl/row_pass_lane.py``) run on the signals built here: slot ``j``, the fetch address,
``slot_end`` and whether a slot half is for a real row.
"""

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed
from amaranth.lib import enum

from .row_pass_beats import PassMode

__all__ = ["PassControl", "Phase", "REDUCE_STAGES"]

#: Cycles from reading a sum in the lanes to its total (the register between the lane sums' read
#: and the adder tree over the lanes).
REDUCE_STAGES = 1


def _tree_sum(values):
    """The sum of ``values`` as a balanced tree of adders (``ceil(log2 n)`` deep, not ``n - 1``:
    the reduction over the lanes is one cycle); exact, so the order does not matter."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


class Phase(enum.IntEnum, shape=2):
    """Phase of a running pass (module docstring)."""

    PREFETCH = 0
    SLOTS = 1
    DRAIN = 2


class PassControl:
    """The pass control of ``rp`` (a ``RowPass``) over ``banks`` (a ``BankMap``), whose beat
    table has ``span`` entries per program.

    Attributes: ``busy``, ``phase``, ``j`` (slot), ``beat`` (in the slot), ``mode``, ``slot``
    (beats of a full slot of ``mode``), ``entry`` (index into the beat table), ``params``, the
    latched bank (``row_base``, ``inp_base``, ``last_j`` = rows_b - 1, ``tail_mask``), and after
    :meth:`slots`: ``issuing``, ``in_u_slot``, ``in_g_slot``, ``update`` (the pass is an
    UPDATE), ``last_slot``, ``slot_end``, ``row_done`` (a row is complete: ``done_j``; ``late``:
    row 0 in slot 1), ``fetch``, ``fetch_addr``, ``fetch_iaddr``,
    ``fetch_full``/``fetch_tail`` (the fetched address holds a full row / is the bank's last) and
    ``row_full``/``row_tail`` (the same for slot ``j``).
    """

    def __init__(self, m, rp, banks, span):
        L, depth, max_rows = rp.lanes, banks.depth, max(banks.rows)
        slots = rp.slot_lengths
        width = max(slots)
        self._rp, self._banks = rp, banks
        busy = Signal()
        phase = Signal(Phase)
        j = Signal(range(max_rows + 2))   # slot (row address within the bank)
        beat = Signal(range(span))
        mode = Signal(PassMode)
        slot = Signal(range(width + 1))
        m.d.comb += slot.eq(Array(Const(v, range(width + 1)) for v in slots + (1,))[mode])
        entry = Signal(range(4 * span))
        m.d.comb += entry.eq(Cat(beat, mode) if span > 1 else mode)
        tail = Signal(range(rp.pass_latency + 2))   # cycles into the last slot
        params = Signal(rp.params_layout)
        m.d.comb += rp.busy.eq(busy)
        # the pass's bank and input buffer, latched at start
        row_base = Signal(range(depth + 1))
        inp_base = Signal(range(2 * depth + 1))
        last_j = Signal(range(max(max_rows, 2)))          # rows_b - 1
        tail_mask = Signal(L)
        self.busy, self.phase, self.j, self.beat, self.mode = busy, phase, j, beat, mode
        self.slot, self.entry, self.tail, self.params = slot, entry, tail, params
        self.row_base, self.inp_base, self.last_j, self.tail_mask = (row_base, inp_base, last_j,
                                                                     tail_mask)

    def slots(self, m):
        """Build the slot flags and the fetch addresses (see the class docstring)."""
        banks = self._banks
        busy, phase, j, beat, slot = self.busy, self.phase, self.j, self.beat, self.slot
        last_j = self.last_j
        issuing = Signal()                 # a beat is being issued this cycle
        in_u_slot = Signal()               # the U beats of this slot are for a real row address
        in_g_slot = Signal()               # the G beats of this slot are for a real row address
        m.d.comb += [
            issuing.eq(busy & (phase == Phase.SLOTS)),
            in_u_slot.eq(j <= last_j),
            in_g_slot.eq(j > 0),
        ]
        # UPDATE's first slot has no G beats (row -1): it ends after row 0's U beats, and row 0
        # completes in slot 1 (`late`); with one row address (no slot 1 U beats to wait behind)
        # it ends once row 0's results are back. Every other slot ends after its last beat.
        rp, mode = self._rp, self.mode
        update, late_row0 = Signal(), Signal()
        end_beat = Signal(range(max(rp.slot_lengths)))
        one, more = rp.first_slot_lengths
        m.d.comb += [
            update.eq(mode == PassMode.UPDATE),
            late_row0.eq(update & (last_j != 0)),
            end_beat.eq(Mux(update & (j == 0), Mux(last_j != 0, more - 1, one - 1), slot - 1)),
        ]
        last_slot = Signal()               # the pass's last slot: the reduction starts in it
        m.d.comb += last_slot.eq(Mux(update, j == last_j + 1, j == last_j))
        slot_end = Signal()
        m.d.comb += slot_end.eq(issuing & (beat == end_beat))
        # a row is complete (new_cur -> new_prev, UPDATE write-back to row `done_j`): at its
        # slot's end, except row 0 when it completes in slot 1 (`late`)
        late, row_done = Signal(), Signal()
        done_j = Signal(range(max(banks.rows) + 2))
        m.d.comb += [
            late.eq(issuing & late_row0 & (j == 1) & (beat == rp.row0_beat)),
            row_done.eq((slot_end & ~(late_row0 & (j == 0))) | late),
            done_j.eq(Mux(late, 0, j)),
        ]
        # memory reads: prefetch row j during the last beat of slot j-1 (or the prefetch
        # cycle); readout reads otherwise
        fetch = Signal()
        m.d.comb += fetch.eq(busy & ((phase == Phase.PREFETCH) | slot_end))
        max_rows, depth = max(banks.rows), banks.depth
        fetch_j = Signal(range(max_rows + 2))
        fetch_addr = Signal(range(depth + max_rows + 2))
        fetch_iaddr = Signal(range(2 * depth + max_rows + 2))
        m.d.comb += [
            fetch_j.eq(Mux(phase == Phase.PREFETCH, 0, j + 1)),
            fetch_addr.eq(self.row_base + fetch_j),
            fetch_iaddr.eq(self.inp_base + fetch_j),
        ]
        # a lane's row at relative address j exists: j < rows_b - 1, or the last address when
        # the lane is among the n_b - (rows_b - 1) L rows stored there (tail_mask)
        fetch_full, fetch_tail = Signal(), Signal()
        row_full, row_tail = Signal(), Signal()
        m.d.comb += [fetch_full.eq(fetch_j < last_j), fetch_tail.eq(fetch_j == last_j),
                     row_full.eq(j < last_j), row_tail.eq(j == last_j)]
        self.issuing, self.in_u_slot, self.in_g_slot = issuing, in_u_slot, in_g_slot
        self.update, self.last_slot = update, last_slot
        self.late, self.row_done, self.done_j = late, row_done, done_j
        self.slot_end, self.fetch, self.fetch_addr, self.fetch_iaddr = (slot_end, fetch,
                                                                        fetch_addr, fetch_iaddr)
        self.fetch_full, self.fetch_tail = fetch_full, fetch_tail
        self.row_full, self.row_tail = row_full, row_tail

    def sequence(self, m, *, bank_sel, reading, lane_sums, saturated):
        """Start and run passes: ``bank_sel`` (the bank input, in range), ``reading`` (a
        readout runs: no start), ``lane_sums`` (each lane's sums RAM read port for the
        reduction) and ``saturated`` (each lane's sticky clamp flag)."""
        rp, banks = self._rp, self._banks
        k, L, depth = rp.k, rp.lanes, banks.depth
        npairs = k * (k + 1) // 2
        nsum = npairs + k + 1                 # Gram, projection, norm
        per_bank = banks.lookup
        busy, phase, j, beat, mode = self.busy, self.phase, self.j, self.beat, self.mode
        tail, params, last_j = self.tail, self.params, self.last_j
        row_base, inp_base = self.row_base, self.inp_base

        m.d.sync += rp.done.eq(0)
        totals = [Signal(signed(rp.sum_width), name=f"total{i}", reset_less=True)
                  for i in range(nsum)]
        red_idx = Signal(range(nsum + 1))
        reducing = Signal()                   # from the first read to the last sum's total
        red_read, red_take = Signal(), Signal()
        red_dst = Signal(range(nsum))
        red_data = [Signal(signed(rp.acc_width), name=f"red_data{lane}") for lane in range(L)]
        # the sums each program produces, in the order its last slot writes them
        first, last = rp.reduced_sums
        red_first = Array(Const(v, range(nsum)) for v in first + (0,))[mode]
        red_last = Array(Const(v, range(nsum)) for v in last + (0,))[mode]
        with m.If(rp.start & ~busy & ~reading):
            base = per_bank(banks.bases, bank_sel, row_base.shape())
            m.d.sync += [busy.eq(1), phase.eq(Phase.PREFETCH), j.eq(0), beat.eq(0),
                         tail.eq(0), reducing.eq(0), red_read.eq(0), red_take.eq(0),
                         params.eq(rp.params),
                         mode.eq(Mux(rp.mode <= PassMode.NORM, rp.mode, PassMode.UPDATE)),
                         row_base.eq(base),
                         inp_base.eq(Mux(rp.buf, base + depth, base)),
                         last_j.eq(per_bank([r - 1 for r in banks.rows], bank_sel,
                                            last_j.shape())),
                         self.tail_mask.eq(per_bank(banks.tail_masks, bank_sel, L))]
        with m.If(busy):
            with m.Switch(phase):
                with m.Case(Phase.PREFETCH):                        # prefetch row 0
                    m.d.sync += phase.eq(Phase.SLOTS)
                with m.Case(Phase.SLOTS):
                    with m.If(self.slot_end):
                        # UPDATE's last slot (row rows_b - 1's G beats) skips the U half
                        m.d.sync += [j.eq(j + 1),
                                     beat.eq(Mux(self.update & (j == last_j), npairs + k, 0))]
                        with m.If(self.last_slot):
                            m.d.sync += phase.eq(Phase.DRAIN)
                    with m.Else():
                        m.d.sync += beat.eq(beat + 1)
            # the reduction: pass_latency + 1 cycles after the last slot's first beat, one sum a
            # cycle: the lanes' sums are read into a register (the read and the adder tree
            # over the lanes in one cycle were the critical path), then added into its total
            with m.If(~reducing & ((self.issuing & self.last_slot) | (phase == Phase.DRAIN))):
                m.d.sync += tail.eq(tail + 1)
                with m.If(tail == rp.pass_latency):
                    m.d.sync += [reducing.eq(1), red_read.eq(1), red_idx.eq(red_first)]
            m.d.sync += red_take.eq(0)
            with m.If(red_read):                                    # read one sum in each lane
                m.d.comb += [port.addr.eq(red_idx) for port in lane_sums]
                m.d.sync += [r.eq(port.data) for r, port in zip(red_data, lane_sums)]
                m.d.sync += [red_dst.eq(red_idx), red_take.eq(1), red_idx.eq(red_idx + 1)]
                with m.If(red_idx == red_last):
                    m.d.sync += red_read.eq(0)
            with m.If(red_take):                                    # add it over the lanes
                m.d.sync += Array(totals)[red_dst].eq(_tree_sum(red_data))
                with m.If(red_dst == red_last):
                    m.d.sync += [busy.eq(0), reducing.eq(0), rp.done.eq(1)]
        # the sums the program does not make read 0: cleared at start, after the reduction's
        # write so the clear has priority (the two never meet, a start is taken only when
        # idle): reset-less, the totals then take the clear as their flip-flops' synchronous
        # reset and the write as their enable, with no multiplexer in front
        with m.If(rp.start & ~busy & ~reading):
            m.d.sync += [t.eq(0) for t in totals]
        m.d.comb += [rp.gram[i].eq(totals[i]) for i in range(npairs)]
        m.d.comb += [rp.proj[r].eq(totals[npairs + r]) for r in range(k)]
        m.d.comb += rp.norm2.eq(totals[npairs + k])
        m.d.comb += rp.saturated.eq(Cat(*saturated).any())
