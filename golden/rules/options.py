"""Validation of rule options: one-line ``ValueError`` messages naming the option and the value.

Every message has the form ``"option=value: reason"`` so that the command line can print it as it
is (STYLE.md guideline 6).
"""

from __future__ import annotations

import operator

__all__ = ["check_int", "check_choice", "check_float", "check_bool"]


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` in ``[minimum, maximum]`` or raise ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: must be an integer")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}={value!r}: must be an integer") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r}: must be at most {maximum}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices`` or raise ``ValueError``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(map(repr, choices))}")
    return value


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in the given interval or raise ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: must be a number")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}={value!r}: must be finite")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name}={value!r}: must be {'>' if low_open else '>='} {low}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name}={value!r}: must be {'<' if high_open else '<='} {high}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a ``bool`` or raise ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: must be True or False")
    return value
