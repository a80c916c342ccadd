"""Crossbar arrays of signed weights updated by pulse coincidences (pure NumPy).

The device layer the training loop's low-rank updates land on, in the manner of IBM aihwkit's
pulsed devices and Gokmen and Vlasov's stochastic coincidence scheme:

* :mod:`~golden.crossbar.devices`: one cell's response to a pulse (ideal, ConstantStep,
  LinearStep, SoftBounds, ExpStep, PowStep) with device-to-device and cycle-to-cycle variation,
  bounds, finite states and write noise;
* :mod:`~golden.crossbar.pair`: a conductance pair ``w = g_plus - g_minus`` of one-sided devices
  with its refresh policy;
* :mod:`~golden.crossbar.presets`: published devices (:data:`PRESETS`, :func:`get_preset`);
* :mod:`~golden.crossbar.array`: :class:`CrossbarArray` (``apply_pulses``, ``apply_counts``,
  ``set_weights``, counters);
* :mod:`~golden.crossbar.applier`: :class:`CrossbarApplier`, the training seam's weight applier
  that turns ``(sigma, X, Delta)`` into stochastic pulse trains with aihwkit's update management.
"""

from .applier import CrossbarApplier, PulsePlan, dense_counts, pulse_plan, pulse_trains
from .array import CrossbarArray
from .devices import (ConstantStep, ExpStep, IdealDevice, LinearStep, PowStep, PulsedDevice,
                      SoftBounds)
from .pair import ConductancePair
from .presets import PRESETS, get_preset

__all__ = ["CrossbarArray", "CrossbarApplier", "PulsePlan", "pulse_plan", "pulse_trains",
           "dense_counts", "IdealDevice", "PulsedDevice", "ConstantStep", "LinearStep",
           "SoftBounds", "ExpStep", "PowStep", "ConductancePair", "PRESETS", "get_preset"]
