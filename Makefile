# Two commands matter: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck imports unit doctest bench clean airflow-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Airflow 3 in its own environment: its pins conflict with auditlens's. Only the DAG test
# (tests/deploy/test_airflow.py) uses it; no extras, no providers beyond the defaults.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

$(AIRFLOW_STAMP):
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'apache-airflow>=3.3,<4'
	@touch $(AIRFLOW_STAMP)

airflow-venv: $(AIRFLOW_STAMP)

demo: $(STAMP)
	$(BIN)/auditlens demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy

typecheck: $(STAMP)
	$(BIN)/mypy src

imports: $(STAMP)
	$(BIN)/lint-imports

# Two workers, a file per worker at a time (module fixtures stay in one process); the
# tests marked serial run alone afterwards.
unit: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -q -m serial

# The docstring examples in src/ (src/conftest.py gives them a store, an alert, servers).
doctest: $(STAMP)
	$(BIN)/pytest -q --doctest-modules src

test: lint typecheck imports unit doctest

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) var .pytest_cache .mypy_cache .ruff_cache
