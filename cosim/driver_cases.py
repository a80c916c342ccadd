"""Terms for co-simulating the crossbar driver (golden side: NumPy only).

A term is ``(x_words, d_words, sigma_word)``: raw ``vec`` words of ``X[:, r]`` (``n_in``) and
``D[:, r]`` (``n_out``) and the raw ``sigma`` word, as :meth:`golden.driver.CrossbarDriverModel.
plan` takes them.

:func:`driver_terms`
    Random terms, with a zero ``sigma``, a zero ``x`` and one of extreme words with the largest
    ``sigma`` (clipped lines for large gains) among them.
:func:`boundary_term`
    A term with lines on the clip boundary: a word that rounds to exactly ``2**p_bits``
    (probability 1, **not** clipped) and one that rounds just above it (clipped), so a driver
    that confuses "clipped" (above ``2**p_bits``) with "saturated" (at or above the all-ones
    word) miscounts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["driver_terms", "boundary_term", "rounded_word"]


def driver_terms(model, rng, n):
    """``n`` terms: term 1 has ``sigma = 0``, term 2 ``x = 0``, term 3 extreme words and the
    largest ``sigma`` (clipped lines for large gains), the others random."""
    F = model.formats
    terms = []
    for r in range(n):
        scale = 1 << int(rng.integers(4, F.vec.width))
        x = rng.integers(-scale, scale, model.n_in).clip(F.vec.min_raw, F.vec.max_raw)
        d = rng.integers(-scale, scale, model.n_out).clip(F.vec.min_raw, F.vec.max_raw)
        s = int(rng.integers(F.sigma.min_raw, F.sigma.max_raw + 1) >> int(rng.integers(0, 8)))
        if r == 1:
            s = 0
        elif r == 2:
            x = np.zeros_like(x)
        elif r == 3:
            x = rng.choice([F.vec.min_raw, F.vec.max_raw, 1, 0, -1], model.n_in)
            d = rng.choice([F.vec.min_raw, F.vec.max_raw, 1, 0, -1], model.n_out)
            s = F.sigma.max_raw
        terms.append((x, d, s))
    return terms


def rounded_word(mag, mult: int, shift: int):
    """The probability word before saturation (R4): ``round_half_up(mag mult 2**-shift)``
    (a left shift for ``shift <= 0``), int64."""
    v = np.asarray(mag, np.int64) * mult
    return (v + ((1 << shift) >> 1)) >> shift if shift > 0 else v << -shift


def boundary_term(model, rng, *, tries=20000):
    """A term whose row side, column side or both hold, besides the line of the maximum, a line
    whose word rounds to exactly ``2**p_bits`` and one whose word rounds just above it (lines
    1 and 2), the other lines of that side random below the exact one (the other side's random
    below its maximum). Needs ``n_in``, ``n_out`` >= 3 where a side is used.

    Returns ``(x_words, d_words, sigma_word, sides)``; ``sides`` maps ``"rows"``/``"cols"`` to
    the ``(exact, above)`` line indices placed."""
    F, P = model.formats, model.p_bits
    n_in, n_out = model.n_in, model.n_out
    for _ in range(tries):
        s = int(rng.integers(1, F.sigma.max_raw + 1)) * int(rng.choice([-1, 1]))
        dm, xm = (int(v) for v in rng.integers(2, F.vec.max_raw + 1, 2))
        plan = model.plan([xm] + [0] * (n_in - 1), [dm] + [0] * (n_out - 1), s)
        found = {}
        for side, mult, shift, top, n in (("rows", plan.gain, plan.row_shift, dm, n_out),
                                          ("cols", 1, plan.col_shift, xm, n_in)):
            if n < 3:
                continue
            mags = np.arange(1, top, dtype=np.int64)
            pre = rounded_word(mags, mult, shift)
            exact, above = mags[pre == 1 << P], mags[pre > 1 << P]
            if exact.size and above.size:
                found[side] = (int(exact[0]), int(above[0]))
        if not found:
            continue
        lines = {}
        for side, top, n in (("rows", dm, n_out), ("cols", xm, n_in)):
            if side in found:                      # the others below probability 1
                exact, above = found[side]
                w = rng.integers(1 - exact, exact, n)
                w[1], w[2] = exact, -above
            else:
                w = rng.integers(-top, top + 1, n)
            w[0] = top * int(rng.choice([-1, 1]))
            lines[side] = w
        return lines["cols"], lines["rows"], s, {k: (1, 2) for k in found}
    raise ValueError(f"boundary_term: no term found in {tries} tries")
