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

local: install
	$(BIN)/logsight local

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -m "not slow"

test: lint typecheck test-clients
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.run

schema: install
	$(BIN)/logsight schema

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
