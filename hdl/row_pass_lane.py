"""One lane of the row-pass engine: its memories, operand mux, MAC lane and result paths.

Every lane ``l`` holds rows ``l, l + L, ...`` of each bank (``hdl/row_pass_banks.py``) and runs
the beat decoded for the cycle (``hdl/row_pass_beats.py``) on them; the beat, its decoded
multiplexer selects and the control's flags come from the issue register (``IssueRegister``), one
cycle behind the pass control::

    row memory (k words a row) -->|| s_cur ---+                   lane sums (LUT RAM, nsum words)
    input memory (1 word a row) -->|| inp_cur +  (|| registered; rows past n_b 0)  |  read at issue
                                             v                                     v
      opA mux (S[q] << a[q] | inp << gw | new_prev[q] | inp_prev | inp) ----+    c = half LSB (U),
      opB mux (shared cT[q][r] / w[r] | new_prev[r] | S[r] | inp) ---------+    0 (first use) or
                                             busy ? pass beat : lane_i[l] --+--- the lane sum
                                                                           v
                                                  [operand register] -> MACLane (2 stages)
                                                                           v
                 tag delay line (kind, dest) --> U: new_cur[r] = round_shift_saturate(value)
                                                 G, P: lane sum[dest] = value
                                                 external ``last``: lane_o[l]
    row done (slot end; row 0: maybe in slot 1): new_cur -> row memory (UPDATE write-back),
                                                 new_cur -> new_prev; slot end: inp_cur -> inp_prev

Timing: a beat issued in cycle ``t`` is in the operand register in ``t + 1`` and its result
lands ``lane_latency`` cycles after ``t``; the U beats of a row write ``new_cur`` before the row
is done (the slot lengths of ``RowPass`` guarantee it), and each lane sum is touched once a slot,
so no read of the sums sees a pending write.
"""

from amaranth.hdl import Array, Mux, Signal, signed
from amaranth.lib.memory import Memory

from .fixed_ops import half_lsb, round_shift_saturate
from .mac_lane import MACLane
from .row_pass_beats import BeatKind, PassMode

__all__ = ["Lane"]


