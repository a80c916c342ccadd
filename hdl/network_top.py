"""The network top: one unit-driver (:class:`hdl.unit_driver.UnitDriver`) per fully connected
layer of an MLP, in one design.

Layer ``l`` (``sizes[l]`` inputs, ``sizes[l + 1]`` outputs) is the member ``l{l}``: its ports
are the unit-driver's with the prefix ``l{l}__`` (``l0__samples__payload``, ``l1__fire``, ...).
The layers share the clock and reset and nothing else; a host drives each through its own
prefix (:class:`cosim.update_host.PrefixedPorts`)::

    l0__samples, l0__batch, ... --> UnitDriver (sizes[0] -> sizes[1]) --> l0__row_pulse, ...
    l1__samples, l1__batch, ... --> UnitDriver (sizes[1] -> sizes[2]) --> l1__row_pulse, ...
    ...

:func:`network_layers` builds the layers from the training configuration's parameters the way
the ``fixed`` training backend builds its models (:func:`golden.train_backends.layer_driver`),
so a training run through this design can be compared with that backend bit for bit.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from golden.check import check_int
from .sbpca_unit import SBPCAUnit
from .unit_driver import UnitDriver
from .unused import unused

__all__ = ["NetworkTop", "network_layers", "layer_lanes"]


def layer_lanes(lanes: int, n_in: int, n_out: int) -> int:
    """A layer's MAC lanes: ``lanes``, at most ``min(n_in, n_out)``."""
    return min(lanes, n_in, n_out)


def network_layers(sizes, *, k, lanes, b_max, dw_min, lr, bl, scheme, seed, width=16,
                   scalar_width=18) -> list:
    """One :class:`UnitDriver` per layer of ``sizes`` (each unit with ``layer_lanes`` lanes and
    as many input words per beat; each driver :func:`golden.train_backends.layer_driver` for
    learning rate ``lr``: its multiplier is built in, its shift is the run-time port's)."""
    from golden.train_backends import layer_driver

    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes={','.join(map(str, sizes))}: at least two widths")
    for i, n in enumerate(sizes):
        check_int(f"sizes[{i}]", n, minimum=1)
    out = []
    try:
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            L = layer_lanes(lanes, n_in, n_out)
            unit = SBPCAUnit(n_in=n_in, n_out=n_out, k=k, lanes=L, words=L, width=width,
                             scalar_width=scalar_width, b_max=b_max)
            out.append(unit)
            model = layer_driver(n_in, n_out, dw_min=dw_min, lr=lr, formats=unit.formats,
                                 bl=bl, scheme=scheme, seed=seed, layer=layer)
            out[-1] = UnitDriver(unit, model)
    except (TypeError, ValueError):
        for built in out:                      # a bad later layer: the earlier ones unused
            unused(built)
        raise
    return out


class NetworkTop(wiring.Component):
    """The layers' unit-drivers side by side (module docstring).

    Parameters
    ----------
    layers : sequence of UnitDriver
        Layer ``l``'s ``n_out`` must be layer ``l + 1``'s ``n_in``.
    """

    def __init__(self, layers):
        layers = list(layers)
        if not layers or not all(isinstance(ud, UnitDriver) for ud in layers):
            raise TypeError(f"layers={layers!r}: must be a non-empty list of UnitDriver")
        for l, (a, b) in enumerate(zip(layers, layers[1:])):
            if a.n_out != b.n_in:
                raise ValueError(f"layers[{l + 1}]: {b.n_in} inputs after a layer of "
                                 f"{a.n_out} outputs")
        self._layers = layers
        super().__init__({f"l{l}": Out(ud.signature) for l, ud in enumerate(layers)})

    layers = property(lambda self: tuple(self._layers))

    @property
    def sizes(self) -> tuple:
        return (self._layers[0].n_in, *(ud.n_out for ud in self._layers))

    def elaborate(self, platform):
        m = Module()
        for l, ud in enumerate(self._layers):
            m.submodules[f"l{l}"] = ud
            wiring.connect(m, wiring.flipped(getattr(self, f"l{l}")), ud)
        return m
