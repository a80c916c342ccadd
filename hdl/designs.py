"""Registry of the designs ``sbpca generate`` and ``sbpca synth`` can build, with their parameters.

Each :class:`Design` names its parameters once (name, type, default, help); the command line
builds its options from them, and :meth:`Design.build` turns a parameter dict into a Component.
Validation lives in the Components' constructors; their ``TypeError``/``ValueError`` messages name
the parameter and the value (:mod:`golden.check`, as :meth:`Param.check`'s).
"""

from dataclasses import dataclass, field
from typing import Callable

from golden.check import check_choice, check_int
from golden.fixed import OVERFLOW_MODES, FixedFormat
from golden.sbpca_unit import DEFAULT_NS_STEPS, SCHEDULES
from .crossbar_driver import CrossbarDriver
from .mac_lane import MACLane
from .row_pass import RowPass
from .sbpca_unit import SBPCAUnit
from .unused import unused

__all__ = ["Param", "Design", "DESIGNS", "get_design", "row_counts", "unused", "driver_model"]


@dataclass(frozen=True)
class Param:
    """One generation-time parameter of a design."""

    name: str
    type: type
    default: object
    help: str
    choices: tuple = ()
    minimum: int | None = None

    def check(self, value):
        """Validate one value; raise ``TypeError``/``ValueError`` naming the parameter."""
        if self.type is int:
            check_int(self.name, value, minimum=self.minimum)
        if self.choices:
            check_choice(self.name, value, self.choices)


@dataclass(frozen=True)
class Design:
    """A buildable design: its top-level module name, parameters and builder."""

    name: str
    help: str
    params: tuple
    builder: Callable = field(repr=False)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def build(self, **params):
        """Build the Component from parameters; unknown names raise ``TypeError``."""
        known = self.defaults()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise TypeError(f"{unknown[0]}: not a parameter of design {self.name!r}")
        known.update(params)
        for param in self.params:
            param.check(known[param.name])
        return self.builder(**known), known


def _build_mac_lane(*, a_width, b_width, acc_width, a_frac, b_frac, overflow):
    return MACLane(FixedFormat(a_width, a_frac),
                   FixedFormat(b_width, b_frac),
                   FixedFormat(acc_width, a_frac + b_frac, overflow=overflow))


def row_counts(text) -> tuple:
    """Parse ``--banks``: comma-separated row counts (``"784,100"`` -> ``(784, 100)``).

    Raises ``ValueError`` on anything but integers (the command line reports it in one line);
    the counts themselves are validated by ``RowPass``.
    """
    if not isinstance(text, str):
        return tuple(text)
    return tuple(int(part) for part in text.split(","))


def _build_row_pass(*, banks, k, lanes, words, vec_width, coef_width, shift, gw, a_bits):
    if isinstance(banks, str):
        banks = row_counts(banks)
    return RowPass(banks=banks, k=k, lanes=lanes, words=words, vec_width=vec_width,
                   coef_width=coef_width, shift=shift, gw=gw, a_bits=a_bits)


def driver_model(*, n_in, n_out, group, bl, p_bits, gain_bits, step_bits, lr_bits,
                 fire_cycles, scheme, lfsr_seed, dw_min, lr):
    """The golden :class:`CrossbarDriverModel` of the ``crossbar_driver`` parameters (the
    generation-time constants, float ``dw_min`` and ``lr`` included, are computed there)."""
    from golden.driver import CrossbarDriverModel

    return CrossbarDriverModel(n_in, n_out, dw_min=dw_min, lr=lr, bl=bl, p_bits=p_bits,
                               gain_bits=gain_bits, step_bits=step_bits, lr_bits=lr_bits,
                               group=group, fire_cycles=fire_cycles, scheme=scheme,
                               seed=lfsr_seed)


def _build_crossbar_driver(**params):
    return CrossbarDriver.for_model(driver_model(**params))


