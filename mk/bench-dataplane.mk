# bench-dataplane: bare vs through the dataplane, container to container
# (needs root: it builds network namespaces). Prints the table and records
# it in BENCHMARKS.md (section "Dataplane"); also prints the user-space cost
# per packet of the reader (go test -bench).
BENCH_DATAPLANE_RUNS ?= 3
BENCH_DATAPLANE_SECONDS ?= 4

bench-dataplane: deps build
	$(GO) test -run '^$$' -bench 'BenchmarkReaderBurst' -benchmem -count 3 ./dataplane/
	$(GO) run ./dataplane/internal/benchtool -bin $(BIN) -runs $(BENCH_DATAPLANE_RUNS) -seconds $(BENCH_DATAPLANE_SECONDS) -record BENCHMARKS.md
