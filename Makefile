# webkube: `make run` starts it, `make test` runs every test. Both install what is missing
# first (Debian packages, the templ CLI), so they work on a fresh Debian machine as root.
SHELL := /bin/bash
GO ?= go
BIN := bin/webkube
ADDR ?= 127.0.0.1:8080
DATA_DIR ?= ./webkube-data
TEMPL_VERSION := $(shell awk '$$1 == "github.com/a-h/templ" {print $$2}' go.mod)
TEMPL := $(GO) run github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION)
# Everything the tests and the kubelet use at run time.
DEB_PACKAGES := containerd runc containernetworking-plugins busybox-static iptables iproute2 \
	chromium fonts-noto-cjk docker-registry redis-server ca-certificates procps \
	tmux python3-kubernetes
# The real clients the acceptance tests drive (issue 14), built by `go install` from their
# own modules into $(go env GOPATH)/bin: webkube's go.mod is not touched.
GO_TOOLS := helm.sh/helm/v3/cmd/helm@v3.21.4 github.com/derailed/k9s@v0.50.16
TEST_TIMEOUT ?= 80m
# containerd's plugin package imports Go's plugin loader, which makes the linker keep every
# symbol; webkube never loads Go plugins, and without it the binary and its RSS shrink.
export GOFLAGS := $(strip $(GOFLAGS) -tags=no_dynamic_plugins)

# The dashboard's editor and terminal (CodeMirror, xterm.js) come from the npm registry at
# the versions in web/frontend/package-lock.json; esbuild bundles them into web/static/dist,
# which the binary embeds (go build fails without it).
FRONTEND := web/frontend

.PHONY: all deps test-deps bundle build generate run test test-unit reliability bench fmt vet clean

all: build

# `make run` needs only the Debian packages; the tests also need the real clients (helm and
# k9s take minutes to build the first time, which a learner starting webkube should not wait for).
deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

test-deps:
	@GO_TOOLS="$(GO_TOOLS)" scripts/install-deps.sh $(DEB_PACKAGES)

generate:
	$(TEMPL) generate -path web

# npm ci only when node_modules is missing or the lockfile changed (npm ci writes
# node_modules/.package-lock.json); esbuild itself takes well under a second.
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $@

bundle: $(FRONTEND)/node_modules/.package-lock.json
	cd $(FRONTEND) && node build.mjs

build: bundle
	$(GO) build -o $(BIN) ./cmd/webkube

run: deps build
	$(BIN) --addr $(ADDR) --data-dir $(DATA_DIR)

# The tests share one machine's containerd children, bridges and ports, so packages run
# one at a time (-p 1); tests inside a package may still run in parallel.
test: test-deps bundle
	@scripts/check-generated.sh
	cd $(FRONTEND) && node --test test/
	$(GO) vet ./...
	$(GO) build -o $(BIN) ./cmd/webkube
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./...

# The long pass of the fault suite (issue 9): kill -9 of webkube, containerd, shims and
# containers, Service load across restarts, bad input; prints a table of tried/survived/lost.
# `make test` runs its short pass. WEBKUBE_RELIABILITY_SEED=N replays the moments of a run.
reliability: test-deps build
	WEBKUBE_RELIABILITY=long $(GO) test -count=1 -v -timeout 90m -run '^TestReliability$$' ./cmd/webkube

bench: deps build
	@scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin web/static/dist
