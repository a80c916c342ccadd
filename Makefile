# The two commands of the README: `make demo` and `make test`. Both run set-up first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-long lint clean

setup:
	@scripts/setup.sh

demo: setup
	@$(VENV)/bin/sbpca demo

test: setup
	@$(PY) -m pytest -n 2 -q

test-long: setup
	@$(PY) -m pytest -n 2 -q -m "slow or not slow"

clean:
	rm -rf build sim_build results .pytest_cache
