# Policy package targets (owned by policy/).
#
# bench-policy measures the compiled policy's Evaluate at 10 groups / 100
# rules, 100 / 1,000 and 1,000 / 10,000 (realistic shapes: rules spread over
# the groups, some with HTTP or DNS conditions, half the flows denied) and
# endpoint classification, then records the medians in BENCHMARKS.md under
# "Policy evaluation". Target: <= 1 µs and 0 allocs per evaluation.
# fuzz-policy runs every fuzz target of the policy packages, each bounded.

BENCH_POLICY_COUNT ?= 5
BENCH_POLICY_CMD = $(GO) test ./policy -run '^$$' -bench 'Evaluate|Classify' -benchmem -count $(BENCH_POLICY_COUNT)
FUZZ_POLICY_TIME ?= 30s

.PHONY: bench-policy fuzz-policy
bench: bench-policy
fuzz: fuzz-policy

bench-policy:
	$(BENCH_POLICY_CMD) | $(GO) run ./policy/internal/benchreport \
		-section "Policy evaluation" -file BENCHMARKS.md \
		-command "make bench-policy  # $(subst $$$$,$$,$(BENCH_POLICY_CMD))" \
		-notes "Evaluate: one decision (groups pair lookup, port index, L7 conditions) per op over 4,096 precomputed flows; must stay <= 1 µs and 0 allocs/op at 1,000 groups / 10,000 rules. Classify: one workload against 1,000 selector groups (done once per workload and cached by the agent)."

fuzz-policy:
	@set -e; for t in policy:FuzzParse policy:FuzzPathPattern policy:FuzzDNSPattern policy:FuzzGlob \
		policy:FuzzParsePort policy/learn:FuzzReadJSON policy/learn:FuzzGeneralisePath; do \
		pkg=$${t%%:*}; f=$${t#*:}; echo "== $$pkg $$f"; \
		GOMAXPROCS=2 $(GO) test ./$$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_POLICY_TIME); \
	done
