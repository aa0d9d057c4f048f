# The two commands a newcomer runs: `make run` (the main job) and `make test` (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BOT := $(VENV)/bin/falco-rules-bot
UPSTREAM := config/upstream/falco_rules.yaml config/upstream/falco-incubating_rules.yaml config/upstream/falco-sandbox_rules.yaml

.PHONY: venv run test lint typecheck unit bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip wheel --quiet --wheel-dir $(VENV)/wheelhouse setuptools wheel . && rm -f $(VENV)/wheelhouse/falco_rules_bot-*.whl  # offline installs of this package (tests/tools)
	touch $@

run: venv
	$(BOT) validate $(UPSTREAM)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest

test: lint typecheck unit

bench: venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/app.py
	$(PY) benchmarks/intake.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
