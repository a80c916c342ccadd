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
"""

from __future__ import annotations

import numpy as np

from golden.data import load_digits, load_mnist_subset
from golden.linalg import qr_signfix
from golden.mlp import MLP

__all__ = ["STREAMS", "make_stream", "start_state", "gradient_layer", "parse_batches"]

STREAMS = ("random", "digits", "mnist", "saturate")
LR = 0.1


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


def start_state(n_in: int, n_out: int, k: int, rng) -> tuple:
    """Random orthonormal ``X0`` (``n_in x k``), ``Delta0`` and ``sigma0`` (real values)."""
    X0 = qr_signfix(rng.normal(size=(n_in, k)))
    D0 = qr_signfix(rng.normal(size=(n_out, k)))
    return X0, D0, 0.25


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


def make_stream(kind: str, formats, n_in: int, n_out: int, sizes, rng) -> list:
    """Batches ``[(xs, ds)]`` of raw words, one per entry of ``sizes`` (see the module doc)."""
    if kind not in STREAMS:
        raise ValueError(f"stream={kind!r}: must be one of {', '.join(STREAMS)}")
    if kind in ("digits", "mnist"):
        return _gradient_batches(kind, formats, n_in, n_out, sizes, rng)
    out = []
    for B in sizes:
        xs = formats.x.quantize(rng.normal(size=(B, n_in)) * 0.3)[0]
        ds = formats.d.quantize(rng.normal(size=(B, n_out)) * 0.3)[0]
        if kind == "saturate":
            half = (B + 1) // 2
            xs[:half] = formats.x.max_raw
            ds[:half] = formats.d.min_raw
        out.append((xs, ds))
    return out


def bench_case(unit, kind: str, sizes, seed: int) -> tuple:
    """The unit bench's inputs for ``seed``: ``(batches, timing_batches, start)``, the stream
    ``kind`` of ``sizes`` batches, then batches of 1 and ``min(2, b_max)`` samples (the
    steady-state measurement), then the start state. ``cosim.tb_unit`` and the native harness
    of ``sbpca bench unit`` draw the same inputs from the same seed."""
    rng = np.random.default_rng(seed)
    timing = [1, min(2, unit.b_max)]
    stream = make_stream(kind, unit.formats, unit.n_in, unit.n_out, list(sizes) + timing, rng)
    start = start_state(unit.n_in, unit.n_out, unit.k, rng)
    return stream[:len(sizes)], stream[len(sizes):], start
