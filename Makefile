# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo installs what the gateway and the emulator run; the tests add the dev extra.
# Both install exactly what the lock files name (requirements/*.txt, with hashes);
# `make upgrade` refreshes them within pyproject.toml's ranges.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV := requirements/dev.txt
# One lock for every platform and Python the package supports (the image runs 3.12).
COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	pyproject.toml requirements/build.in
# The package itself, over what the lock installed: no resolution, no download.
INSTALL_SELF := $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
OLDEST := .venv-oldest
# The Node clients the tests drive (tests/clients), pinned by their lockfile.
CLIENTS := tests/clients
NODE_STAMP := $(CLIENTS)/node_modules/.installed
# The runnable examples (examples/), each pinned by its own lockfile and tested too.
EXAMPLES := examples/react-apollo examples/node-bff-urql
EXAMPLE_STAMPS := $(EXAMPLES:%=%/node_modules/.installed)

.PHONY: demo test check lint bench install clean graphiql-assets lock upgrade test-oldest release image docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): $(BIN)/python $(LOCK_RUNTIME) pyproject.toml
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK_RUNTIME)
	$(INSTALL_SELF)
	touch $(RUNTIME)

$(DEV): $(BIN)/python $(LOCK_DEV) pyproject.toml
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK_DEV)
	$(INSTALL_SELF)
	touch $(RUNTIME) $(DEV)

$(NODE_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	npm ci --prefix $(CLIENTS) --no-audit --no-fund
	touch $(NODE_STAMP)

%/node_modules/.installed: %/package.json %/package-lock.json
	npm ci --prefix $* --no-audit --no-fund
	touch $@

install: $(DEV)

demo: $(RUNTIME)
	$(BIN)/studio-gateway demo --live 10

test: $(DEV) $(NODE_STAMP) $(EXAMPLE_STAMPS)
	$(BIN)/python -m pytest

lint: $(DEV)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

# What CI runs before the tests: lint, formatting and `mypy --strict` (pyproject.toml).
check: lint
	$(BIN)/mypy

# After editing pyproject.toml's dependencies: lock them, keeping every other pin.
lock: $(DEV)
	$(COMPILE) -o $(LOCK_RUNTIME)
	$(COMPILE) --extra dev -o $(LOCK_DEV)

# Monthly, or for a security release: the newest versions the ranges allow, proved
# by the same checks CI runs. Commit the lock files if both pass.
upgrade: $(DEV)
	$(COMPILE) --upgrade -o $(LOCK_RUNTIME)
	$(COMPILE) --upgrade --extra dev -o $(LOCK_DEV)
	$(MAKE) check test

# The lowest versions pyproject.toml's ranges allow, in a virtualenv of their own:
# proof that the ranges people install the package with are true.
test-oldest: $(DEV) $(NODE_STAMP)
	rm -rf $(OLDEST)
	$(PYTHON) -m venv $(OLDEST)
	$(COMPILE) --resolution lowest-direct --extra dev -o $(OLDEST)/requirements.txt
	$(OLDEST)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(OLDEST)/requirements.txt
	$(OLDEST)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# Old releases may warn about their own newer dependencies: not ours to fail on.
	$(OLDEST)/bin/python -m pytest -W ignore::DeprecationWarning

# The documentation site (mkdocs.yml): the reference pages generated from the code,
# then the site in site/, offline, failing on any warning or broken link.
docs: $(DEV)
	$(BIN)/python -m gateway.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The sdist and the wheel in dist/, checked as PyPI reads them (metadata, README).
# The version is gateway/__init__.py's __version__; CHANGELOG.md says what it holds.
release: $(DEV)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

# The production image, labelled with the version and the commit (OCI labels).
VERSION = $(shell $(BIN)/python -c 'import gateway; print(gateway.__version__)')
image: $(DEV)
	docker build -f docker/Dockerfile --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(shell git rev-parse HEAD) -t studio-gateway:$(VERSION) .

bench: $(DEV)
	$(BIN)/python -m bench.queries

# GraphiQL's scripts and styles, served by the gateway itself: fetched from the npm
# registry at the versions assets/graphiql's lockfile pins, copied (with a manifest
# of their checksums) into gateway/static/graphiql/vendor, and committed.
graphiql-assets:
	npm ci --prefix assets/graphiql --no-audit --no-fund --ignore-scripts
	node assets/graphiql/vendor.mjs

clean:
	rm -rf $(VENV) $(OLDEST) .pytest_cache build dist site *.egg-info $(CLIENTS)/node_modules \
		$(EXAMPLES:%=%/node_modules) $(EXAMPLES:%=%/dist)
