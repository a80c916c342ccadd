# The two commands of the README: `make demo` and `make test`. Both run set-up first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-long lint clean

setup:
	@scripts/setup.sh

demo: setup
	@$(VENV)/bin/sbpca demo

test: setup
	@$(PY) -m pytest -n 2 --dist worksteal -q

test-long: setup
	@$(PY) -m pytest -n 2 --dist worksteal -q -m "slow or not slow"

lint: setup
	@$(VENV)/bin/sbpca lint mac_lane -o build/lint/mac_lane
	@$(VENV)/bin/sbpca lint row_pass -o build/lint/row_pass
	@$(VENV)/bin/sbpca lint unit -o build/lint/unit

clean:
	rm -rf build sim_build results .pytest_cache
