"""Tables and plots of a synthesis sweep's records (:mod:`synth.sweep`): sweep.md and PNGs.

``sweep.md`` has one table per target (every point: layer, rank, lanes, width, resources, Fmax,
fits/placed, status), a section "iCE40 UP5K: which MNIST-layer configurations fit, at what
Fmax" (the points nextpnr placed on the UP5K, best Fmax first, per layer), and the skipped
points with their reasons. "fits" compares Yosys' counts with the device's capacity; "placed"
is nextpnr's verdict (on the iCE40 a design of fewer LUT4s than logic cells may still not
place: carries and flip-flops that do not pack with a LUT take logic cells of their own).

``sweep-k.png``, ``sweep-lanes.png``, ``sweep-width.png``: logic, DSP, block RAM and Fmax
against each swept parameter, one colour per target and one marker per layer; every
synthesized point is drawn (the other parameters vary among the points at one x), and a line
joins the medians of each target and layer.
"""

from __future__ import annotations

from math import prod
from pathlib import Path

__all__ = ["UP5K", "PLOT_PARAMS", "PLOT_METRICS", "sweep_markdown", "sweep_plots",
           "write_report"]

UP5K = "ice40-up5k"
#: Swept parameter -> axis label.
PLOT_PARAMS = {"k": "rank k", "lanes": "MAC lanes", "width": "word width (bits)"}
#: Plotted quantity -> axis label.
PLOT_METRICS = {"logic": "logic (LUTs)", "dsp": "DSP blocks", "bram": "block RAM",
                "fmax_mhz": "Fmax (MHz)"}
COLUMNS = ("logic", "carry", "ff", "dsp", "bram", "spram", "lutram", "srl", "mux")


def _order(rec):
    p = rec["parameters"]
    return (-p["n_in"] * p["n_out"], p["k"], p["lanes"], p["width"])


def _yes(value) -> str:
    return {True: "yes", False: "**no**", None: "-"}[value]


def _cell(rec, col):
    if rec["resources"] is None:
        return "-"
    used, cap = rec["resources"].get(col, 0), rec["capacity"].get(col)
    return f"{used} ({100 * used / cap:.0f}%)" if cap else str(used)


def _status(rec) -> str:
    s = rec["status"] if rec["status"] != "ok" else (rec["pnr_status"] or "ok")
    return s if len(s) <= 80 else s[:77] + "..."