def _build_network(*, sizes, k, lanes, b_max, bl, scheme, dw_min, lr, lfsr_seed):
    from .network_top import NetworkTop, network_layers

    return NetworkTop(network_layers(sizes, k=k, lanes=lanes, b_max=b_max, dw_min=dw_min,
                                     lr=lr, bl=bl, scheme=scheme, seed=lfsr_seed))


def _build_kxk_engine(**params):
    """The unit's k x k engine alone (its ports as the unit wires them inside), for synthesis:
    the unit of ``params`` is built for it and not elaborated."""
    unit = SBPCAUnit(**params)
    engine = unit.kxk_engine
    unused(unit)
    return engine


DESIGNS = {
    "mac_lane": Design(
        name="mac_lane",
        help="pipelined signed multiply-accumulate lane (the unit's building block)",
        params=(
            Param("a_width", int, 16, "operand a width in bits", minimum=1),
            Param("b_width", int, 16, "operand b width in bits", minimum=1),
            Param("acc_width", int, 32, "accumulator width in bits (>= a_width + b_width)",
                  minimum=1),
            Param("a_frac", int, 0, "fraction bits of operand a", minimum=0),
            Param("b_frac", int, 0, "fraction bits of operand b", minimum=0),
            Param("overflow", str, "wrap", "accumulator overflow mode", OVERFLOW_MODES),
        ),
        builder=_build_mac_lane,
    ),
    "row_pass": Design(
        name="row_pass",
        help="the streaming-PCA unit's row-pass engine (L lanes over stored n_b x k matrices)",
        params=(
            Param("banks", row_counts, (784, 100),
                  "rows of each stored matrix, comma-separated (1 to 4 banks, e.g. 784,100)"),
            Param("k", int, 4, "columns (rank), 1..16", minimum=1),
            Param("lanes", int, 8, "MAC lanes", minimum=1),
            Param("words", int, 1, "input words per inp_w beat (divides lanes)", minimum=1),
            Param("vec_width", int, 16, "stored and input word width", minimum=2),
            Param("coef_width", int, 18, "coefficient and lane operand width", minimum=2),
            Param("shift", int, 14, "rounding shift from accumulator to stored word", minimum=1),
            Param("gw", int, 2, "left shift of input words", minimum=0),
            Param("a_bits", int, 5, "bits of each column exponent", minimum=1),
        ),
        builder=_build_row_pass,
    ),
    "crossbar_driver": Design(
        name="crossbar_driver",
        help="the crossbar driver: per-term pulse trains on the array's lines (golden.driver)",
        params=(
            Param("n_in", int, 16, "column lines (x side)", minimum=1),
            Param("n_out", int, 8, "row lines (delta side)", minimum=1),
            Param("group", int, 4, "latch lanes G (lines loaded per cycle, one LFSR each)",
                  minimum=1),
            Param("bl", int, 31, "slots per term (pulse train length), 1..1023", minimum=1),
            Param("p_bits", int, 16, "probability word and draw width, 2..16", minimum=2),
            Param("gain_bits", int, 16, "gain mantissa width, 4..24", minimum=4),
            Param("step_bits", int, 16, "step constant width, 4..24", minimum=4),
            Param("lr_bits", int, 4, "learning-rate multiplier width, 1..8", minimum=1),
            Param("fire_cycles", int, 1, "fire strobe cycles per slot", minimum=1),
            Param("scheme", str, "stochastic", "pulse scheme", ("stochastic", "deterministic")),
            Param("lfsr_seed", int, 0, "seed of the lanes' LFSR start states", minimum=0),
            Param("dw_min", float, 0.001, "device step (folded into the step constant)"),
            Param("lr", float, 0.0625, "learning rate, lr_mult * 2**-lr_shift"),
        ),
        builder=_build_crossbar_driver,
    ),
    "network": Design(
        name="network",
        help="the MLP's update hardware: one unit + FACTOR stage + crossbar driver per layer",
        params=(
            Param("sizes", row_counts, (64, 32, 10),
                  "layer widths, input first, comma-separated (e.g. 784,100,10)"),
            Param("k", int, 4, "rank of every layer's unit", minimum=1),
            Param("lanes", int, 8, "MAC lanes per unit (at most the layer's smaller side)",
                  minimum=1),
            Param("b_max", int, 64, "largest batch", minimum=1),
            Param("bl", int, 31, "slots per term (pulse train length), 1..1023", minimum=1),
            Param("scheme", str, "stochastic", "pulse scheme", ("stochastic", "deterministic")),
            Param("dw_min", float, 0.001, "device step (folded into the step constants)"),
            Param("lr", float, 0.125, "learning rate (its multiplier is built in; the shift is "
                  "each driver's run-time lr_shift port)"),
            Param("lfsr_seed", int, 0, "root seed of the drivers' LFSRs (as sbpca train --seed)",
                  minimum=0),
        ),
        builder=_build_network,
    ),
    "unit": Design(
        name="unit",
        help="the streaming-PCA unit: row-pass and k x k engines on L MAC lanes",
        params=(
            Param("n_in", int, 784, "layer inputs (rows of X)", minimum=1),
            Param("n_out", int, 100, "layer outputs (rows of Delta)", minimum=1),
            Param("k", int, 4, "rank, 1..min(16, n_in, n_out)", minimum=1),
            Param("lanes", int, 8, "MAC lanes (multipliers), at most min(n_in, n_out)",
                  minimum=1),
            Param("words", int, 8, "input words per samples beat (divides lanes)", minimum=1),
            Param("width", int, 16, "input and stored word width (4..30)", minimum=1),
            Param("scalar_width", int, 18, "k x k word width (max(width, 11)..30)", minimum=1),
            Param("schedule", str, "harmonic",
                  "averaging schedule: harmonic (c_i = i/(i+1), SBPCA) or shift "
                  "(c = 1 - 2**-shift_s, SBPCAV)", SCHEDULES),
            Param("shift_s", int, 3, "s of the shift schedule (1..16)", minimum=1),
            Param("ns_steps", int, DEFAULT_NS_STEPS,
                  "Newton-Schulz steps per normalization (1..32)", minimum=1),
            Param("recip_steps", int, 2, "Newton-Raphson steps for 1/||.||^2 (1..8)",
                  minimum=1),
            Param("b_max", int, 64, "largest batch (the schedule ROM's depth)", minimum=1),
            Param("shift_lead", int, 1, "k x k engine: variable shifts computed a cycle ahead "
                  "(0..1; +1 cycle a sample)", minimum=0),
            Param("post_stages", int, 1, "k x k engine: registers between a result's shift "
                  "and its clamp (0..1; +42 cycles a sample on the default unit)", minimum=0),
            Param("alu_stages", int, 2, "k x k engine: ALU pipeline registers (0..2; "
                  "+5 / +12 cycles a sample on the default unit)", minimum=0),
            Param("operand_banks", int, 2, "k x k engine: lane operands read the registers "
                  "the program writes from block RAM (2), LUT RAM (1) or register "
                  "multiplexers (0); same cycles", minimum=0),
            Param("alus", int, 1, "k x k engine: ALUs, operations without a multiply a cycle "
                  "(1..16)", minimum=1),
            Param("general", int, 1, "k x k engine: lanes with a variable-shift post-operation "
                  "unit (1..4)", minimum=1),
            Param("rom_stage", int, 1, "k x k engine: a register after its ROM (0..1; +1 cycle "
                  "a segment, +4 a sample)", minimum=0),
        ),
        builder=SBPCAUnit,
    ),
}
# the k x k engine alone takes the unit's parameters (its formats, program and schedule come
# from them): its own timing and area in `sbpca synth kxk_engine`, routable on its own
DESIGNS["kxk_engine"] = Design(
    name="kxk_engine",
    help="the streaming-PCA unit's k x k engine alone (the unit's parameters)",
    params=DESIGNS["unit"].params,
    builder=_build_kxk_engine,
)


def get_design(name: str) -> Design:
    """Return the registered design ``name`` or raise ``ValueError`` naming it."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"design={name!r}: unknown; choose one of {', '.join(DESIGNS)}") from None