class Lane:
    """Build lane ``lane`` of ``rp`` (a ``RowPass``) into ``m`` with the pass control's and the
    beat decoder's signals ``ctl`` and ``dec`` as the lanes see them (the issue register), the
    pass control itself ``fetch`` (its fetches drive the memories a cycle ahead) and the host
    pointers ``host``.

    Attributes: ``sums`` (the lane sums' read port for the reduction over lanes), ``saturated``
    (sticky from ``start``: a stored word of this lane was clamped), ``read_port`` (the row
    memory's read port, whose data the readout forwards), ``collision`` (the row memory reads
    the address it writes in this cycle: never; no hardware, for ``RowPass.collision``).
    """

    def __init__(self, m, rp, lane, *, ctl, dec, host, depth, nsum, fetch):
        k, vw, cw = rp.k, rp.vec_width, rp.coef_width
        W = rp.words
        busy, mode = ctl.busy, ctl.mode
        # the row memory never reads the row it writes in the same cycle (``collision``, watched
        # by the tests), so it is declared free of read-during-write: on ECP5, Yosys otherwise
        # adds a register and a multiplexer per read bit to give the old word. The input memory
        # keeps the old-word semantics: a fill may write the buffer a running pass reads
        mem = Memory(shape=rp.row_layout, depth=depth, init=[], attrs={"no_rw_check": 1})
        imem = Memory(shape=signed(vw), depth=2 * depth, init=[])
        m.submodules[f"rows{lane}"] = mem
        m.submodules[f"inp{lane}"] = imem
        rdp, wp = mem.read_port(), mem.write_port()
        irp, iwp = imem.read_port(), imem.write_port()
        mac = MACLane(*rp.lane_formats)
        m.submodules[f"lane{lane}"] = mac

        s_cur = Signal(rp.row_layout)
        inp_cur = Signal(signed(vw))
        new_cur = Signal(rp.row_layout)
        new_prev = Signal(rp.row_layout, reset_less=True)     # cleared by a row's synchronous
        inp_prev = Signal(signed(vw), reset_less=True)        # reset (below), not by ``rst``
        # the lane's running sums live in a small LUT RAM: read when a beat is issued (the
        # fused multiply-add's addend), written when its result lands `latency` cycles
        # later; each sum is touched once a slot, so no read sees a pending write
        smem = Memory(shape=signed(rp.acc_width), depth=nsum, init=[])
        m.submodules[f"sums{lane}"] = smem
        s_issue = smem.read_port(domain="comb")
        s_reduce = smem.read_port(domain="comb")
        s_write = smem.write_port()
        sat = Signal()
        row_valid = Signal()
        m.d.comb += row_valid.eq(ctl.row_full | (ctl.row_tail & ctl.tail_mask[lane]))

        # the memories are read on the pass control's fetch (``fetch``, a cycle ahead of the
        # lanes' issue register) and their read data registered: the slot sees the row when it
        # did with the issue register's fetch and the data unregistered, but the memories'
        # clock-to-output (about 6 ns for an ECP5 block RAM) no longer starts the operand path
        m.d.comb += [
            rdp.addr.eq(Mux(busy, fetch.fetch_addr, host.rd_addr)),
            rdp.en.eq(Mux(busy, fetch.fetch, host.reading & (host.rd_lane == lane)
                          & ~host.rd_pending & (~rp.row_o.valid | rp.row_o.ready))),
            irp.addr.eq(fetch.fetch_iaddr),
            irp.en.eq(fetch.fetch),
        ]
        # the read data is what the slot uses; masked to zero for rows past n_b
        valid_next = Signal()
        with m.If(fetch.fetch):
            m.d.sync += valid_next.eq(fetch.fetch_full
                                      | (fetch.fetch_tail & fetch.tail_mask[lane]))
        m.d.sync += [s_cur.eq(Mux(valid_next, rdp.data, 0)),
                     inp_cur.eq(Mux(valid_next, irp.data, 0))]

        # ---- operand mux (registered in front of the lane)
        s_word = Signal(signed(vw))
        m.d.comb += s_word.eq(Array(s_cur[q] for q in range(k))[dec.q_sel])
        s_shifted = Signal(signed(cw))
        m.d.comb += s_shifted.eq(s_word << dec.a_q)
        # the beat table's opa codes (hdl/row_pass_beats.py): the shifted column, else the others
        # in order (opa - k); the selects come decoded from the issue register
        opa_alt = Array([inp_cur << rp.gw] + [new_prev[q] for q in range(k)]
                        + [inp_prev, inp_cur])[dec.opa_alt]
        opa = Signal(signed(cw))
        m.d.comb += opa.eq(Mux(dec.opa_col, s_shifted, opa_alt))
        opb = Signal(signed(cw))
        g_opb = Array(new_prev[q] for q in range(k))[dec.g_sel]
        p_opb = Array([s_cur[r] for r in range(k)] + [inp_cur])[dec.p_sel]
        m.d.comb += opb.eq(Mux(dec.is_u, dec.shared_coef, Mux(dec.is_g, g_opb, p_opb)))
        # U beats start from half an LSB of the stored word: the rounding's adder is the lane's
        cval = Signal(signed(rp.acc_width))
        m.d.comb += [
            s_issue.addr.eq(dec.dest),
            cval.eq(Mux(dec.is_u, half_lsb(rp.shift, rp.acc_width),
                        Mux(dec.first_use, 0, s_issue.data))),
        ]
        # the operand register takes the pass's beat while busy, the lane port's otherwise; a
        # lane without a port takes the pass's operands always (they matter only when valid)
        ported = lane < rp.port_lanes
        pass_beat = {"a": opa, "b": opb, "c": cval, "clear": dec.clear, "last": dec.last,
                     "sub": 0}
        if ported:
            ext = rp.lane_i[lane]
            with m.If(busy):
                m.d.sync += mac.i.valid.eq(dec.live)
                m.d.sync += [getattr(mac.i.payload, f).eq(v) for f, v in pass_beat.items()]
            with m.Else():
                m.d.sync += mac.i.valid.eq(ext.valid)
                m.d.sync += [getattr(mac.i.payload, f).eq(getattr(ext, f)) for f in pass_beat]
        else:
            m.d.sync += mac.i.valid.eq(busy & dec.live)
            m.d.sync += [getattr(mac.i.payload, f).eq(v) for f, v in pass_beat.items()]
        m.d.comb += mac.o.ready.eq(1)

        # ---- tag delay line: (kind, dest) of pass results and the external flag,
        # `latency` cycles behind the beat
        latency = rp.lane_latency
        tag_kind = [Signal(BeatKind, name=f"tag_kind{lane}_{t}") for t in range(latency)]
        tag_dest = [Signal(range(max(nsum, k) + 1), name=f"tag_dest{lane}_{t}")
                    for t in range(latency)]
        tag_ext = [Signal(name=f"tag_ext{lane}_{t}") for t in range(latency)]
        m.d.sync += [tag_kind[0].eq(Mux(dec.live & dec.last, dec.kind, BeatKind.IDLE)),
                     tag_dest[0].eq(dec.dest),
                     tag_ext[0].eq(~busy & ext.valid & ext.last if ported else 0)]
        for t in range(1, latency):
            m.d.sync += [tag_kind[t].eq(tag_kind[t - 1]), tag_dest[t].eq(tag_dest[t - 1]),
                         tag_ext[t].eq(tag_ext[t - 1])]
        kind_out, dest_out = tag_kind[-1], tag_dest[-1]

        value = mac.o.payload.value
        if ported:
            m.d.comb += [rp.lane_o[lane].valid.eq(mac.o.valid & tag_ext[-1]),
                         rp.lane_o[lane].value.eq(value)]
        word, clamped = round_shift_saturate(m, value, rp.shift, rp.word_format,
                                             name=f"round{lane}", half_added=True)
        with m.If(mac.o.valid & (kind_out == BeatKind.U)):
            m.d.sync += Array(new_cur[r] for r in range(k))[dest_out].eq(word)
            with m.If(clamped):
                m.d.sync += sat.eq(1)
        m.d.comb += [s_write.addr.eq(dest_out), s_write.data.eq(value),
                     s_write.en.eq(mac.o.valid & (kind_out >= BeatKind.G))]

        # ---- slot end: the input word goes with the row to the G half (the next fetch replaces
        # inp_cur); row done: write the row back and make it the G row. Row 0 completes in
        # slot 1 (`late`) only when the bank has two row addresses or more: then every lane
        # holds a row at address 0.
        # (rows past n_b give zeros: a synchronous reset of the reset-less registers, so the
        # words need no multiplexer in front of their flip-flops)
        with m.If(ctl.slot_end):
            m.d.sync += inp_prev.eq(inp_cur)
            with m.If(~row_valid):
                m.d.sync += inp_prev.eq(0)
        done_valid = Signal()
        m.d.comb += done_valid.eq(ctl.late | row_valid)
        with m.If(ctl.row_done):
            m.d.sync += new_prev.eq(new_cur)
            with m.If(~done_valid):
                m.d.sync += new_prev.eq(0)
        write_back = Signal()
        m.d.comb += write_back.eq(ctl.row_done & done_valid & (mode == PassMode.UPDATE))

        # ---- host row writes share the write port when idle; input writes own theirs
        m.d.comb += [
            wp.addr.eq(Mux(busy, ctl.row_base + ctl.done_j, host.wr_addr)),
            wp.data.eq(Mux(busy, new_cur, rp.row_w.payload)),
            wp.en.eq(Mux(busy, write_back,
                         rp.row_w.valid & rp.row_w.ready & (host.wr_lane == lane)
                         & (host.wr_left != 0))),
            iwp.addr.eq(host.in_addr),
            iwp.data.eq(rp.inp_w.payload[lane % W]),
            iwp.en.eq(host.in_take & (host.in_group == lane // W) & host.in_word_ok[lane % W]),
        ]
        with m.If(rp.start & ~busy):
            m.d.sync += sat.eq(0)

        self.collision = Signal(name=f"rows{lane}_rw_same")
        m.d.comb += self.collision.eq(rdp.en & wp.en & (rdp.addr == wp.addr))
        self.sums, self.saturated, self.read_port = s_reduce, sat, rdp
