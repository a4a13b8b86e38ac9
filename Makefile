# alert-gateway: `make run` starts the daemon, `make test` runs lint and the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: run test test-fast lint fmt install install-test system-deps bench clean openapi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Debian packages some tests drive for real (systemd-analyze, swaks, chromium for the web
# UI's Playwright tests). Installed when we are root with apt-get (CI, developer VMs);
# elsewhere those tests say why they skip.
SYSTEM_PACKAGES ?= systemd swaks chromium
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/alert-gateway serve --config $(CONFIG)

# mypy --strict covers the plugins and the example package too: they are the code plugin
# authors copy, and a plugin's types are its half of the contract.
EXAMPLES := $(wildcard examples/*/src) $(wildcard examples/*/tests)
# The bench scripts without a .py suffix, which ruff finds only when named.
BENCH_SCRIPTS := $(shell grep -lIs '^\#!.*python' bench/* 2>/dev/null | grep -v '\.py$$')
lint: install-test
	$(BIN)/ruff check gateway plugins examples tests bench $(BENCH_SCRIPTS)
	$(BIN)/ruff format --check gateway plugins examples tests bench $(BENCH_SCRIPTS)
	$(BIN)/mypy --strict gateway plugins $(EXAMPLES)

fmt: install-test
	$(BIN)/ruff check --fix gateway plugins tests bench
	$(BIN)/ruff format gateway plugins tests bench

# One run on both store backends (docs/development.md, "Both backends in one run"), over
# PYTEST_WORKERS processes by pytest-xdist, a test module per worker at a time (its
# module-scoped daemon starts once; the longest modules start first, tests/conftest.py's
# START_FIRST). Each test that ran an in-process gateway on SQLite runs again at once on
# PostgreSQL, in a database the run makes and drops, reported as <id>@postgresql
# (tests/postgres_twins.py). PYTEST_ARGS=--backends=sqlite leaves the twins out.
# Three workers on two cores: the tests wait on sockets, timers and the database, and a
# third fills CPU two left idle (docs/development.md, "Both backends in one run").
PYTEST_WORKERS ?= 3
XDIST          := -n $(PYTEST_WORKERS) --dist loadfile
# compileall: with PYTHONDONTWRITEBYTECODE set (as on the CI machines) Python writes no
# bytecode, so each of the ~370 daemon and CLI processes the tests start compiled the
# gateway's sources again (0.1-0.2 s of CPU each); written once here, they all read it.
test: lint system-deps
	$(BIN)/python -m compileall -q gateway plugins
	$(BIN)/pytest $(XDIST) --durations=40 $(PYTEST_ARGS)

# The tests not marked slow, on SQLite only (docs/development.md): ~1.5 min, no lint, while
# you work. With their PostgreSQL twins they took 5:23 in one process; `make test` runs those.
test-fast: install-test
	$(BIN)/pytest $(XDIST) -m "not slow" --backends=sqlite $(PYTEST_ARGS)

bench: install-test
	bench/run

# docs/openapi.json is generated from gateway/http/openapi.py; a test fails when it is stale.
openapi: install
	$(BIN)/python -m gateway.http.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
