# Bulkhead — build, test, demo and benchmarks.
# Quick start on a fresh Debian/Ubuntu host with Go (as root):
#   make demo   # builds everything and walks through learn → protect
#   make test   # every test, including the network-namespace integration tests

GO        ?= go
BIN       := bin/bulkhead
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
# Every test run is bounded; CI must stay well under 30 minutes.
TEST_TIMEOUT ?= 20m

.PHONY: all build deps test lint fmt demo clean \
	bench bench-dataplane bench-l7 bench-policy bench-agent fuzz

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -o $(BIN) ./cmd/bulkhead

deps:
	@./scripts/install-deps.sh

# test runs every test. As root (CI) that includes the integration tests that
# build network namespaces; as a normal user those skip and say why.
test: deps build
	BULKHEAD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags captures ./l7/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags captures ./l7/...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

demo: deps build
	./$(BIN) demo

clean:
	rm -rf bin

# Benchmarks, capture makers and other targets owned by each part of the tree.
include $(wildcard mk/*.mk)
