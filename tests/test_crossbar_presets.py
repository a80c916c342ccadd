"""Preset registry of golden.crossbar: names, lookup errors, values and their sources."""

import pytest

from golden.crossbar import (PRESETS, ConductancePair, ConstantStep, ExpStep, IdealDevice,
                             LinearStep, get_preset)
from golden.crossbar import presets

NAMES = ["ideal", "Idealized", "GokmenVlasov", "EcRam", "ReRamES", "Capacitor", "PCMPair"]


def test_registry_names():
    assert list(PRESETS) == NAMES


def test_unknown_preset_message():
    with pytest.raises(ValueError) as err:
        get_preset("x")
    assert str(err.value) == ("preset='x': must be one of 'ideal', 'Idealized', 'GokmenVlasov', "
                              "'EcRam', 'ReRamES', 'Capacitor', 'PCMPair' (in any case)")
    with pytest.raises(ValueError, match=r"preset=None: must be one of 'ideal',"):
        get_preset(None)


def test_lookup_is_case_insensitive_and_fresh():
    assert get_preset("ecram") == get_preset("EcRam")
    assert isinstance(get_preset("IDEAL"), IdealDevice)


# (name, model, dw_min, dw_min_std, other parameters from REFERENCES.md)
VALUES = [
    ("ideal", IdealDevice, 0.0002, None, {}),
    ("Idealized", ConstantStep, 0.0002, 0.3, dict(dw_min_dtod=0.3, up_down_dtod=0.0,
                                                  w_max=1.0, w_min=-1.0, w_max_dtod=0.3)),
    ("GokmenVlasov", ConstantStep, 0.0016, 0.3, dict(up_down_dtod=0.01, dw_min_dtod=0.3)),
    ("EcRam", LinearStep, 0.002, 0.3, dict(gamma_up=0.1153, gamma_down=0.5085, w_max=1.1724,
                                           w_min=-0.8276)),
    ("ReRamES", ExpStep, 0.00135, 5.0, dict(up_down=0.259359, A_up=-1.18445, A_down=-0.081404,
                                            gamma_up=5.0, gamma_down=5.0, a=-0.5, b=-0.5,
                                            write_noise_std=75.0)),
    ("Capacitor", LinearStep, 0.005, 0.3, dict(gamma_up=0.05, gamma_down=0.05, lifetime=1e6,
                                               mult_noise=False)),
]


@pytest.mark.parametrize("name, model, dw_min, std, other", VALUES, ids=[v[0] for v in VALUES])
def test_preset_values(name, model, dw_min, std, other):
    dev = get_preset(name)
    assert type(dev) is model
    assert dev.dw_min == dw_min
    if std is not None:
        assert dev.dw_min_std == std
    for key, value in other.items():
        assert getattr(dev, key) == value, key


def test_pcm_pair_preset():
    pair = get_preset("PCMPair")
    assert isinstance(pair, ConductancePair) and pair.refresh
    for dev in (pair.plus, pair.minus):
        assert type(dev) is ExpStep
        assert (dev.w_min, dev.w_max, dev.dw_min, dev.dw_min_std) == (0.0, 2.0, 0.01, 0.6)
        assert (dev.A_up, dev.A_down, dev.gamma_up, dev.a) == (-27.235, -2.235, 2.5, -1.0)
    assert pair.dw_min == 0.01


def test_number_of_states():
    assert (lambda d: (d.w_max - d.w_min) / d.dw_min)(get_preset("Idealized")) == pytest.approx(1e4)
    assert (lambda d: (d.w_max - d.w_min) / d.dw_min)(get_preset("GokmenVlasov")) == 1250


SOURCES = {"ideal": ["no bounds"],
           "Idealized": ["Gokmen & Vlasov", "Front. Neurosci. 2016", "Rasch", "IEEE Design & Test"],
           "GokmenVlasov": ["Gokmen & Vlasov", "Front. Neurosci. 2016"],
           "EcRam": ["Tang et al.", "IEDM 2018"],
           "ReRamES": ["Gong et al.", "Nat. Commun. 2018"],
           "Capacitor": ["Li et al.", "VLSI 2018"],
           "PCMPair": ["Nandakumar et al.", "Front. Neurosci. 2020"]}


@pytest.mark.parametrize("name", NAMES)
def test_sources_named_in_docstrings(name):
    doc = " ".join(PRESETS[name].__doc__.split())
    for words in SOURCES[name]:
        assert words in doc, (name, words)
    assert name in presets.__doc__
