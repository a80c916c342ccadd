# amaranth: UnusedElaboratable=no
"""The unit-driver top on the Amaranth simulator against the golden chain: fixed-point unit
model -> ``unit_factors`` -> ``CrossbarDriverModel.drive``: every slot's pulses of every term of
every batch as integers, both schemes, streams that saturate the readout, and the cycle model."""

import copy
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from cosim.ports_amaranth import AmaranthPorts
from cosim.unit_cases import bench_case, load_start
from cosim.update_host import UpdateHost, bits_to_pulses
from golden.driver import CrossbarDriverModel, unit_factors
from hdl.sbpca_unit import SBPCAUnit
from hdl.unit_driver import UnitDriver

CONFIGS = {
    # name: (unit kwargs, driver kwargs)
    "k2-g3": (dict(n_in=11, n_out=6, k=2, lanes=2, words=1, b_max=4),
              dict(group=3, bl=5, lr=2.0 ** -3, dw_min=2e-3, seed=5)),
    "k3-det": (dict(n_in=9, n_out=7, k=3, lanes=3, words=3, b_max=3),
               dict(group=4, bl=6, lr=3 * 2.0 ** -5, dw_min=1e-3, scheme="deterministic",
                    fire_cycles=2, seed=2)),
    "k1-g2": (dict(n_in=5, n_out=4, k=1, lanes=2, words=2, b_max=3),
              dict(group=2, bl=4, lr=2.0 ** -4, dw_min=1e-3, seed=1)),
    "k4-g8": (dict(n_in=8, n_out=5, k=4, lanes=4, words=2, b_max=2),
              dict(group=8, bl=3, lr=2.0 ** -2, dw_min=5e-3, seed=9)),
}


def build(name):
    unit_kw, drv_kw = CONFIGS[name]
    unit = SBPCAUnit(**unit_kw)
    make = lambda: CrossbarDriverModel(unit.n_in, unit.n_out, formats=unit.formats, **drv_kw)
    return unit, make


def run_top(top, model, batches, *, seed=1, idle=0.0):
    """Load ``model``'s state, run ``batches``, capture each update; ``model`` not advanced."""
    out = []

    async def tb(ctx):
        host = UpdateHost(AmaranthPorts(ctx, top), top, model=None, rng=random.Random(seed),
                          idle=idle)
        await host.set_lr_shift(top.model.lr_shift)
        await host.load_model_state(model)
        for xs, ds in batches:
            await host.batch(xs, ds)
            out.append(await host.update())

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


def check_updates(unit, make_driver, kind, sizes, seed, *, start=None, **kw):
    """Stream ``kind`` of ``sizes`` batches from ``seed`` through the top and the golden chain;
    ``start``: ``(batches, model)`` given directly instead."""
    if start is None:
        batches, _, state = bench_case(unit, kind, sizes, seed)
        ref = copy.deepcopy(unit.model)
        load_start(ref, kind, state)
    else:
        batches, ref = start
    top = UnitDriver(unit, make_driver())
    got = run_top(top, copy.deepcopy(ref), batches, seed=seed, **kw)
    driver = make_driver()
    saturated = []
    for b, ((xs, ds), upd) in enumerate(zip(batches, got)):
        ref.batch(xs, ds)
        drive = driver.drive(unit_factors(ref))
        for r, term in enumerate(drive.terms):
            assert upd.rows[r].tolist() == term.row_pulses.tolist(), f"batch {b} term {r} rows"
            assert upd.cols[r].tolist() == term.col_pulses.tolist(), f"batch {b} term {r} cols"
        assert upd.saturated == drive.readout_saturated, f"batch {b}: saturated flag"
        assert list(upd.clip_lines) == [t.plan.clipped_lines for t in drive.terms], \
            f"batch {b}: clipped lines"
        if unit.k >= 2:        # k = 1: the unit's readout rate sets the pace (a lower bound)
            assert upd.cycles == top.update_cycles, f"batch {b}: {upd.cycles} update cycles"
        else:
            assert upd.cycles >= top.update_cycles, f"batch {b}: {upd.cycles} update cycles"
        saturated.append(drive.readout_saturated)
    return got, saturated


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pulses_match_the_golden_chain(name):
    unit, make = build(name)
    got, _ = check_updates(unit, make, "random", [unit.b_max, 1, unit.b_max], seed=3, idle=0.2)
    assert sum(int(np.abs(u.rows).sum()) for u in got) > 0     # the check saw real pulses


