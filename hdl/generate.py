"""Verilog generation: a Component to a Verilog file plus a JSON file of what was generated."""

import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from .designs import get_design

__all__ = ["to_verilog", "port_list", "write_design", "generate"]


def to_verilog(component: wiring.Component, name: str) -> str:
    """Return the Verilog text of ``component`` as module ``name`` (ports ``clk``, ``rst``)."""
    return verilog.convert(component, name=name, emit_src=False)


def port_list(component: wiring.Component) -> list:
    """Flattened ports as ``{"name", "dir", "width"}`` dicts, in signature order."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        ports.append({"name": "__".join(str(p) for p in path),
                      "dir": "in" if member.flow == wiring.In else "out",
                      "width": Value.cast(value).shape().width})
    return ports


def write_design(component: wiring.Component, name: str, parameters: dict, out_dir) -> dict:
    """Write ``<name>.v`` and ``<name>.json`` for a built Component into ``out_dir``.

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
    j_path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def generate(design: str, out_dir, **params) -> dict:
    """Build the registered ``design`` with ``params`` and write it with :func:`write_design`."""
    component, full = get_design(design).build(**params)
    return write_design(component, design, full, out_dir)
