# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo installs what the gateway and the emulator run; the tests add the dev extra.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
# The Node clients the tests drive (tests/clients), pinned by their lockfile.
CLIENTS := tests/clients
NODE_STAMP := $(CLIENTS)/node_modules/.installed

.PHONY: demo test check lint bench install clean graphiql-assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME) $(DEV)

$(NODE_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	npm ci --prefix $(CLIENTS) --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(DEV)

demo: $(RUNTIME)
	$(BIN)/studio-gateway demo --live 10

test: $(DEV) $(NODE_STAMP)
	$(BIN)/python -m pytest

lint: $(DEV)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

# What CI runs before the tests: lint, formatting and `mypy --strict` (pyproject.toml).
check: lint
	$(BIN)/mypy

bench: $(DEV)
	$(BIN)/python -m bench.queries

# GraphiQL's scripts and styles, served by the gateway itself: fetched from the npm
# registry at the versions assets/graphiql's lockfile pins, copied (with a manifest
# of their checksums) into gateway/static/graphiql/vendor, and committed.
graphiql-assets:
	npm ci --prefix assets/graphiql --no-audit --no-fund --ignore-scripts
	node assets/graphiql/vendor.mjs

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info $(CLIENTS)/node_modules
