"""The streaming-PCA unit as generated Verilog, on Icarus Verilog and Verilator, against the golden
fixed-point model (``cosim.tb_unit``: every stored row, the k x k state and the overflow flag
compared as integers after every batch, with random idle cycles and backpressure).

Configurations (issue 4): tiny (8, 4, k=1, 1 lane), small (8, 4, k=2, 2 lanes, 2 words a
beat), mid (64, 32, k=2, 4 lanes), the MNIST output layer (100, 10, k=4, 4 lanes) and hidden
layer (784, 100, k=4, 8 lanes). Streams (:mod:`cosim.unit_cases`): random words, real gradient
streams of the golden MLP on digits (mid) and MNIST (output and hidden layers), saturating
inputs, and on the small configuration: zero samples with coarse words (rounding ties), a stream
that saturates only the k x k engine (the reciprocal's seed at its bound) and one that
saturates only stored words (a start transform that does not normalize the rows). Each run
also checks batches of 1 and of ``b_max``, invalid batch sizes, the steady-state cycles per
sample, and reset in the middle of a batch. The hidden layer runs a few samples by default and
many batches under ``-m slow``; the larger runs take one simulator by default and the
other under ``-m slow`` (``ONE_SIMULATOR``). ``SIM`` picks one simulator.

Icarus builds use SystemVerilog semantics (``-g2012``, cocotb's own); the runs of
:data:`BOTH_STDS` also run under ``-g2005`` and must compare the same words (count and digest)
and count the same cycles (``cosim.runner.run_cocotb_both_stds``).

Which engine saturates in a run (the golden model's ``overflow_sources`` after each batch) is
checked without a simulator (``test_run_saturates_as_intended``), so a stream cannot silently
stop exercising the flag it is there for.
"""


import numpy as np
import pytest

from cosim.runner import run_cocotb, run_cocotb_both_stds
from cosim.toolchain import selected_simulators
from cosim.unit_cases import load_start, make_stream, start_state
from hdl.designs import unused
from hdl.sbpca_unit import SBPCAUnit

SEED = 5
CONFIGS = {
    "tiny": dict(n_in=8, n_out=4, k=1, lanes=1, words=1, b_max=8),
    "small": dict(n_in=8, n_out=4, k=2, lanes=2, words=2, b_max=8),
    "mid": dict(n_in=64, n_out=32, k=2, lanes=4, words=2, b_max=8),
    "out": dict(n_in=100, n_out=10, k=4, lanes=4, words=4, b_max=16),
    "hidden": dict(n_in=784, n_out=100, k=4, lanes=8, words=8, b_max=64),
}

# (config, stream, batch sizes): b_max appears in each small configuration
RUNS = {
    "tiny-random": ("tiny", "random", "1,8,5,2,8,3"),
    "mid-digits": ("mid", "digits", "1,8,3"),
    "mid-saturate": ("mid", "saturate", "3,8"),
    "out-mnist": ("out", "mnist", "16,1"),
    "out-saturate": ("out", "saturate", "4"),
    "hidden-mnist": ("hidden", "mnist", "2"),
    "small-zeros": ("small", "zeros", "1,8,3"),
    "small-kxk_saturate": ("small", "kxk_saturate", "1,8"),
    "small-rows_saturate": ("small", "rows_saturate", "1,8"),
}
# overflow sources after each batch (and the two timing batches) of a run; ordinary streams: none
SOURCES = {
    "saturate": lambda src: "kxk" in src[0],
    "kxk_saturate": lambda src: all(s == ("kxk",) for s in src),
    "rows_saturate": lambda src: src[0] == ("rows",),
}
# long runs (-m slow): Icarus simulates the hidden layer at about 300 cycles/s (a batch of 64 is
# 237,000 cycles, about 13 minutes), Verilator at about 6,000, so the many-batch hidden-layer run
# is Verilator's and Icarus takes one batch of b_max
SLOW_RUNS = {
    "hidden-mnist-long": ("hidden", "mnist", "64,64,64,64,1,64,64,64,64,32", ("verilator",)),
    "hidden-mnist-bmax": ("hidden", "mnist", "64", ("icarus",)),
    "hidden-saturate": ("hidden", "saturate", "4,64", ("verilator",)),
    "tiny-random-long": ("tiny", "random", ",".join(["8", "1", "7", "8"] * 25),
                         ("icarus", "verilator")),
    "mid-digits-long": ("mid", "digits", ",".join(["8"] * 40), ("icarus", "verilator")),
}
SLOW_CASES = [(sim, name) for name, run in SLOW_RUNS.items() for sim in selected_simulators()
              if sim in run[3]]
# the larger runs take one simulator in the default test run (each run keeps one; tiny and small
# run on both), the other under -m slow: the default run stays well inside CI's time budget
ONE_SIMULATOR = {"hidden-mnist": "verilator", "out-mnist": "verilator",
                 "out-saturate": "verilator", "mid-saturate": "verilator",
                 "mid-digits": "icarus"}
DEFAULT_CASES = [pytest.param(sim, name, marks=pytest.mark.slow)
                 if ONE_SIMULATOR.get(name, sim) != sim else (sim, name)
                 for name in RUNS for sim in selected_simulators()]
