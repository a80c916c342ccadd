"""Verilog generation: a Component to a Verilog file plus a JSON file of what was generated.

The Verilog is Amaranth's (``amaranth.back.verilog``) with one change, made by
:func:`explicit_time0_trigger`: the time-0 trigger of its ``always @*`` blocks is set in an
``initial`` statement instead of a declaration initializer, so the file behaves the same under
Verilog-2005 and SystemVerilog semantics (e.g. Icarus ``-g2005`` and ``-g2012``, cocotb's
default). Synthesis reads an equivalent netlist (``tests/test_generate.py`` checks it with
Yosys).
"""

import json
import re
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from .designs import get_design

__all__ = ["to_verilog", "explicit_time0_trigger", "TRIGGER_DECLARATION", "port_list",
           "write_design", "generate"]

#: How Amaranth's Verilog backend (Yosys ``write_verilog``, non-SV mode) declares the trigger of
#: a module's ``always @*`` blocks: ``reg \$auto$verilog_backend.cc:2355:dump_module$1  = 0;``.
TRIGGER_DECLARATION = re.compile(
    r"^(?P<indent>[ \t]*)reg (?P<name>\\\$auto\$verilog_backend\S*) +(?P<init>= *0) *;$", re.M)


def explicit_time0_trigger(text: str) -> str:
    """Fire the trigger of Amaranth's ``always @*`` blocks at time 0 under every semantics.

    Yosys' Verilog writer, which Amaranth uses, starts every ``always @*`` block of a module
    with ``if (T) begin end`` on a register declared ``reg T = 0;``. An ``always @*`` block first
    runs when something it reads changes; under Verilog-2005 the declaration initializer is such
    a change (it reads ``reg T = 0;`` as ``reg T; initial T = 0;``), so every block runs once at
    time 0. Under SystemVerilog semantics (IEEE 1800-2017 6.8: a declaration initializer is set
    before any process starts) it is no event, and a block whose inputs keep their initial
    values stays ``X`` until one of them changes. In Amaranth's Verilog that is every block that
    reads only registers and constants (a register holds its initial value through reset: its
    reset value is its initial value): constant tables indexed by a counter at 0, state
    decodes, ready flags.

    This rewrites each such declaration into::

        reg T ;
        /* verilator lint_off INITIALDLY */
        initial T <= 1'h0;
        /* verilator lint_on INITIALDLY */

    ``T`` starts at ``X`` and becomes 0 in the nonblocking-assignment region of time 0, after
    every process has started and waits at its ``@*``, so under either semantics every
    ``always @*`` block runs once at time 0, whatever order the simulator starts processes in.
    (Verilator, which evaluates all logic at time 0 anyway, warns about a nonblocking assignment
    in ``initial`` under ``-Wall``; the comments waive it where it is.) Nothing else changes; a
    text without the trigger is returned as is. For synthesis ``T`` is read by nothing (the
    ``if`` is empty), so the netlist is the same (``tests/test_generate.py`` checks it with
    Yosys' ``equiv_*`` passes).
    """
    def rewrite(match):
        indent, name = match["indent"], match["name"]
        return (f"{indent}reg {name} ;\n"
                f"{indent}/* verilator lint_off INITIALDLY */\n"
                f"{indent}initial {name}  <= 1'h0;\n"
                f"{indent}/* verilator lint_on INITIALDLY */")
    return TRIGGER_DECLARATION.sub(rewrite, text)


def to_verilog(component: wiring.Component, name: str) -> str:
    """Return the Verilog text of ``component`` as module ``name`` (ports ``clk``, ``rst``), with
    the ``always @*`` trigger made explicit (:func:`explicit_time0_trigger`)."""
    return explicit_time0_trigger(verilog.convert(component, name=name, emit_src=False))


def port_list(component: wiring.Component) -> list:
    """Flattened ports as ``{"name", "dir", "width"}`` dicts, in signature order."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        ports.append({"name": "__".join(str(p) for p in path),
                      "dir": "in" if member.flow == wiring.In else "out",
                      "width": Value.cast(value).shape().width})
    return ports


def write_design(component: wiring.Component, name: str, parameters: dict, out_dir, *,
                 writers=()) -> dict:
    """Write ``<name>.v`` and ``<name>.json`` for a built Component into ``out_dir``.

    Each of ``writers`` is called as ``writer(doc, out_dir)`` after the Verilog is written and
    returns ``{key: path}`` of the files it wrote (e.g. ``synth.fusesoc.write_core``: the
    FuseSoC core); those keys join the document before the JSON is written.

    Returns the JSON document: design name, top module, full parameters, derived facts the
    Component exposes (latency), flattened ports, and the file paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path = out_dir / f"{name}.v"
    j_path = out_dir / f"{name}.json"
    v_path.write_text(to_verilog(component, name))
    doc = {
        "design": name,
        "top": name,
        "parameters": parameters,
        "derived": {"latency": getattr(component, "latency", None)},
        "ports": port_list(component),
        "verilog": str(v_path),
        "json": str(j_path),
    }
    for writer in writers:
        doc.update(writer(doc, out_dir))
    j_path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def generate(design: str, out_dir, **params) -> dict:
    """Build the registered ``design`` with ``params`` and write it with :func:`write_design`."""
    component, full = get_design(design).build(**params)
    return write_design(component, design, full, out_dir)
