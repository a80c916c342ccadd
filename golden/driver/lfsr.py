"""The crossbar driver's pseudo-random generators: one degree-32 Fibonacci LFSR per latch lane.

Lane ``g`` of the ``G`` latch lanes owns one linear-feedback shift register whose feedback is the
primitive polynomial ``LANE_POLYS[g]`` (so its bit sequence has the maximal period
``2**32 - 1``). A register of degree ``n`` holds the last ``n`` bits of its sequence ``a``: bit 0
is the newest, ``a[m + n - 1]``, bit ``n - 1`` the oldest, ``a[m]``. One step shifts left and puts
the new bit in bit 0::

    f(x) = x**n + sum_{i in taps} x**i + 1        (taps: exponents strictly between 0 and n)
    a[m + n] = a[m] ^ XOR_{i in taps} a[m + i]    (the recurrence whose characteristic
                                                   polynomial is f)
    state'   = ((state << 1) | a[m + n]) mod 2**n

so the new bit is the parity of ``state & tap_mask(f)``, where the mask has bit ``n - 1 - i`` for
``i = 0`` and each tap. A **draw** of ``p`` bits (``p <= 16``) takes ``p`` steps and is the low
``p`` bits of the new state: the ``p`` newest sequence bits, the oldest of them in bit ``p - 1``.
Every tap of every ``LANE_POLYS`` entry is at most 16, so for ``p <= 16`` each of the ``p`` new
bits is the XOR of at most 6 bits of the *old* state (no chaining through bits made in the same
cycle: one 6-input LUT level per bit), and a lane makes one draw per clock cycle.

Why these polynomials: 32 is a multiple of 8, so no trinomial of degree 32 is primitive (Swan's
theorem); ``LANE_POLYS`` lists the 22 primitive pentanomials ``x**32 + x**a + x**b + x**c + 1``
with ``16 >= a > b > c`` and then the first primitive heptanomials with all middle exponents at
most 16 (in ascending order), 64 in all; :func:`is_primitive` checks each (the order of ``x``
modulo ``f`` is ``2**32 - 1``: no trial of the period is needed). Distinct lanes have distinct
polynomials, so their sequences are different m-sequences, not shifted copies of one sequence
(as they would be with one polynomial and different seeds); the seeds differ as well.

Properties used: a draw of ``p <= 16`` bits is uniform on ``[0, 2**p)`` over a period up to the
one missing all-zero state (bias ``2**-32``), and so is the pair of a lane's consecutive draws
(``2p <= 32`` consecutive bits of an m-sequence of degree 32 are equidistributed).

Seeds (:func:`lane_seeds`): from one integer ``seed``, lane ``g`` starts at the high 32 bits of
``splitmix64(seed * 256 + g)`` (0 replaced by 1: the all-zero state is the LFSR's one fixed
point). The hardware takes the resulting per-lane states as generation-time constants
(:attr:`LaneGenerators.seeds`).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["DEGREE", "LANE_POLYS", "MAX_DRAW_BITS", "poly_int", "tap_mask", "lfsr_step",
           "is_primitive", "splitmix64", "lane_seeds", "LaneGenerators"]

#: Degree of every lane's LFSR (state bits).
DEGREE = 32

#: Widest draw: every tap of ``LANE_POLYS`` is at most ``DEGREE - MAX_DRAW_BITS``.
MAX_DRAW_BITS = 16

#: Middle exponents of lane ``g``'s feedback polynomial ``x**32 + sum x**e + 1`` (all primitive).
LANE_POLYS = (
    (7, 6, 2), (8, 5, 2), (9, 3, 2), (9, 5, 3), (11, 5, 2), (11, 5, 3), (12, 3, 2), (12, 7, 5),
    (13, 4, 3), (13, 7, 5), (13, 12, 11), (14, 6, 1), (14, 10, 3), (14, 12, 5), (15, 7, 5),
    (15, 10, 1), (16, 3, 2), (16, 7, 2), (16, 9, 2), (16, 11, 1), (16, 11, 9), (16, 13, 3),
    (7, 5, 3, 2, 1), (7, 6, 5, 4, 2), (8, 6, 5, 4, 1), (8, 6, 5, 4, 2), (9, 6, 4, 3, 1),
    (9, 7, 4, 3, 2), (9, 7, 6, 4, 3), (9, 8, 6, 3, 2), (10, 4, 3, 2, 1), (10, 8, 7, 4, 3),
    (10, 9, 7, 4, 1), (10, 9, 7, 6, 5), (10, 9, 8, 5, 2), (10, 9, 8, 5, 4), (11, 5, 3, 2, 1),
    (11, 7, 6, 3, 1), (11, 7, 6, 4, 2), (11, 7, 6, 5, 4), (11, 8, 7, 5, 3), (11, 9, 4, 2, 1),
    (11, 9, 6, 3, 2), (11, 9, 7, 4, 3), (11, 9, 8, 7, 1), (11, 10, 4, 3, 1), (11, 10, 4, 3, 2),
    (11, 10, 6, 4, 1), (11, 10, 6, 5, 4), (11, 10, 7, 6, 2), (11, 10, 8, 6, 5),
    (11, 10, 9, 7, 4), (12, 8, 4, 3, 1), (12, 8, 7, 6, 1), (12, 9, 6, 2, 1), (12, 9, 6, 5, 1),
    (12, 9, 6, 5, 3), (12, 9, 7, 5, 4), (12, 10, 6, 3, 1), (12, 10, 6, 3, 2),
    (12, 10, 7, 5, 3), (12, 10, 8, 5, 2), (12, 10, 8, 7, 3), (12, 10, 9, 6, 4),
)


def poly_int(taps, degree: int = DEGREE) -> int:
    """The polynomial ``x**degree + sum x**t + 1`` as an integer (bit ``e`` = coefficient of
    ``x**e``)."""
    f = (1 << degree) | 1
    for t in taps:
        if not 0 < t < degree:
            raise ValueError(f"taps={tuple(taps)!r}: exponents must be in (0, {degree})")
        f |= 1 << t
    return f


def tap_mask(taps, degree: int = DEGREE) -> int:
    """State bits whose parity is the new bit: bit ``degree - 1 - i`` for ``i = 0`` and each tap
    ``i`` (state bit ``degree - 1 - i`` holds ``a[m + i]``)."""
    mask = 1 << (degree - 1)
    for t in taps:
        mask |= 1 << (degree - 1 - t)
    return mask


def lfsr_step(state: int, mask: int, degree: int = DEGREE) -> int:
    """One step of the Fibonacci LFSR (the bit-serial reference of the module docstring)."""
    bit = bin(state & mask).count("1") & 1
    return ((state << 1) | bit) & ((1 << degree) - 1)


# -- GF(2) polynomial arithmetic for the primitivity check ------------------------------------

def _mulmod(a: int, b: int, f: int, degree: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> degree) & 1:
            a ^= f
    return r


def _powx(e: int, f: int, degree: int) -> int:
    """``x**e mod f`` over GF(2)."""
    r, base = 1, 2
    while e:
        if e & 1:
            r = _mulmod(r, base, f, degree)
        base = _mulmod(base, base, f, degree)
        e >>= 1
    return r


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            out.append(p)
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def is_primitive(f: int, degree: int) -> bool:
    """True when the degree-``degree`` polynomial ``f`` (integer form) is primitive over GF(2):
    ``x`` has order exactly ``2**degree - 1`` modulo ``f``. (A reducible ``f`` cannot reach that
    order, so this alone decides it.) An LFSR with a primitive feedback polynomial runs through
    all ``2**degree - 1`` non-zero states."""
    if f >> degree != 1 or not f & 1:
        return False
    order = (1 << degree) - 1
    if _powx(order, f, degree) != 1:
        return False
    return all(_powx(order // p, f, degree) != 1 for p in _prime_factors(order))


# -- seeds ----------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def splitmix64(z: int) -> int:
    """Steele, Lea and Flood's SplitMix64 output function of ``z`` (64-bit integers)."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def lane_seeds(seed: int, lanes: int) -> tuple[int, ...]:
    """Start states of ``lanes`` lanes from one integer ``seed`` (module docstring)."""
    return tuple((splitmix64((seed << 8) + g) >> 32) or 1 for g in range(lanes))


