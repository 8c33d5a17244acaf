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

.PHONY: help install runtime test-clients local test lint typecheck unit bench bench-soak bench-api schema clean
.PHONY: sdk sdk-test chromium web web-test web-api web-size

# Every target says what it does after "##" on its rule's line; help lists them all.
help: ## this list
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-z-]*:[^#]*## / { printf "make %-18s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

$(UV):
	@test -n "$(PYTHON)" || { echo "error: Python 3.12+ not found" >&2; exit 1; }
	"$(PYTHON)" -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# What running needs (`make local`): the package with its extras, no development tools.
# --inexact keeps development tools a `make test` installed earlier.
$(VENV)/.runtime: pyproject.toml uv.lock | $(UV)
	@echo "==> Python dependencies to run LogSight (uv, from uv.lock)"
	$(UV) sync --frozen --all-extras --no-default-groups --inexact --compile-bytecode \
		--python "$(PYTHON)"
	@touch $@

# Everything, development tools included (`make test`, `make bench`, ...).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@echo "==> Python dependencies, development tools included (uv, from uv.lock)"
	$(UV) sync --frozen --all-extras --compile-bytecode --python "$(PYTHON)"
	@touch $(VENV)/.runtime $@

# Real clients the tests send with (the official @sentry/node SDK), from the npm lock file.
SENTRY_NODE := tests/clients/sentry-node
$(SENTRY_NODE)/node_modules/.installed: $(SENTRY_NODE)/package-lock.json
	cd $(SENTRY_NODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The real sentry-cli (npm's @sentry/cli and its platform binary package) for the source map tests.
SENTRY_CLI := tests/clients/sentry-cli
$(SENTRY_CLI)/node_modules/.installed: $(SENTRY_CLI)/package-lock.json
	cd $(SENTRY_CLI) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed ## the Python dependencies with development tools, and the browser snippet
test-clients: $(SENTRY_NODE)/node_modules/.installed $(SENTRY_CLI)/node_modules/.installed ## the real clients tests send with (@sentry/node, sentry-cli; npm ci)

# The browser snippet (sdk/): built into sdk/dist/, which the local runtime serves at /sdk/.
# The build fails when a file outgrows sdk/size-budget.json (gzip bytes).
SDK := sdk
SDK_SOURCES := $(wildcard $(SDK)/src/*.ts) $(SDK)/build.mjs $(SDK)/size-budget.json $(SDK)/package.json
$(SDK)/node_modules/.installed: $(SDK)/package-lock.json
	@echo "==> the browser snippet's build tools (npm ci, from sdk/package-lock.json)"
	cd $(SDK) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(SDK)/dist/logsight.js: $(SDK)/node_modules/.installed $(SDK_SOURCES)
	@echo "==> building the browser snippet (sdk/dist/)"
	cd $(SDK) && npm run --silent build
sdk: $(SDK)/dist/logsight.js ## build the browser snippet into sdk/dist/
install: sdk
# Type checks, unit tests (node's test runner) and the size budget.
sdk-test: sdk ## the snippet's type checks, unit tests and size budget
	cd $(SDK) && npm test --silent && npm run --silent size

# The dashboard (web/): a Next.js static export built into web/out/, which the local gateway
# serves at / (CloudFront on AWS). Rebuilt only when its sources or lock file change.
WEB := web
WEB_SOURCES := $(shell find $(WEB)/src -type f 2>/dev/null) $(addprefix $(WEB)/,package.json \
	next.config.mjs tailwind.config.ts postcss.config.mjs tsconfig.json)
$(WEB)/node_modules/.installed: $(WEB)/package-lock.json
	@echo "==> the dashboard's build tools (npm ci, from web/package-lock.json)"
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
# Settings read at build time (Clerk's publishable key): a change rebuilds.
WEB_ENV := $(WEB)/.build-env
$(WEB_ENV): FORCE
	@echo "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=$(NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY)" | cmp -s - $@ \
		|| echo "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=$(NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY)" > $@
FORCE:
$(WEB)/out/index.html: $(WEB)/node_modules/.installed $(WEB_SOURCES) $(WEB_ENV)
	@echo "==> building the dashboard (web/out/; a minute or two)"
	cd $(WEB) && NEXT_TELEMETRY_DISABLED=1 npm run --silent build
	@touch $@
web: $(WEB)/out/index.html ## build the dashboard into web/out/ (when its sources changed)
# The typed API client, regenerated from the API's OpenAPI document (a test fails when stale).
web-api: install $(WEB)/node_modules/.installed ## regenerate the dashboard's typed API client
	$(BIN)/logsight openapi --output $(WEB)/openapi.json
	cd $(WEB) && npx openapi-typescript openapi.json -o src/api/schema.d.ts
# Lint, type checks and unit tests (vitest); the browser tests run with pytest.
web-test: web ## the dashboard's lint, type checks and unit tests (vitest)
	cd $(WEB) && npm run --silent lint && npm run --silent typecheck && npm test --silent
# First-load JavaScript of the overview against its budget, written to docs/benchmarks.md.
# Also times a clean build (about two minutes).
web-size: install web ## time a clean dashboard build, first-load JavaScript to docs/benchmarks.md
	$(BIN)/python -m bench.web_size --build

# The browser tests drive Debian's Chromium (Playwright's own download is not used).
chromium: ## install Debian's Chromium for the browser tests (as root)
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 || { echo "error: chromium missing: apt-get install chromium (as root)" >&2; exit 1; }; \
		apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }

runtime: $(VENV)/.runtime sdk web ## what running needs, without development tools

local: runtime ## run LogSight on this machine (installs what is missing)
	$(BIN)/logsight local

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install typecheck-infra ## mypy --strict over the package, the handlers and the CDK app
	$(BIN)/mypy

unit: install ## the tests not marked slow
	$(BIN)/pytest -m "not slow"

test: lint typecheck test-clients sdk-test web-test chromium ## lint, type checks and the whole test suite
	$(BIN)/pytest

bench: install ## benchmarks; results go to docs/benchmarks.md
	$(BIN)/python -m bench.alerts
	$(BIN)/python -m bench.run

# Steady load for MINUTES (default 30, at most 240) with every process's memory sampled;
# writes its own section of docs/benchmarks.md.
MINUTES ?= 30
bench-soak: install ## MINUTES (30) of steady load, memory of every process over time
	$(BIN)/python -m bench.soak --minutes $(MINUTES)

bench-api: install ## the API's query benchmarks
	$(BIN)/python -m bench.api_queries

schema: install ## write the event format's JSON Schema (docs/event.schema.json)
	$(BIN)/logsight schema

clean: ## remove the virtualenv, tools and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache

# ---- AWS (infra/): Lambda assets, offline synth, LocalStack -----------------------------------
.PHONY: build synth typecheck-infra localstack-deploy localstack-down

# One zip per function from manylinux arm64 wheels (no Docker); rebuilt only when sources or
# locks change. Prints each asset's size against its budget.
build: install ## the Lambda assets (one zip per function, arm64)
	$(BIN)/python -m infra.build

# The CloudFormation template, offline and without credentials (STAGE=dev|prod).
STAGE ?= dev
synth: build ## the CloudFormation template, offline (STAGE=dev|prod)
	rm -rf cdk.out
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"stage": "$(STAGE)"}' $(BIN)/python app.py
	@echo "template: cdk.out/LogSight-$(STAGE).template.json"

# mypy --strict over the CDK app (infra/ is outside the package mypy checks by default).
typecheck-infra: install ## mypy --strict over the CDK app
	$(BIN)/mypy --strict --exclude 'infra/build/' infra app.py

# Needs Docker and LOCALSTACK_AUTH_TOKEN (docs/deploy.md). cdklocal is aws-cdk-local (npm)
# wrapping the CDK CLI, pinned here. The app builds the assets for this machine's architecture
# (the Docker host's), not arm64: LocalStack runs the functions in local containers.
CDKLOCAL := npx --yes -p aws-cdk@2.1148.1 -p aws-cdk-local@3.0.4 cdklocal
localstack-deploy: install ## deploy to LocalStack (Docker, LOCALSTACK_AUTH_TOKEN)
	@test -n "$$LOCALSTACK_AUTH_TOKEN" || { echo "error: set LOCALSTACK_AUTH_TOKEN (docs/deploy.md#localstack)" >&2; exit 1; }
	docker compose -f localstack/docker-compose.yml up -d --wait
	AWS_DEFAULT_REGION=us-east-1 $(CDKLOCAL) bootstrap -c localstack=true
	AWS_DEFAULT_REGION=us-east-1 $(CDKLOCAL) deploy -c localstack=true --require-approval never

localstack-down: ## stop LocalStack and drop its volumes
	docker compose -f localstack/docker-compose.yml down -v
