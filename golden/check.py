"""Parameter checks shared by ``golden/`` and ``hdl/``: one rule for every constructor.

Every check returns the value (converted where that is lossless, e.g. a NumPy integer to
``int``) or raises with a one-line message of the form ``"name=value: must be ..."`` that names
the parameter and the value, so the command line can print it as it is (STYLE.md guideline 6):

* ``TypeError`` when the value has the wrong type (``True`` is not an integer, ``1.0`` is not
  an integer, ``"0.5"`` is not a number);
* ``ValueError`` when it has the right type but a wrong value (out of range, not a choice).

Checks that relate several parameters (``words`` divides ``lanes``) stay with the constructor
that owns them, in the same message form.

Python and NumPy only: imported by the golden models and by the Amaranth Components alike.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["check_int", "check_choice", "check_float", "check_bool", "check_instance"]


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` in ``[minimum, maximum]`` (either bound optional).

    Raises ``TypeError`` for anything that is not an integer (``bool`` included) and
    ``ValueError`` outside the bounds: ``"k=0: must be in [1, 16]"`` with both bounds, ``"must be
    at least 1"`` or ``"must be at most 16"`` with one.
    """
    if _is_bool(value):
        raise TypeError(f"{name}={value!r}: must be an integer")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}={value!r}: must be an integer") from None
    low = minimum is not None and value < minimum
    high = maximum is not None and value > maximum
    if low or high:
        if minimum is not None and maximum is not None:
            raise ValueError(f"{name}={value}: must be in [{minimum}, {maximum}]")
        if low:
            raise ValueError(f"{name}={value}: must be at least {minimum}")
        raise ValueError(f"{name}={value}: must be at most {maximum}")
    return value


def check_choice(name: str, value, choices):
    """Return ``value`` if it is one of ``choices``.

    Raises ``TypeError`` when ``value`` has none of the choices' types (``schedule=3`` among
    strings) and ``ValueError`` when it has but is not among them (``schedule='oja'``).
    """
    choices = tuple(choices)
    if choices and not any(isinstance(value, type(c)) for c in choices):
        raise TypeError(f"{name}={value!r}: must be one of {_listing(choices)}")
    if value not in choices:
        raise ValueError(f"{name}={value!r}: must be one of {_listing(choices)}")
    return value


def _listing(choices) -> str:
    return ", ".join(repr(c) if isinstance(c, str) else str(c) for c in choices)


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in the given interval.

    Integers are numbers (``1`` -> ``1.0``); ``bool``, strings and other objects raise
    ``TypeError``; NaN, infinities and values outside the interval raise ``ValueError``.
    """
    if _is_bool(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name}={value!r}: must be a number")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}={value!r}: must be finite")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name}={value!r}: must be {'>' if low_open else '>='} {low}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name}={value!r}: must be {'<' if high_open else '<='} {high}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; anything else raises ``TypeError``."""
    if not _is_bool(value):
        raise TypeError(f"{name}={value!r}: must be True or False")
    return bool(value)


def check_instance(name: str, value, cls):
    """Return ``value`` if it is an instance of ``cls`` (a class or a tuple of classes);
    anything else raises ``TypeError`` (``"a_format=16: must be a FixedFormat"``)."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"{name}={value!r}: must be a {names}")
    return value
