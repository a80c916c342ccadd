"""Operand banks of the k x k engine: which registers each lane operand reads from a LUT RAM.

The engine's largest logic is its lane operand multiplexers (``a`` and ``b`` of each used lane,
each selecting among the few dozen registers its operations read). A register ``r`` that operand
``X`` reads can instead be kept in a small memory owned by ``X`` (its *bank*): one combinational
read port addressed from the ROM, one write port that takes every write of the registers in the
bank. The flip-flop copy stays the master (exports, other readers); the bank is a mirror that
the generated netlist reads instead of a multiplexer input, and Yosys removes the flip-flops
nobody else reads. Reads and writes keep the register file's timing: a write at the end of
cycle ``w`` is seen by reads from ``w + 1`` (asynchronous read, synchronous write).

A register can go into ``X``'s bank when:

* the micro-program writes it (scratch or a coefficient): registers the unit loads from
  ``state_in`` (``persistent``) stay in flip-flops, since ``load`` writes them all in one cycle;
* no other register of the bank is written in the same cycle (one write port): this plan is
  made after scheduling, so where two writes of ``X``'s registers land in one cycle, all but
  the first stay in flip-flops for ``X`` (greedy, in cycle order).

Nothing here changes the schedule or the cycle counts.
"""

from __future__ import annotations

from golden.unit_program import SEGMENTS

__all__ = ["FIELDS", "BANK", "plan_banks", "check_plan", "write_cycles"]

#: The lane operands that get banks.
FIELDS = ("a", "b")

#: The operand-table entry (index 0) that stands for the bank's read port.
BANK = "@bank"


def write_cycles(sched, words) -> list:
    """``[(segment, cycle, register)]``: every write of a register in ``words`` (lanes' posts
    ``post_stages`` after their result, ALU operations ``alu_stages`` after issue)."""
    out = []
    for name in SEGMENTS:
        seg = sched.segments[name]
        for t in range(seg.cycles):
            for op in seg.posts[t]:
                if op is not None and op.dst in words:
                    out.append((name, t + sched.post_stages, op.dst))
            for op in seg.alu[t]:
                if op is not None and op.dst in words:
                    out.append((name, t + sched.alu_stages, op.dst))
    return out


def plan_banks(sched, words, *, persistent=()) -> dict:
    """``{(lane, field): [register, ...]}``: the registers each lane operand (``field`` in
    :data:`FIELDS`) reads from its bank, in bank-address order (module docstring); operands
    without a bank are left out.

    ``words`` are the program's word registers, ``persistent`` those loaded from outside."""
    persistent = set(persistent)
    writes = write_cycles(sched, set(words))
    written = {r for _, _, r in writes}
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
                        if reg in written and reg not in persistent and reg not in reads:
                            reads.append(reg)
            bank = set(reads)
            by_cycle = {}
            for seg, w, reg in writes:
                by_cycle.setdefault((seg, w), []).append(reg)
            for regs in by_cycle.values():
                hit = [r for r in regs if r in bank]
                bank.difference_update(hit[1:])
            if bank:
                plan[(lane, field)] = [r for r in reads if r in bank]
    return plan


def check_plan(sched, plan) -> None:
    """Raise ``ValueError`` if a bank of ``plan`` takes two writes in one cycle."""
    for key, regs in plan.items():
        seen = {}
        for seg, w, reg in write_cycles(sched, set(regs)):
            if (seg, w) in seen and seen[(seg, w)] != reg:
                raise ValueError(f"bank {key}: {seen[(seg, w)]} and {reg} both written in "
                                 f"cycle {w} of {seg}")
            seen[(seg, w)] = reg
