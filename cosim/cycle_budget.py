"""The unit's cycle budget for pipeline stages: what each k x k engine option costs in cycles a
sample and lane utilization, from the cycle model alone (``sbpca report --stages``).

The clock rate of the unit is bought with pipeline registers, and every register in the k x k
engine lengthens the dependency chains of its micro-program (``hdl/kxk_schedule.py``); the row
passes keep their cycles. This module schedules the unit's program (``golden.unit_program``) with
other engine options and adds the row passes of the unit as built::

    cycles / sample = row passes (SBPCAUnit, unchanged) + sum over segments of segment_cycles(words)
    lane utilization = (row-pass MACs + the program's MACs) / (lanes x cycles / sample)

A variant the RTL builds (``rtl``) must give the same figures as ``SBPCAUnit(...)`` itself
(tested); the others (``schedule``) are beyond the RTL's options (a second post stage, lanes or
ALUs without limit) and say what such an engine would cost before anyone builds it. Nothing here
is synthesized: Fmax comes from ``sbpca synth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from golden.unit_program import SEGMENTS, build_program

__all__ = ["Variant", "VARIANTS", "TARGET_UTILIZATION", "variant_figures", "build_budget",
           "budget_markdown", "write_budget"]

#: The lane utilization the issue keeps on the MNIST hidden layer.
TARGET_UTILIZATION = 0.90

#: The k x k options a variant may set, with the unit's defaults.
ENGINE_OPTIONS = ("shift_lead", "post_stages", "alu_stages", "alus", "movers", "general",
                  "used_lanes", "ns_steps")


@dataclass(frozen=True)
class Variant:
    """A k x k engine option set on the default unit: ``options`` overrides the unit's
    (``ENGINE_OPTIONS``; ``used_lanes="all"``: every lane of the unit); ``rtl`` whether
    ``SBPCAUnit`` builds it (``used_lanes`` and ``movers`` are not unit parameters,
    ``post_stages`` 2 not an engine option)."""

    label: str
    options: dict = field(default_factory=dict)
    rtl: bool = True


#: The table of ``sbpca report --stages``: the default, the resource-free bound, more resources,
#: a second post stage, and fewer Newton-Schulz steps (``sbpca experiment ns-steps``).
VARIANTS = (
    Variant("the unit as built"),
    Variant("no resource limits (64 lanes all general, 16 ALUs): the critical path",
            dict(used_lanes=64, general=64, alus=16, movers=16), rtl=False),
    Variant("2 ALUs, 2 general lanes", dict(alus=2, general=2)),
    Variant("all lanes, 2 ALUs, 2 general lanes", dict(used_lanes="all", alus=2, general=2),
            rtl=False),
    Variant("2 post stages", dict(post_stages=2), rtl=False),
    Variant("2 post stages, all lanes, 2 ALUs, 2 general lanes",
            dict(post_stages=2, used_lanes="all", alus=2, general=2), rtl=False),
    Variant("5 Newton-Schulz steps", dict(ns_steps=5)),
    Variant("5 Newton-Schulz steps, 2 post stages", dict(ns_steps=5, post_stages=2), rtl=False),
    Variant("4 Newton-Schulz steps, 2 post stages", dict(ns_steps=4, post_stages=2), rtl=False),
)


def _unit(params: dict):
    from hdl.designs import get_design
    return get_design("unit").build(**params)[0]


def variant_figures(variant: Variant, params: dict | None = None, unit=None) -> dict:
    """Cycles a sample, k x k cycles, useful MACs and lane utilization of ``variant`` on the unit
    of ``params`` (``sbpca generate unit``'s parameters; default: its defaults); ``unit`` is that
    unit already built. None when the variant needs more general lanes than the unit has."""
    from hdl.kxk_engine import segment_cycles
    from hdl.kxk_schedule import schedule_program

    unknown = sorted(set(variant.options) - set(ENGINE_OPTIONS))
    if unknown:
        raise ValueError(f"options={unknown[0]!r}: not a k x k engine option; choose from "
                         f"{', '.join(ENGINE_OPTIONS)}")
    unit = unit if unit is not None else _unit(params or {})
    eng = unit.kxk_engine
    opt = {name: getattr(eng, name) for name in ENGINE_OPTIONS} | dict(variant.options)
    if opt["used_lanes"] == "all":
        opt["used_lanes"] = unit.lanes
    if opt["general"] > opt["used_lanes"]:
        return None                        # not applicable: fewer lanes than general lanes
    prog = (eng.program if opt["ns_steps"] == eng.ns_steps else
            build_program(eng.formats, eng.k, ns_steps=opt["ns_steps"],
                          recip_steps=eng.recip_steps))
    sched = schedule_program(prog, lanes=opt["used_lanes"], latency=eng.lane_latency,
                             alus=opt["alus"], movers=opt["movers"],
                             general=opt["general"], post_stages=opt["post_stages"],
                             alu_stages=opt["alu_stages"], shift_lead=opt["shift_lead"])
    kxk = sum(segment_cycles(sched.segments[s].cycles, eng.rom_stage) for s in SEGMENTS)
    rows = unit.cycles_per_sample - sum(eng.cycles_for(s) for s in SEGMENTS)
    macs = unit.useful_macs_per_sample - eng.program.macs() + prog.macs()
    cycles = rows + kxk
    util = macs / (unit.lanes * cycles)
    most = int(macs / (unit.lanes * TARGET_UTILIZATION))        # the most cycles at 90%
    return {"label": variant.label, "options": opt, "rtl": variant.rtl, "kxk_cycles": kxk,
            "row_pass_cycles": rows, "cycles_per_sample": cycles, "useful_macs": macs,
            "lane_utilization": util, "margin_cycles": most - cycles}


def build_budget(params: dict | None = None, variants=VARIANTS) -> dict:
    """The figures of every variant on the unit of ``params`` (default: the MNIST hidden layer's
    default unit)."""
    unit = _unit(params or {})
    figures = [(v, variant_figures(v, unit=unit)) for v in variants]
    return {"unit": {"n_in": unit.n_in, "n_out": unit.n_out, "k": unit.k, "lanes": unit.lanes},
            "target_utilization": TARGET_UTILIZATION,
            "variants": [f for _, f in figures if f],
            "not_applicable": [v.label for v, f in figures if f is None]}


def _options(o: dict) -> str:
    return (f"{o['used_lanes']} lanes ({o['general']} general), {o['alus']} ALU"
            f"{'s' * (o['alus'] != 1)} ({o['movers']} rounding), stages {o['shift_lead']}/"
            f"{o['post_stages']}/{o['alu_stages']}, {o['ns_steps']} NS steps")


def budget_markdown(budget: dict) -> str:
    u = budget["unit"]
    head = ["k x k engine variant", "options", "built by the RTL", "k x k cycles / sample",
            "cycles / sample", "lane utilization", f"cycles to spare at "
            f"{100 * budget['target_utilization']:.0f}%"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in budget["variants"]:
        lines.append("| " + " | ".join([
            f["label"], _options(f["options"]), "yes" if f["rtl"] else "schedule only",
            f"{f['kxk_cycles']:,}", f"{f['cycles_per_sample']:,}",
            f"{100 * f['lane_utilization']:.2f}%",
            f"{f['margin_cycles']:,}"]) + " |")
    rows = budget["variants"][0]["row_pass_cycles"]
    notes = (f"\nUnit {u['n_in']} -> {u['n_out']}, k = {u['k']}, {u['lanes']} lanes; row passes "
             f"{rows:,} cycles a sample, the same in every variant. Stages: shift lead / post "
             f"stages / ALU stages (`sbpca generate unit --shift-lead --post-stages "
             f"--alu-stages`). Cycle model only (`hdl/kxk_schedule.py` on "
             f"`golden/unit_program.py`'s program); a negative margin misses the utilization "
             f"target.\n")
    if budget["not_applicable"]:
        notes += ("Not applicable to this unit (more general lanes than lanes): "
                  + "; ".join(budget["not_applicable"]) + ".\n")
    return "\n".join(lines) + "\n" + notes


def write_budget(budget: dict, out_dir) -> tuple:
    """Write ``stages.json`` and ``stages.md`` into ``out_dir``; return their paths."""
    from .performance import write_json_and_table
    return write_json_and_table(budget, budget_markdown(budget), out_dir, "stages")
