"""Lint generated Verilog: ``verilator --lint-only -Wall`` with the project's waiver file, no
division or modulo operator, and no ``always @*`` block that only a Verilog-2005 time-0 event
would run (:func:`time0_dependent_blocks`)."""

from __future__ import annotations

import re
import subprocess
from collections import deque
from pathlib import Path

from .toolchain import apply_tool_env

__all__ = ["WAIVERS", "lint_verilog", "forbidden_operators", "time0_dependent_blocks"]

#: The one waiver file: each waived rule with its reason.
WAIVERS = Path(__file__).with_name("lint_waivers.vlt")


def lint_verilog(path, top: str) -> list:
    """Return Verilator's warning and error lines for ``path`` (empty: clean)."""
    apply_tool_env()
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top,
                           str(WAIVERS), str(path)], capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.startswith("%Warning") or ln.startswith("%Error")]
    if proc.returncode != 0 and not lines:
        lines = [f"%Error: verilator exited {proc.returncode}: {proc.stderr.strip()[:200]}"]
    return lines


def forbidden_operators(verilog: str) -> list:
    """Lines of generated Verilog that use a division or modulo operator (``/``, ``%``).

    Comments, attributes and escaped identifiers (which may contain ``/``) are ignored.
    """
    bad = []
    for number, line in enumerate(verilog.splitlines(), 1):
        code = re.sub(r"\(\*.*?\*\)", "", line)          # attributes
        code = re.sub(r"//.*|/\*.*?\*/", "", code)         # comments
        code = re.sub(r"\\\S+", "", code)                  # escaped identifiers
        code = re.sub(r"\"[^\"]*\"", "", code)             # strings
        if re.search(r"[/%]", code):
            bad.append(f"{number}: {line.strip()}")
    return bad


# --- always @* blocks that depend on a time-0 event ------------------------------------------
#
# The parser reads Verilog as Yosys' ``write_verilog`` writes it for Amaranth: one module item
# a line (declarations, ``assign``, ``always``, ``initial``, instances with one ``.port(expr)``
# a line), procedural statements one a line. Anything else raises ValueError naming the line,
# so a change of that format fails the lint instead of passing it.

_KEYWORDS = {"if", "else", "begin", "end", "case", "casez", "casex", "endcase", "default",
             "posedge", "negedge", "or", "signed", "unsigned"}
_ESCAPED = re.compile(r"\\(\S+)")
_LITERAL = re.compile(r"\d*\s*'[sS]?[bodhBODH]\s*[0-9a-fA-FxXzZ?_]+|(?<![\w$])\$[A-Za-z_]\w*"
                      r"|\"[^\"]*\"")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_SELECT = re.compile(r"\[[^\[\]]*\]")
_ASSIGNMENT = re.compile(r"^(\\\S+|[A-Za-z_][\w$]*)\s*((?:\[[^\]]*\]\s*)*)(<=|=)(?!=)(.*);$")
_BEGIN_END = re.compile(r"(?<![\w$\\])(begin|end)(?![\w$])")
_TRIGGER_IF = re.compile(r"^if \((\\\S+|[A-Za-z_][\w$]*)\s*\) begin end$")


def _names(text: str) -> set:
    """Identifiers an expression reads (escaped ones without their backslash)."""
    found = {m.group(1) for m in _ESCAPED.finditer(text)}
    rest = _LITERAL.sub(" ", _ESCAPED.sub(" ", text))
    return found | {w for w in _IDENT.findall(rest) if w not in _KEYWORDS}


def _base(lhs: str) -> set:
    """Variables an assignment target writes; its index expressions are reads."""
    inner = _SELECT.sub(" ", lhs)
    while _SELECT.search(inner):
        inner = _SELECT.sub(" ", inner)
    return _names(inner)


def _blank(match) -> str:
    return re.sub(r"[^\n]", " ", match.group())


class _Process:
    """A driver: ``assign``, ``always @*`` (comb), ``always @(edge)`` (clocked) or ``initial``."""

    def __init__(self, kind, line, targets, reads, trigger=None):
        self.kind, self.line, self.targets, self.reads, self.trigger = (kind, line, targets,
                                                                        reads, trigger)


