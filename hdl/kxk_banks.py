"""Operand banks of the k x k engine: which registers each lane operand reads from a memory.

The engine's largest logic is its lane operand multiplexers (``a`` and ``b`` of each used lane,
each selecting among the few dozen registers its operations read). A register ``r`` that operand
``X`` reads can instead be kept in a small memory owned by ``X`` (its *bank*): one read port
addressed from the ROM, one write port that takes every write of the registers in the bank
(which writer and where: a ROM field of the write's cycle, :class:`hdl.kxk_rom.RomImage`). The flip-flop copy stays the master (exports, other readers); the bank is a mirror that
the generated netlist reads instead of a multiplexer input, and Yosys removes the flip-flops
nobody else reads. Reads and writes keep the register file's timing: a write at the end of
cycle ``w`` is seen by reads from ``w + 1`` (LUT RAM: asynchronous read, synchronous write;
block RAM: the address a cycle ahead, the word being written passed through).

A register can go into one of ``X``'s banks when the micro-program writes it (scratch or a
coefficient): registers the unit loads from ``state_in`` (``persistent``) stay in flip-flops,
since ``load`` writes them all in one cycle. Each bank has one write port, so no two registers
of a bank may be written in the same cycle. The plan is made after scheduling: ``X``'s
candidates are coloured, the register sharing write cycles with the most others first, each into
the first bank where it shares none, opening up to ``max_banks`` banks (default 1: on the
default unit four banks an operand took 23 more registers but saved no LUTs on Xilinx 7, their
write ports' multiplexers costing what the read side saved); a bank that ends up with fewer than
``min_size`` registers costs more than the multiplexer inputs it saves and is given back to
flip-flops. All of ``X``'s banks are read at one address (a ROM field); its multiplexer picks
the bank.

Nothing here changes the schedule or the cycle counts.
"""

from __future__ import annotations

from golden.unit_program import SEGMENTS

__all__ = ["FIELDS", "bank_entry", "plan_banks", "check_plan", "write_cycles"]

#: The lane operands that get banks.
FIELDS = ("a", "b")


def bank_entry(i: int) -> str:
    """The operand-table entry that stands for bank ``i``'s read port."""
    return f"@bank{i}"


def write_cycles(sched, words, *, writers=False) -> list:
    """``[(segment, cycle, register)]``: every write of a register in ``words`` (lanes' posts
    ``post_stages`` after their result, ALU operations ``alu_stages`` after issue); with
    ``writers``, ``(segment, cycle, register, writer)``, the writer ``("lane", l)`` or
    ``("alu", u)``."""
    out = []
    for name in SEGMENTS:
        seg = sched.segments[name]
        for t in range(seg.cycles):
            for kind, ops, delay in (("lane", seg.posts[t], sched.post_stages),
                                     ("alu", seg.alu[t], sched.alu_stages)):
                for i, op in enumerate(ops):
                    if op is not None and op.dst in words:
                        out.append((name, t + delay, op.dst) + (((kind, i),) if writers else ()))
    return out


def plan_banks(sched, words, *, persistent=(), max_banks=1, min_size=4) -> dict:
    """``{(lane, field): [[register, ...], ...]}``: the banks of each lane operand (``field``
    in :data:`FIELDS`), each a list of registers in address order (module docstring); operands
    without a bank are left out.

    ``words`` are the program's word registers, ``persistent`` those loaded from outside;
    ``max_banks`` banks at most an operand, each of at least ``min_size`` registers."""
    persistent = set(persistent)
    cycles = {}
    for seg, w, reg in write_cycles(sched, set(words)):
        cycles.setdefault(reg, set()).add((seg, w))
    plan = {}
    for lane in range(sched.lanes):
        for f, field in enumerate(FIELDS):
            reads = []
            for name in SEGMENTS:
                for beats in sched.segments[name].beats:
                    beat = beats[lane]
                    if beat is not None:
                        op, j = beat
                        reg = op.terms[j][f]
                        if reg in cycles and reg not in persistent and reg not in reads:
                            reads.append(reg)
            clash = {r: {q for q in reads if q != r and cycles[r] & cycles[q]} for r in reads}
            banks = []
            for r in sorted(reads, key=lambda r: (-len(clash[r]), reads.index(r))):
                home = next((b for b in banks if not clash[r] & set(b)), None)
                if home is None and len(banks) < max_banks:
                    home = []
                    banks.append(home)
                if home is not None:
                    home.append(r)
            banks = [sorted(b, key=reads.index) for b in banks if len(b) >= min_size]
            if banks:
                plan[(lane, field)] = banks
    return plan


def check_plan(sched, plan) -> None:
    """Raise ``ValueError`` if a bank of ``plan`` takes two writes in one cycle or a register
    is in two banks of one operand."""
    for key, banks in plan.items():
        regs = [r for b in banks for r in b]
        if len(set(regs)) != len(regs):
            raise ValueError(f"operand {key}: a register in two banks")
        for i, bank in enumerate(banks):
            seen = {}
            for seg, w, reg in write_cycles(sched, set(bank)):
                if (seg, w) in seen and seen[(seg, w)] != reg:
                    raise ValueError(f"bank {i} of operand {key}: {seen[(seg, w)]} and {reg} "
                                     f"both written in cycle {w} of {seg}")
                seen[(seg, w)] = reg