def test_zero_batches_give_empty_terms():
    unit, make = build("k2-g3")
    check_updates(unit, make, "zeros", [2, 3], seed=1)


def test_readout_saturation_is_flagged():
    """R1's clamp: nearly parallel stored columns leave the transform after one sample large
    enough that a factor word reaches 1 (no random stream gets there); then a random batch,
    which does not clamp, clears the flag."""
    unit, make = build("k2-g3")
    ref = copy.deepcopy(unit.model)
    e = np.eye(max(unit.n_in, unit.n_out))
    X0 = np.stack([e[0, :unit.n_in], e[0, :unit.n_in] + 1e-2 * e[1, :unit.n_in]], 1)
    D0 = np.stack([e[0, :unit.n_out], e[0, :unit.n_out] + 1e-2 * e[1, :unit.n_out]], 1)
    ref.load(X0, D0, 1.0)
    rng = np.random.default_rng(4)
    F = unit.formats
    rand = (rng.integers(-2000, 2000, (3, unit.n_in)), rng.integers(-2000, 2000, (3, unit.n_out)))
    batches = [(np.zeros((1, unit.n_in), np.int64), np.zeros((1, unit.n_out), np.int64)), rand]
    _, saturated = check_updates(unit, make, None, None, None, start=(batches, ref))
    assert saturated == [True, False]


def test_bits_to_pulses():
    assert bits_to_pulses(0b1011, 0b0010, 5).tolist() == [1, -1, 0, 1, 0]
    assert bits_to_pulses(0, 0, 1).tolist() == [0]


def test_construction_errors():
    unit, make = build("k2-g3")
    other = CrossbarDriverModel(12, 6, dw_min=1e-3)
    with pytest.raises(ValueError, match="model: a 12 -> 6 driver for a 11 -> 6 unit"):
        UnitDriver(unit, other)
    with pytest.raises(TypeError, match="unit="):
        UnitDriver(None, make())


@pytest.mark.parametrize("params", [dict(sizes=(12, 6, 4), k=2, lanes=2, b_max=4, bl=5),
                                    dict(sizes=(9, 5), k=1, lanes=1, b_max=2, bl=3,
                                         scheme="deterministic")],
                         ids=["two-layers", "one-layer-det"])
def test_network_top_is_lint_clean(params, tmp_path):
    from hdl.generate import generate
    from synth.lint import forbidden_operators, lint_verilog

    doc = generate("network", tmp_path, **params)
    assert lint_verilog(doc["verilog"], doc["top"]) == []
    assert forbidden_operators(open(doc["verilog"]).read()) == []
    ports = {p["name"] for p in doc["ports"]}
    layers = len(params["sizes"]) - 1
    assert {f"l{l}__fire" for l in range(layers)} <= ports and f"l{layers}__fire" not in ports


def test_network_layers_chain():
    from hdl.designs import unused
    from hdl.network_top import NetworkTop, network_layers

    a, b = network_layers((10, 6, 4), k=1, lanes=8, b_max=2, dw_min=1e-3, lr=0.125, bl=3,
                          scheme="stochastic", seed=0)
    unused(a), unused(b)
    assert (a.n_in, a.n_out, a.unit.lanes, b.unit.lanes) == (10, 6, 6, 4)
    with pytest.raises(ValueError, match=r"layers\[1\]: 10 inputs after a layer of 4 outputs"):
        NetworkTop([b, a])
