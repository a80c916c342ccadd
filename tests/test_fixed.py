"""FixedFormat: rounding and overflow against plain Python integer arithmetic."""

import math
import random

import numpy as np
import pytest

from golden.fixed import FixedFormat


def ref_fit(value: int, width: int, saturate: bool):
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    if saturate:
        return min(max(value, lo), hi), not lo <= value <= hi
    return (value + 2 ** (width - 1)) % 2 ** width - 2 ** (width - 1), not lo <= value <= hi


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("width", [1, 2, 8, 17, 40])
def test_fit_matches_integer_reference(width, overflow):
    fmt = FixedFormat(width, 0, overflow=overflow)
    rng = random.Random(width)
    values = [rng.randint(-2 ** (width + 3), 2 ** (width + 3)) for _ in range(2000)]
    values += [fmt.min_raw, fmt.max_raw, fmt.min_raw - 1, fmt.max_raw + 1, 0, -1]
    got, flags = fmt.fit(values)
    for v, g, f in zip(values, got, flags):
        assert (int(g), bool(f)) == ref_fit(v, width, overflow == "saturate"), v


@pytest.mark.parametrize("rounding", ["floor", "half_up"])
def test_shift_round_matches_exact_rational(rounding):
    fmt = FixedFormat(16, 8, rounding=rounding)
    rng = random.Random(1)
    for _ in range(3000):
        v, s = rng.randint(-10 ** 6, 10 ** 6), rng.randint(0, 12)
        got = int(fmt.shift_round(v, s))
        exact = v / 2 ** s
        want = math.floor(exact) if rounding == "floor" else math.floor(exact + 0.5)
        assert got == want, (v, s)


def test_quantize_and_back():
    fmt = FixedFormat(8, 4, rounding="half_up", overflow="saturate")
    raw, flags = fmt.quantize([0.5, -0.53, 100.0, -100.0, 0.03125])
    assert raw.tolist() == [8, -8, 127, -128, 1]
    assert flags.tolist() == [False, False, True, True, False]
    assert fmt.to_float(raw).tolist() == [0.5, -0.5, 127 / 16, -8.0, 1 / 16]
    assert str(fmt) == "Q4.4(half_up,saturate)"


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0), "width=0: must be at least 1"),
    (dict(width=8, frac=-1), "frac=-1: must be at least 0"),
    (dict(width=8, rounding="nearest"), "rounding='nearest'"),
    (dict(width=8, overflow="clip"), "overflow='clip'"),
])
def test_invalid_formats_name_parameter_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        FixedFormat(**kwargs)


def test_width_must_be_integer():
    with pytest.raises(TypeError, match="width must be an integer"):
        FixedFormat(8.5)


def test_quantize_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        FixedFormat(8).quantize([np.nan])