class _Module:
    def __init__(self, name):
        self.name = name
        self.inputs, self.initialized = set(), set()
        self.processes, self.instances = [], []


def _statement_block(lines, i, first):
    """The lines of a procedural statement starting with ``first`` (after ``always @..`` or
    ``initial``), up to its matching ``end``; returns ``(lines, next index)``."""
    body = [first] if first else []
    if not first:
        number, text = lines[i]
        body.append(text)
        i += 1
    depth = _depth(body[-1])
    while depth > 0:
        number, text = lines[i]
        body.append(text)
        depth += _depth(text)
        i += 1
    return body, i


def _depth(line: str) -> int:
    """``begin`` minus ``end`` keywords of a line (not inside escaped identifiers)."""
    return sum(1 if w == "begin" else -1 for w in _BEGIN_END.findall(_ESCAPED.sub(" ", line)))


def _parse(verilog: str) -> dict:
    """Modules of Yosys-written Verilog: ports, initialized variables, drivers, instances."""
    text = re.sub(r"\(\*.*?\*\)", _blank, verilog, flags=re.S)
    text = re.sub(r"/\*.*?\*/", _blank, text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    modules = {}
    numbered = [(n, t.strip()) for n, t in enumerate(text.splitlines(), 1)]
    i = 0
    module = None
    while i < len(numbered):
        number, line = numbered[i]
        i += 1
        if not line:
            continue
        if module is None:
            head = re.match(r"^module\s+(\\\S+|\w+)\s*\(", line)
            if not head:
                raise ValueError(f"line {number}: expected a module: {line[:80]}")
            module = _Module(head.group(1).lstrip("\\"))
            while not numbered[i - 1][1].endswith(");"):
                i += 1
            continue
        word = line.split()[0]
        if word == "endmodule":
            modules[module.name] = module
            module = None
        elif word in ("input", "output", "inout"):
            if word == "input":
                module.inputs |= _names(_SELECT.sub(" ", line[len(word):].rstrip(";")))
        elif word in ("wire", "reg"):
            decl = re.match(r"^(?:wire|reg)\s*(?:signed\s*)?(?:\[[^\]]*\]\s*)?"
                            r"(\\\S+|[A-Za-z_][\w$]*)\s*(\[[^\]]*\]\s*)?(=.*)?;$", line)
            if not decl:
                raise ValueError(f"line {number}: unexpected declaration: {line[:80]}")
            if decl.group(3):
                if word == "wire":
                    raise ValueError(f"line {number}: net declaration assignment: {line[:80]}")
                module.initialized.add(decl.group(1).lstrip("\\"))
        elif word == "assign":
            while not line.endswith(";"):
                line += " " + numbered[i][1]
                i += 1
            lhs, rhs = line[len("assign"):].rstrip(";").split("=", 1)
            targets = _base(lhs)
            module.processes.append(_Process("assign", number, targets,
                                             _names(rhs) | (_names(lhs) - targets)))
        elif word in ("always", "initial"):
            head = re.match(r"^(always\s*@\s*(\*|\([^)]*\))|initial)\s*(.*)$", line)
            if not head:
                raise ValueError(f"line {number}: unexpected process: {line[:80]}")
            kind = ("initial" if word == "initial" else
                    "comb" if head.group(2) == "*" else "clocked")
            body, i = _statement_block(numbered, i, head.group(3))
            targets, reads, trigger = set(), set(), None
            for stmt in body:
                stmt = stmt.strip()
                found = _TRIGGER_IF.match(stmt)
                if found and kind == "comb" and trigger is None:
                    trigger = found.group(1).lstrip("\\")
                    continue
                assignment = _ASSIGNMENT.match(stmt)
                if assignment and assignment.group(1) not in _KEYWORDS:
                    targets.add(assignment.group(1).lstrip("\\"))
                    reads |= _names(assignment.group(2)) | _names(assignment.group(4))
                else:
                    reads |= _names(stmt)
            module.processes.append(_Process(kind, number, targets, reads - targets, trigger))
        elif re.match(r"^(\\\S+|\w+)\s+(\\\S+|\w+)\s*\($", line):
            kind_name, inst_name = re.match(r"^(\\\S+|\w+)\s+(\\\S+|\w+)", line).groups()
            connections = []
            while True:
                number_c, conn = numbered[i]
                i += 1
                if conn.startswith(");"):
                    break
                found = re.match(r"^\.(\\\S+|\w+)\s*\((.*)\),?$", conn)
                if not found:
                    raise ValueError(f"line {number_c}: unexpected port connection: {conn[:80]}")
                connections.append((found.group(1).lstrip("\\"), found.group(2)))
            module.instances.append((kind_name.lstrip("\\"), inst_name.lstrip("\\"),
                                     connections))
        else:
            raise ValueError(f"line {number}: unexpected module item: {line[:80]}")
    if module is not None:
        raise ValueError(f"module {module.name}: no endmodule")
    return modules


def time0_dependent_blocks(verilog: str) -> list:
    """``always @*`` blocks that run only if a time-0 event of Verilog-2005 runs them.

    An ``always @*`` block first runs when a signal it reads changes. Amaranth's Verilog starts
    each one with ``if (T) begin end`` on a trigger ``T`` so that it also runs once at time 0;
    ``T`` *fires under both semantics* when it is declared without an initial value and set in
    an ``initial`` statement (what ``hdl.generate.explicit_time0_trigger`` writes). Declared
    ``reg T = 0;`` it fires under Verilog-2005 only: SystemVerilog sets a declaration initializer
    before any process starts, without an event.

    A signal is *woken* when a change of it by the end of reset is certain: an input port of the
    top module (the environment drives it, the clock and reset included), or a net or variable
    driven by an ``assign``, an instance port or an ``always @*`` block that reads a woken
    signal, or a register declared without an initial value (memory read data, memories)
    written by a clocked block that reads a woken signal other than its clock. A register
    declared with an initial value is not woken, whatever it reads: its reset value is its
    initial value, so reset is no event on it; nor is a variable set only in ``initial``
    (ROM contents).

    A block is *time-0 dependent* when its trigger does not fire under both semantics (or it
    has none) and it reads no woken signal: its inputs are registers still at their reset value
    and constants, so under SystemVerilog it stays ``X`` after reset until one of those
    registers changes (a constant table indexed by a counter at 0, a state decode, a ready
    flag), or forever if none ever does. The hierarchy is followed from the top module(s)
    through every instance.

    Returns one line per such block: instance path, source line, what it assigns and reads.
    """
    modules = _parse(verilog)
    used = {kind for m in modules.values() for kind, _, _ in m.instances}
    tops = [name for name in modules if name not in used]
    edges, combs = {}, []

    def edge(src, dst):
        edges.setdefault(src, set()).add(dst)

    def walk(name, path):
        module = modules[name]
        # set in an initial statement, declared without a value: an event under both semantics
        fired = set().union(*(p.targets for p in module.processes if p.kind == "initial"))
        fired -= module.initialized
        for proc in module.processes:
            if proc.kind == "initial":
                continue
            if proc.kind == "clocked":
                if proc.targets & module.initialized:
                    continue               # a register at its reset value: reset is no event
            for read in proc.reads:
                for target in proc.targets:
                    edge((path, read), (path, target))
            if proc.kind == "comb" and proc.trigger not in fired:
                combs.append((path, proc))
        for kind, inst, connections in module.instances:
            if kind not in modules:
                raise ValueError(f"{'.'.join(path)}: instance {inst} of unknown module {kind}")
            child, child_path = modules[kind], path + (inst,)
            for port, expr in connections:
                if port in child.inputs:
                    for read in _names(expr):
                        edge((path, read), (child_path, port))
                else:
                    for target in _base(expr):
                        edge((child_path, port), (path, target))
            walk(kind, child_path)

    woken = set()
    for top in tops:
        walk(top, (top,))
        woken |= {((top,), port) for port in modules[top].inputs}
    todo = deque(woken)
    while todo:
        for nxt in edges.get(todo.popleft(), ()):
            if nxt not in woken:
                woken.add(nxt)
                todo.append(nxt)
    out = []
    for path, proc in combs:
        if not any((path, read) in woken for read in proc.reads):
            out.append(f"{'.'.join(path)}: always @* at line {proc.line} assigning "
                       f"{', '.join(sorted(proc.targets))} reads only signals still at their "
                       f"time-0 value after reset ({', '.join(sorted(proc.reads)) or 'none'})")
    return out
