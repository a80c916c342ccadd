"""Golden MAC lane model against a scalar Python reference written from the spec."""

import numpy as np
import pytest

from golden.fixed import FixedFormat
from golden.mac_lane import MACLaneModel


def ref_mac(a, b, c, clear, last, width, saturate, sub=None):
    """The lane's definition, one beat at a time, with Python's unbounded integers."""
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    acc, flag, out = 0, False, []
    for j in range(len(a)):
        product = int(a[j]) * int(b[j])
        if sub is not None and sub[j]:
            product = -product
        total = (int(c[j]) if clear[j] else acc) + product
        over = not lo <= total <= hi
        if saturate:
            acc = min(max(total, lo), hi)
        else:
            acc = (total - lo) % 2 ** width + lo
        flag = (False if clear[j] else flag) or over
        if last[j]:
            out.append((acc, flag))
    return out


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("widths", [(16, 16, 32), (8, 12, 20), (4, 4, 9)])
def test_model_matches_scalar_reference(widths, overflow):
    aw, bw, accw = widths
    model = MACLaneModel(FixedFormat(aw), FixedFormat(bw), FixedFormat(accw, overflow=overflow))
    rng = np.random.default_rng(accw)
    n = 3000
    a = rng.integers(-2 ** (aw - 1), 2 ** (aw - 1), n)
    b = rng.integers(-2 ** (bw - 1), 2 ** (bw - 1), n)
    clear = rng.random(n) < 0.1
    last = rng.random(n) < 0.15
    addend = rng.integers(-2 ** (accw - 1), 2 ** (accw - 1), n)
    c = np.where(clear & (rng.random(n) < 0.5), addend, 0)
    sub = rng.random(n) < 0.3
    got = model.run(a, b, c, clear, last, sub)
    want = ref_mac(a, b, c, clear, last, accw, overflow == "saturate", sub)
    assert [(int(v), bool(f)) for v, f in zip(got.values, got.overflow)] == want
    assert any(f for _, f in want), "stimulus must reach overflow"


def test_default_control_is_one_dot_product():
    model = MACLaneModel(FixedFormat(8), FixedFormat(8), FixedFormat(20))
    res = model.run([1, 2, 3], [4, 5, 6])
    assert res.values.tolist() == [32] and res.beat.tolist() == [2]


def test_state_carries_between_runs():
    model = MACLaneModel(FixedFormat(8), FixedFormat(8), FixedFormat(16))
    first = model.run([3], [3], clear=[True], last=[True])
    second = model.run([2], [2], clear=[False], last=[True], acc=first.acc, flag=first.flag)
    assert second.values.tolist() == [13]


def test_rejects_out_of_range_operands_and_narrow_accumulator():
    model = MACLaneModel(FixedFormat(8), FixedFormat(8), FixedFormat(16))
    with pytest.raises(ValueError, match="a=128: outside the 8-bit word"):
        model.run([128], [1])
    with pytest.raises(ValueError, match="acc_width=15: accumulator narrower than the product"):
        MACLaneModel(FixedFormat(8), FixedFormat(8), FixedFormat(15))
    with pytest.raises(TypeError, match="raw words must be integers"):
        model.run([1.5], [1])
