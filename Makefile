# redrive's developer entry points. Everything a test needs is installed by
# these targets into .tools/ and .cache/ (both git-ignored).
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)
export GOBIN := $(TOOLS)

VERSITYGW_VERSION := v1.8.0
HELM_VERSION := v3.22.0
DUCKDB_VERSION := 2.0.0

.PHONY: all build demo test test-unit tools bench lint docker clean readme

all: build

# The version and commit stamped into the binary (redrive version, the
# redrive_build_info metric); override with make build VERSION=v1.2.3.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/redrive ./cmd/redrive

## demo: run the whole pipeline in one process (embedded broker, S3 and API).
## DEMO_FLAGS=--format=parquet writes Parquet and shows the DuckDB query.
DEMO_FLAGS ?=
demo:
	$(GO) run ./cmd/redrive demo $(DEMO_FLAGS)

## test: the unit packages under the race detector, then everything else,
## including the end-to-end suite against real Kafka and S3.
UNIT_PKGS := ./pipeline/... ./dlq/... ./sinks/... ./enrich/...
test: tools
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 10m $(UNIT_PKGS)
	$(GO) test -count=1 -timeout 14m $$($(GO) list ./... | grep -vE '/(pipeline|dlq|sinks|enrich)(/|$$)')

## bench: the benchmark suite against real Kafka and S3 (embedded ones if they
## cannot start): a Markdown table on stdout, JSON under bench/results/.
## About 6-8 minutes; BENCH_FLAGS=-quick for a 2-minute run.
BENCH_FLAGS ?=
bench: tools
	$(GO) run ./bench $(BENCH_FLAGS)

## readme: regenerate the README's flags table from the flag definitions
## (a test fails when it is out of date).
readme:
	$(GO) test -count=1 -run TestREADMEFlagsTableIsGenerated ./cmd/redrive -update

## tools: install what the tests need (idempotent, cached).
tools: $(TOOLS)/versitygw $(TOOLS)/helm .tools/python/duckdb-$(DUCKDB_VERSION).dist-info
	./scripts/kafka.sh fetch

$(TOOLS)/versitygw:
	$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(TOOLS)/helm:
	$(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# DuckDB, the query engine the Parquet end-to-end test reads the output
# with (internal/testenv/duckdb.go), as a Python package in .tools/python.
.tools/python/duckdb-$(DUCKDB_VERSION).dist-info:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target .tools/python duckdb==$(DUCKDB_VERSION)

clean:
	rm -rf bin .tools .cache demo-output

## docker: build the container image where Docker exists (IMAGE=name:tag).
## The Dockerfile uses BuildKit (cache mounts, cross-compiling per platform).
IMAGE ?= redrive:dev
docker:
	@if ! command -v docker >/dev/null 2>&1; then \
		echo "make docker: docker is not installed; nothing was built. On a machine with Docker: docker build -t $(IMAGE) ."; \
		exit 1; \
	fi
	@if ! docker info >/dev/null 2>&1; then \
		echo "make docker: the Docker daemon is not reachable (docker info failed); nothing was built."; \
		exit 1; \
	fi
	DOCKER_BUILDKIT=1 docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

## helm-lint: lint the chart with each values file in testdata/helm.
.PHONY: helm-lint
helm-lint: $(TOOLS)/helm
	@for f in testdata/helm/*.yaml; do echo "== $$f"; helm lint --strict helm/redrive -f $$f || exit 1; done
