# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo installs what the gateway and the emulator run; the tests add the dev extra.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: demo test check lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME) $(DEV)

install: $(DEV)

demo: $(RUNTIME)
	$(BIN)/studio-gateway demo

test: $(DEV)
	$(BIN)/python -m pytest

lint: $(DEV)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

bench: $(DEV)
	$(BIN)/python -m bench.queries

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