# -- the lanes ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _draw_tables(taps: tuple, bits: int) -> np.ndarray:
    """``(4, 256)`` uint64 tables of the ``bits``-step transition (linear over GF(2)): the new
    state is the XOR of ``table[b, byte b of the old state]``. Built from :func:`lfsr_step`."""
    mask = tap_mask(taps)
    image = np.zeros(DEGREE, np.uint64)
    for k in range(DEGREE):
        s = 1 << k
        for _ in range(bits):
            s = lfsr_step(s, mask)
        image[k] = s
    table = np.zeros((4, 256), np.uint64)
    v = np.arange(256)
    for b in range(4):
        for i in range(8):
            table[b] ^= np.where((v >> i) & 1 == 1, image[8 * b + i], np.uint64(0))
    table.flags.writeable = False
    return table


class LaneGenerators:
    """``G`` lane LFSRs stepped together, one draw of ``draw_bits`` bits per lane per call.

    Parameters
    ----------
    seeds : sequence of int
        Start state of each lane, in ``[1, 2**32 - 1]``; the number of seeds is ``G``
        (at most ``len(LANE_POLYS)``). Lane ``g`` uses ``LANE_POLYS[g]``.
    draw_bits : int
        Bits per draw, ``1 <= draw_bits <= MAX_DRAW_BITS``.

    The state is carried from call to call: ``draws(a)`` then ``draws(b)`` equals ``draws(a +
    b)``.
    """

    def __init__(self, seeds, draw_bits: int):
        seeds = tuple(int(s) for s in seeds)
        if not 1 <= len(seeds) <= len(LANE_POLYS):
            raise ValueError(f"seeds: need 1 to {len(LANE_POLYS)} lanes, got {len(seeds)}")
        for g, s in enumerate(seeds):
            if not 0 < s < 1 << DEGREE:
                raise ValueError(f"seeds[{g}]={s}: must be in [1, 2**{DEGREE} - 1]")
        if not 1 <= draw_bits <= MAX_DRAW_BITS:
            raise ValueError(f"draw_bits={draw_bits}: must be in [1, {MAX_DRAW_BITS}]")
        self._seeds = seeds
        self._bits = draw_bits
        lanes = len(seeds)
        self._taps = LANE_POLYS[:lanes]
        self._table = np.concatenate([_draw_tables(t, draw_bits).ravel() for t in self._taps])
        self._base = (np.arange(lanes, dtype=np.int64) * 1024)[:, None] + np.arange(4) * 256
        self._state = np.array(seeds, np.uint64)
        self._draws = 0

    @property
    def lanes(self) -> int:
        return len(self._seeds)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self._seeds

    @property
    def draw_bits(self) -> int:
        return self._bits

    @property
    def polys(self) -> tuple[tuple[int, ...], ...]:
        """Each lane's middle exponents (``LANE_POLYS[:G]``)."""
        return self._taps

    @property
    def state(self) -> tuple[int, ...]:
        """Each lane's current 32-bit state."""
        return tuple(int(s) for s in self._state)

    @property
    def draws_made(self) -> int:
        """Draws per lane since construction."""
        return self._draws

    def draws(self, n: int) -> np.ndarray:
        """The next ``n`` draws of every lane: int64 ``(n, G)``, row ``c`` = load cycle ``c``."""
        out = np.empty((n, self.lanes), np.int64)
        s, table, base = self._state, self._table, self._base
        low = np.uint64((1 << self._bits) - 1)
        for c in range(n):
            idx = base + ((s[:, None] >> (np.arange(4, dtype=np.uint64) * np.uint64(8)))
                          & np.uint64(255)).astype(np.int64)
            t = table[idx]
            s = t[:, 0] ^ t[:, 1] ^ t[:, 2] ^ t[:, 3]
            out[c] = (s & low).astype(np.int64)
        self._state = s
        self._draws += n
        return out
