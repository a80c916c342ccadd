"""Random test cases for the row-pass engine, shared by the Amaranth and cocotb benches.

A case respects the engine's precondition (``S[i, q] << a[q]`` fits a stored word, as the unit
guarantees by keeping stored columns short) and scales the coefficients so that some passes
saturate and most do not. Input words are per bank (one array per bank of the engine) and are
streamed into a buffer as ``inp_w`` beats by :func:`input_beats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.fixed import FixedFormat
from golden.sbpca_unit import row_pass
from hdl.row_pass import NORM, PROJECT, UPDATE

__all__ = ["RowPassCase", "random_rows", "random_inputs", "random_params", "input_beats",
           "expected", "pass_plan"]


@dataclass
class RowPassCase:
    """Parameters of one pass (``params`` of the engine)."""

    a: np.ndarray
    cT: np.ndarray
    w: np.ndarray


def random_rows(n, k, width, a, rng):
    """Stored rows whose column ``q`` stays below ``2**(width - 1 - a[q])`` in magnitude."""
    return np.stack([rng.integers(-(1 << (width - 1 - int(a[q]))), 1 << (width - 1 - int(a[q])), n)
                     for q in range(k)], axis=1).astype(np.int64)


def random_inputs(rp, rng) -> list:
    """Full-range input words for every bank of ``rp`` (one buffer's contents)."""
    W = rp.vec_width
    return [rng.integers(-(1 << (W - 1)), 1 << (W - 1), n).astype(np.int64) for n in rp.banks]


def random_params(rp, rng, *, loud: bool = False) -> RowPassCase:
    """Exponents and coefficients for one pass of ``rp`` (a ``RowPass``).

    ``loud`` uses full-range coefficients (the pass saturates); otherwise ``cT`` is about
    ``2**shift / k`` so stored words stay mostly in range.
    """
    k, W, cw = rp.k, rp.vec_width, rp.coef_width
    a = rng.integers(0, min(4, W - 2) + 1, k)
    if loud:
        c_lim, w_lim = 1 << (cw - 1), 1 << (cw - 1)
    else:
        c_lim = max(1, (1 << rp.shift) // (2 * k))
        w_lim = max(1, (1 << rp.shift) >> (rp.gw + 2))
    cT = np.triu(rng.integers(-c_lim, c_lim, (k, k)))
    w = rng.integers(-w_lim, w_lim, k)
    return RowPassCase(a=a, cT=cT, w=w)


def input_beats(rp, inputs, rng) -> list:
    """The ``inp_w`` beats (lists of ``rp.words`` ints) that fill one buffer with ``inputs``.

    Bank 0 first, each bank from a fresh beat; the words of a bank's last beat past its row count
    are random (the engine drops them).
    """
    W, vw = rp.words, rp.vec_width
    beats = []
    for words in inputs:
        words = [int(v) for v in words]
        words += [int(v) for v in rng.integers(-(1 << (vw - 1)), 1 << (vw - 1), -len(words) % W)]
        beats += [words[i:i + W] for i in range(0, len(words), W)]
    return beats


def pass_plan(rp, updates: int) -> list:
    """``(mode, bank, buf)`` of a bench session: ``updates`` UPDATE passes cycling through the banks
    on buffer 0, then PROJECT on every bank and NORM on every bank, on buffer 1."""
    nb = len(rp.banks)
    return ([(UPDATE, i % nb, 0) for i in range(updates)]
            + [(PROJECT, b, 1) for b in range(nb)] + [(NORM, b, 1) for b in range(nb)])


def expected(rp, S, case: RowPassCase, inp):
    """``(new, gram_upper, proj, saturated)`` from the golden contract."""
    new, G, p, sat = row_pass(S, case.a, case.cT, inp, case.w, gw=rp.gw, shift=rp.shift,
                              out=FixedFormat(rp.vec_width))
    upper = np.array([G[q, r] for q in range(rp.k) for r in range(q, rp.k)], dtype=np.int64)
    return new, upper, p, sat
