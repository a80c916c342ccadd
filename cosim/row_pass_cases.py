"""Random test cases for the row-pass engine, shared by the Amaranth and cocotb benches.

A case respects the engine's precondition (``S[i, q] << a[q]`` fits a stored word, as the unit
guarantees by keeping stored columns short) and scales the coefficients so that some passes
saturate and most do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.fixed import FixedFormat
from golden.sbpca_unit import row_pass

__all__ = ["RowPassCase", "random_rows", "random_params", "expected"]


@dataclass
class RowPassCase:
    a: np.ndarray
    cT: np.ndarray
    w: np.ndarray
    inp: np.ndarray


def random_rows(n, k, width, a, rng):
    """Stored rows whose column ``q`` stays below ``2**(width - 1 - a[q])`` in magnitude."""
    return np.stack([rng.integers(-(1 << (width - 1 - int(a[q]))), 1 << (width - 1 - int(a[q])), n)
                     for q in range(k)], axis=1).astype(np.int64)


def random_params(rp, rng, *, loud: bool = False) -> RowPassCase:
    """Exponents, coefficients and inputs for one pass of ``rp`` (a ``RowPass``).

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
    inp = rng.integers(-(1 << (W - 1)), 1 << (W - 1), rp.n)
    return RowPassCase(a=a, cT=cT, w=w, inp=inp)


def expected(rp, S, case: RowPassCase):
    """``(new, gram_upper, proj, saturated)`` from the golden contract."""
    new, G, p, sat = row_pass(S, case.a, case.cT, case.inp, case.w, gw=rp.gw, shift=rp.shift,
                              out=FixedFormat(rp.vec_width))
    upper = np.array([G[q, r] for q in range(rp.k) for r in range(q, rp.k)], dtype=np.int64)
    return new, upper, p, sat
