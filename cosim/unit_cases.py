"""Sample streams and start states for co-simulating the unit (golden side: NumPy only).

A stream is a list of batches ``(xs, ds)`` of raw input words (``int64``, shapes ``(B, n_in)``
and ``(B, n_out)``) in the unit's input formats:

``random``
    Normal values (standard deviation 0.3) rounded into the input formats.
``digits``, ``mnist``
    Real gradient streams: the per-sample ``(x, delta)`` of one layer of the golden MLP
    (:class:`golden.mlp.MLP`, ReLU) trained by mini-batch gradient descent on scikit-learn's
    digits or the MNIST subset while the stream is drawn. The layer is the one whose shape is
    ``(n_in, n_out)``: the first layer of ``features-n_out-classes`` when ``n_in`` is the number
    of features, else the last layer of ``features-n_in-classes`` when ``n_out`` is the number of
    classes. Inputs are scaled by powers of two chosen from the first batch (one bit of
    headroom, as :class:`golden.sbpca_unit.SBPCAUnitRule` does) and rounded; later values beyond
    the range saturate, as a host would clip them.
``saturate``
    Random batches whose first half holds full-scale samples (``x`` at the largest word,
    ``delta`` at the smallest): wherever ``sqrt(n_in n_out)`` exceeds sigma's range, or a k x k
    value leaves its format, the unit's overflow flag must rise.
``zeros``
    Zero inputs ``x``, zero errors ``delta`` and zero samples mixed in (sample ``j`` of a batch,
    from 0, has ``x = 0`` when ``j % 4 == 1``, ``delta = 0`` when ``j % 4 == 2`` and both when
    ``j % 8 == 7``), the other words coarse (multiples of ``2**-5`` in ``[-1/2, 1/2]``), so that
    products and sums often land exactly on half an LSB of a rounding point (round half up is
    tested on its ties). Nothing saturates on the small configurations (the runs of
    ``tests/test_unit_cocotb.py`` are checked); more zeros would starve sigma (``sigma``
    averages ``v z``, which is 0 whenever ``x`` or ``delta`` is, and a sigma near 0 saturates
    its reciprocal).
``kxk_saturate``
    Saturates the k x k engine and never a stored word: the start state's sigma is 1, -2, -1, 3
    LSB of the sigma format in columns 0, 1, 2, 3 (:data:`KXK_SIGMA_LSB`, default formats), so
    the reciprocal's seed overflows at 1 LSB (its bound) and not at 2, and every
    ``delta`` is zero, so no sample moves the stored rows away from their normalized state (both
    passes store ``c X 2**-s`` with ``X`` normalized, below 1/2 in magnitude). ``x`` is random.
``rows_saturate``
    Saturates stored words and never a k x k value. While the transform normalizes the stored
    rows (``X = Xs 2**a T`` with unit columns) the column shifts keep every new word
    ``(c X_ir + x_i w_r) 2**-s`` below 1 (``s >= 1`` as ``c >= 1/2``, ``|c X_ir| < 1`` and the
    bound of ``SBPCAUnitModel._column_shifts`` on the rest), and a load sets ``T = I`` on rows
    below 1, so a stored word can saturate only from a transform that does not normalize the
    rows. The start state's rows are ``X0`` = the first ``k`` unit vectors with ``Tx`` at the
    largest word of its format (about 8, :func:`start_sides`: ``X = 8 X0``), and the first
    sample has ``delta = 0`` (so ``w = 0`` and ``s = 1``): its X pass stores
    ``c Tx 2**-1 X0 = 2 X0``, which saturates, and normalizes the clamped rows again (``Gx`` is
    the identity times the largest word squared). The rest is the ``random`` stream.

A stream may have its own start state: :func:`start_state` takes the stream, and
:func:`start_sides` gives the k x k transforms of those that start from other ones than a
load's (``rows_saturate``); :func:`load_start` loads a golden model with both, and a bench
loads the unit from the model's state. ``start_state`` without a stream reads the bench's
``SBPCA_UNIT_STREAM``, so ``cosim.tb_unit`` starts each stream from its own state; the
transforms take effect only where the bench loads them (``load_start``).
"""

