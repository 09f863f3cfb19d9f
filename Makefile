# The two set-up commands of the README work on a fresh machine with only
# Python 3.11, pip and gcc: each creates .venv and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# One stamp per install step: `make demo` installs only the package and its plot
# extra (a lean .venv); `make test` adds the test tools, `make check` the linters.
# Either order works: each step installs what it lacks and nothing else.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: demo test check bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[plot]"
	@touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[plot,progress,parquet]" --group test --group bench
	@touch $@

$(LINT_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet --group lint
	@touch $@

demo: $(DEMO_STAMP)
	$(BIN)/python -m gaussmix.demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 -q

check: $(LINT_STAMP)
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_fit.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
