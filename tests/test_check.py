"""The shared parameter checks: TypeError for a wrong type, ValueError for a wrong value."""

import numpy as np
import pytest

from golden.check import check_bool, check_choice, check_float, check_instance, check_int
from golden.fixed import FixedFormat


def test_check_int_converts_and_bounds():
    assert check_int("n", 3) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_int("n", 5, 1, 5) == 5 and check_int("n", -7, maximum=0) == -7


@pytest.mark.parametrize("value, bounds, error, message", [
    (True, {}, TypeError, "n=True: must be an integer"),
    (np.bool_(False), {}, TypeError, r"n=(np\.)?False_?: must be an integer"),
    (1.0, {}, TypeError, r"n=1.0: must be an integer"),
    ("3", {}, TypeError, "n='3': must be an integer"),
    (None, {}, TypeError, "n=None: must be an integer"),
    (0, dict(minimum=1, maximum=16), ValueError, r"n=0: must be in \[1, 16\]"),
    (17, dict(minimum=1, maximum=16), ValueError, r"n=17: must be in \[1, 16\]"),
    (0, dict(minimum=1), ValueError, "n=0: must be at least 1"),
    (9, dict(maximum=8), ValueError, "n=9: must be at most 8"),
])
def test_check_int_errors(value, bounds, error, message):
    with pytest.raises(error, match=message):
        check_int("n", value, **bounds)


def test_check_choice():
    assert check_choice("mode", "wrap", ("wrap", "saturate")) == "wrap"
    with pytest.raises(ValueError, match="mode='clip': must be one of 'wrap', 'saturate'"):
        check_choice("mode", "clip", ("wrap", "saturate"))
    with pytest.raises(TypeError, match="mode=3: must be one of 'wrap', 'saturate'"):
        check_choice("mode", 3, ("wrap", "saturate"))


def test_check_float_and_bool():
    assert check_float("lr", 1) == 1.0 and check_float("lr", 0.5, low=0, low_open=True) == 0.5
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="lr=.*: must be a number"):
            check_float("lr", bad)
    with pytest.raises(ValueError, match="lr=0.0: must be > 0"):
        check_float("lr", 0.0, low=0, low_open=True)
    with pytest.raises(ValueError, match="lr=nan: must be finite"):
        check_float("lr", float("nan"))
    assert check_bool("on", np.bool_(True)) is True
    with pytest.raises(TypeError, match="on=1: must be True or False"):
        check_bool("on", 1)


def test_check_instance():
    fmt = FixedFormat(8)
    assert check_instance("fmt", fmt, FixedFormat) is fmt
    with pytest.raises(TypeError, match="fmt=8: must be a FixedFormat or str"):
        check_instance("fmt", 8, (FixedFormat, str))
