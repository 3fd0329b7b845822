# Policy package targets (owned by policy/).
#
# bench-policy measures the compiled policy's Evaluate at 10 groups / 100
# rules, 100 / 1,000 and 1,000 / 10,000 (rules spread over the groups, some
# with HTTP or DNS conditions, half the flows denied), a dense case (the
# 1,000 / 10,000 policy plus endpoints in three or four groups each, one of them
# "selector: {}", and one group pair with 150 rules over single ports,
# ranges and every port, a third with HTTP conditions), and endpoint
# classification, then records the medians in BENCHMARKS.md under "Policy
# evaluation". Target: <= 1 µs and 0 allocs per evaluation.

BENCH_POLICY_COUNT ?= 5
BENCH_POLICY_CMD = $(GO) test ./policy -run '^$$' -bench 'Evaluate|Classify' -benchmem -count $(BENCH_POLICY_COUNT)
BENCH_POLICY_NOTES = Evaluate: one decision (group pair lookups, port index, L7 conditions) per op over 4,096 precomputed flows; must stay <= 1 µs and 0 allocs/op at 1,000 groups / 10,000 rules. groups=N/rules=M: every endpoint in one group, about one rule per group pair. dense: the 1,000 / 10,000 policy with endpoints in three or four groups each (their own unless it is a CIDR group, a tier, a team, and the 'selector: {}' group: up to 16 group pairs to look up per flow) and one pair with 150 rules (single TCP/UDP ports indexed by port, 15 ranges and an every-port rule scanned, a third with HTTP conditions, some Kafka); its flows are a quarter allowed at L4, a quarter allowed by HTTP conditions, a quarter denied by them, a quarter on ports no rule allows. Classify: one workload against 1,000 selector groups (done once per workload and cached by the agent). The machine is shared (2 cores, other builds running): min and max show the spread; compare medians.

.PHONY: bench-policy
bench: bench-policy

bench-policy:
	$(BENCH_POLICY_CMD) | $(GO) run ./policy/internal/benchreport \
		-section "Policy evaluation" -file BENCHMARKS.md \
		-command "make bench-policy  # $(subst $$$$,$$,$(BENCH_POLICY_CMD))" \
		-notes "$(BENCH_POLICY_NOTES)"