def _target_table(records) -> str:
    cols = [c for c in COLUMNS
            if any(r["resources"] and c in r["resources"] for r in records)]
    head = ["layer", "k", "lanes", "width"] + cols + ["Fmax MHz", "fits", "placed", "status",
                                                       "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rec in sorted(records, key=_order):
        p = rec["parameters"]
        row = [rec["layer"], p["k"], p["lanes"], p["width"]]
        row += [_cell(rec, c) for c in cols]
        row += [f"{rec['fmax_mhz']:.1f}" if rec["fmax_mhz"] is not None else "-",
                _yes(rec["fits"]), _yes(rec["placed"]), _status(rec).replace("|", "/"),
                f"{rec['seconds_total']:.0f}" if rec.get("seconds_total") is not None else "-"]
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    return "\n".join(lines) + "\n"


def _up5k_section(records) -> str:
    text = "\n## iCE40 UP5K: which MNIST-layer configurations fit, at what Fmax\n\n"
    ice = [r for r in records if r["target"] == UP5K]
    if not ice:
        return text + "No point of this sweep targets the iCE40 UP5K.\n"
    for layer in sorted({r["layer"] for r in ice}, key=lambda s: -prod(map(int, s.split("x")))):
        pts = [r for r in ice if r["layer"] == layer and r["status"] == "ok"]
        placed = sorted((r for r in pts if r["placed"]), key=lambda r: -(r["fmax_mhz"] or 0))
        text += f"**{layer}**: "
        if placed:
            text += f"{len(placed)} of {len(pts)} synthesized configurations placed:\n\n"
            for r in placed:
                p, res = r["parameters"], r["resources"]
                fmax = f"{r['fmax_mhz']:.1f} MHz" if r["fmax_mhz"] is not None else "no Fmax"
                if r["timing_met"] is not None:
                    fmax += (f" ({'meets' if r['timing_met'] else 'misses'} "
                             f"{r['freq_constraint_mhz']:g} MHz)")
                lc = (r["pnr_utilization"] or {}).get("ICESTORM_LC")
                lcs = f"{lc['used']}/{lc['available']} logic cells, " if lc else ""
                text += (f"- k={p['k']} lanes={p['lanes']} width={p['width']}: {fmax}; {lcs}"
                         f"{res.get('logic', 0)} LUT4, {res.get('ff', 0)} FF, "
                         f"{res.get('dsp', 0)} SB_MAC16, {res.get('bram', 0)} RAM4K, "
                         f"{res.get('spram', 0)} SPRAM\n")
        else:
            fit = sum(1 for r in pts if r["fits"])
            tried = sum(1 for r in pts if r["placed"] is not None)
            text += (f"none placed ({len(pts)} synthesized, {fit} within the capacity by "
                     f"Yosys' counts, {tried} tried in nextpnr).\n")
        text += "\n"
    return text


def sweep_markdown(records) -> str:
    """``sweep.md``'s text for the sweep's records (module docstring)."""
    records = list(records)
    ok = sum(1 for r in records if r["status"] == "ok")
    skipped = [r for r in records if r["status"].startswith("skipped")]
    failed = sum(1 for r in records if r["status"].startswith("failed"))
    tools = next((r["tools"] for r in records if r.get("tools")), {})
    text = "# Synthesis sweep of the unit\n\n"
    text += (f"{len(records)} points: {ok} synthesized, {failed} failed, {len(skipped)} "
             f"skipped. Tools: {', '.join(f'{k} {v}' for k, v in tools.items())}. Resources "
             f"include the serial synthesis shell; words = lanes, scalar_width = "
             f"min(max(width + 2, 11), 30). *fits*: Yosys' counts within the device's capacity; "
             f"*placed*: nextpnr placed and routed it (on the iCE40 carries and flip-flops "
             f"that do not pack with a LUT take logic cells of their own, so a design that "
             f"fits by LUT4 count may not place); place and route runs only where the counts "
             f"fit. Machine-readable: sweep.json; logs in points/.\n")
    from .targets import TARGETS

    for target in [t for t in TARGETS if any(r["target"] == t for r in records)]:
        recs = [r for r in records if r["target"] == target and not
                r["status"].startswith("skipped")]
        text += f"\n## {target}: {TARGETS[target].device}\n\n"
        text += _target_table(recs) if recs else "No synthesized point.\n"
    text += _up5k_section(records)
    if skipped:
        text += "\n## Skipped points\n\n"
        for r in sorted(skipped, key=_order):
            p = r["parameters"]
            text += (f"- {r['layer']} k={p['k']} lanes={p['lanes']} width={p['width']} "
                     f"(scalar_width={p['scalar_width']}) on {r['target']}: "
                     f"{r['status'][len('skipped: '):]}\n")
    return text


def sweep_plots(records, out_dir) -> list:
    """Write the PNG plots (module docstring) into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from statistics import median

    ok = [r for r in records if r["status"] == "ok"]
    targets = sorted({r["target"] for r in ok})
    layers = sorted({r["layer"] for r in ok})
    colours = {t: f"C{i}" for i, t in enumerate(targets)}
    markers = {layer: "osD^v"[i % 5] for i, layer in enumerate(layers)}
    paths = []
    for param, xlabel in PLOT_PARAMS.items():
        fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
        for ax, (metric, ylabel) in zip(axes.flat, PLOT_METRICS.items()):
            for t in targets:
                for layer in layers:
                    pts = [(r["parameters"][param],
                            r["fmax_mhz"] if metric == "fmax_mhz"
                            else r["resources"].get(metric, 0))
                           for r in ok if r["target"] == t and r["layer"] == layer]
                    pts = [(x, y) for x, y in pts if y is not None]
                    if not pts:
                        continue
                    ax.scatter([x for x, _ in pts], [y for _, y in pts], color=colours[t],
                               marker=markers[layer], alpha=0.5, s=18)
                    xs = sorted({x for x, _ in pts})
                    ax.plot(xs, [median(y for x2, y in pts if x2 == x) for x in xs],
                            color=colours[t], marker=markers[layer],
                            label=f"{t} {layer}")
            xs = sorted({r["parameters"][param] for r in ok})
            if xs:
                ax.set_xticks(xs)
            if not ax.get_legend_handles_labels()[0]:
                ax.text(0.5, 0.5, "no data" + (" (no place and route)" if metric == "fmax_mhz"
                                               else ""), ha="center", va="center",
                        transform=ax.transAxes, color="grey")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(f"unit synthesis against {xlabel} (points: all; lines: medians)")
        fig.tight_layout()
        path = Path(out_dir) / f"sweep-{param}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(records, out_dir) -> None:
    """Write ``sweep.md`` and the plots for ``records`` into ``out_dir``."""
    out = Path(out_dir)
    (out / "sweep.md").write_text(sweep_markdown(records))
    sweep_plots(records, out)
