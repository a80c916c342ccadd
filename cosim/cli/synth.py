"""``sbpca synth [DESIGN ...] --target T [--freq MHz] [--seed N] [--breakdown] [--ooc] [-o DIR]``: FPGA
synthesis; ``sbpca synth unit --sweep [--layers ...] [--ranks ...] [--lanes-list ...]
[--widths ...] [--targets ...] [--force] [--no-pnr] [-o DIR]``: a sweep of the unit.

Runs :func:`synth.flow.run_synth` (Yosys, and nextpnr for iCE40/ECP5) and prints the Markdown
report; ``--breakdown`` adds the resources of each submodule (:mod:`synth.breakdown`),
``--ooc`` those of the design alone, out of context (no serial shell);
``DESIGN`` defaults to ``mac_lane``, ``DIR`` to ``build/synth/DESIGN-TARGET``. ``--sweep`` runs
:func:`synth.sweep.run_sweep` over the grid into ``DIR`` (default ``results/synth-sweep``):
sweep.json, sweep.md, PNG plots, one folder per point; it resumes (points already in
sweep.json are reused unless ``--force``). Exit code 0; 1 when the flow fails (the message names
the log; in a sweep a failed point is recorded and the sweep goes on); a missing target, a bad
frequency or a bad grid value is a one-line usage error (exit 2). A missed timing constraint is
reported, not an error.
"""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, add_design_subparsers, build_design, design_params, option_default

__all__ = ["HELP", "DEFAULT_DESIGN", "DEFAULT_SWEEP_DIR", "add_arguments", "run"]

HELP = "synthesize a design for an FPGA: resources and Fmax (report.json, report.md)"

#: The design synthesized when none is named.
DEFAULT_DESIGN = "mac_lane"
#: Where ``--sweep`` writes when no ``-o`` is given.
DEFAULT_SWEEP_DIR = Path("results") / "synth-sweep"

#: The unit's parameters the sweep sets itself.
SWEPT = ("n_in", "n_out", "k", "lanes", "words", "width", "scalar_width")


def _common(p, suppress):
    from synth.targets import TARGETS

    default = option_default(suppress)
    p.add_argument("--target", choices=list(TARGETS), default=default(None),
                   help="FPGA target (required, except with --sweep)")
    p.add_argument("--freq", type=float, default=default(None),
                   help="clock constraint in MHz (default: the target's)")
    p.add_argument("--seed", type=int, default=default(1), help="nextpnr placement seed")
    p.add_argument("-o", "--out", default=default(None),
                   help="output folder (default: build/synth/DESIGN-TARGET; with --sweep "
                        f"{DEFAULT_SWEEP_DIR})")
    p.add_argument("--no-route", action="store_true", default=default(False),
                   help="stop nextpnr after placement: its Fmax estimate, not routed (the "
                        "default unit's routing does not converge on an ECP5-25F here)")
    p.add_argument("--breakdown", action="store_true", default=default(False),
                   help="also count each submodule (one hierarchical Yosys run): `modules` in "
                        "report.json, a table in report.md")
    p.add_argument("--ooc", action="store_true", default=default(False),
                   help="also count the design alone, out of context (its ports as ports, no "
                        "serial shell; one more Yosys run, not placed): `ooc` in report.json")
    g = p.add_argument_group("sweep (sbpca synth unit --sweep)")
    g.add_argument("--sweep", action="store_true", default=default(False),
                   help="synthesize the unit over a grid: sweep.json, sweep.md, PNG plots")
    g.add_argument("--layers", default=default(None),
                   help="layers N_INxN_OUT, comma-separated (default: 784x100,100x10)")
    g.add_argument("--ranks", default=default(None), help="ranks k (default: 1,2,4)")
    g.add_argument("--lanes-list", default=default(None),
                   help="MAC lanes, words = lanes (default: 1,2,4,8)")
    g.add_argument("--widths", default=default(None),
                   help="word widths 4..30, scalar_width = min(max(width + 2, 11), 30) "
                        "(default: 8,12,16)")
    g.add_argument("--targets", default=default(None),
                   help=f"targets (default: {','.join(TARGETS)}; --target T means T only)")
    g.add_argument("--force", action="store_true", default=default(False),
                   help="re-run points already in sweep.json")
    g.add_argument("--no-pnr", action="store_true", default=default(False),
                   help="counts only: no place and route (default: P&R where the counts fit)")