from __future__ import annotations


import numpy as np

from golden.data import load_digits, load_mnist_subset
from golden.linalg import qr_signfix
from golden.mlp import MLP
from golden.sbpca_unit import UnitFormats

__all__ = ["STREAMS", "make_stream", "start_state", "start_sides", "load_start",
           "gradient_layer", "parse_batches"]

STREAMS = ("random", "digits", "mnist", "saturate", "zeros", "kxk_saturate", "rows_saturate")
LR = 0.1
#: sigma of the ``kxk_saturate`` start state, column by column, in LSB of the sigma format: the
#: reciprocal's seed at its overflow bound (1 LSB) and one step inside it (2 LSB); the negative
#: ones decay to 0 within a few samples (``c sigma`` rounds -1/2 LSB up to 0)
KXK_SIGMA_LSB = (1, -2, -1, 3)


def parse_batches(text: str, b_max: int, *, name: str = "batches") -> list:
    """Batch sizes from comma-separated ``text``, each in ``[1, b_max]``; ``ValueError`` naming
    ``name`` and the text otherwise."""
    try:
        sizes = [int(s) for s in str(text).split(",")]
    except ValueError:
        raise ValueError(f"{name}={text!r}: must be comma-separated integers") from None
    if min(sizes) < 1 or max(sizes) > b_max:
        raise ValueError(f"{name}={text!r}: sizes must be in [1, {b_max}] (b_max)")
    return sizes


def _kind(kind):
    """``kind`` validated; None is ``random``."""
    kind = "random" if kind is None else kind
    if kind not in STREAMS:
        raise ValueError(f"stream={kind!r}: must be one of {', '.join(STREAMS)}")
    return kind


def start_state(n_in: int, n_out: int, k: int, rng, kind=None, formats=None) -> tuple:
    """Start state ``(X0, Delta0, sigma0)`` (real values) of stream ``kind``.

    Random orthonormal ``X0`` (``n_in x k``) and ``Delta0``, ``sigma0 = 0.25``, but for the
    streams with their own (module doc): ``kxk_saturate`` (sigma a few LSB of
    ``formats.sigma``, default :meth:`UnitFormats.for_width`) and ``rows_saturate`` (``X0`` the
    first ``k`` unit vectors). ``rng`` is drawn from in the same way for every kind.
    ``kind=None`` is ``random``.
    """
    kind = _kind(kind)
    X0 = qr_signfix(rng.normal(size=(n_in, k)))
    D0 = qr_signfix(rng.normal(size=(n_out, k)))
    if kind == "kxk_saturate":
        lsb = (formats or UnitFormats.for_width()).sigma.lsb
        return X0, D0, np.resize(np.array(KXK_SIGMA_LSB, np.float64), k) * lsb
    if kind == "rows_saturate":
        return np.eye(n_in, k), D0, 0.25
    return X0, D0, 0.25


def start_sides(kind, formats, k: int):
    """The k x k transforms ``((ax, Tx), (ad, Td))`` (raw words) stream ``kind`` starts from,
    or None for those of a load (``a = 0``, ``T = I``). Only ``rows_saturate`` has its own:
    ``Tx`` at the largest word of ``formats.mat``, times the identity."""
    kind = _kind(kind)
    if kind != "rows_saturate":
        return None
    zero = np.zeros(k, np.int64)
    eye = np.eye(k, dtype=np.int64)
    return (zero, eye * formats.mat.max_raw), (zero.copy(), eye << formats.mat.frac)


def load_start(model, kind, start):
    """Load the golden ``model`` (fixed point) with stream ``kind``'s start state: ``start``
    (:func:`start_state`) and, where the stream has its own, the transforms
    (:func:`start_sides`). A bench then loads the unit from the model's state."""
    model.load(*start)
    sides = start_sides(kind, model.F, model.k)
    if sides is not None:
        model.x_side, model.d_side = sides


