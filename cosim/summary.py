"""The run summary a cocotb bench writes for its runner (``SBPCA_SUMMARY``, a JSON object).

:func:`cosim.runner.run_cocotb` points ``SBPCA_SUMMARY`` at ``summary.json`` in the build folder
and returns what the bench recorded there (cycle counts, beats, utilization) as ``summary``.
"""

from __future__ import annotations

import json
import os

__all__ = ["record"]


def record(key: str, value) -> None:
    """Add ``key: value`` to the run's summary (nothing when no summary file was asked for)."""
    path = os.environ.get("SBPCA_SUMMARY")
    if not path:
        return
    doc = {}
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    doc[key] = value
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
