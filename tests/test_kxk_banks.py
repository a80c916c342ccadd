# amaranth: UnusedElaboratable=no
"""Operand banks of the k x k engine (``hdl/kxk_banks.py``): the plan's rules, checked from the
schedule itself, and the engine bit-exact with and without banks."""

from collections import Counter

import pytest
from amaranth.hdl import Fragment
from amaranth.lib.memory import Memory

from golden.sbpca_unit import UnitFormats
from hdl.kxk_banks import bank_entry, check_plan, plan_banks
from hdl.kxk_engine import KxkEngine
from hdl.kxk_rom import RomImage

from test_kxk_engine import SUM, ACC, _engine, _recorded_run, play

F16 = UnitFormats.for_width(16)


def _writes(sched):
    """``Counter`` of (segment, cycle, register) writes, from the schedule's slots directly."""
    out = Counter()
    for name, seg in sched.segments.items():
        for t in range(seg.cycles):
            for op in seg.posts[t]:
                if op is not None:
                    out[(name, t + sched.post_stages, op.dst)] += 1
            for op in seg.alu[t]:
                if op is not None:
                    out[(name, t + sched.alu_stages, op.dst)] += 1
    return out


@pytest.mark.parametrize("k, lanes, pipe", [
    (4, 8, {}), (4, 8, dict(shift_lead=1, post_stages=1, alu_stages=2)), (2, 4, {}), (1, 1, {}),
])
def test_plan_follows_its_rules(k, lanes, pipe):
    eng = _engine(F16, k, lanes, operand_banks=1, **pipe)
    sched, prog, banks = eng.schedule, eng.program, eng.banks
    writes = _writes(sched)
    written = {r for _, _, r in writes}
    assert sum(map(len, banks.values())) > 0
    for (lane, field), regs_by_bank in banks.items():
        f = "ab".index(field)
        reads = {op.terms[j][f] for seg in sched.segments.values() for beats in seg.beats
                 if beats[lane] is not None for op, j in [beats[lane]]}
        every = [r for regs in regs_by_bank for r in regs]
        assert len(set(every)) == len(every), (lane, field)
        for regs in regs_by_bank:
            assert len(regs) >= 4, (lane, field, regs)       # min_size
            for r in regs:
                assert r in prog.words and r in written and r in reads, (lane, field, r)
                assert r not in eng.persistent, (lane, field, r)
            per_cycle = Counter((s, w) for (s, w, r), n in writes.items() if r in regs
                                for _ in range(n))
            assert max(per_cycle.values()) == 1, (lane, field, regs)
    check_plan(sched, banks)


def test_check_plan_catches_two_writes_in_a_cycle_and_a_register_twice():
    eng = _engine(F16, 4, 8)
    writes = _writes(eng.schedule)
    by_cycle = {}
    for s, w, r in writes:
        by_cycle.setdefault((s, w), []).append(r)
    two = next(regs for regs in by_cycle.values() if len(regs) >= 2)
    with pytest.raises(ValueError, match="both written in cycle"):
        check_plan(eng.schedule, {(0, "a"): [two[:2]]})
    check_plan(eng.schedule, {(0, "a"): [two[:1], two[1:2]]})
    with pytest.raises(ValueError, match="a register in two banks"):
        check_plan(eng.schedule, {(0, "a"): [two[:1], two[:1]]})


def test_more_banks_take_more_registers():
    eng = _engine(F16, 4, 8)
    args = (eng.schedule, eng.program.words)
    count = lambda plan: sum(len(b) for banks in plan.values() for b in banks)
    one = plan_banks(*args, persistent=eng.persistent, max_banks=1, min_size=1)
    four = plan_banks(*args, persistent=eng.persistent, max_banks=4)
    assert plan_banks(*args, persistent=eng.persistent) == {
        key: banks for key, banks in one.items() if len(banks[0]) >= 4}      # the defaults
    assert all(len(banks) == 1 for banks in one.values())
    assert count(four) > count(one) and any(len(banks) > 1 for banks in four.values())
    # without persistent registers excluded, the loaded ones would be banked too
    assert count(plan_banks(*args, max_banks=1, min_size=1)) > count(one)


def test_rom_reads_banked_operands_through_the_first_entries():
    eng = _engine(F16, 4, 8, operand_banks=1)
    image = RomImage(eng.schedule, lanes=eng.used_lanes, alus=eng.alus, banks=eng.banks)
    for (lane, field), banks in eng.banks.items():
        tab = image.lanes[lane]
        for i, regs in enumerate(banks):
            assert tab[field][bank_entry(i)] == i
            assert all(tab[field + "a"][r] == a and tab[field + "k"][r] == i
                       for a, r in enumerate(regs))
            assert not set(regs) & set(tab[field])
    assert "aa" in image.layout["b0"].shape.members


def _memories(eng):
    frag = Fragment.get(eng, None)
    return [name for _, name, _ in frag.subfragments if name and name.startswith("bank")]


def test_banks_are_off_by_default_and_memories_when_on():
    assert _engine(F16, 4, 8).operand_banks == 0 and _engine(F16, 4, 8).banks == {}
    assert _memories(_engine(F16, 4, 8)) == []
    on = _engine(F16, 4, 8, operand_banks=1)
    assert sorted(_memories(on)) == sorted(f"bank{l}{f}{i}" for (l, f), banks in on.banks.items()
                                           for i in range(len(banks)))


@pytest.mark.parametrize("bad, error", [(3, ValueError), (-1, ValueError), (True, TypeError)])
def test_operand_banks_is_validated(bad, error):
    with pytest.raises(error, match=f"operand_banks={bad}"):
        _engine(F16, 2, 2, operand_banks=bad)


@pytest.mark.parametrize("banks", [1, 2], ids=["lutram", "bram"])
@pytest.mark.parametrize("n_in, n_out, k, lanes, pipe", [
    (16, 8, 4, 8, {}),
    (16, 8, 4, 8, dict(shift_lead=1, post_stages=1, alu_stages=2)),
    (20, 9, 3, 3, dict(used_lanes=2, alus=3, movers=2, shift_lead=1)),
    (12, 6, 1, 1, {}),
])
def test_banked_engine_equals_interpreter(n_in, n_out, k, lanes, pipe, banks):
    """With banks (LUT RAM read combinationally, or block RAM read a cycle ahead) the engine is
    bit-exact and takes the same cycles (``play`` checks both)."""
    F, ref, initial, runs = _recorded_run(n_in, n_out, k, 2, seed=n_in + k, ns_steps=6)
    eng = _engine(F, k, lanes, 6, operand_banks=banks, **pipe)
    plain = _engine(F, k, lanes, 6, **pipe)
    assert all(eng.cycles_for(s) == plain.cycles_for(s) for s in eng.schedule.segments)
    play(eng, initial, runs)
