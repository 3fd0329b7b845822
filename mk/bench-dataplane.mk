# bench-dataplane: bare vs through the dataplane, container to container
# (needs root: it builds network namespaces). Modes: bare, bare + conntrack,
# allow-all (fast path), inspect (every request queued: HTTP with wrk, redis
# with redis-benchmark, 1-byte echo), inspect-all (every packet queued).
# Prints the table and records it in BENCHMARKS.md (section "Dataplane");
# also prints the user-space cost per packet of the reader (go test -bench).
# About 12 minutes with the defaults; every run is bounded in time.
# BENCH_DATAPLANE_FLAGS can select, e.g. "-tests http,redis -modes bare,inspect".
.PHONY: bench-dataplane
bench: bench-dataplane

BENCH_DATAPLANE_RUNS ?= 3
BENCH_DATAPLANE_SECONDS ?= 4
BENCH_DATAPLANE_FLAGS ?=

bench-dataplane: deps build
	$(GO) test -run '^$$' -bench 'BenchmarkReaderBurst' -benchmem -count 3 ./dataplane/
	$(GO) run ./dataplane/internal/benchtool -bin $(BIN) -runs $(BENCH_DATAPLANE_RUNS) -seconds $(BENCH_DATAPLANE_SECONDS) $(BENCH_DATAPLANE_FLAGS) -record BENCHMARKS.md
