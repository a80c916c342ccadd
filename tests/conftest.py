"""Shared pytest fixtures: one build folder per test id, kept for inspection (waves, logs)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def build_dir(request) -> Path:
    """``build/tests/<test id>``: emptied at the start of the test, kept afterwards."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    path = ROOT / "build" / "tests" / Path(request.node.fspath).stem / name
    if path.exists():
        import shutil
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
