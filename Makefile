# Two commands: `make run` (demo on the embedded defaults) and `make test` (whole suite).
# Both create or reuse the virtual environment in .venv/.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: run test lint bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed-run
	mkdir -p data/storage
	$(BIN)/eventport db upgrade
	$(BIN)/eventport demo --if-empty --url http://$(HOST):$(PORT)
	$(BIN)/eventport serve --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/system-deps.sh

test: system-deps $(VENV)/.installed-test node_modules/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/feeds.py

clean:
	rm -rf $(VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache
