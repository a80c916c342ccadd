"""Device presets: published devices fitted to the models of :mod:`golden.crossbar.devices`.

The values are those of IBM aihwkit's presets (``src/aihwkit/simulator/presets/devices.py`` and
``compounds.py``, MIT), which scale every device to weights of about +-1; each docstring names
the paper the fit comes from.

===============  ===============  ==========  =====================================================
name             model            ``dw_min``  source
===============  ===============  ==========  =====================================================
``ideal``        IdealDevice      0.0002      none: exact steps, no bounds, no noise (reference)
``Idealized``    ConstantStep     0.0002      Gokmen & Vlasov, Front. Neurosci. 2016; Rasch,
                                              Gokmen & Haensch, IEEE Design & Test 2019
``GokmenVlasov`` ConstantStep     0.0016      Gokmen & Vlasov, Front. Neurosci. 2016
``EcRam``        LinearStep       0.002       Tang et al., IEDM 2018 (Li-ion ECRAM)
``ReRamES``      ExpStep          0.00135     Gong et al., Nat. Commun. 2018 (ReRAM)
``Capacitor``    LinearStep       0.005       Li et al., VLSI 2018 (capacitor cell)
``PCMPair``      pair of ExpStep  0.01        Nandakumar et al., Front. Neurosci. 2020 (GST PCM)
===============  ===============  ==========  =====================================================

:data:`PRESETS` maps each name to a function returning the device model; :func:`get_preset`
looks one up. Models are frozen dataclasses: change a parameter with ``preset.replace(...)``
(``dataclasses.replace`` for a pair).
"""

from __future__ import annotations

from typing import Callable

from .devices import ConstantStep, ExpStep, IdealDevice, LinearStep
from .pair import ConductancePair

__all__ = ["PRESETS", "get_preset", "ideal", "idealized", "gokmen_vlasov", "ecram", "reram_es",
           "capacitor", "pcm_device", "pcm_pair"]


def ideal() -> IdealDevice:
    """The exact float device: each pulse is exactly ``+-0.0002`` (the ``Idealized`` step), with
    no bounds, no noise and no device-to-device variation. Not a physical device: the reference
    that isolates the pulse scheme's own error."""
    return IdealDevice(dw_min=0.0002)


def idealized() -> ConstantStep:
    """An (on average) perfectly symmetric constant-step device with about 10,000 states.

    The specification of Gokmen & Vlasov, "Acceleration of deep neural network training with
    resistive cross-point devices", Front. Neurosci. 2016, with the device-to-device asymmetry
    set to zero and the step 5 times smaller, as in Rasch, Gokmen & Haensch, "Training large-scale
    ANNs on simulated resistive crossbar arrays", IEEE Design & Test 2019 (aihwkit
    ``IdealizedPresetDevice``): ``dw_min`` 0.0002, dtod 0.3, c2c 0.3, bounds +-1 with dtod 0.3.
    """
    return ConstantStep(dw_min=0.0002, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0,
                        up_down_dtod=0.0, w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)


def gokmen_vlasov() -> ConstantStep:
    """The resistive processing unit specification of Gokmen & Vlasov, Front. Neurosci. 2016,
    scaled to weights +-1 (aihwkit ``GokmenVlasovPresetDevice``): about 1,200 states
    (``dw_min`` 0.0016), dtod 0.3, c2c 0.3, up/down asymmetry dtod 0.01, bounds dtod 0.3."""
    return ConstantStep(dw_min=0.0016, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0,
                        up_down_dtod=0.01, w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)


def ecram() -> LinearStep:
    """Lithium-based ECRAM, fit of :class:`LinearStep` to Tang et al., "ECRAM as scalable
    synaptic cell for high-speed, low-power neuromorphic computing", IEDM 2018 (aihwkit
    ``EcRamPresetDevice``): ``dw_min`` 0.002, gamma up/down 0.1153/0.5085 (dtod 0.05), range
    shifted so the symmetry point is 0 (``w`` in [-0.8276, 1.1724], dtod 0.05), dtod 0.1,
    c2c 0.3 multiplicative."""
    return LinearStep(dw_min=0.002, up_down=0.0, w_max=1.1724, w_min=-0.8276, mult_noise=True,
                      gamma_up=0.1153, gamma_down=0.5085, dw_min_dtod=0.1, up_down_dtod=0.01,
                      w_max_dtod=0.05, w_min_dtod=0.05, gamma_up_dtod=0.05, gamma_down_dtod=0.05,
                      dw_min_std=0.3, write_noise_std=0.0, mean_bound_reference=True)