def gradient_layer(n_features: int, n_classes: int, n_in: int, n_out: int) -> tuple:
    """``(sizes, layer)`` of the MLP whose layer ``layer`` has shape ``(n_in, n_out)``."""
    if n_in == n_features:
        return (n_features, n_out, n_classes), 0
    if n_out == n_classes:
        return (n_features, n_in, n_classes), 1
    raise ValueError(f"n_in={n_in}, n_out={n_out}: no layer of a {n_features}-h-{n_classes} "
                     f"network has this shape")


def _scale(values, headroom=1) -> int:
    m = float(np.max(np.abs(values)))
    return 0 if m == 0.0 else -int(np.floor(np.log2(m))) - 1 - headroom


def _gradient_batches(name, formats, n_in, n_out, sizes, rng):
    data = load_digits() if name == "digits" else load_mnist_subset()
    shape, layer = gradient_layer(data.n_features, data.n_classes, n_in, n_out)
    net = MLP(shape, seed=int(rng.integers(1 << 30)))
    shifts = None
    out = []
    for B in sizes:
        idx = rng.choice(len(data.y_train), size=B, replace=False)
        _, xs, deltas = net.backward(data.x_train[idx], data.y_train[idx])
        for l, (w, b) in enumerate(zip(net.weights, net.biases)):
            w -= LR * deltas[l].T @ xs[l] / B
            b -= LR * deltas[l].mean(axis=0)
        x, d = xs[layer], deltas[layer]
        if shifts is None:
            shifts = (_scale(x), _scale(d))
        out.append((formats.x.quantize(x * 2.0 ** shifts[0])[0],
                    formats.d.quantize(d * 2.0 ** shifts[1])[0]))
    return out


def _coarse(fmt, shape, rng):
    """Words that are multiples of ``2**-5`` in ``[-1/2, 1/2]``."""
    return fmt.quantize(rng.integers(-16, 17, size=shape) / 32.0)[0]


def make_stream(kind: str, formats, n_in: int, n_out: int, sizes, rng) -> list:
    """Batches ``[(xs, ds)]`` of raw words, one per entry of ``sizes`` (see the module doc)."""
    kind = _kind(kind)
    if kind in ("digits", "mnist"):
        return _gradient_batches(kind, formats, n_in, n_out, sizes, rng)
    out = []
    for b, B in enumerate(sizes):
        if kind == "zeros":
            xs = _coarse(formats.x, (B, n_in), rng)
            ds = _coarse(formats.d, (B, n_out), rng)
            j = np.arange(B)
            xs[(j % 4 == 1) | (j % 8 == 7)] = 0
            ds[(j % 4 == 2) | (j % 8 == 7)] = 0
            out.append((xs, ds))
            continue
        xs = formats.x.quantize(rng.normal(size=(B, n_in)) * 0.3)[0]
        ds = formats.d.quantize(rng.normal(size=(B, n_out)) * 0.3)[0]
        if kind == "saturate":
            half = (B + 1) // 2
            xs[:half] = formats.x.max_raw
            ds[:half] = formats.d.min_raw
        elif kind == "kxk_saturate":
            ds[:] = 0
        elif kind == "rows_saturate" and b == 0:
            ds[0] = 0
        out.append((xs, ds))
    return out


def bench_case(unit, kind: str, sizes, seed: int) -> tuple:
    """The unit bench's inputs for ``seed``: ``(batches, timing_batches, start)``, the stream
    ``kind`` of ``sizes`` batches, then batches of 1 and ``min(2, b_max)`` samples (the
    steady-state measurement), then the start state (:func:`start_state`; load it with
    :func:`load_start`). ``cosim.tb_unit`` and the native harness of ``sbpca bench unit`` draw
    the same inputs from the same seed."""
    rng = np.random.default_rng(seed)
    timing = [1, min(2, unit.b_max)]
    stream = make_stream(kind, unit.formats, unit.n_in, unit.n_out, list(sizes) + timing, rng)
    start = start_state(unit.n_in, unit.n_out, unit.k, rng, kind=kind, formats=unit.formats)
    return stream[:len(sizes)], stream[len(sizes):], start
