# Targets of agent/metrics and deploy/ (metrics, dashboards, alert rules,
# manifests). Included by the top-level Makefile.
#
# test-deploy checks the deployment files and runs every dashboard and
# alert expression against a real Prometheus (Debian package prometheus).
# bench-metrics measures the calls the agent makes per packet, per flow and
# per request, next to client_golang used directly (Peer/…), and records the
# medians in BENCHMARKS.md under "Metrics hot path".

BENCH_METRICS_COUNT ?= 5
BENCH_METRICS_CMD = $(GO) test ./agent/metrics -run '^$$' -bench 'HotPath|Peer|Parallel|Scrape' -benchmem -count $(BENCH_METRICS_COUNT)

.PHONY: test-deploy bench-metrics
bench: bench-metrics

test-deploy:
	$(GO) test -count=1 ./agent/metrics/... ./deploy/...

bench-metrics:
	$(BENCH_METRICS_CMD) | $(GO) run ./policy/internal/benchreport \
		-section "Metrics hot path" -file BENCHMARKS.md \
		-command "make bench-metrics  # $(subst $$$$,$$,$(BENCH_METRICS_CMD))" \
		-notes "HotPath/X: one call of the agent/metrics API (0 allocs/op required, also tested with testing.AllocsPerRun). Peer/X: client_golang used directly, the baseline: Packets compares with Peer/CounterInc, Verdict (verdict count + latency histogram) with Peer/HistogramObserve, Connection (8-label graph counter, pre-resolved) with Peer/CounterVecWithLabelValues (the same labels resolved per call). VerdictParallel: one recorder per queue reader against one shared recorder. Scrape: one Gather with 1,000 connection series."
