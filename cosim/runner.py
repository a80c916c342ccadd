"""Build generated Verilog and run a cocotb test module on Icarus Verilog or Verilator.

The design is generated from the registry (``hdl.designs``) into the build folder, together with
its JSON parameter file; the cocotb test module finds that file through ``SBPCA_DESIGN_JSON`` and
rebuilds the same Component (for its payload layouts) and the golden model from it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from xml.etree import ElementTree

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Icarus, Verilator

from hdl.generate import generate
from synth.toolchain import apply_tool_env
from .toolchain import SIMULATORS

__all__ = ["run_cocotb", "run_cocotb_both_stds", "comparable", "CosimFailure", "ICARUS_STD",
           "ICARUS_STDS", "VERILATOR_SIM_ARGS", "VISIBILITIES", "CXX_OPT", "CXX_OPTS", "cxx_opt"]

#: Verilator build options for simulation. Amaranth's Verilog widens operands implicitly
#: (WIDTHEXPAND/WIDTHTRUNC etc.); those are linted separately with the waiver file
#: (synth/lint_waivers.vlt), so simulation builds do not stop on warnings. ``-O3`` is
#: Verilator's own optimization level; the C++ compiler's is ``OPT_FAST`` (below).
VERILATOR_SIM_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"]

#: What a Verilator build exposes to cocotb: ``ports`` (the top level's ports only: what the
#: benches touch; the model compiles and runs several times faster) or ``full`` (every signal,
#: cocotb's default ``--public-flat-rw``: for waveforms and internal probes).
VISIBILITIES = ("ports", "full")

#: C++ optimization levels a Verilated model may be compiled with (``SBPCA_CXX_OPT``).
CXX_OPTS = ("-O0", "-O1", "-O2", "-O3", "-Os")

#: The default C++ optimization of the Verilated model: the fastest model (Verilator's makefile
#: defaults to ``-Os``). The test suite compiles with ``-O1`` (``tests/conftest.py``): its runs
#: are short, so the compile dominates (the hidden-layer unit: 38 s at ``-O3``, 24 s at
#: ``-O1``); the simulated behaviour is the same at every level.
CXX_OPT = "-O3"


def cxx_opt() -> str:
    """The C++ optimization of Verilator builds: ``SBPCA_CXX_OPT`` (one of :data:`CXX_OPTS`),
    else :data:`CXX_OPT`. Benchmarks and training runs keep the default."""
    value = os.environ.get("SBPCA_CXX_OPT") or CXX_OPT
    if value not in CXX_OPTS:
        raise ValueError(f"SBPCA_CXX_OPT={value!r}: choose from {', '.join(CXX_OPTS)}")
    return value


def _failure_messages(results_xml: Path) -> list:
    """``test: message`` for each failed cocotb test in a results file."""
    messages = []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            messages.append(f"{case.get('name')}: {failure.get('message', '').strip()}")
    return messages


#: The language standards an Icarus build can use (``icarus_std``): ``"2012"`` is
#: SystemVerilog semantics, what cocotb's own Makefile and Python runner pass (``-g2012``) and
#: how Questa, Xcelium and xsim are usually run; ``"2005"`` is Verilog-2005 (``-g2005``). Under
#: Verilog-2005 a variable declaration initializer is an event at time 0; under SystemVerilog it
#: is not, so an ``always @*`` block that only such an event would run stays X there until one
#: of its inputs changes. The generated Verilog does not depend on that event
#: (:func:`hdl.generate.explicit_time0_trigger`; ``sbpca lint`` checks it with
#: :func:`synth.lint.time0_dependent_blocks`), and the benches run under both.
ICARUS_STDS = ("2012", "2005")

#: The default standard: SystemVerilog, as a user's cocotb flow builds the Verilog.
ICARUS_STD = "2012"


class _Icarus2005(Icarus):
    """cocotb's Icarus runner with ``-g2005`` and a Verilog-2005 waveform dump module (cocotb's
    uses an SV ``string``, which ``-g2005`` rejects). ``-g2005`` comes after cocotb's own
    ``-g2012`` on the command line; the last one wins."""

    def _create_iverilog_dump_file(self) -> None:
        path = str(self.build_dir / f"{self.hdl_toplevel}.fst").replace("\\", "/")
        with open(self.iverilog_dump_file, "w") as f:
            f.write("module cocotb_iverilog_dump();\n"
                    f"initial begin\n    $dumpfile(\"{path}\");\n"
                    f"    $dumpvars(0, {self.hdl_toplevel});\nend\nendmodule\n")


def _icarus(std) -> tuple:
    """The runner, build arguments and standard of an Icarus build under ``std``."""
    if std is None:
        std = os.environ.get("SBPCA_ICARUS_STD") or ICARUS_STD
    std = str(std)
    if std not in ICARUS_STDS:
        raise ValueError(f"icarus_std={std!r}: choose from {', '.join(ICARUS_STDS)}")
    if std == "2005":
        return _Icarus2005(), ["-g2005"], std
    return Icarus(), [], std             # cocotb's runner as it is: -g2012, nothing added


class _VerilatorBuild(Verilator):
    """cocotb's Verilator runner with a choice of visibility and the model compiled at
    :func:`cxx_opt` (``-O3`` by default)."""

    def __init__(self, visibility: str, public_file: Path | None = None):
        super().__init__()
        self._visibility = visibility
        self._public_file = public_file

    def _build_command(self):
        verilate, make = super()._build_command()
        if self._visibility == "ports":
            verilate = [arg for arg in verilate if arg != "--public-flat-rw"]
            verilate.insert(-1, str(self._public_file))
        return [verilate, make + [f"OPT_FAST={cxx_opt()}", f"-j{build_jobs()}"]]


def build_jobs() -> int:
    """Parallel C++ compile jobs of a Verilator build: ``SBPCA_BUILD_JOBS``, else the CPUs this
    process may use (the model is split into many files; make compiles them side by side)."""
    value = os.environ.get("SBPCA_BUILD_JOBS")
    if value:
        try:
            jobs = int(value)
        except ValueError:
            jobs = 0
        if jobs < 1:
            raise ValueError(f"SBPCA_BUILD_JOBS={value!r}: must be a positive integer")
        return jobs
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def _public_ports_file(doc: dict, path: Path) -> Path:
    """A Verilator configuration file making only the top level's ports visible to cocotb."""
    names = ["clk", "rst"] + [port["name"] for port in doc["ports"]]
    lines = ["`verilator_config"] + [f'public_flat_rw -module "{doc["top"]}" -var "{name}"'
                                     for name in names]
    path.write_text("\n".join(lines) + "\n")
    return path


