# cipdash: `make run` starts the demo, `make test` runs everything CI runs.
# Each target installs what it is missing first and skips what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Rewritten after each successful install; pyproject.toml newer than one means reinstall.
# `make run` needs the product and the process runner only; the tests and linters need the rest.
RUN_STAMP := $(VENV)/.cipdash-installed-demo
DEV_STAMP := $(VENV)/.cipdash-installed-dev
NPM_STAMP := $(if $(wildcard package.json),node_modules/.cipdash-installed)
NPM_APT := nodejs,npm:npm
# A benchmark is a bench/*.py with a main block; the others are its shared helpers.
BENCH_SCRIPTS := $(shell grep -l '^if __name__ == "__main__":' bench/*.py 2>/dev/null)

# The Procfile's processes (python, celery) resolve to the virtualenv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONUNBUFFERED := 1

.PHONY: help run test test-sqlite test-postgres lint bench bench-smoke test-system-deps

help:
	@echo "make run    install what is missing, set up the demo, serve http://127.0.0.1:$(PORT)/"
	@echo "make test   install what is missing, run the suite on SQLite and PostgreSQL,"
	@echo "            run each benchmark once at a tiny size"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  run the benchmarks in bench/ at full size"
	@echo "(parts of make test: make test-sqlite, make test-postgres, make bench-smoke)"

# The demo's ports: make run PORT=8001 SANDBOX_PORT=8766 (or set them in the environment).
PORT ?= 8000
SANDBOX_PORT ?= 8765

comma := ,
# $(call install,EXTRAS): the virtualenv (made if missing) gets the product with EXTRAS.
install = if ! $(PY) -c '' 2>/dev/null; then \
		python=$$(scripts/find-python); \
		echo "Creating $(VENV) with $$python"; \
		rm -rf $(VENV); "$$python" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet -e '.[$(1)]'

$(RUN_STAMP): pyproject.toml setup.py
	@$(call install,demo)
	@touch $@

$(DEV_STAMP): pyproject.toml setup.py
	@$(call install,dev$(comma)demo)
	@touch $@

node_modules/.cipdash-installed: package.json $(wildcard package-lock.json)
	@scripts/apt-ensure $(NPM_APT)
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; \
		else npm install --no-audit --no-fund; fi
	@touch $@

# The demo polls the sandbox feed on loopback, which only a host listed exactly may reach.
run: export INVOCA_ALLOWED_HOSTS := invoca.net,*.invoca.net,127.0.0.1:$(SANDBOX_PORT)
run: export PORT := $(PORT)
run: export SANDBOX_PORT := $(SANDBOX_PORT)
run: $(RUN_STAMP)
	@scripts/ports-free PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	@echo "Starting web, worker, beat and sandbox feed; Ctrl-C stops them all."
	@# Ctrl-C is how the demo stops: honcho then exits 130, which is not a failure.
	$(VENV)/bin/honcho start --procfile Procfile --port $(PORT) || [ $$? = 130 ]

# One apt-get run for everything the suite needs. PostgreSQL is looked for where Debian puts
# it, since its binaries are not on PATH.
test-system-deps:
	@scripts/apt-ensure redis-server:redis-server chromium,fonts-liberation:/usr/bin/chromium \
		"postgresql:/usr/lib/postgresql/*/bin/initdb" $(if $(NPM_STAMP),$(NPM_APT))

# Every step runs even after one fails, so one CI run reports all that is broken.
test: $(DEV_STAMP) test-system-deps $(NPM_STAMP)
	@failed=""; \
	for step in test-sqlite test-postgres bench-smoke; do \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test passed: test-sqlite test-postgres bench-smoke"

test-sqlite: $(DEV_STAMP)
	$(PY) -m pytest

# The browser tests exercise the pages and the packaging test the built wheel, not the
# database: once (on SQLite) is enough.
test-postgres: $(DEV_STAMP)
	CIPDASH_TEST_DATABASE=postgres $(PY) -m pytest -m "not browser and not packaging"

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# Run each benchmark script with $(1) as arguments; fail at the end if any failed.
bench_each = status=0; for script in $(BENCH_SCRIPTS); do echo "== $$script $(1)"; \
	PYTHONPATH=$(CURDIR) $(PY) "$$script" $(1) || status=1; done; exit $$status

bench: $(DEV_STAMP) test-system-deps
	@$(call bench_each,)
	@$(call bench_each,--postgres)

# Each benchmark once at a tiny size: proves the scripts still run, measures nothing.
bench-smoke: $(DEV_STAMP)
	@$(call bench_each,--tiny)
