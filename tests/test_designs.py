"""The design registry's defaults (``hdl.designs``) agree with the defaults of the Components and
models they build: each default is written twice (the registry's ``Param`` and the constructor's
signature), so a default changed in one place only would otherwise go unnoticed. The few that
differ on purpose are listed with their reason."""

import inspect

import pytest

from golden.driver import CrossbarDriverModel
from hdl.designs import DESIGNS
from hdl.row_pass import RowPass
from hdl.sbpca_unit import SBPCAUnit

#: design -> (the callable whose signature defaults must match, registry name -> its name,
#: names whose defaults differ on purpose, the least number of defaults compared)
CASES = {
    # words: the command line's default unit is the MNIST hidden layer's (8 words a beat), the
    # constructor's the smallest legal one
    "unit": (SBPCAUnit, {}, {"words"}, 13),
    "row_pass": (RowPass, {}, set(), 2),
    # group: the command line's driver is a small standalone one (4 latch lanes)
    "crossbar_driver": (CrossbarDriverModel, {"lfsr_seed": "seed"}, {"group"}, 9),
}


def signature_defaults(func) -> dict:
    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("design", sorted(CASES))
def test_registry_defaults_equal_the_constructors(design):
    func, rename, differ, least = CASES[design]
    defaults = signature_defaults(func)
    compared = 0
    for param in DESIGNS[design].params:
        name = rename.get(param.name, param.name)
        if name not in defaults or param.name in differ:
            continue
        assert param.default == defaults[name], (
            f"{design}.{param.name}: registry default {param.default!r}, "
            f"{func.__qualname__} default {defaults[name]!r}")
        compared += 1
    assert compared >= least
    for name in differ:                        # still there, and still different
        assert DESIGNS[design].defaults()[name] != defaults[rename.get(name, name)]


def test_every_design_is_covered():
    # mac_lane's builder has no defaults; network's (network_layers) shares none of its
    # parameters' defaults; kxk_engine has the unit's parameters (the test below)
    assert set(CASES) | {"mac_lane", "network", "kxk_engine"} == set(DESIGNS)


def test_kxk_engine_design_is_the_units_engine():
    # the standalone engine is the one the unit of the same parameters holds: same program
    # schedule (segment cycles), same ports; its parameters are the unit's (checked against
    # SBPCAUnit's defaults above) and validated as the unit's are
    from golden.unit_program import SEGMENTS
    from hdl.designs import get_design, unused
    from hdl.kxk_engine import KxkEngine

    params = dict(n_in=12, n_out=6, k=2, lanes=2, words=2, b_max=8)
    engine, full = get_design("kxk_engine").build(**params)
    unit, unit_full = get_design("unit").build(**params)
    unused(unit)                  # the builder has silenced the engine's own unit already
    assert DESIGNS["kxk_engine"].params is DESIGNS["unit"].params
    assert isinstance(engine, KxkEngine) and full == unit_full
    assert [engine.cycles_for(s) for s in SEGMENTS] == \
        [unit.kxk_engine.cycles_for(s) for s in SEGMENTS]
    assert engine.signature == unit.kxk_engine.signature
    with pytest.raises(ValueError, match="k=0"):
        get_design("kxk_engine").build(k=0)
