# Session Ledger: `make help` lists the targets. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast faults lint fmt bench bench-full soak fuzz browser clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the ledger with its dev tools

run: $(STAMP) ## serve the API on the embedded default (SQLite under var/)
	$(BIN)/ledger serve --host $(HOST) --port $(PORT) --dev

test: $(STAMP) ## run the whole test suite, two processes (TEST_WORKERS=0: one); Postgres tests need LEDGER_TEST_POSTGRES_URL
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP) ## the tests without the slow and browser ones
	$(BIN)/python -m pytest -q -m "not slow and not browser"

faults: $(STAMP) ## the fault tier alone: a throw-away PostgreSQL cluster stopped, restarted, killed
	$(BIN)/python -m pytest -q -p no:cacheprovider -m faults tests/faults

lint: $(STAMP) ## ruff (lint and format check), mypy --strict, and the layer contracts
	$(BIN)/ruff check ledger replay_tools tests bench examples
	$(BIN)/ruff format --check ledger replay_tools tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP) ## format and auto-fix
	$(BIN)/ruff format ledger replay_tools tests bench examples
	$(BIN)/ruff check --fix ledger replay_tools tests bench examples

bench: $(STAMP) ## quick benchmarks (under 10 minutes): bench/results and bench/RESULTS.md
	$(BIN)/python -m bench --quick

bench-full: $(STAMP) ## the benchmarks at full size (1,000,000 events)
	$(BIN)/python -m bench --full

soak: $(STAMP) ## mixed load at 70% of capacity for SOAK_MINUTES (20): bench/RESULTS.md, a plot
	$(BIN)/python -m bench.soak --minutes $(or $(SOAK_MINUTES),20)

fuzz: $(STAMP) ## a longer schemathesis run against the API
	LEDGER_TEST_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest -q tests/api/test_schemathesis.py

browser: ## install Debian's Chromium for the browser tests (needs root or sudo) when missing
	@if [ -x /usr/bin/chromium ]; then /usr/bin/chromium --version; else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-dejavu-core && /usr/bin/chromium --version; fi

clean: ## remove .venv, var/ and caches
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
