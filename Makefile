# The two commands that do everything on a fresh machine (python3, node, go, make):
#   make demo   start a server, run an OpenAI action and an example flow through the Python client
#   make test   lint, type-check, buf lint + breaking, and every test (Python, Node, Go)
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
NODE_CLIENT := clients/node
NODE_CLIENT_STAMP := $(NODE_CLIENT)/node_modules/.installed
GO_CLIENT := clients/go
# The protoc plugins that generate clients/go/botflow/v1, pinned: a new
# version changes the committed code (tests/test_generated_fresh.py).
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.1
GO_TOOLS_STAMP := $(GO_CLIENT)/.bin/.installed-v1.36.12-v1.6.1
DIST := dist

.PHONY: help demo serve test lint typecheck proto buf-lint buf-breaking release-contract \
	node-test go-test go-tools constraints dist clean bench nginx

# The last released contract: `buf breaking` compares protos/ against it.
RELEASED_CONTRACT := protos/released/botflow-v1.json

help:
	@echo "make demo   - start a botflow server on a free port, run an OpenAI action and the support triage flow, stop it (fake provider without OPENAI_API_KEY)"
	@echo "make test   - ruff, mypy, buf lint/breaking and the whole test suite (Python, the Node client, the Go client)"
	@echo "make serve  - run a server on 127.0.0.1:50051 (the default address of the clients and README examples) until Ctrl-C"
	@echo "make proto  - regenerate the Python, Go and TypeScript code from protos/"
	@echo "make dist   - build both wheels and sdists, the npm tarball and the contract archive into dist/"
	@echo "make bench  - hot-path ratios (ExecuteAction vs echo, RunFlow vs ExecuteAction, openai path vs the SDK) with a py-spy profile, and scaling figures, into bench/RESULTS.md (installs ghz, nginx, matplotlib, py-spy)"
	@echo "make release-contract - make the current protos the baseline of the breaking check"

# The client first, editable, so botflow-server's dependency on it is met from
# the work tree; constraints.txt pins every version. The old single
# distribution `botflow` is removed from venvs made before the split.
$(VENV_STAMP): pyproject.toml clients/python/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip uninstall --quiet --yes botflow 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -c constraints.txt -e clients/python -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(NODE_CLIENT_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(GO_TOOLS_STAMP):
	rm -rf $(GO_CLIENT)/.bin
	GOBIN=$(CURDIR)/$(GO_CLIENT)/.bin go install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/$(GO_CLIENT)/.bin go install $(PROTOC_GEN_GO_GRPC)
	touch $@

go-tools: $(GO_TOOLS_STAMP)

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

proto: $(VENV_STAMP) $(NODE_CLIENT_STAMP) $(GO_TOOLS_STAMP)
	$(BIN)/python tools/gen_proto.py

# pytest needs every toolchain: the stale checks regenerate the Go and
# TypeScript code, the packaging tests pack the Node client.
test: lint typecheck buf-lint buf-breaking $(NODE_CLIENT_STAMP) $(GO_TOOLS_STAMP) nginx
	$(BIN)/pytest
	$(MAKE) --no-print-directory node-test
	$(MAKE) --no-print-directory go-test

# The Node client's tests start a real server: .venv/bin/botflow.
node-test: $(VENV_STAMP) $(NODE_CLIENT_STAMP)
	cd $(NODE_CLIENT) && npx --no-install tsc -p tsconfig.json
	cd $(NODE_CLIENT) && BOTFLOW_BIN=$${BOTFLOW_BIN:-$(CURDIR)/$(BIN)/botflow} node --test

# The Go client's tests replay every contract vector against .venv/bin/botflow.
go-test: $(VENV_STAMP)
	cd $(GO_CLIENT) && go vet ./...
	cd $(GO_CLIENT) && test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	cd $(GO_CLIENT) && BOTFLOW_BIN=$${BOTFLOW_BIN:-$(CURDIR)/$(BIN)/botflow} go test -count=1 ./...

# The exact versions of .venv, for constraints.txt (after changing a dependency).
constraints: $(VENV_STAMP)
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^botflow'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# Every artifact of a release, one version (VERSION): botflow-client and
# botflow-server wheels and sdists, the @botflow/client tarball and the
# contract's protos as a source archive.
dist: $(VENV_STAMP) $(NODE_CLIENT_STAMP)
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(BIN)/python tools/sync_version.py --check
	$(BIN)/python -m build --outdir $(DIST) clients/python
	$(BIN)/python -m build --outdir $(DIST) .
	cd $(NODE_CLIENT) && npm pack --silent --pack-destination $(CURDIR)/$(DIST)
	tar --create --gzip --file $(DIST)/botflow-contract-$$(cat VERSION).tar.gz \
		--sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00Z' \
		--transform 's,^,botflow-contract-'"$$(cat VERSION)"'/,' \
		buf.yaml protos/botflow VERSION CHANGELOG.md
	ls -l $(DIST)

# The scaling benchmark (not part of make test): ghz from the Go module proxy,
# nginx from Debian (tools/install_nginx.sh, as CI does), matplotlib for the
# plot into .venv only (a bench dependency, not the server's).
GHZ := github.com/bojand/ghz/cmd/ghz@v0.120.0
BENCH_BIN := bench/.bin
GHZ_STAMP := $(BENCH_BIN)/.installed-ghz-v0.120.0
BENCH_STAMP := $(VENV)/.installed-bench-matplotlib-3.11.2-py-spy-0.4.3
MATPLOTLIB := matplotlib==3.11.2
# py-spy samples the server under load for the profile in bench/RESULTS.md.
PY_SPY := py-spy==0.4.3

$(GHZ_STAMP):
	rm -rf $(BENCH_BIN)
	GOBIN=$(CURDIR)/$(BENCH_BIN) go install $(GHZ)
	touch $@

$(BENCH_STAMP): $(VENV_STAMP)
	$(BIN)/python -m pip install --quiet '$(MATPLOTLIB)' '$(PY_SPY)'
	touch $@

# nginx (Debian) for tests/integration/test_load_balancing.py and the bench.
# Where it cannot be installed (no root, no apt) the test skips, except on
# CI (CI=true), where it fails: CI runs as root and must run it.
nginx:
	bash tools/install_nginx.sh || test -z "$$CI"

bench: $(VENV_STAMP) $(BENCH_STAMP) $(GHZ_STAMP) nginx
	$(BIN)/python bench/hotpath.py --rounds 3 --ablation --profile after
	$(BIN)/python bench/scale.py --ghz $(BENCH_BIN)/ghz
	$(BIN)/python bench/plot.py

clean:
	rm -rf $(VENV) node_modules $(NODE_CLIENT)/node_modules $(GO_CLIENT)/.bin .mypy_cache .ruff_cache .pytest_cache $(DIST)