def _visibility(value, waves: bool) -> str:
    if value is None:
        value = os.environ.get("SBPCA_VISIBILITY") or ("full" if waves else "ports")
    if value not in VISIBILITIES:
        raise ValueError(f"visibility={value!r}: choose from {', '.join(VISIBILITIES)}")
    return value


class CosimFailure(AssertionError):
    """A co-simulation run reported failing tests."""


def run_cocotb(design: str, params: dict, test_module: str, *, sim: str, build_dir,
               seed: int = 1, extra_env: dict | None = None, waves: bool | None = None,
               testcase=None, visibility: str | None = None,
               icarus_std: str | None = None) -> dict:
    """Generate ``design``, build it for ``sim`` and run the cocotb ``test_module`` against it.

    Parameters
    ----------
    design, params : registered design name and its parameters.
    test_module : importable cocotb test module, e.g. ``"cosim.tb_mac_lane"``.
    sim : ``"icarus"`` or ``"verilator"``.
    build_dir : folder for this run (one per test id).
    seed : random seed passed to the test module (``SBPCA_SEED``), logged for replay.
    extra_env : more environment for the test module.
    waves : record FST waveforms; default from ``WAVES`` in the environment.
    visibility : Verilator only, ``"ports"`` or ``"full"`` (:data:`VISIBILITIES`); default from
        ``SBPCA_VISIBILITY`` in the environment, else ``"full"`` with waves and ``"ports"``
        without.
    icarus_std : Icarus only, the language standard of the build (:data:`ICARUS_STDS`):
        ``"2012"`` (SystemVerilog semantics, cocotb's own runner unchanged) or ``"2005"``
        (``-g2005``); default from ``SBPCA_ICARUS_STD`` in the environment, else
        :data:`ICARUS_STD` (``"2012"``).

    Returns
    -------
    dict with ``tests``, ``failed``, ``results_xml``, ``build_dir``, ``icarus_std`` (the standard
    an Icarus build used, else None), ``summary`` (whatever the
    test module wrote to ``summary.json``, e.g. beat and cycle counts) and ``seconds`` (wall
    time of the build and of the simulation, for throughput reports only).

    Raises
    ------
    CosimFailure if any cocotb test failed or the simulator crashed.
    """
    if sim not in SIMULATORS:
        raise ValueError(f"sim={sim!r}: choose from {', '.join(SIMULATORS)}")
    apply_tool_env()
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    doc = generate(design, build_dir, **params)
    summary_path = build_dir / "summary.json"
    summary_path.unlink(missing_ok=True)

    if sim == "icarus":
        runner, build_args, icarus_std = _icarus(icarus_std)
    else:
        runner = _VerilatorBuild(_visibility(visibility, waves),
                                 _public_ports_file(doc, build_dir / "public_ports.vlt"))
        build_args = list(VERILATOR_SIM_ARGS)
        if waves:
            build_args += ["--trace-fst", "--trace-structs"]
    t0 = time.monotonic()
    runner.build(sources=[doc["verilog"]], hdl_toplevel=doc["top"], build_dir=build_dir,
                 build_args=build_args, waves=waves, timescale=("1ns", "1ps"),
                 log_file=build_dir / "build.log")
    t1 = time.monotonic()
    env = {"SBPCA_DESIGN_JSON": doc["json"], "SBPCA_SEED": str(seed),
           "SBPCA_SUMMARY": str(summary_path), "SBPCA_SIM": sim}
    env.update(extra_env or {})
    # Under pytest the cocotb runner would sys.exit() on a failure; without the marker it
    # returns the results file and the failure is raised below with the mismatch messages.
    pytest_marker = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        results = runner.test(test_module=test_module, hdl_toplevel=doc["top"],
                              build_dir=build_dir, test_dir=build_dir, extra_env=env,
                              waves=waves, seed=seed, testcase=testcase,
                              results_xml=str(build_dir / "results.xml"),
                              log_file=build_dir / "sim.log")
    except SystemExit as exc:    # the simulator crashed before writing results
        raise CosimFailure(f"{design} on {sim}: simulator exited with {exc.code}; "
                           f"log: {build_dir / 'sim.log'}") from None
    finally:
        if pytest_marker is not None:
            os.environ["PYTEST_CURRENT_TEST"] = pytest_marker
    t2 = time.monotonic()
    tests, failed = get_results(Path(results))
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    out = {"tests": tests, "failed": failed, "results_xml": str(results),
           "build_dir": str(build_dir), "summary": summary,
           "icarus_std": icarus_std if sim == "icarus" else None,
           "seconds": {"build": round(t1 - t0, 2), "simulate": round(t2 - t1, 2)}}
    where = f"{sim} -g{icarus_std}" if sim == "icarus" else sim
    if failed or tests == 0:
        raise CosimFailure(f"{design} on {where}: {failed} of {tests} cocotb tests failed "
                           f"(seed {seed}); log: {build_dir / 'sim.log'}\n"
                           + "\n".join(_failure_messages(Path(results))))
    return out


