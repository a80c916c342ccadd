"""Streaming Batch PCA (SBPCA / SBPCAV): rank-``k`` block-averaged bi-iteration (Huang et al. 2020).

Algorithm 1 of the SBPCA paper, for block ``i = 1, 2, ...`` of a batch (``x_i`` the ``(b, n_in)``
block of inputs, ``delta_i`` the ``(b, n_out)`` block of errors, ``c_i`` the convergence
coefficient, ``/sigma`` column-wise)::

    X step:      y = delta_i Delta / b
                 X <- c_i X + (1 - c_i) x_i^T y / sigma          X <- orth(X)
    Delta step:  z = x_i X / b                                    (with the NEW X)
                 Delta <- c_i Delta + (1 - c_i) delta_i^T z / sigma    Delta <- orth(Delta)
    sigma step:  sigma <- c_i sigma + (1 - c_i) sum_rows((delta_i Delta) * (x_i X)) / b

and the update is ``Delta diag(sigma) X^T``. ``x_i^T y = x_i^T delta_i Delta / b`` is ``G_i^T
Delta`` for the block-mean gradient ``G_i``, so dividing by ``sigma`` makes the converged vectors
a fixed point (``G^T u_r / sigma_r = v_r``). The sigma step is computed as ``diag(Delta^T D_acc)
/ b`` with ``D_acc = delta_i^T (x_i X)`` of the Delta step, which equals the row sum above and
needs no third pass over the block.

Data flow of one block (``order="sequential"``)::

    x_j, delta_j --+--> p = Delta^T delta_j --> X_acc += x_j p^T ---------+
                   |                                                       v
                   +--> block buffer (b samples) ---+     X <- orth(c X + a (.) X_acc)
                                                    v              |
                            q = X^T x_j  (new X) --> D_acc += delta_j q^T
                                                    v
                                    Delta <- orth(c Delta + a (.) D_acc)
                                    sigma <- c sigma + (1-c)/b diag(Delta^T D_acc)

with ``a_r = (1 - c) / (b sigma_r)``. ``order="parallel"`` computes ``q`` with the block-start
``X`` in the same pass (no buffer) and ``sigma`` from ``p (.) q``. Options change one thing each
so their effects can be measured one at a time; ``mode="xbtorch"`` is the preset that reproduces
the authors' public code (see :class:`SBPCA`).
"""

from __future__ import annotations

import numpy as np

from ..linalg import newton_recip, newton_schulz, qr_signfix
from .base import Cost, LowRankUpdate, UpdateRule
from ..check import check_bool, check_choice, check_float, check_int

__all__ = ["SBPCA", "block_sizes"]

SCHEDULES = ("harmonic", "sbpcav", "shift")
ORDERS = ("sequential", "parallel")
NORMS = ("qr", "ns", "ns_tri")
RECIPS = ("div", "newton")
MODES = ("custom", "xbtorch")
XBTORCH = dict(schedule="harmonic", order="sequential", norm="qr", recip="div", sigma0=1.0)


def block_sizes(batch_size: int, schedule: str, block: int) -> list[int]:
    """Return the block sizes that cover a batch of ``batch_size`` samples, in order.

    ``"harmonic"`` and ``"shift"``: blocks of ``block`` samples, the last one holding what remains
    (``B mod block`` samples when non-zero). ``"sbpcav"``: ``block * 2**(i-1)`` for ``i = 1, 2,
    ...`` (``1, 2, 4, ...`` with ``block = 1``), the last one cut to what remains. The sizes
    always sum to ``batch_size``: no sample is dropped.
    """
    sizes, done, i = [], 0, 0
    while done < batch_size:
        size = block if schedule != "sbpcav" else block << i
        size = min(size, batch_size - done)
        sizes.append(size)
        done += size
        i += 1
    return sizes


