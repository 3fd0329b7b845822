# Agent benchmarks (owned by agent/).
#
# bench-agent measures the agent end to end, container to container (needs
# root: it builds network namespaces): bare against "bulkhead agent" in
# protect mode with a policy whose rules have L7 conditions, so that every
# request of the keep-alive connections is checked; wrk against a Go HTTP
# server and redis-benchmark against redis-server. Targets: >= 0.9x bare
# requests/s and <= 1.2x bare p99 latency.
# bench-agent-parts runs the micro-benchmarks of the agent's parts (flow
# table, identity lookups, event emission, memory per flow, the Decider).
# Both print a table and record it in BENCHMARKS.md, section "Agent".

BENCH_AGENT_RUNS ?= 3
BENCH_AGENT_SECONDS ?= 5
BENCH_AGENT_CMD = $(GO) run ./agent/internal/benchagent -bin $(BIN) -runs $(BENCH_AGENT_RUNS) -seconds $(BENCH_AGENT_SECONDS)
BENCH_AGENT_PARTS_COUNT ?= 5
BENCH_AGENT_PARTS_CMD = $(GO) test ./agent/flowtable ./agent/identity ./agent/events ./agent/decide -run '^$$' \
	-bench 'Track|ResolverAddr|Emit|MemoryPerFlow|Decide' -benchmem -count $(BENCH_AGENT_PARTS_COUNT)

.PHONY: bench-agent-parts
bench: bench-agent-parts

bench-agent: deps build
	$(BENCH_AGENT_CMD) -record BENCHMARKS.md -command "make bench-agent  # $(BENCH_AGENT_CMD)"

bench-agent-parts:
	$(BENCH_AGENT_PARTS_CMD) | $(GO) run ./agent/internal/benchagent -parts -record BENCHMARKS.md \
		-command "make bench-agent-parts  # $(subst $$$$,$$,$(BENCH_AGENT_PARTS_CMD))" \
		-notes "TrackExisting/TrackNew/TrackParallel: one flow-table lookup (and insert) with the shard lock; MemoryPerFlow: heap per tracked flow at 1,000,000 flows (target <= 512 bytes); ResolverAddr: naming a remote address (read lock); Emit: queueing one event; Decide/X: one packet through the Decider, protect mode (InspectedHTTPRequest: a request on an established connection checked by its L7 rule; InspectedHTTPExchangeWhole: a request and its response on a connection queued whole (inspect.responses), the response counted by its status class; NewFlowAllowedL4 / NewFlowDeniedL4: a connection's first packet decided at L4, the latter with the event queue full as in a flood; DNSQueryAndAnswer: a query checked by name plus its answer fed to the FQDN map)."