def comparable(summary):
    """A run summary without its wall-clock entries (``seconds`` keys, at any depth): what two
    runs of one bench on one design must agree on (words compared, cycles, beats, flags)."""
    if isinstance(summary, dict):
        return {k: comparable(v) for k, v in summary.items() if k != "seconds"}
    if isinstance(summary, list):
        return [comparable(v) for v in summary]
    return summary


def run_cocotb_both_stds(design: str, params: dict, test_module: str, *, build_dir,
                         **kwargs) -> dict:
    """:func:`run_cocotb` on Icarus under each of :data:`ICARUS_STDS`, ``"2012"`` in
    ``build_dir`` and ``"2005"`` in ``build_dir/g2005``; the summaries must agree
    (:func:`comparable`: the same words compared, by count and digest, the same cycle counts).

    Returns the ``-g2012`` result with the ``-g2005`` one under ``"g2005"``; raises
    :class:`CosimFailure` if either run fails or they disagree.
    """
    build_dir = Path(build_dir)
    out = run_cocotb(design, params, test_module, sim="icarus", build_dir=build_dir,
                     icarus_std="2012", **kwargs)
    other = run_cocotb(design, params, test_module, sim="icarus", build_dir=build_dir / "g2005",
                       icarus_std="2005", **kwargs)
    a, b = comparable(out["summary"]), comparable(other["summary"])
    if a != b:
        diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        raise CosimFailure(f"{design}: -g2012 and -g2005 runs disagree on {', '.join(diff)}; "
                           f"logs: {build_dir / 'sim.log'}, {build_dir / 'g2005' / 'sim.log'}")
    if not a.get("compared", {}).get("words"):
        raise CosimFailure(f"{design}: the runs compared no words")
    out["g2005"] = other
    return out
