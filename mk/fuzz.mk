# fuzz runs every native fuzz test of the module's packages (found with
# "go test -list"), one after the other, each for FUZZ_TIME. FUZZ_PKGS
# narrows it to some packages: fuzz-l7, fuzz-dataplane, fuzz-agent,
# fuzz-policy and fuzz-graph are shorthands. New inputs that fail are
# written under the package's testdata/fuzz/ (commit them as regression
# seeds once fixed).
FUZZ_TIME ?= 30s
FUZZ_PKGS ?= ./...

.PHONY: fuzz fuzz-l7 fuzz-dataplane fuzz-agent fuzz-policy fuzz-graph

fuzz:
	@set -e; for pkg in $$($(GO) list $(FUZZ_PKGS)); do \
		for f in $$($(GO) test $$pkg -list '^Fuzz' | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			GOMAXPROCS=2 $(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_TIME) -fuzzminimizetime 5s -parallel 1; \
		done; \
	done

fuzz-l7:
	$(MAKE) fuzz FUZZ_PKGS=./l7/...
fuzz-dataplane:
	$(MAKE) fuzz FUZZ_PKGS=./dataplane/...
fuzz-agent:
	$(MAKE) fuzz FUZZ_PKGS=./agent/...
fuzz-policy:
	$(MAKE) fuzz FUZZ_PKGS=./policy/...
fuzz-graph:
	$(MAKE) fuzz FUZZ_PKGS=./policy/graphview
