"""FuseSoC packaging of a generated design: a CAPI2 ``.core`` file next to its Verilog.

``sbpca generate DESIGN -o DIR`` writes ``DIR/DESIGN.core`` (:func:`write_core`) beside
``DIR/DESIGN.v`` and copies the lint waiver file there as ``DIR/lint_waivers.vlt``, so the folder
is a self-contained core (FuseSoC resolves ``files:`` relative to the core file)::

    name: sbpca-hw:sbpca:DESIGN:VERSION      VERSION: the sbpca-hw package's
    filesets  rtl      DESIGN.v              verilogSource
              waivers  lint_waivers.vlt      vlt (Verilator configuration)
    targets   default  rtl                   toplevel DESIGN
              lint     rtl + waivers         verilator, lint-only, -Wall
              sim      rtl                   icarus (-g2012, what cocotb passes)

The targets repeat their filesets and toplevel: CAPI2 targets do not inherit from each other.
The Verilog has no Verilog parameters (everything is fixed at generation time); the generation
parameters are in the core's ``description`` and in ``DIR/DESIGN.json``.

:func:`read_core` loads a core with the ``fusesoc`` package's own parser (imported inside the
function) and returns what the tests and users check: VLNV, toplevels, files per target. This
module imports neither Amaranth nor FuseSoC at module level.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .lint import WAIVERS

__all__ = ["PREAMBLE", "VENDOR", "LIBRARY", "TARGETS", "package_version", "vlnv", "core_text", "write_core",
           "CoreFacts", "read_core"]

#: The first line of a CAPI2 core file.
PREAMBLE = "CAPI=2:"

VENDOR = "sbpca-hw"
LIBRARY = "sbpca"

#: Target -> (filesets, default tool or None): what :func:`core_text` writes.
TARGETS = {
    "default": (("rtl",), None),
    "lint": (("rtl", "waivers"), "verilator"),
    "sim": (("rtl",), "icarus"),
}


def package_version() -> str:
    """The installed ``sbpca-hw`` version, else the one in the checkout's ``pyproject.toml``."""
    try:
        return metadata.version("sbpca-hw")
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def vlnv(design: str, version: str | None = None) -> str:
    """``sbpca-hw:sbpca:DESIGN:VERSION`` (``version`` defaults to :func:`package_version`)."""
    if not design or any(c in design for c in ": \t\n"):
        raise ValueError(f"design={design!r}: must be a non-empty name without ':' or blanks")
    return f"{VENDOR}:{LIBRARY}:{design}:{version or package_version()}"


def _q(text: str) -> str:
    """``text`` as a YAML scalar: a JSON string is a valid YAML double-quoted scalar."""
    return json.dumps(str(text))


def _plain(value) -> str:
    """A parameter value as the command line takes it (``(784, 100)`` -> ``784,100``)."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def core_text(design: str, top: str, verilog: str, *, waivers: str = WAIVERS.name,
              parameters: dict | None = None, version: str | None = None) -> str:
    """The CAPI2 text of a generated design (see the module docstring).

    ``verilog`` and ``waivers`` are file names relative to the core file; ``top`` is the Verilog
    top module; ``parameters`` (the generation parameters) go into the description.
    """
    params = ", ".join(f"{k}={_plain(v)}" for k, v in sorted((parameters or {}).items()))
    lines = [
        PREAMBLE,
        f"# Written by `sbpca generate {design}`; regenerate rather than edit.",
        f"name: {_q(vlnv(design, version))}",
        f"description: {_q(f'sbpca-hw design {design} ({params})' if params else design)}",
        "",
        "filesets:",
        "  rtl:",
        "    files:",
        f"      - {_q(verilog)}",
        "    file_type: verilogSource",
        "  waivers:",
        "    files:",
        f"      - {_q(waivers)}",
        "    file_type: vlt",
        "",
        "targets:",
    ]
    for target, (filesets, tool) in TARGETS.items():
        lines += [f"  {target}:"]
        if tool:
            lines += [f"    default_tool: {tool}"]
        lines += [f"    filesets: [{', '.join(filesets)}]",
                  f"    toplevel: {_q(top)}"]
        if tool == "verilator":
            lines += ["    tools:", "      verilator:", "        mode: lint-only",
                      "        verilator_options: [-Wall]"]
        elif tool == "icarus":
            lines += ["    tools:", "      icarus:", "        iverilog_options: [-g2012]"]
    return "\n".join(lines) + "\n"


def write_core(doc: dict, out_dir) -> dict:
    """Write ``<design>.core`` for the design ``doc`` describes (``hdl.generate.write_design``'s
    document: ``design``, ``top``, ``parameters``, ``verilog``) into ``out_dir``, next to its
    Verilog, and copy the lint waiver file there; return ``{"core": path, "waivers": path}``."""
    out = Path(out_dir)
    verilog = Path(doc["verilog"])
    if verilog.resolve().parent != out.resolve():
        raise ValueError(f"verilog={str(verilog)!r}: must be in the core's folder {str(out)!r}")
    waivers = out / WAIVERS.name
    if waivers.resolve() != WAIVERS.resolve():
        shutil.copyfile(WAIVERS, waivers)
    core = out / f"{doc['design']}.core"
    core.write_text(core_text(doc["design"], doc["top"], verilog.name, waivers=waivers.name,
                              parameters=doc.get("parameters")))
    return {"core": str(core), "waivers": str(waivers)}


@dataclass(frozen=True)
class CoreFacts:
    """What :func:`read_core` found: the VLNV, and per target its toplevel, default tool and
    files (``(name relative to the core, file_type)`` in fileset order)."""

    vlnv: str
    toplevel: dict
    tool: dict
    files: dict


def read_core(path, targets=tuple(TARGETS)) -> CoreFacts:
    """Load the core file ``path`` with FuseSoC's CAPI2 parser and collect ``targets``' facts.

    Raises ``ValueError`` (one line naming the file) when FuseSoC rejects the core (schema
    errors, a target without a toplevel or naming a missing fileset), the first line is not
    FuseSoC's CAPI2 preamble (the parser does not check it, but ``fusesoc --cores-root`` skips
    such a file), a target is missing, or a listed file does not exist next to the core.
    """
    from fusesoc.capi2.coreparser import Core2Parser
    from fusesoc.core import Core

    path = Path(path)
    with open(path) as f:
        first = f.readline().strip()
    if first != PREAMBLE:
        raise ValueError(f"core={str(path)!r}: rejected: first line {first!r}, expected "
                         f"{PREAMBLE!r}")
    try:
        core = Core(Core2Parser(), str(path))
        facts = {"toplevel": {}, "tool": {}, "files": {}}
        for target in targets:
            flags = {"target": target, "is_toplevel": True}
            data = core.get_target(flags)
            if data is None:
                raise ValueError(f"target {target!r} missing")
            facts["toplevel"][target] = core.get_toplevel(flags)
            facts["tool"][target] = data.default_tool
            facts["files"][target] = [(f["name"], f.get("file_type"))
                                      for f in core.get_files(flags)]
    except (SyntaxError, ValueError, KeyError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"core={str(path)!r}: rejected: {detail[:300]}") from None
    for target, files in facts["files"].items():
        for name, _ in files:
            if not (path.parent / name).is_file():
                raise ValueError(f"core={str(path)!r}: target {target!r} lists {name!r}, "
                                 f"which does not exist")
    return CoreFacts(vlnv=str(core.name), **facts)
