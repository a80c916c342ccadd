"""Amaranth HDL of the sbpca-hw streaming low-rank gradient hardware."""

from .mac_lane import MACLane

__all__ = ["MACLane"]