def add_arguments(parser) -> None:
    """Add the synthesis options and the (optional) design sub-parsers."""
    add_design_subparsers(parser, required=False, common=_common)


def _grid(args) -> dict:
    """The sweep grid from the options; a bad value is a one-line :class:`UsageError`."""
    from synth import sweep as sw

    def opt(text, default, parse):
        if text is None:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    targets = sw.DEFAULT_TARGETS if args.target is None else (args.target,)
    return dict(
        layers=opt(args.layers, sw.DEFAULT_LAYERS, lambda t: sw.parse_layers("--layers", t)),
        ranks=opt(args.ranks, sw.DEFAULT_RANKS, lambda t: sw.parse_ints("--ranks", t)),
        lanes=opt(args.lanes_list, sw.DEFAULT_LANES,
                  lambda t: sw.parse_ints("--lanes-list", t)),
        widths=opt(args.widths, sw.DEFAULT_WIDTHS,
                   lambda t: sw.parse_ints("--widths", t, *sw.WIDTH_RANGE)),
        targets=opt(args.targets, targets, lambda t: sw.parse_targets("--targets", t)),
    )


def _run_sweep(args) -> int:
    from synth.sweep import run_sweep, sweep_points

    if (args.design or DEFAULT_DESIGN) != "unit":
        raise UsageError(f"--sweep: sweeps the unit only (design={args.design or DEFAULT_DESIGN!r}"
                         f"); run `sbpca synth unit --sweep`")
    if args.breakdown:
        raise UsageError("--breakdown: not with --sweep")
    if args.ooc:
        raise UsageError("--ooc: not with --sweep")
    grid = _grid(args)
    base = {k: v for k, v in design_params(args).items() if k not in SWEPT}
    points = sweep_points(grid["layers"], grid["ranks"], grid["lanes"], grid["widths"],
                          grid["targets"], base)
    out = Path(args.out) if args.out else DEFAULT_SWEEP_DIR
    print(f"[sweep] {len(points)} points into {out}")
    records = run_sweep(points, out, freq_mhz=args.freq, seed=args.seed,
                        pnr="never" if args.no_pnr else "if_fits", force=args.force)
    failed = sum(1 for r in records if r["status"].startswith("failed"))
    print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'} and the sweep-*.png plots"
          + (f"; {failed} points failed (see sweep.md)" if failed else ""))
    return 0


def run(args) -> int:
    """Synthesize and print the report (or run the sweep); return 1 if the flow failed,
    else 0."""
    from synth.flow import SynthError, run_synth

    if args.freq is not None and not args.freq > 0:
        raise UsageError(f"freq={args.freq}: must be a positive frequency in MHz")
    if args.sweep:
        return _run_sweep(args)
    sweep_only = [o for o, v in (("--layers", args.layers), ("--ranks", args.ranks),
                                 ("--lanes-list", args.lanes_list), ("--widths", args.widths),
                                 ("--targets", args.targets), ("--force", args.force),
                                 ("--no-pnr", args.no_pnr)) if v not in (None, False)]
    if sweep_only:
        raise UsageError(f"{sweep_only[0]}: only with --sweep")
    if args.target is None:
        raise UsageError("--target: required; choose one of ice40-up5k, ecp5-25k, xilinx7")
    design = args.design or DEFAULT_DESIGN
    component, params = build_design(design, design_params(args))
    out = Path(args.out or Path("build") / "synth" / f"{design}-{args.target}")
    try:
        run_synth(design, params, args.target, out, freq_mhz=args.freq, seed=args.seed,
                  component=component, breakdown=args.breakdown, route=not args.no_route,
                  ooc=args.ooc)
    except SynthError as exc:
        print(f"sbpca synth: {exc}")
        return 1
    print((out / "report.md").read_text(), end="")
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0
