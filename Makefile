# PyFixMsg Plus: the two commands the README gives are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export FIXPLUS_SPEC_DIR ?= $(abspath ../shared/fix-spec)
export FIXPLUS_CONFORMANCE_DIR ?= $(abspath ../shared/conformance)

.PHONY: setup demo test lint typecheck contracts unit bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/fixplus decode '8=FIX.4.4|9=67|35=A|34=1|49=CLIENT|52=20261121-05:40:04.615|56=BROKER|98=0|108=30|10=127|'

lint: setup
	$(VENV)/bin/ruff check engine operator tests

typecheck: setup
	$(VENV)/bin/mypy engine operator

contracts: setup
	$(VENV)/bin/lint-imports

unit: setup
	$(PY) -m pytest -q

test: lint typecheck contracts unit

bench: setup
	$(PY) tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
