# The two commands that do everything on a fresh machine (python3, node, make):
#   make demo   start a server, run an OpenAI action and an example flow through the Python client
#   make test   lint, type-check, buf lint + breaking, and every test (Python, Node)
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
NODE_CLIENT := clients/node
NODE_CLIENT_STAMP := $(NODE_CLIENT)/node_modules/.installed

.PHONY: help demo serve test lint typecheck proto buf-lint buf-breaking release-contract node-test clean

# The last released contract: `buf breaking` compares protos/ against it.
RELEASED_CONTRACT := protos/released/botflow-v1.json

help:
	@echo "make demo   - start a botflow server, run an OpenAI action and the support triage flow (fake provider without OPENAI_API_KEY)"
	@echo "make test   - ruff, mypy, buf lint and the whole test suite (Python, then the Node client)"
	@echo "make serve  - run the server make demo uses on 127.0.0.1:50051 until Ctrl-C"
	@echo "make proto  - regenerate the Python stubs from protos/"
	@echo "make release-contract - make the current protos the baseline of the breaking check"

$(VENV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(NODE_CLIENT_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(VENV_STAMP)
	$(BIN)/python examples/demo.py

serve: $(VENV_STAMP)
	$(BIN)/botflow serve --host 127.0.0.1 --port 50051 --providers openai,fake --log-format text

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

buf-lint: $(NODE_STAMP)
	npx --no-install buf lint

# Renaming or renumbering a field, or removing one, fails here.
buf-breaking: $(NODE_STAMP)
	npx --no-install buf breaking --against $(RELEASED_CONTRACT)

# Run at a release, after buf-breaking passed (or a major version was decided).
release-contract: $(NODE_STAMP)
	npx --no-install buf build --exclude-source-info -o $(RELEASED_CONTRACT)

proto: $(VENV_STAMP)
	$(BIN)/python tools/gen_proto.py

test: lint typecheck buf-lint buf-breaking
	$(BIN)/pytest
	$(MAKE) --no-print-directory node-test

# The Node client's tests start a real server: .venv/bin/botflow.
node-test: $(VENV_STAMP) $(NODE_CLIENT_STAMP)
	cd $(NODE_CLIENT) && BOTFLOW_BIN=$${BOTFLOW_BIN:-$(CURDIR)/$(BIN)/botflow} node --test

clean:
	rm -rf $(VENV) node_modules $(NODE_CLIENT)/node_modules .mypy_cache .ruff_cache .pytest_cache