class SBPCA(UpdateRule):
    """Rank-``k`` Streaming Batch PCA with its hardware options (SBPCA paper, Algorithm 1).

    ``batch`` runs the blocks of :func:`block_sizes` through Algorithm 1 (module docstring) and
    returns ``sigma``, ``X``, ``Delta`` (the state after the batch), ``matrix_updates = k``. Each
    block average is the mean over the samples actually in the block, so a short last block is a
    full block with fewer samples. The state carries to the next batch (warm start); the block
    counter ``i`` of the harmonic schedule restarts at 1 with every batch, as in Algorithm 1.

    Parameters
    ----------
    k : int
        Rank, ``1 <= k <= min(n_in, n_out)``.
    block : int or None
        Block size ``b`` (``"harmonic"``, ``"shift"``), or the first block size of the doubling
        ``"sbpcav"`` blocks. ``None``: 1 (32 in ``mode="xbtorch"``, its ``sub_batch_size``).
    order : str
        ``"sequential"``: X step over the block, then Delta step with the new ``X`` over the same
        block (a block of ``b > 1`` is seen twice: block buffer of ``b (n_in + n_out)`` words;
        with ``b = 1`` one pass and no buffer). ``"parallel"``: both steps from the block-start
        state in one pass, sigma from the block-start vectors; no buffer.
    schedule : str
        ``"harmonic"``: ``c_i = i/(i+1)`` (SBPCA); ``"sbpcav"``: ``c = 1/2`` with block sizes
        ``b 2**(i-1)`` (SBPCAV); ``"shift"``: ``c = 1 - 2**-shift_s`` every block (a moving average
        across blocks and batches).
    shift_s : int
        ``s >= 1`` of the ``"shift"`` schedule (only with ``schedule="shift"``).
    norm : str
        ``"qr"``: thin QR with ``diag(R) >= 0`` (:func:`golden.linalg.qr_signfix`); ``"ns"``:
        division-free polar Newton-Schulz ``A <- A (3I - A^T A)/2``; ``"ns_tri"``: division-free
        triangular Newton-Schulz whose limit is the QR factor (both
        :func:`golden.linalg.newton_schulz`). For ``k > 1`` the polar form loses the column order
        that separates the singular vectors: on a fixed batch it settles on a rotated basis with
        equal sigmas (a fixed point of the iteration), so ``"ns_tri"`` is the division-free
        choice that keeps SBPCA's behaviour; with ``k = 1`` the two are identical.
    ns_steps : int
        Newton-Schulz steps per orthonormalization (``norm="ns"``/``"ns_tri"`` only), default 8.
    prescale : bool
        Power-of-two column pre-scale before Newton-Schulz (``"ns"``/``"ns_tri"`` only), default
        True. Without it the iteration diverges as soon as a singular value of the combined
        matrix exceeds ``sqrt(3)`` (e.g. when ``sigma`` underestimates the gradient).
    recip : str
        ``"div"``: ``1/sigma`` by division; ``"newton"``: Newton-Raphson ``r <- r (2 - sigma r)``
        warm-started from the previous block's ``r`` (leading-one seed when there is none or it
        is outside the convergence region), :func:`golden.linalg.newton_recip`. A zero sigma has
        reciprocal 0 in both (the column then just decays by ``c``).
    recip_steps : int
        Newton-Raphson steps per block (``recip="newton"`` only), default 2.
    sigma0 : float
        Initial singular values (all ``k``), ``> 0``, default 1.0 as in xbtorch.
    mode : str
        ``"custom"`` (default): the options above. ``"xbtorch"``: the preset of the SBPCA
        authors' public PyTorch code (GWU ADAM lab ``xbtorch``, ``decomposition/sbpca.py``):
        harmonic ``(i+1)/(i+2)`` for sub-batch ``i`` from 0, sequential order, QR with the
        ``sign(diag R)`` fix after each step, division by sigma, ``sigma0 = 1``, random
        orthogonal start, block 32 by default. It differs from that code in two documented ways:
        samples left over when ``B`` is not a multiple of the block form a last, shorter block
        (xbtorch silently drops them), and the update is the mean-gradient estimate
        ``Delta diag(sigma) X^T`` (xbtorch multiplies by the batch size because PyTorch's
        per-sample errors already carry the ``1/B`` of a mean loss). Setting an option that the
        preset fixes to another value raises ``ValueError``.

    The first batch starts from ``X``, ``Delta`` = QR (sign-fixed) of Gaussian matrices from
    ``rng`` and ``sigma = sigma0``. See :meth:`cost` for the hardware counts.

    Notes
    -----
    Measured behaviour (tests and a 30 x 12, ``B = 64``, ``k = 3`` Gaussian batch repeated 60
    times, relative error vs the optimal 0.16): with one block per batch every order and
    normalization converges to the top-``k`` triplets exactly (``order="parallel"`` may pair
    them with negative sigmas, the product is right). With small blocks the block mean is
    noisy and each block's vectors are fitted to the same samples they then measure, so sigma
    is overestimated: sequential 0.47 (``b = 1``), 0.38 (``b = 8``). ``order="parallel"`` with
    small blocks is much worse (0.93): updating ``X`` and ``Delta`` from the same old state is a
    Jacobi bi-iteration whose ``+sigma`` and ``-sigma`` pairings compete, and sigma lags the
    vectors by one block. SBPCAV (``c = 1/2``) gives the first, single-sample block half the
    weight of the whole history; on such noisy batches its estimate is the worst of all.
    """

    name = "sbpca"

    def __init__(self, n_in, n_out, *, rng, k=1, block=None, order="sequential",
                 schedule="harmonic", shift_s=None, norm="qr", ns_steps=None, prescale=None,
                 recip="div", recip_steps=None, sigma0=1.0, mode="custom"):
        super().__init__(n_in, n_out, rng=rng)
        self._mode = check_choice("mode", mode, MODES)
        if self._mode == "xbtorch":
            given = dict(schedule=schedule, order=order, norm=norm, recip=recip, sigma0=sigma0)
            for key, fixed in XBTORCH.items():
                if given[key] != fixed:
                    raise ValueError(f"{key}={given[key]!r}: mode='xbtorch' fixes {key}={fixed!r}")
            if block is None:
                block = 32
        self._k = check_int("k", k, minimum=1, maximum=min(self.n_in, self.n_out))
        self._block = 1 if block is None else check_int("block", block, minimum=1)
        self._order = check_choice("order", order, ORDERS)
        self._schedule = check_choice("schedule", schedule, SCHEDULES)
        self._norm = check_choice("norm", norm, NORMS)
        self._recip = check_choice("recip", recip, RECIPS)
        self._sigma0 = check_float("sigma0", sigma0, low=0.0, low_open=True)
        self._shift_s = self._dependent("shift_s", shift_s, self._schedule == "shift",
                                        "schedule='shift'", None,
                                        lambda v: check_int("shift_s", v, minimum=1, maximum=30))
        ns = self._norm != "qr"
        self._ns_steps = self._dependent("ns_steps", ns_steps, ns, "norm='ns' or 'ns_tri'", 8,
                                         lambda v: check_int("ns_steps", v, minimum=1))
        self._prescale = self._dependent("prescale", prescale, ns, "norm='ns' or 'ns_tri'", True,
                                         lambda v: check_bool("prescale", v))
        self._recip_steps = self._dependent("recip_steps", recip_steps, self._recip == "newton",
                                            "recip='newton'", 2,
                                            lambda v: check_int("recip_steps", v, minimum=1))
        self.X = qr_signfix(rng.normal(size=(self.n_in, self._k)))
        self.Delta = qr_signfix(rng.normal(size=(self.n_out, self._k)))
        self.sigma = np.full(self._k, self._sigma0)
        self.r = None  # warm start of the Newton-Raphson reciprocal

    @staticmethod
    def _dependent(name, value, applies, condition, default, check):
        """Validate an option that only exists under ``condition``; return its value or default."""
        if not applies:
            if value is not None:
                raise ValueError(f"{name}={value!r}: only applies with {condition}")
            return None
        if value is None:
            if default is None:
                raise ValueError(f"{name}=None: required with {condition}")
            return default
        return check(value)

    # -- read-only options -----------------------------------------------------------------------

    k = property(lambda self: self._k)
    block = property(lambda self: self._block)
    order = property(lambda self: self._order)
    schedule = property(lambda self: self._schedule)
    shift_s = property(lambda self: self._shift_s)
    norm = property(lambda self: self._norm)
    ns_steps = property(lambda self: self._ns_steps)
    prescale = property(lambda self: self._prescale)
    recip = property(lambda self: self._recip)
    recip_steps = property(lambda self: self._recip_steps)
    mode = property(lambda self: self._mode)

    def block_sizes(self, batch_size: int) -> list[int]:
        """Return the block sizes this rule uses for a batch of ``batch_size`` samples."""
        return block_sizes(check_int("batch_size", batch_size, minimum=1), self._schedule,
                           self._block)

    def blocks_per_batch(self, batch_size: int) -> int:
        return len(self.block_sizes(batch_size))

    def coefficient(self, i: int) -> float:
        """Return the convergence coefficient ``c`` of block ``i`` (1-based, within a batch)."""
        if self._schedule == "harmonic":
            return i / (i + 1)
        if self._schedule == "sbpcav":
            return 0.5
        return 1.0 - 2.0 ** -self._shift_s

    # -- the algorithm ---------------------------------------------------------------------------

    def _orth(self, A):
        if self._norm == "qr":
            return qr_signfix(A)
        form = "polar" if self._norm == "ns" else "triangular"
        return newton_schulz(A, self._ns_steps, prescale=self._prescale, form=form)

    def _reciprocal(self):
        if self._recip == "div":
            s = self.sigma
            with np.errstate(divide="ignore"):
                return np.where(s == 0, 0.0, 1.0 / np.where(s == 0, 1.0, s))
        self.r = newton_recip(self.sigma, self.r, self._recip_steps)
        return self.r

    def _run_block(self, xb, db, c):
        """Run Algorithm 1 on one block ``(xb, db)`` with coefficient ``c``; update the state."""
        m = xb.shape[0]
        a = (1.0 - c) * self._reciprocal() / m
        P = db @ self.Delta                          # p_j = Delta^T delta_j, (m, k)
        X_acc = xb.T @ P                             # sum_j x_j p_j^T
        if self._order == "parallel":
            Q = xb @ self.X                          # q_j with the block-start X
            D_acc = db.T @ Q
            s_acc = np.sum(P * Q, axis=0)
        X = self._orth(c * self.X + X_acc * a)
        if self._order == "sequential":
            D_acc = db.T @ (xb @ X)                  # second pass, with the new X
        Delta = self._orth(c * self.Delta + D_acc * a)
        if self._order == "sequential":
            s_acc = np.sum(Delta * D_acc, axis=0)    # = sum_j (delta_j.Delta)(x_j.X)
        self.sigma = c * self.sigma + (1.0 - c) * s_acc / m
        self.X, self.Delta = X, Delta

    def batch(self, xs, deltas):
        xs, deltas = self._check_batch(xs, deltas)
        start = 0
        for i, size in enumerate(self.block_sizes(xs.shape[0]), start=1):
            self._run_block(xs[start:start + size], deltas[start:start + size], self.coefficient(i))
            start += size
        return LowRankUpdate(sigma=self.sigma.copy(), X=self.X.copy(), Delta=self.Delta.copy(),
                             matrix_updates=self._k)

    # -- hardware counts -------------------------------------------------------------------------

    def cost(self, batch_size: int | None = None) -> Cost:
        """Return the multiply-accumulate and memory counts of this option set.

        With ``a = n_in``, ``b = n_out``, rank ``k`` (a MAC is one multiply with or without an
        add; shifts, adds, comparisons and leading-one detects are free; divisions and square
        roots are listed in ``notes``, not counted):

        * per sample: ``p = Delta^T delta`` (``k b``), ``X_acc += x p^T`` (``k a``),
          ``q = X^T x`` (``k a``), ``D_acc += delta q^T`` (``k b``): ``2k(a + b)``; parallel
          order adds ``s_acc += p (.) q`` (``k``).
        * per block: reciprocal (``div``: 0 MACs and ``k`` divisions; ``newton``:
          ``2 k recip_steps``); column factors ``a_r`` (``k``); combine ``c X + a (.) X_acc``
          and the same for Delta (``k(a + b)``, plus ``k(a + b)`` for ``c X`` when ``c`` is not a
          shift, i.e. the harmonic schedule); orthonormalization of ``X`` and ``Delta``
          (``qr``, modified Gram-Schmidt: ``n k (k + 1)`` per ``n x k`` matrix, plus ``k``
          square roots and ``k`` divisions; ``ns``/``ns_tri``: ``n k`` for the pre-scale norms
          when ``prescale``, then per step the symmetric Gram ``A^T A`` (``n k (k + 1)/2``) and
          ``A (3I - A^T A)/2`` (``ns``: ``n k^2``) or ``A (I - U)`` with ``U`` upper triangular
          (``ns_tri``: ``n k (k + 1)/2``)); sigma: ``diag(Delta^T D_acc)`` (``k b``, sequential
          only) and the combine (``k``, plus ``k`` for ``c sigma`` if ``c`` is not a shift).
        * per batch: 0 (the state carries over).
        * state: ``X``, ``Delta`` (``k(a + b)``), ``sigma`` (``k``), the accumulators ``X_acc``,
          ``D_acc`` (``k(a + b)``), ``s_acc`` (``k``, parallel), ``r`` (``k``, newton), the
          ``k x k`` Gram matrix (``k^2``, ns).
        * buffer: ``b_max (a + b)`` for sequential order with blocks larger than 1, ``b_max`` the
          largest block (``block``; for ``"sbpcav"`` it depends on the batch size, which must
          then be given); otherwise 0.
        """
        a, b, k = self.n_in, self.n_out, self._k
        shift_c = self._schedule != "harmonic"
        seq = self._order == "sequential"
        per_sample = 2 * k * (a + b) + (0 if seq else k)
        recip = 0 if self._recip == "div" else 2 * k * self._recip_steps
        combine = k * (a + b) * (1 if shift_c else 2)

        def orth(n):
            if self._norm == "qr":
                return n * k * (k + 1)
            apply = n * k * k if self._norm == "ns" else n * k * (k + 1) // 2
            return (n * k if self._prescale else 0) + self._ns_steps * (n * k * (k + 1) // 2
                                                                        + apply)

        sigma = (k * b if seq else 0) + k * (1 if shift_c else 2)
        per_block = recip + k + combine + orth(a) + orth(b) + sigma
        state = k * (a + b) + k + k * (a + b) + (0 if seq else k) \
            + (k if self._recip == "newton" else 0) + (k * k if self._norm != "qr" else 0)
        notes = {"per_sample": "2k(n_in+n_out)" + ("" if seq else " + k")}
        if self._schedule != "sbpcav":
            b_max = self._block
        elif batch_size is not None:
            b_max = max(self.block_sizes(batch_size))
        elif seq:
            raise ValueError("batch_size=None: schedule='sbpcav' with order='sequential' "
                             "buffers its largest block; give the batch size")
        else:
            b_max = 0
        buffer = b_max * (a + b) if seq and b_max > 1 else 0
        divs = (k if self._recip == "div" else 0) + (2 * k if self._norm == "qr" else 0)
        notes["per_block_div_sqrt"] = (f"{divs} divisions"
                                       + (f", {2 * k} square roots" if self._norm == "qr" else ""))
        if batch_size is not None:
            sizes = self.block_sizes(batch_size)
            notes["blocks_per_batch"] = len(sizes)
            notes["total_macs_per_batch"] = per_sample * batch_size + per_block * len(sizes)
        if self._schedule == "harmonic":
            notes["coefficient"] = "c_i = i/(i+1): 1/(i+1) per block by table or divider"
        return Cost(macs_per_sample=per_sample, macs_per_block=per_block, macs_per_batch=0,
                    state_words=state, buffer_words=buffer, notes=notes)
