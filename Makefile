# The two commands that do everything on a fresh machine (python3, node, make):
#   make demo   start a server, run an OpenAI action and an example flow through the Python client
#   make test   lint, type-check, buf lint, and every test
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help demo test lint typecheck proto buf-lint clean

help:
	@echo "make demo   - start a botflow server, run an OpenAI action and the support triage flow (fake provider without OPENAI_API_KEY)"
	@echo "make test   - ruff, mypy, buf lint and the whole test suite"
	@echo "make proto  - regenerate the Python stubs from protos/"

$(VENV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(VENV_STAMP)
	$(BIN)/python examples/demo.py

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

buf-lint: $(NODE_STAMP)
	npx --no-install buf lint

proto: $(VENV_STAMP)
	$(BIN)/python tools/gen_proto.py

test: lint typecheck buf-lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
