# Everything LogSight needs is installed from this file, pyproject.toml and uv.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# Python 3.12+ (the Lambda runtime's version): on PATH, or one pyenv installed.
PYTHON := $(shell for p in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
	$$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 \
	&& { command -v "$$p" || echo "$$p"; } && break; done)

.PHONY: help install test-clients local test lint typecheck unit bench schema clean
.PHONY: sdk sdk-test chromium

help:
	@echo "make local   run LogSight on this machine (installs what is missing)"
	@echo "make test    lint, type checks and the whole test suite"
	@echo "make bench   benchmarks; results go to docs/benchmarks.md"

$(UV):
	@test -n "$(PYTHON)" || { echo "error: Python 3.12+ not found" >&2; exit 1; }
	"$(PYTHON)" -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python "$(PYTHON)"
	@touch $@

# Real clients the tests send with (the official @sentry/node SDK), from the npm lock file.
SENTRY_NODE := tests/clients/sentry-node
$(SENTRY_NODE)/node_modules/.installed: $(SENTRY_NODE)/package-lock.json
	cd $(SENTRY_NODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed
test-clients: $(SENTRY_NODE)/node_modules/.installed

# The browser snippet (sdk/): built into sdk/dist/, which the local runtime serves at /sdk/.
# The build fails when a file outgrows sdk/size-budget.json (gzip bytes).
SDK := sdk
SDK_SOURCES := $(wildcard $(SDK)/src/*.ts) $(SDK)/build.mjs $(SDK)/size-budget.json $(SDK)/package.json
$(SDK)/node_modules/.installed: $(SDK)/package-lock.json
	cd $(SDK) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(SDK)/dist/logsight.js: $(SDK)/node_modules/.installed $(SDK_SOURCES)
	cd $(SDK) && npm run --silent build
sdk: $(SDK)/dist/logsight.js
install: sdk
# Type checks, unit tests (node's test runner) and the size budget.
sdk-test: sdk
	cd $(SDK) && npm test --silent && npm run --silent size

# The browser tests drive Debian's Chromium (Playwright's own download is not used).
chromium:
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 || { echo "error: chromium missing: apt-get install chromium (as root)" >&2; exit 1; }; \
		apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }

local: install
	$(BIN)/logsight local

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -m "not slow"

test: lint typecheck test-clients sdk-test chromium
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.run

schema: install
	$(BIN)/logsight schema

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
