# The two commands that matter: `make up` (run everything) and `make test` (test everything).
# uv is used when installed; otherwise a private copy is installed into .tools/.

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

.PHONY: up test pytest lint typecheck schemas sync clean

up: sync
	$(UV) run --frozen hhc-dev up

test: sync lint typecheck pytest

pytest: sync
	$(UV) run --frozen pytest

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: sync
	$(UV) run --frozen mypy contracts/src chassis/src devstack/src services/*/src

schemas: sync
	$(UV) run --frozen python -m hhc_contracts.schemagen

sync: $(UV)
	$(UV) sync --frozen --quiet

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

clean:
	rm -rf .local .tools
