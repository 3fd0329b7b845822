# The L7 engine's benchmarks: per-protocol ns/packet and allocs/packet, and
# "bulkhead analyze" against ndpiReader on a large capture made in testenv
# (root). Prints the tables and records them in BENCHMARKS.md.
bench-l7:
	./scripts/bench-l7.sh
