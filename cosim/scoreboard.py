"""Compare hardware words with golden-model words as integers, and say where they differ.

Every comparison that passes is tallied (:func:`compared`: how many words, and a SHA-256 over
their names and values in order) and the tally goes into the run's summary as ``compared``, so
two runs of one bench (e.g. Icarus ``-g2005`` and ``-g2012``) can be shown to have compared the
same words.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .summary import record

__all__ = ["compare_words", "compared", "Mismatch"]

_TALLY = {"words": 0, "sha256": hashlib.sha256()}


class Mismatch(AssertionError):
    """Hardware and golden model disagree on at least one word."""


def _hex(value: int, width: int) -> str:
    return f"0x{int(value) & ((1 << width) - 1):0{(width + 3) // 4}x}"


def compare_words(name: str, expected, actual, *, width: int, frac: int = 0, where=None,
                  max_report: int = 8):
    """Raise :class:`Mismatch` unless ``expected`` and ``actual`` are equal integer arrays.

    ``where`` labels each word (e.g. ``"batch 3, sample 17, word 5"``); the message lists up to
    ``max_report`` mismatches with expected and actual values in hex and as fixed-point floats.
    """
    expected = np.asarray(expected, dtype=np.int64).ravel()
    actual = np.asarray(actual, dtype=np.int64).ravel()
    if expected.shape != actual.shape:
        raise Mismatch(f"{name}: expected {expected.size} words, got {actual.size}")
    bad = np.nonzero(expected != actual)[0]
    if bad.size == 0:
        _TALLY["words"] += expected.size
        _TALLY["sha256"].update(name.encode() + b"\0" + expected.tobytes())
        record("compared", compared())
        return
    lines = [f"{name}: {bad.size} of {expected.size} words differ"]
    scale = 2.0 ** -frac
    for i in bad[:max_report]:
        label = where[i] if where is not None else f"word {i}"
        lines.append(f"  {label}: expected {_hex(expected[i], width)} ({expected[i] * scale:g}), "
                     f"got {_hex(actual[i], width)} ({actual[i] * scale:g})")
    raise Mismatch("\n".join(lines))


def compared() -> dict:
    """The words compared equal so far in this process: ``{"words": n, "sha256": hex}``."""
    return {"words": _TALLY["words"], "sha256": _TALLY["sha256"].hexdigest()}
