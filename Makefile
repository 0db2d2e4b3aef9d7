# The two commands that matter: `make up` (run everything) and `make test` (test everything).
# uv is used when installed; otherwise a private copy is installed into .tools/.

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
AXE := .tools/node_modules/axe-core/axe.min.js

.PHONY: up test pytest lint typecheck schemas dist bench bench-relay sync browser-deps clean

up: sync
	$(UV) run --frozen hhc-dev up

test: sync lint typecheck pytest

# Two workers, each with its own PostgreSQL, broker and slice of ports, a test file whole
# to each at a time (module fixtures such as a shared system start once): most tests wait
# on the broker, so two overlap well on two cores. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2

pytest: sync browser-deps
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: sync
	$(UV) run --frozen mypy contracts/src chassis/src devstack/src services/*/src examples/*/src benchmarks

# The whole system beside a raw aiokafka + asyncpg pipeline (about 8 minutes; --quick: 1),
# then the monthly report over 1,000,000 cases and the rebuild's replay rate
# (MONTHLY_BENCH_ARGS="--cases 50000 --events 20000" for a quick run).
bench: sync
	$(UV) run --frozen python benchmarks/system.py $(BENCH_ARGS)
	$(UV) run --frozen python benchmarks/monthly_report.py $(MONTHLY_BENCH_ARGS)

bench-relay: sync
	$(UV) run --frozen python benchmarks/outbox_relay.py

schemas: sync
	$(UV) run --frozen python -m hhc_contracts.schemagen

# What subscribers install: the hhc-contracts wheel, and a zip of the JSON Schemas (https
# $ids), the AsyncAPI document and the catalogue page, for those not using Python.
dist: sync
	rm -rf dist
	$(UV) build --package hhc-contracts --wheel --out-dir dist
	$(UV) run --frozen python -m hhc_contracts.schemagen --bundle dist

# Bytecode compiled once, here: every service process and test run otherwise compiles
# every module again where PYTHONDONTWRITEBYTECODE is set (a third of a service's start).
sync: $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	$(UV) run --frozen python -m compileall -q contracts/src chassis/src devstack/src services/*/src examples/*/src benchmarks > /dev/null

# The web form's browser tests: Debian's Chromium, driven by Playwright, and axe-core
# from npm, injected into each page. Installed when missing (apt-get needs root).
browser-deps: $(AXE)
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

$(AXE):
	@command -v npm >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm install --prefix .tools --no-audit --no-fund --loglevel=error axe-core@4

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

clean:
	rm -rf .local .tools
