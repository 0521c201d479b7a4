# Two self-sufficient entry points: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test reference clean

# uv (from PyPI, into the venv) resolves and installs in well under a minute where pip takes
# several; both read the same pyproject.toml. --compile-bytecode as pip does by default: where
# PYTHONDONTWRITEBYTECODE is set nothing else writes .pyc files, and every process (each test's
# `conveyor` subprocess) would compile MLflow's sources anew — seconds each.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

install: $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e .

install-test: $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[test]"

demo: install
	$(BIN)/conveyor demo

test: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

reference: install  # docs/config-reference.md from the config schema
	$(BIN)/python -m conveyor.core.config.reference

clean:
	rm -rf $(VENV) .pytest_cache
