"""The lane port: what a beat of a borrowed MAC lane carries, what comes back, and when.

The row-pass engine (``hdl/row_pass.py``) owns the unit's MAC lanes (``hdl/mac_lane.py``) and
lends them, while no pass runs, through its lane port; the k x k engine (``hdl/kxk_engine.py``)
drives it. Both build their ports from this module::

    lane_i[l]  beat   {valid, a, b, c, clear, last, sub}     (MACLane beat semantics)
                 |  cycle t
                 v
           [operand register]                                 t + 1
                 v
           MACLane (multiply, accumulate: MAC_LATENCY stages)
                 v
    lane_o[l]  result {valid, value}                          t + LATENCY, after a ``last`` beat

``a``, ``b`` are the operands (``operand_width`` bits, signed), ``c`` the addend that starts a sum
on ``clear`` and ``value`` the accumulator (``acc_width`` bits, signed, wrapping). The accumulator
is shared between the owner's and the borrower's beats (see ``RowPass``).
"""

from amaranth.hdl import signed
from amaranth.lib import data

from golden.check import check_int
from .mac_lane import LATENCY as MAC_LATENCY

__all__ = ["LATENCY", "beat_layout", "result_layout", "lane_acc_width"]

#: Cycles from a beat on ``lane_i`` to its result on ``lane_o``: the operand register in front of
#: the lane, then the lane.
LATENCY = 1 + MAC_LATENCY


def beat_layout(operand_width: int, acc_width: int) -> data.StructLayout:
    """One beat on ``lane_i``: ``{valid, a, b, c, clear, last, sub}``."""
    operand_width = check_int("operand_width", operand_width, minimum=1)
    acc_width = check_int("acc_width", acc_width, minimum=1)
    return data.StructLayout({"valid": 1, "a": signed(operand_width),
                              "b": signed(operand_width), "c": signed(acc_width), "clear": 1,
                              "last": 1, "sub": 1})


def result_layout(acc_width: int) -> data.StructLayout:
    """One result on ``lane_o``: ``{valid, value}``."""
    acc_width = check_int("acc_width", acc_width, minimum=1)
    return data.StructLayout({"valid": 1, "value": signed(acc_width)})


def lane_acc_width(operand_width: int, k: int) -> int:
    """Narrowest accumulator for a rank-``k`` engine's sums: ``k + 1`` products of two
    ``operand_width``-bit words and an addend, exactly (``2 operand_width + bits(k + 1) + 1``).

    The row pass's lanes are at least this wide (``RowPass.acc_width``); the k x k engine, whose
    dot products have at most ``k`` terms and an addend, refuses narrower lanes."""
    return 2 * operand_width + max(1, (k + 1).bit_length()) + 1
