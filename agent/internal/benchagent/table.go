package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// metric picks one figure from a sample.
type metric struct {
	name   string
	unit   string
	get    func(sample) float64
	higher bool // higher is better (throughput); else lower (latency)
}

var metrics = []metric{
	{"HTTP GET /users/1 (wrk, 16 keep-alive connections)", "requests/s", func(s sample) float64 { return s.http.rps }, true},
	{"HTTP latency p50", "µs", func(s sample) float64 { return s.http.p50 }, false},
	{"HTTP latency p99", "µs", func(s sample) float64 { return s.http.p99 }, false},
	{"Redis GET (redis-benchmark, 50 keep-alive connections)", "requests/s", func(s sample) float64 { return s.redisGet.rps }, true},
	{"Redis GET latency p50", "µs", func(s sample) float64 { return s.redisGet.p50 }, false},
	{"Redis GET latency p99", "µs", func(s sample) float64 { return s.redisGet.p99 }, false},
	{"Redis SET", "requests/s", func(s sample) float64 { return s.set.rps }, true},
	{"Redis SET latency p50", "µs", func(s sample) float64 { return s.set.p50 }, false},
	{"Redis SET latency p99", "µs", func(s sample) float64 { return s.set.p99 }, false},
}

func medianOf(m metric, ss []sample) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = m.get(s)
	}
	return median(xs)
}

// render prints the table, the targets and the checks.
func render(cfg config, bare, agent []sample, checks []string) string {
	var b strings.Builder
	cmd := cfg.command
	if cmd == "" {
		cmd = "go run ./agent/internal/benchagent " + strings.Join(os.Args[1:], " ")
	}
	fmt.Fprintf(&b, "Recorded %s with:\n\n    %s\n\n", time.Now().UTC().Format("2006-01-02"), cmd)
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
	b.WriteString("\n| target | wanted | measured | |\n|---|---|---|---|\n")
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
		want, met := fmt.Sprintf("≥ %.2f× bare", t.limit), r >= t.limit
		if !t.m.higher {
			want, met = fmt.Sprintf("≤ %.2f× bare", t.limit), r <= t.limit
		}
		verdict := "met"
		if !met {
			verdict = "NOT met"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f× | %s |\n", t.name, want, r, verdict)
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

// recordSubsection writes body as the "### sub" subsection of the
// "## section" section of path, replacing that subsection if it is there
// and leaving everything else as it is.
func recordSubsection(path, section, sub, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	text := string(old)
	if text == "" {
		text = "# Benchmarks\n"
	}
	head := "## " + section + "\n"
	start := strings.Index(text, head)
	if start < 0 {
		text = strings.TrimRight(text, "\n") + "\n\n" + head
		start = strings.Index(text, head)
	}
	bodyStart := start + len(head)
	end := len(text)
	if i := strings.Index(text[bodyStart:], "\n## "); i >= 0 {
		end = bodyStart + i + 1
	}
	sec := text[bodyStart:end]
	subHead := "### " + sub + "\n"
	block := subHead + "\n" + strings.TrimRight(body, "\n") + "\n\n"
	if i := strings.Index(sec, subHead); i >= 0 {
		j := len(sec)
		if k := strings.Index(sec[i+len(subHead):], "\n### "); k >= 0 {
			j = i + len(subHead) + k + 1
		}
		sec = sec[:i] + block + sec[j:]
	} else {
		sec = strings.TrimRight(sec, "\n") + "\n\n" + block
	}
	text = text[:bodyStart] + "\n" + strings.TrimLeft(sec, "\n") + text[end:]
	return os.WriteFile(path, []byte(strings.TrimRight(text, "\n")+"\n"), 0o644)
}
