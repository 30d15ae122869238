# faas-kubelet: run `make help` for the targets.
SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS := -X github.com/faas-kubelet/faas-kubelet/pkg/version.Version=$(VERSION)
BIN := bin/faas-kubelet

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/faas-kubelet (static)
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/faas-kubelet

.PHONY: test
test: lint unit e2e ## All tests: lint, unit tests with -race, end-to-end on the real control plane

.PHONY: unit
unit: ## Unit tests with the race detector (fast; no cluster)
	$(GO) test -race -count=1 ./...

.PHONY: e2e
e2e: ## End-to-end tests on a real local control plane (builds it once, about 6-10 min)
	hack/cluster.sh build
	hack/cluster.sh build-vk
	hack/cluster.sh build-kwok
	hack/cluster.sh build-helm
	hack/cluster.sh build-metrics-server
	set -o pipefail; $(GO) test -tags e2e -count=1 -timeout 40m -v ./e2e/... 2>&1 | hack/e2e-summary.sh

.PHONY: bench
bench: ## Benchmark against the API server's ceiling, kwok, and Virtual Kubelet's mock provider as shipped and tuned (BENCH_PODS=1000, 3 runs, BENCH_MEMORY_PODS=10000; about 40 min; figures in bench.json)
	hack/cluster.sh build
	hack/cluster.sh build-vk
	hack/cluster.sh build-kwok
	set -o pipefail; BENCH_PODS=$${BENCH_PODS:-1000} BENCH_MEMORY_PODS=$${BENCH_MEMORY_PODS:-10000} BENCH_JSON=$${BENCH_JSON:-$(CURDIR)/bench.json} $(GO) test -tags e2e -count=1 -timeout 120m -v -run '^TestBench$$' ./e2e/... 2>&1 | grep -E '^(run |faas-kubelet|API server|kwok|VK mock|throttled|realistic|memory|restart|bench:|\s*--- |FAIL|ok )|_test.go:[0-9]+:'

.PHONY: chaos
chaos: ## Fault injection on Lambda, Azure and FC: random and aimed kill -9, cloud faults, API server outage, the loss of one of two replicas (about 20 min; CHAOS_PODS=200)
	hack/cluster.sh build
	set -o pipefail; $(GO) test -tags 'e2e chaos' -count=1 -timeout 60m -v -run '^TestChaos$$' ./e2e/... 2>&1 | tee /tmp/faas-kubelet-chaos.log | grep -E '^(=== RUN|\s*--- |chaos:|FAIL|ok )|_test.go:[0-9]+:'

.PHONY: lint
lint: ## gofmt, go vet (also on e2e and chaos), and the image's Dockerfile and static build
	hack/verify-gofmt.sh
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	$(GO) vet -tags 'e2e chaos' ./e2e/...
	hack/verify-image.sh

.PHONY: update
update: ## Regenerate golden files
	$(GO) test ./pkg/config ./provider/translate ./provider/lambda ./provider/alibaba -run Golden -count=1 -update

.PHONY: cluster-up
cluster-up: ## Start the local control plane only
	hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local control plane
	hack/cluster.sh down

.PHONY: demo
demo: build ## Run the control plane and faas-kubelet locally and leave them running
	hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop everything `make demo` started
	hack/demo.sh down

.PHONY: clean
clean: ## Remove build outputs
	rm -rf bin