def reram_es() -> ExpStep:
    """ReRAM, fit of :class:`ExpStep` to Gong et al., "Signal and noise extraction from analog
    memory elements for neuromorphic computing", Nat. Commun. 2018 (aihwkit
    ``ReRamESPresetDevice``): ``dw_min`` 0.00135, up_down 0.259359, ``A_up`` -1.18445,
    ``A_down`` -0.081404, gamma 5, ``a = b = -0.5``, dtod 0.2 (up_down dtod 0.05, bounds 0.3),
    c2c 5.0 (multiplicative), write noise 75 ``dw_min``."""
    return ExpStep(dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0, a=-0.5, b=-0.5,
                   gamma_up=5.0, gamma_down=5.0, A_up=-1.18445, A_down=-0.081404,
                   dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3,
                   dw_min_std=5.0, write_noise_std=75.0)


def capacitor() -> LinearStep:
    """Capacitor cell, fit of :class:`LinearStep` to Li et al., "Capacitor-based cross-point
    array for analog neural network with record symmetry and linearity", VLSI 2018 (aihwkit
    ``CapacitorPresetDevice``): ``dw_min`` 0.005, gamma 0.05 (dtod 0.01), dtod 0.1, up_down dtod
    0.06, bounds +-1 (dtod 0.07), c2c 0.3 additive, leakage lifetime 1e6 apply calls (dtod 0.3;
    applied by :meth:`CrossbarArray.decay`)."""
    return LinearStep(dw_min=0.005, up_down=0.0, w_max=1.0, w_min=-1.0, mult_noise=False,
                      gamma_up=0.05, gamma_down=0.05, dw_min_dtod=0.1, up_down_dtod=0.06,
                      w_max_dtod=0.07, w_min_dtod=0.07, gamma_up_dtod=0.01, gamma_down_dtod=0.01,
                      dw_min_std=0.3, write_noise_std=0.0, mean_bound_reference=True,
                      lifetime=1.0e6, lifetime_dtod=0.3)


def pcm_device() -> ExpStep:
    """One-sided phase-change memory (GST), fit of :class:`ExpStep` with additive c2c noise to
    Nandakumar et al., "Mixed-precision deep learning based on computational memory",
    Front. Neurosci. 2020 (aihwkit ``PCMPresetDevice``): ``w`` in [0, 2] (``w_max`` dtod 0.1),
    ``dw_min`` 0.01, ``A_up`` -27.235, ``A_down`` -2.235, gamma 2.5, ``a = -1``, ``b = 0``,
    dtod 0.2 (up_down 0.05), c2c 0.6 with ``dw_min_std_add`` 0.042 and ``dw_min_std_slope``
    0.108, reset to 0.01 (dtod 0.02). Only usable as a pair (:func:`pcm_pair`)."""
    return ExpStep(dw_min=0.01, up_down=0.0, w_max=2.0, w_min=0.0, a=-1.0, b=0.0,
                   gamma_up=2.5, gamma_down=2.5, A_up=-27.235, A_down=-2.235, dw_min_dtod=0.2,
                   up_down_dtod=0.05, w_max_dtod=0.1, w_min_dtod=0.0, dw_min_std=0.6,
                   dw_min_std_add=0.042, dw_min_std_slope=0.108, write_noise_std=0.0,
                   reset=0.01, reset_dtod=0.02)


def pcm_pair() -> ConductancePair:
    """Two :func:`pcm_device` cells as ``w = g_plus - g_minus`` with the refresh of aihwkit's
    ``PCMPresetUnitCell`` after every apply call (Nandakumar et al., Front. Neurosci. 2020);
    see :mod:`golden.crossbar.pair` for the refresh policy."""
    return ConductancePair(plus=pcm_device(), minus=pcm_device(), refresh=True)


#: Preset name -> function returning the device model.
PRESETS: dict[str, Callable] = {
    "ideal": ideal, "Idealized": idealized, "GokmenVlasov": gokmen_vlasov, "EcRam": ecram,
    "ReRamES": reram_es, "Capacitor": capacitor, "PCMPair": pcm_pair}


def get_preset(name: str):
    """The device model of preset ``name`` (a key of :data:`PRESETS`; case-insensitive).

    Raises ``ValueError("preset='x': must be one of 'ideal', ... (in any case)")`` for any other
    name.
    """
    if isinstance(name, str):
        if name in PRESETS:
            return PRESETS[name]()
        folded = {key.lower(): key for key in PRESETS}
        if name.lower() in folded:
            return PRESETS[folded[name.lower()]]()
    raise ValueError(f"preset={name!r}: must be one of {', '.join(map(repr, PRESETS))} "
                     f"(in any case)")
