# PyFixMsg Plus: the two commands the README gives are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export FIXPLUS_SPEC_DIR ?= $(abspath ../shared/fix-spec)
export FIXPLUS_CONFORMANCE_DIR ?= $(abspath ../shared/conformance)

.PHONY: setup demo test lint typecheck contracts unit testenv bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/fixplus demo

lint: setup
	$(VENV)/bin/ruff check engine operator tests

# mypy sees the sources under their installed names through a tree of links
# (the folders are mapped to pyfixmsg_plus.* by pyproject.toml).
TYPECHECK_ROOT := build/typecheck
typecheck: setup
	mkdir -p $(TYPECHECK_ROOT)/pyfixmsg_plus
	ln -sfn ../../../engine $(TYPECHECK_ROOT)/pyfixmsg_plus/engine
	ln -sfn ../../../operator $(TYPECHECK_ROOT)/pyfixmsg_plus/operator
	cd $(TYPECHECK_ROOT) && $(abspath $(VENV))/bin/mypy --config-file $(abspath pyproject.toml) \
		-p pyfixmsg_plus.engine -p pyfixmsg_plus.operator

contracts: setup
	$(VENV)/bin/lint-imports

testenv:
	bash tests/env/setup.sh

# The tests run even when a part of the test environment failed (they say
# which part they miss); the target fails if either did.
unit: setup
	@status=0; bash tests/env/setup.sh || status=$$?; \
	$(PY) -m pytest -q || status=$$?; exit $$status

test: lint typecheck contracts unit

bench: setup
	$(PY) tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
