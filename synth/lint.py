"""Lint generated Verilog with ``verilator --lint-only -Wall`` and the project's waiver file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .toolchain import apply_tool_env

__all__ = ["WAIVERS", "lint_verilog", "forbidden_operators"]

#: The one waiver file: each waived rule with its reason.
WAIVERS = Path(__file__).with_name("lint_waivers.vlt")


def lint_verilog(path, top: str) -> list:
    """Return Verilator's warning and error lines for ``path`` (empty: clean)."""
    apply_tool_env()
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top,
                           str(WAIVERS), str(path)], capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.startswith("%Warning") or ln.startswith("%Error")]
    if proc.returncode != 0 and not lines:
        lines = [f"%Error: verilator exited {proc.returncode}: {proc.stderr.strip()[:200]}"]
    return lines


def forbidden_operators(verilog: str) -> list:
    """Lines of generated Verilog that use a division or modulo operator (``/``, ``%``).

    Comments, attributes and escaped identifiers (which may contain ``/``) are ignored.
    """
    bad = []
    for number, line in enumerate(verilog.splitlines(), 1):
        code = re.sub(r"\(\*.*?\*\)", "", line)          # attributes
        code = re.sub(r"//.*|/\*.*?\*/", "", code)         # comments
        code = re.sub(r"\\\S+", "", code)                  # escaped identifiers
        code = re.sub(r"\"[^\"]*\"", "", code)             # strings
        if re.search(r"[/%]", code):
            bad.append(f"{number}: {line.strip()}")
    return bad
