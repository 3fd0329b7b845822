package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

// metric picks one figure from a sample.
type metric struct {
	name   string
	unit   string
	get    func(sample) float64
	higher bool // higher is better (throughput); else lower (latency)
}

var metrics = []metric{
	{"HTTP GET /users/1 (wrk, 16 keep-alive connections)", "requests/s", func(s sample) float64 { return s.http.RPS }, true},
	{"HTTP latency p50", "µs", func(s sample) float64 { return s.http.P50 }, false},
	{"HTTP latency p99", "µs", func(s sample) float64 { return s.http.P99 }, false},
	{"Redis GET (redis-benchmark, 50 keep-alive connections)", "requests/s", func(s sample) float64 { return s.redisGet.RPS }, true},
	{"Redis GET latency p50", "µs", func(s sample) float64 { return s.redisGet.P50 }, false},
	{"Redis GET latency p99", "µs", func(s sample) float64 { return s.redisGet.P99 }, false},
	{"Redis SET", "requests/s", func(s sample) float64 { return s.set.RPS }, true},
	{"Redis SET latency p50", "µs", func(s sample) float64 { return s.set.P50 }, false},
	{"Redis SET latency p99", "µs", func(s sample) float64 { return s.set.P99 }, false},
}

func medianOf(m metric, ss []sample) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = m.get(s)
	}
	return benchkit.Median(xs)
}

// render prints the table, the targets and the checks.
func render(cfg config, bare, agent []sample, checks []string) string {
	var b strings.Builder
	cmd := cfg.command
	if cmd == "" {
		cmd = "go run ./agent/internal/benchagent " + strings.Join(os.Args[1:], " ")
	}
	b.WriteString(benchkit.Recorded(time.Now(), cmd))
	fmt.Fprintf(&b, "Container to container on a bridged test bed (testenv), %d runs of %d s each, bare and agent runs alternated; medians. "+
		"The agent runs in protect mode with 2 queues and a policy whose rules have L7 conditions (HTTP method and path, Redis commands): "+
		"every request on the keep-alive connections is queued and checked.\n\n", len(bare), cfg.seconds)
	b.WriteString("| measurement | bare | agent, protect, per-request checks | ratio |\n|---|---:|---:|---:|\n")
	for _, m := range metrics {
		x, y := medianOf(m, bare), medianOf(m, agent)
		ratio := 0.0
		if x > 0 {
			ratio = y / x
		}
		fmt.Fprintf(&b, "| %s (%s) | %.0f | %.0f | %.2f× |\n", m.name, m.unit, x, y, ratio)
	}
	b.WriteString(benchkit.TargetHeader)
	for _, t := range []struct {
		name  string
		m     metric
		limit float64
	}{
		{"HTTP requests/s", metrics[0], 0.9}, {"HTTP p99 latency", metrics[2], 1.2},
		{"Redis GET requests/s", metrics[3], 0.9}, {"Redis GET p99 latency", metrics[5], 1.2},
		{"Redis SET requests/s", metrics[6], 0.9}, {"Redis SET p99 latency", metrics[8], 1.2},
	} {
		r := medianOf(t.m, agent) / medianOf(t.m, bare)
		want, met := benchkit.Target(r, t.limit, t.m.higher)
		fmt.Fprintf(&b, "| %s | %s | %.2f× | %s |\n", t.name, want, r, benchkit.Verdict(met))
	}
	b.WriteString("\nEach checked request costs one round trip of its packet through NFQUEUE (receive, decide, verdict, re-injection by the kernel). " +
		"To see where the agent's time goes, run the tool with -cpuprofile FILE and read it with go tool pprof; " +
		"to separate the decision path from the packet path, compare with the Dataplane section's per-request inspection, " +
		"the same loads through the dataplane with a trivial decider.\n")
	b.WriteString("\nWhat the agent counted in each run (its status after the measurement):\n\n")
	for i, c := range checks {
		fmt.Fprintf(&b, "- run %d: %s\n", i+1, c)
	}
	return b.String()
}
