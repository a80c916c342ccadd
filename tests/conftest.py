"""Shared pytest fixtures: one build folder per test id, kept for inspection (waves, logs); a small
design that depends on the Verilog-2005 time-0 event (for the generator and lint tests).

Verilator models are compiled at ``-O1`` here (``SBPCA_CXX_OPT``, unless set): the test runs are
short and their compile dominates; the simulated behaviour is the same at every level."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("SBPCA_CXX_OPT", "-O1")


@pytest.fixture
def build_dir(request) -> Path:
    """``build/tests/<test id>``: emptied at the start of the test, kept afterwards."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    path = ROOT / "build" / "tests" / Path(request.node.fspath).stem / name
    if path.exists():
        import shutil
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def time0_table():
    """A Component whose Verilog needs the time-0 event: two constant tables read in ``always @*``
    blocks through registers that stay at their reset value: ``o`` through a counter at 0 until
    ``step`` (9 after reset), ``p`` through a register that never changes (3)."""
    from amaranth.hdl import Array, Const, Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Time0Table(wiring.Component):
        step: In(1)
        o: Out(4)
        p: Out(4)

        def elaborate(self, platform):
            m = Module()
            table = Array(Const(v, 4) for v in (9, 5, 3, 6))
            count = Signal(2)
            held = Signal(2, init=2)
            with m.If(self.step):
                m.d.sync += count.eq(count + 1)
            m.d.sync += held.eq(held)
            m.d.comb += [self.o.eq(table[count]), self.p.eq(table[held])]
            return m

    return Time0Table()
