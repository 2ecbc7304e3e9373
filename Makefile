# cipdash: `make run` starts the demo, `make test` runs everything CI runs.
# Each target installs what it is missing first and skips what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Rewritten after each successful install; pyproject.toml newer than it means reinstall.
PY_STAMP := $(VENV)/.cipdash-installed
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
	@echo "make run    install what is missing, set up the demo, serve http://127.0.0.1:8000/"
	@echo "make test   install what is missing, run the suite on SQLite and PostgreSQL,"
	@echo "            run each benchmark once at a tiny size"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  run the benchmarks in bench/ at full size"
	@echo "(parts of make test: make test-sqlite, make test-postgres, make bench-smoke)"

$(PY_STAMP): pyproject.toml
	@if ! $(PY) -c '' 2>/dev/null; then \
		python=$$(scripts/find-python); \
		echo "Creating $(VENV) with $$python"; \
		rm -rf $(VENV); "$$python" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.cipdash-installed: package.json $(wildcard package-lock.json)
	@scripts/apt-ensure $(NPM_APT)
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; \
		else npm install --no-audit --no-fund; fi
	@touch $@

# The demo polls the sandbox feed on loopback, which only a host listed exactly may reach.
run: export INVOCA_ALLOWED_HOSTS := invoca.net,*.invoca.net,127.0.0.1:8765
run: $(PY_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	@echo "Starting web, worker, beat and sandbox feed; Ctrl-C stops them all."
	@# Ctrl-C is how the demo stops: honcho then exits 130, which is not a failure.
	$(VENV)/bin/honcho start --procfile Procfile || [ $$? = 130 ]

# One apt-get run for everything the suite needs. PostgreSQL is looked for where Debian puts
# it, since its binaries are not on PATH.
test-system-deps:
	@scripts/apt-ensure redis-server:redis-server chromium,fonts-liberation:/usr/bin/chromium \
		"postgresql:/usr/lib/postgresql/*/bin/initdb" $(if $(NPM_STAMP),$(NPM_APT))

# Every step runs even after one fails, so one CI run reports all that is broken.
test: $(PY_STAMP) test-system-deps $(NPM_STAMP)
	@failed=""; \
	for step in test-sqlite test-postgres bench-smoke; do \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test passed: test-sqlite test-postgres bench-smoke"

test-sqlite: $(PY_STAMP)
	$(PY) -m pytest

# The browser tests exercise the pages, not the database: once (on SQLite) is enough.
test-postgres: $(PY_STAMP)
	CIPDASH_TEST_DATABASE=postgres $(PY) -m pytest -m "not browser"

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# Run each benchmark script with $(1) as arguments; fail at the end if any failed.
bench_each = status=0; for script in $(BENCH_SCRIPTS); do echo "== $$script $(1)"; \
	PYTHONPATH=$(CURDIR) $(PY) "$$script" $(1) || status=1; done; exit $$status

bench: $(PY_STAMP) test-system-deps
	@$(call bench_each,)
	@$(call bench_each,--postgres)

# Each benchmark once at a tiny size: proves the scripts still run, measures nothing.
bench-smoke: $(PY_STAMP)
	@$(call bench_each,--tiny)
