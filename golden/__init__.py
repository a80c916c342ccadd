"""NumPy golden models of sbpca-hw: float algorithms and bit-exact integer models of the hardware.

Pure NumPy: nothing here imports Amaranth or cocotb.
"""

from .fixed import FixedFormat
from .mac_lane import MACLaneModel

__all__ = ["FixedFormat", "MACLaneModel"]
