# Carry Desk: `make run`, `make test`, `make bench`, `make lint`. Each target sets itself up on a fresh
# machine: it creates .venv if missing and installs the pinned requirements only when they changed (the
# stamp file's name carries a hash of the requirement files, so an edit triggers one reinstall).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet
PORT ?= 8501
ADDRESS ?= 0.0.0.0
# Two xdist workers (each e2e module's worker starts its own server on a free port); `PYTEST_PARALLEL=`
# runs serially. Extra pytest arguments, e.g. `make test PYTEST_ARGS="-m 'not e2e'"`.
PYTEST_PARALLEL ?= -p xdist -n 2
PYTEST_ARGS ?=
# `make load`: concurrent browser sessions, seconds per pass, extra arguments (e.g. LOAD_ARGS="--client protocol").
SESSIONS ?= 25
DURATION ?= 180
LOAD_ARGS ?=

RUN_HASH := $(shell cat requirements.txt 2>/dev/null | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements.txt requirements-dev.txt 2>/dev/null | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-run-$(RUN_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)

.PHONY: help run test lint bench load chromium

help:
	@echo "make run    - start the dashboard on http://localhost:$(PORT) (CARRYDESK_SOURCE=auto|live|demo)"
	@echo "make test   - ruff, mypy and all tests, including the headless-browser tests"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - performance benchmarks"
	@echo "make load   - SESSIONS=25 concurrent headless-browser sessions on one server for DURATION=180 s"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(PY)
	$(PIP) install -r requirements.txt
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): | $(PY)
	$(PIP) install -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	CARRYDESK_SOURCE=$${CARRYDESK_SOURCE:-auto} $(VENV)/bin/streamlit run app.py \
		--server.port $(PORT) --server.address $(ADDRESS)

# The browser tests drive Debian's chromium (Playwright's own browser downloads are not used).
# fonts-noto-core draws what the default fonts lack, e.g. the "Ⓢ" of Binance USDⓈ-M in screenshots.
BROWSER_PKGS := chromium fonts-noto-core
chromium:
	@dpkg-query -W -f='$${Status}\n' $(BROWSER_PKGS) 2>/dev/null | grep -c "ok installed" | grep -qx $(words $(BROWSER_PKGS)) \
		|| (apt-get update && apt-get install -y $(BROWSER_PKGS))

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(DEV_STAMP) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(PY) -m bench

# Serves the app as `make run` does (demo data, loopback) and drives SESSIONS headless Chromium sessions through
# every page for DURATION seconds, after a one-session pass as the upstream baseline: bench/load.py.
load: $(DEV_STAMP) chromium
	$(PY) -m bench.load --sessions $(SESSIONS) --duration $(DURATION) $(LOAD_ARGS)
