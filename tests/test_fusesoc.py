"""FuseSoC packaging (``synth/fusesoc.py``): ``sbpca generate`` writes a CAPI2 core that the PyPI
``fusesoc`` package loads with the expected VLNV, toplevel and files, whose ``lint`` and ``sim``
targets run (Verilator with the waiver file, Icarus), and the check rejects broken cores.

``fusesoc core list`` exits 0 even when it skips an invalid core, so the checks use FuseSoC's
Python API (:func:`synth.fusesoc.read_core`) or look for the VLNV in the command's output."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from synth.fusesoc import read_core, vlnv, write_core
from synth.toolchain import tool_env

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
FUSESOC = str(Path(sys.executable).parent / "fusesoc")


def sbpca(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *args], capture_output=True, text=True)


def fusesoc(*args, cwd):
    env = {**os.environ, **tool_env()}
    return subprocess.run([FUSESOC, *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """``sbpca generate mac_lane --a-width 12 -o DIR``: the folder and the JSON document."""
    out = tmp_path_factory.mktemp("core") / "mac"
    proc = sbpca("generate", "mac_lane", "--a-width", "12", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "mac_lane.json").read_text())


def test_generate_writes_a_core_fusesoc_loads(generated):
    out, doc = generated
    assert doc["core"] == str(out / "mac_lane.core")
    facts = read_core(out / "mac_lane.core")
    assert facts.vlnv == f"sbpca-hw:sbpca:mac_lane:{VERSION}"
    assert facts.toplevel == {"default": "mac_lane", "lint": "mac_lane", "sim": "mac_lane"}
    assert doc["top"] == "mac_lane"
    assert facts.tool == {"default": None, "lint": "verilator", "sim": "icarus"}
    rtl = ("mac_lane.v", "verilogSource")
    assert facts.files == {"default": [rtl], "lint": [rtl, ("lint_waivers.vlt", "vlt")],
                           "sim": [rtl]}
    assert (out / "lint_waivers.vlt").read_text() == (ROOT / "synth/lint_waivers.vlt").read_text()
    assert "a_width=12" in (out / "mac_lane.core").read_text()


def test_fusesoc_command_lists_and_shows_the_core(generated):
    out, _ = generated
    name = f"sbpca-hw:sbpca:mac_lane:{VERSION}"
    listed = fusesoc("--cores-root", str(out), "core", "list", cwd=out)
    assert listed.returncode == 0 and name in listed.stdout, listed.stdout + listed.stderr
    shown = fusesoc("--cores-root", str(out), "core", "show", name, cwd=out)
    assert shown.returncode == 0 and "lint" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.parametrize("target", ["lint", "sim"])
def test_targets_run(generated, tmp_path, target):
    out, _ = generated
    proc = fusesoc("--cores-root", str(out), "run", "--target", target, "--build-root",
                   str(tmp_path), f"sbpca-hw:sbpca:mac_lane:{VERSION}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_lint_target_needs_its_waiver_file(generated, tmp_path):
    """Without the waivers fileset Verilator -Wall fails on the same Verilog: the lint target
    really lints, with the waivers."""
    out, _ = generated
    core = tmp_path / "src" / "mac_lane.core"
    core.parent.mkdir()
    (core.parent / "mac_lane.v").write_text((out / "mac_lane.v").read_text())
    core.write_text((out / "mac_lane.core").read_text()
                    .replace("filesets: [rtl, waivers]", "filesets: [rtl]"))
    proc = fusesoc("--cores-root", str(core.parent), "run", "--target", "lint", "--build-root",
                   str(tmp_path / "build"), f"sbpca-hw:sbpca:mac_lane:{VERSION}", cwd=tmp_path)
    assert proc.returncode != 0
    assert "%Warning" in proc.stdout + proc.stderr


BROKEN = {
    "unknown key": (lambda t: t.replace("    toplevel:", "    toplevle:", 1), "rejected"),
    "no toplevel": (lambda t: "\n".join(ln for ln in t.splitlines()
                                        if "toplevel" not in ln) + "\n", "no toplevel"),
    "missing fileset": (lambda t: t.replace("filesets: [rtl, waivers]", "filesets: [rtl, rt]"),
                        "'rt'"),
    "bad name": (lambda t: t.replace(f":mac_lane:{VERSION}", ":mac lane"), "rejected"),
    "no preamble": (lambda t: t.replace("CAPI=2:\n", ""), "expected 'CAPI=2:'"),
    "missing file": (lambda t: t.replace('"mac_lane.v"', '"nosuch.v"'), "nosuch.v"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_cores_are_rejected(generated, tmp_path, case):
    out, _ = generated
    edit, message = BROKEN[case]
    for name in ("mac_lane.v", "lint_waivers.vlt"):
        (tmp_path / name).write_text((out / name).read_text())
    text = (out / "mac_lane.core").read_text()
    assert edit(text) != text
    core = tmp_path / "mac_lane.core"
    core.write_text(edit(text))
    with pytest.raises(ValueError) as info:
        read_core(core)
    assert message in str(info.value) and str(core) in str(info.value)
    assert "\n" not in str(info.value)


def test_core_list_exits_0_on_a_core_it_skips(generated, tmp_path):
    """Why the checks do not trust ``fusesoc core list``'s exit code: a schema error is a
    warning there, and the core is just not listed (exit 0 as long as some other core is)."""
    out, _ = generated
    other = tmp_path / "other"
    other.mkdir()
    (other / "d.v").write_text("module d; endmodule\n")
    write_core({"design": "d", "top": "d", "verilog": str(other / "d.v")}, other)
    (tmp_path / "mac_lane.core").write_text(BROKEN["unknown key"][0](
        (out / "mac_lane.core").read_text()))
    listed = fusesoc("--cores-root", str(tmp_path), "core", "list", cwd=tmp_path)
    assert listed.returncode == 0
    assert f"sbpca-hw:sbpca:d:{VERSION}" in listed.stdout
    assert "sbpca-hw:sbpca:mac_lane" not in listed.stdout


def test_write_core_contract(tmp_path):
    v = tmp_path / "elsewhere" / "d.v"
    with pytest.raises(ValueError, match="verilog=.*must be in the core's folder"):
        write_core({"design": "d", "top": "d", "verilog": str(v)}, tmp_path)
    with pytest.raises(ValueError, match="design='a:b': must be a non-empty name"):
        vlnv("a:b")
    (tmp_path / "d.v").write_text("module d; endmodule\n")
    paths = write_core({"design": "d", "top": "d", "verilog": str(tmp_path / "d.v"),
                        "parameters": {"banks": (784, 100)}}, tmp_path)
    assert read_core(paths["core"]).vlnv == f"sbpca-hw:sbpca:d:{VERSION}"
    assert "banks=784,100" in Path(paths["core"]).read_text()


def test_module_imports_neither_amaranth_nor_fusesoc():
    code = ("import sys, synth.fusesoc; "
            "print(sorted(m for m in ('amaranth', 'fusesoc') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