# runs that Icarus also runs under -g2005, compared with -g2012 word for word and cycle for cycle
BOTH_STDS = ("tiny-random",)


def golden_sources(config, kind, sizes, seed=SEED) -> list:
    """The golden side of a bench run (``cosim.tb_unit`` with ``seed``: the same draws in the
    same order) and its ``overflow_sources`` after each batch, the timing batches included."""
    unit = unused(SBPCAUnit(**CONFIGS[config]))
    model = unit.model
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in sizes.split(",")] + [1, min(2, unit.b_max)]
    stream = make_stream(kind, unit.formats, unit.n_in, unit.n_out, sizes, rng)
    load_start(model, kind, start_state(unit.n_in, unit.n_out, unit.k, rng, kind=kind,
                                        formats=unit.formats))
    out = []
    for xs, ds in stream:
        model.batch(xs, ds)
        out.append(model.overflow_sources)
    return out


@pytest.mark.parametrize("name", list(RUNS))
def test_run_saturates_as_intended(name):
    config, kind, sizes = RUNS[name]
    src = golden_sources(config, kind, sizes)
    assert SOURCES.get(kind, lambda src: not any(src))(src), (name, src)


def _count_ties(monkeypatch) -> dict:
    """Count the golden model's rounding ties (exactly half an LSB dropped, where round half up
    differs from the other ways to round): in the row pass and in its other rounding points."""
    import golden.sbpca_unit as su
    ties = {"rows": 0, "kxk": 0}
    row_pass, q = su.row_pass, su._Arith.q

    def counted_row_pass(S, a, cT, inp, w, *, gw, shift, out):
        acc = ((np.asarray(S, np.int64) << np.asarray(a, np.int64)) @ np.triu(cT)
               + np.outer(np.asarray(inp, np.int64) << gw, w))
        ties["rows"] += int(np.sum(acc % (1 << shift) == 1 << (shift - 1)))
        return row_pass(S, a, cT, inp, w, gw=gw, shift=shift, out=out)

    def counted_q(self, value, frac, fmt):
        v = np.asarray(value, np.int64)
        d = np.broadcast_to(np.asarray(frac, np.int64) - fmt.frac, v.shape)
        pos = d > 0
        ties["kxk"] += int(np.sum(v[pos] % (1 << d[pos]) == 1 << (d[pos] - 1)))
        return q(self, value, frac, fmt)

    monkeypatch.setattr(su, "row_pass", counted_row_pass)
    monkeypatch.setattr(su._Arith, "q", counted_q)
    return ties


def test_zeros_run_hits_rounding_ties(monkeypatch):
    """The small configuration's ``zeros`` run lands on exact ties in the stored words (the
    random words of ``tiny-random`` almost never do), so round half up is checked there too."""
    ties = _count_ties(monkeypatch)
    golden_sources(*RUNS["tiny-random"])
    random_ties = dict(ties)
    ties.update(rows=0, kxk=0)
    golden_sources(*RUNS["small-zeros"])
    assert ties["rows"] >= 5 and ties["rows"] > 4 * random_ties["rows"], (ties, random_ties)
    assert ties["kxk"] >= 20, ties


def _run(sim, name, runs, build_dir):
    config, stream, sizes = runs[name][:3]
    env = {"SBPCA_UNIT_STREAM": stream, "SBPCA_UNIT_BATCHES": sizes}
    if sim == "icarus" and name in BOTH_STDS and runs is RUNS:
        result = run_cocotb_both_stds("unit", CONFIGS[config], "cosim.tb_unit",
                                      build_dir=build_dir, seed=SEED, extra_env=env)
        assert result["g2005"]["tests"] == 2
    else:
        result = run_cocotb("unit", CONFIGS[config], "cosim.tb_unit", sim=sim,
                            build_dir=build_dir, seed=SEED, extra_env=env)
    assert result["tests"] == 2                   # batches_match_golden and reset_mid_batch
    assert result["summary"]["compared"]["words"] > 0
    batches = result["summary"]["batches"]
    assert [b["B"] for b in batches][:len(sizes.split(","))] == [int(s) for s in
                                                                 sizes.split(",")]
    return batches, result["summary"]["steady"]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim, name", DEFAULT_CASES)
def test_unit_bit_exact(sim, name, build_dir):
    batches, steady = _run(sim, name, RUNS, build_dir)
    # the bench checks predicted == measured cycles; this checks the bench saw the steady state
    assert steady["cycles_per_sample"] == steady["predicted_cycles_per_sample"]
    if RUNS[name][1] in SOURCES:
        assert batches[0]["overflow"], "a saturating stream did not raise the flag"
    else:
        assert not batches[-1]["overflow"], "the flag rose on an ordinary stream"


@pytest.mark.slow
@pytest.mark.cocotb
@pytest.mark.parametrize("sim, name", SLOW_CASES)
def test_unit_bit_exact_long(sim, name, build_dir):
    batches, _ = _run(sim, name, SLOW_RUNS, build_dir)
    if SLOW_RUNS[name][1] == "saturate":
        assert batches[0]["overflow"]
