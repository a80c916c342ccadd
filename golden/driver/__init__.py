"""The crossbar driver: specification and bit-exact integer golden model.

The driver turns the streaming-PCA unit's batch result (the rank-k factors ``sigma``, ``X``,
``Delta``) into pulse trains on a crossbar array's lines, one outer-product update per term, so
that in expectation ``W -= lr sum_r sigma_r d_r x_r^T`` (Gokmen and Vlasov's coincidence scheme
with aihwkit's update management, made division-free). This docstring is the contract the RTL
(``hdl/crossbar_driver.py``) implements; :class:`~golden.driver.model.CrossbarDriverModel` is its
golden model (int64 NumPy, Python ints for the per-term scalars) and
:mod:`golden.driver.lfsr` the generators. The float reference of the same job is
:func:`golden.crossbar.pulse_plan` / :func:`golden.crossbar.pulse_trains`.

Only multiply, add, shift, compare and leading-one detect (LOD) are used: no divider, no square
root. Every rounding is round half up; every clamp is a saturation (all named below, R1-R5).

Block diagram::

  unit: readout (rows_o: n_in rows of Xs, then n_out rows of Ds)  +  kxk (ax, Tx, ad, Td, sigma)
     |
     v
  FACTOR (once per batch; 1 multiplier, k(k+1)/2 cycles a line)   factor memory (G lanes)
     row i: F[i, r] = R1( sum_{q<=r} (S[i,q] << a_q) T[q,r] ) --> (n_in + n_out) x k vec words
     max registers: x_max[r] = max_j |X[j,r]|, d_max[r] = max_i |D[i,r]|
     |
     v
  GAIN (per term r; scalar, GAIN_CYCLES = 13)      C = lr_mult * M   (generation-time constant)
     K = C |sigma_r|;  Km, kx = R3(K);  a = d_max Km;  LODs;  sr, sc;  one compare (fix-up)
     |
     v
  PLAN (per term, once; R + C + PLAN_LATENCY cycles; G lanes, 1 multiplier each)
     pass c < R:        row i = c G + g:         p = R4(|D[i,r]| Km 2**-sr)   (1 multiply)
     pass R <= c < R+C: col j = (c-R) G + g:     p = R4(|X[j,r]| 2**-sc)      (shift only)
     clipped lines counted (clip_lines, clip)  --> line memory: p (or n = R5(BL p)), sign
     |
     v
  SLOTS (per term, t = 0 .. BL-1)                 lane g: LFSR g (LANE_POLYS[g], lane seed g)
     load cycle c: the lines of pass c
         stochastic:    pulse = (draw_g < p) or (p == all ones)   one p_bits draw per cycle
         deterministic: rows pulse = t < n_d;  cols: Bresenham accumulator acc_j
         latch[line] <= (pulse, sign)
     fire_cycles cycles: strobe; every latched line drives a pulse of its sign
     |
     v
  crossbar: device (i, j) steps once, by -row_sign * col_sign, when both its lines pulse

with ``R = ceil(n_out / G)`` row groups, ``C = ceil(n_in / G)`` column groups (rows are the delta
side, ``n_out`` lines; columns the x side, ``n_in`` lines, as in :mod:`golden.crossbar.array`).

**1. Factor words (R1).** ``X[:, r]`` and ``D[:, r]`` are exactly the words
:meth:`golden.sbpca_unit.SBPCAUnitModel.readout` defines: ``Xs diag(2**ax) Tx`` (exact: stored
words shifted left by the column exponents on their way into the multiplier, times the ``mat``
words of the upper-triangular transform) rounded half up from ``vec.frac + mat.frac`` fraction
bits into the ``vec`` format and saturated (R1, the unit's own rounding point; a clamp is
reported as ``readout_saturated``). ``sigma_r`` stays a separate ``sigma`` word: it and the
learning rate are folded into the per-term gain, not into the words (one multiply per term
instead of one per line). :func:`~golden.driver.model.unit_factors` computes these words with the
unit's own functions.

**2. Constants (R2, generation time).** ``lr = lr_mult 2**-lr_shift`` exactly, ``lr_mult`` odd
and below ``2**lr_bits`` (any other ``lr`` is rejected: ``ValueError`` naming it). The step
constant ``M = R2(2**step_exp / (dw_min BL))`` is the ``step_bits``-bit integer in
``[2**(step_bits-1), 2**step_bits)`` nearest to that value (relative error at most
``2**-step_bits``: :attr:`step_error`); ``C = lr_mult M`` (``lr_bits + step_bits`` bits) and
``E = lr_shift + step_exp + sigma.frac + 2 vec.frac`` are fixed. With these,
``p_d p_x = K |D_i| |X_j| 2**-E`` is the wanted ``lr |sigma d_i x_j| / (dw_min BL)`` up to R2.

**3. GAIN: update management without a divider (R3).** Per term, five steps (cut into
``GAIN_CYCLES`` = 13 cycles of one short operation each in the RTL,
:mod:`hdl.crossbar_driver_gain`):

1. ``K = C |S|`` (``S`` = ``sigma_r``'s word; ``lr_bits + step_bits + sigma.width - 1`` bits).
2. R3: ``kx = max(0, LOD(K) + 1 - gain_bits)``, ``Km = (K + 2**(kx-1)) >> kx`` (half up; none
   for ``kx = 0``; a carry to ``2**gain_bits`` is renormalized: ``Km >>= 1``, ``kx += 1``).
   ``K ~ Km 2**kx``, relative error at most ``2**-gain_bits``.
3. ``a = d_max Km``, ``b = x_max`` (the term's unrounded row and column maxima, up to the common
   scale).
4. ``total = E - kx - 2 p_bits`` (so that ``sr + sc = total``);
   ``sr = (LOD(a) - LOD(b) + total + 1) >> 1`` (arithmetic shift).
5. ``m = total - 2 sr + 1``; if ``a 2**m < b`` (a shifted compare) then ``sr -= 1``;
   ``sc = total - sr``.

Row ``i`` gets ``p_d,i = |D_i| Km 2**-sr``, column ``j`` gets ``p_x,j = |X_j| 2**-sc`` (in units
of ``2**-p_bits``), so ``p_d,i p_x,j = K |D_i||X_j| 2**-E`` up to R3 and R4: the product, the
expected update, does not depend on the split. The split is aihwkit's balance
(``A *= sqrt(x_amax/d_amax)``, ``B *= sqrt(d_amax/x_amax)``: equal row and column maxima) with
powers of two: with ``rho = max p_d / max p_x = (a/b) 2**(total - 2 sr)``, step 4's LODs place
``log2 rho`` in ``(-2, 1)`` and step 5 moves it by 2 when it is below ``-1``, so
``1/2 <= rho < 2`` (the best a power of two can do: one step of ``sr`` changes ``rho`` by 4).
Each maximum is within a factor ``sqrt(2)`` of the balanced value ``sqrt(c_max / BL)``
(``c_max = max_ij`` wanted count), so no line clips while ``c_max <= BL / 2`` (up to R2-R4);
aihwkit's square root clips only beyond ``c_max = BL``. Between the two, the larger side may
clip where aihwkit's would not: the update is then smaller than asked, as aihwkit's is beyond
``BL`` (clipped lines are flagged and counted; measured: 5 of 118 random terms with
``BL/2 < c_max <= BL`` clipped, none of 2,508 below). Bit-length management (``BL``
shortened for small updates) is not modelled: ``BL`` is fixed per driver.

**4. Probability words (R4).** ``p_bits``-bit unsigned words, value ``w 2**-p_bits``:
``w = sat(round_half_up(v 2**-s))`` (a left shift, exact, for ``s < 0``), ``v = |D_i| Km``
(``vec.width - 1 + gain_bits`` bits) or ``|X_j|``. The format is
:attr:`~golden.driver.model.CrossbarDriverModel.prob_format` (the non-negative half of a signed
``p_bits + 1``-bit word): values at or above all ones saturate to **all ones, which means
probability 1** (the line pulses in every slot). A line is **clipped** when the rounded value
exceeds ``2**p_bits`` (its wanted probability is above 1; exactly ``2**p_bits`` is probability 1,
not clipped, though the word saturates); per term the model reports the clipped rows and
columns, their count and a flag (``TermPlan.clipped_lines``, ``clip``), the RTL outputs the count
and the flag (``clip_lines``, ``clip``) and counts the clipped terms (``clipped_terms``, as
``stats()["clipped_terms"]``). Sign bits: row ``d_i < 0`` XOR ``sigma < 0``, column
``x_j < 0``. A term with ``sigma = 0``, ``d_max = 0`` or ``x_max = 0`` is skipped: all words 0
(its slots still run, empty, so the cycle count and the generators' state do not depend on the
data).

**5. Stochastic pulses.** Each load cycle every lane ``g`` takes one ``p_bits`` draw from its
LFSR (``p_bits`` steps of a degree-32 Fibonacci LFSR with the primitive polynomial
``LANE_POLYS[g]``; :mod:`golden.driver.lfsr`), whether or not its line exists; the line pulses
when ``draw < w`` or ``w`` is all ones. So per term every lane advances ``BL * (R + C)`` draws,
slot by slot, rows before columns, and the state carries over to the next term and batch (the
model object holds it): two ``pulses`` calls of ``a`` and ``b`` slots equal one of ``a + b``.
A line pulses with probability ``w 2**-p_bits`` per slot (1 for all ones), independently across
slots and lines up to the generators' quality, so cell ``(i, j)`` expects ``BL p_d,i p_x,j``
coincidences, each a device step in direction ``-sign(sigma d_i x_j)``. Neighbouring lines are
served by different lanes (different primitive polynomials and different seeds: different
m-sequences, not shifted copies); lines ``G`` apart share a lane and take consecutive draws.

**6. Deterministic pulses (R5)** (``scheme="deterministic"``, aihwkit's DeterministicImplicit
made explicit): per line ``n = R5(BL w 2**-p_bits)`` (half up; ``BL`` for all ones). Rows are
thermometer-coded (pulse in slots ``t < n_d``); columns are spread by a Bresenham accumulator,
reset to ``BL - 1`` at the term's start: each slot ``acc += 2 n_x``; pulse and ``acc -= 2 BL``
when ``acc >= 2 BL``: pulses at ``t_m = floor((m + 1/2) BL / n_x)``, ``m = 0 .. n_x - 1``
(``bits(4 BL)`` per column). Cell ``(i, j)`` gets ``round_half_down(n_d n_x / BL)``
coincidences; the model reports ``|counts - round(BL p_d p_x)|`` (max and mean per term). The
bound: ``|n_d n_x / BL - BL p_d p_x| <= (p_d + p_x)/2 + 1/(4 BL)``, so the error is at most 2
(measured on 1,000 random terms of 12 x 30 lines, ``BL = 31``: at most 1, mean 0.05 per
cell). The generators do not step in this scheme.

**7. Cycles.** ``load_cycles = R + C``; a slot is ``load_cycles + fire_cycles`` cycles;
the PLAN pass, which forms a term's probability words once (its multiplies and shifts are
pipelined, so it takes ``load_cycles`` cycles plus ``PLAN_LATENCY`` = 9), is
``plan_cycles = load_cycles + PLAN_LATENCY``;
``cycles_per_term = GAIN_CYCLES + plan_cycles + BL (load_cycles + fire_cycles)``
(:class:`~golden.driver.model.SlotSchedule`, the RTL's and the model's schedule). The FACTOR
stage has one multiplier: a line's ``k`` factor words take ``k(k+1)/2`` multiplies, one per
cycle, so ``factor_cycles(k) = (n_in + n_out) k(k+1)/2 + 2`` (the unit's ``rows_o`` delivers
rows faster than that for ``k >= 2``); then per term its ``R + C`` word beats and its ``sigma``
beat go into the SLOTS stage: ``cycles_per_batch(k) = factor_cycles(k) + k (load_cycles + 1 +
cycles_per_term)``. The unit-driver top adds the unit's readout latency
(:attr:`hdl.unit_driver.UnitDriver.update_cycles`, measured). The latches are single-buffered
(loading waits for the strobe); shadow latches would make a slot ``max(load_cycles,
fire_cycles)`` cycles.

Number formats (defaults: the unit's 16-bit ``vec`` Q1.15 and 18-bit ``sigma`` with 11 fraction
bits; ``lr_bits = 4``, ``step_bits = gain_bits = p_bits = 16``, ``BL = 31``):

===============================  =============================================================
quantity                         format
===============================  =============================================================
``X[j, r]``, ``D[i, r]``         ``vec`` (signed, 16 bits, 15 fraction bits); R1
``sigma_r``                      ``sigma`` (signed, 18 bits, 11 fraction bits)
``M``, ``C``                     unsigned ``step_bits``, ``lr_bits + step_bits`` (constants); R2
``K``                            unsigned ``lr_bits + step_bits + sigma.width - 1`` = 37 bits
``Km``, ``kx``                   unsigned ``gain_bits`` = 16 bits, exponent ``>= 0``; R3
``a = d_max Km``, ``|D_i| Km``   unsigned ``vec.width - 1 + gain_bits`` = 31 bits
``sr``, ``sc``, ``total``        signed shift amounts (small integers)
``p``, draws                     unsigned ``p_bits``, value ``w 2**-p_bits``, all ones = 1; R4
``n_d``, ``n_x``, ``acc``        unsigned ``bits(BL)``, ``bits(4 BL)``; R5
pulses                           per line per slot: pulse bit and sign bit (int8 -1/0/+1 here)
===============================  =============================================================
"""

from .lfsr import DEGREE, LANE_POLYS, LaneGenerators, is_primitive, lane_seeds
from .model import (GAIN_CYCLES, PLAN_LATENCY, SCHEMES, BatchDrive, CrossbarDriverModel,
                    SlotSchedule, TermDrive, TermPlan, UnitFactors, unit_factors)

__all__ = ["CrossbarDriverModel", "UnitFactors", "TermPlan", "TermDrive", "BatchDrive",
           "SlotSchedule", "unit_factors", "SCHEMES", "GAIN_CYCLES", "PLAN_LATENCY",
           "LaneGenerators", "LANE_POLYS", "DEGREE", "is_primitive", "lane_seeds"]
