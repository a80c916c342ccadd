"""The Verilator build options of :mod:`cosim.runner` read from the environment: the C++
optimization level (``SBPCA_CXX_OPT``) and the parallel compile jobs (``SBPCA_BUILD_JOBS``)."""

import pytest

from cosim.runner import CXX_OPT, CXX_OPTS, build_jobs, cxx_opt


def test_cxx_opt_default_and_each_level(monkeypatch):
    monkeypatch.delenv("SBPCA_CXX_OPT", raising=False)
    assert cxx_opt() == CXX_OPT == "-O3"
    for level in CXX_OPTS:
        monkeypatch.setenv("SBPCA_CXX_OPT", level)
        assert cxx_opt() == level


@pytest.mark.parametrize("value", ["O1", "-O4", "-O3 -march=native", "fast"])
def test_cxx_opt_rejects_other_values(monkeypatch, value):
    monkeypatch.setenv("SBPCA_CXX_OPT", value)
    with pytest.raises(ValueError, match=r"^SBPCA_CXX_OPT=.*: choose from -O0, -O1") as err:
        cxx_opt()
    assert "\n" not in str(err.value)


def test_build_jobs(monkeypatch):
    monkeypatch.setenv("SBPCA_BUILD_JOBS", "3")
    assert build_jobs() == 3
    monkeypatch.delenv("SBPCA_BUILD_JOBS")
    assert build_jobs() >= 1
    for bad in ("0", "two"):
        monkeypatch.setenv("SBPCA_BUILD_JOBS", bad)
        with pytest.raises(ValueError, match="^SBPCA_BUILD_JOBS="):
            build_jobs()
