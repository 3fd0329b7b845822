package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

func values(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.value
	}
	return out
}

func fmtValue(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// ratio is the median of mode over the median of bare for metric (for a
// lower-is-better metric, bare over mode when better is true: higher is
// better either way).
func (r results) ratio(metric, mode string, lowerBetter bool) (float64, bool) {
	bare, got := benchkit.Median(values(r[metric]["bare"])), benchkit.Median(values(r[metric][mode]))
	if bare == 0 || got == 0 {
		return 0, false
	}
	if lowerBetter {
		return bare / got, true
	}
	return got / bare, true
}

// table renders medians, ratios to bare and the queue's work per mode.
func (b *bench) table(tests []test, res results) string {
	var w strings.Builder
	fmt.Fprintf(&w, "Container to container, bridged test bed, %d runs of %d s each, medians; ratio = mode / bare (for latencies, bare / mode: higher is better everywhere; — = not measured in that mode).\n\n", b.cfg.runs, b.cfg.seconds)
	w.WriteString("| measurement |")
	for _, m := range b.cfg.modes {
		fmt.Fprintf(&w, " %s |", modeTitle(m))
	}
	w.WriteString("\n|---|")
	for range b.cfg.modes {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	for _, t := range tests {
		for _, m := range t.metrics {
			fmt.Fprintf(&w, "| %s (%s) |", m.name, m.unit)
			for _, mode := range b.cfg.modes {
				ss, ok := res[m.name][mode]
				if !ok {
					w.WriteString(" — |")
					continue
				}
				cell := fmtValue(benchkit.Median(values(ss)))
				if r, ok := res.ratio(m.name, mode, m.lowerBetter); ok && mode != "bare" {
					cell += fmt.Sprintf(" (%.2f×)", r)
				}
				var queued, drops, failed uint64
				for _, s := range ss {
					queued += s.queued
					drops += s.queueDrops
					failed += s.failed
				}
				if mode != "bare" {
					cell += fmt.Sprintf("<br>queued %d, queue drops %d", queued/uint64(max(len(ss), 1)), drops)
				}
				if failed > 0 {
					cell += fmt.Sprintf("<br>**%d failed operations**", failed)
				}
				fmt.Fprintf(&w, " %s |", cell)
			}
			w.WriteString("\n")
		}
	}
	w.WriteString(failureList(tests, b.cfg.modes, res))
	w.WriteString(b.targets(res))
	w.WriteString(overConntrack(tests, res))
	w.WriteString("\n\"CPU-bound\" is bare / mode of the CPU time per operation (per MB for throughput): load generator + server + daemon + the kernel's softirq threads (ksoftirqd/N, where network work deferred from them runs), from their schedstat and rusage. It is the rate ratio when the machine's CPUs are the limit, which is what a 2-CPU machine running the load generator, the server and the daemon is. A rate target is met only when both the rate and the CPU-bound ratio meet it. The rate and latency figures of one run move by ±20 %, p99 much more, with the other work on this shared machine; the CPU per operation moves by a few per cent.\n")
	w.WriteString("\n\"queued\" is the mean number of packets that reached user space during one measurement (for wrk and redis-benchmark, one measurement covers the whole run); \"queue drops\" the total over all runs of the kernel's queue_dropped + queue_user_dropped (the dataplane runs fail-closed here, so nothing overflowing the queue passes uninspected).\n")
	return w.String()
}

// targets checks the targets against the medians.
func (b *bench) targets(res results) string {
	// Queue drops during the measurement a target is about.
	drops := func(metric, mode string) uint64 {
		var n uint64
		for _, s := range res[metric][mode] {
			n += s.queueDrops
		}
		return n
	}
	var w strings.Builder
	// check compares a ratio to bare with want (ratio ≥ want) or, for a
	// latency, mode/bare ≤ want. With cpuMetric, a rate is also judged by
	// the CPU it costs per operation: bare/mode CPU is the rate ratio the
	// mode reaches when the machine is CPU-bound, whatever this run's noise
	// (other work on a shared machine moves single rate figures by ±20 %),
	// and the lower of the two counts.
	check := func(what, metric, mode string, want float64, latency, noDrops bool, cpuMetric string) {
		if _, ok := res[metric][mode]; !ok {
			return
		}
		r, ok := res.ratio(metric, mode, false)
		if !ok {
			return
		}
		wanted, met := benchkit.Target(r, want, !latency)
		got := fmt.Sprintf("%.2f×", r)
		if cpuMetric != "" {
			if c, ok := res.ratio(cpuMetric, mode, true); ok {
				got += fmt.Sprintf(" (CPU-bound: %.2f×)", c)
				met = met && c >= want
			}
		}
		if noDrops {
			wanted += ", zero queue drops"
			if d := drops(metric, mode); d > 0 {
				met = false
				got += fmt.Sprintf(", %d queue drops", d)
			}
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", what, wanted, got, benchkit.Verdict(met))
	}
	w.WriteString(benchkit.TargetHeader)
	check("established throughput, 1 stream (allow-all)", mThroughput1, "allow", 0.95, false, false, mTput1CPU)
	check("established throughput, 4 streams (allow-all)", mThroughput4, "allow", 0.95, false, false, mTput4CPU)
	check("connections/s (allow-all)", mConnRate, "allow", 0.7, false, false, mConnCPU)
	check("throughput with every packet queued, 1 stream (inspect-all, cpu fan-out)", mThroughput1, "inspect-all", 0.5, false, true, mTput1CPU)
	check("throughput with every packet queued, 4 streams (inspect-all, cpu fan-out)", mThroughput4, "inspect-all", 0.5, false, true, mTput4CPU)
	check("throughput with every packet queued, 1 stream (inspect-all, address hash)", mThroughput1, "inspect-all-hash", 0.5, false, true, mTput1CPU)
	check("throughput with every packet queued, 4 streams (inspect-all, address hash)", mThroughput4, "inspect-all-hash", 0.5, false, true, mTput4CPU)
	check("HTTP requests/s, inspected per request (headroom for the agent)", mHTTPRate, "inspect", 0.95, false, true, mHTTPCPU)
	check("HTTP p99 latency, inspected per request (the agent's bound)", mHTTPP99, "inspect", 1.2, true, false, "")
	check("redis GET requests/s, inspected per request", mRedisGet, "inspect", 0.95, false, true, mRedisCPU)
	check("redis SET requests/s, inspected per request", mRedisSet, "inspect", 0.95, false, true, mRedisCPU)
	check("redis GET p99 latency, inspected per request", mRedisGetP99, "inspect", 1.2, true, false, "")
	check("redis SET p99 latency, inspected per request", mRedisSetP99, "inspect", 1.2, true, false, "")
	return w.String()
}

// overConntrack compares allow-all with bare + conntrack: what the
// dataplane adds to a node that tracks connections anyway (Docker's and
// kube-proxy's rules make every real node do so).
func overConntrack(tests []test, res results) string {
	var w strings.Builder
	for _, t := range tests {
		for _, m := range t.metrics {
			if !slices.Contains([]string{mThroughput1, mTput1CPU, mThroughput4, mTput4CPU, mConnRate, mConnCPU}, m.name) {
				continue
			}
			ct, al := benchkit.Median(values(res[m.name]["conntrack"])), benchkit.Median(values(res[m.name]["allow"]))
			if ct == 0 || al == 0 {
				continue
			}
			if w.Len() == 0 {
				w.WriteString("\nallow-all against bare + conntrack (conntrack is not Bulkhead's cost; higher is better):\n\n| measurement | allow-all / (bare + conntrack) |\n|---|---|\n")
			}
			r := al / ct
			if m.lowerBetter {
				r = ct / al
			}
			fmt.Fprintf(&w, "| %s | %.2f× |\n", m.name, r)
		}
	}
	return w.String()
}

// preamble says how the table was made.
func (b *bench) preamble() string {
	cmd := fmt.Sprintf("go run ./dataplane/internal/benchtool -bin bin/bulkhead -runs %d -seconds %d", b.cfg.runs, b.cfg.seconds)
	makeCmd := "make bench-dataplane"
	if b.cfg.runs != 3 {
		makeCmd += fmt.Sprintf(" BENCH_DATAPLANE_RUNS=%d", b.cfg.runs)
	}
	if b.cfg.seconds != 4 {
		makeCmd += fmt.Sprintf(" BENCH_DATAPLANE_SECONDS=%d", b.cfg.seconds)
	}
	var flags []string
	if len(b.cfg.tests) > 0 {
		flags = append(flags, "-tests "+strings.Join(b.cfg.tests, ","))
	}
	if !slices.Equal(b.cfg.modes, modeOrder) {
		flags = append(flags, "-modes "+strings.Join(b.cfg.modes, ","))
	}
	if len(b.cfg.args) > 0 {
		flags = append(flags, fmt.Sprintf("-daemon-args %q", strings.Join(b.cfg.args, " ")))
	}
	if len(flags) > 0 {
		cmd += " " + strings.Join(flags, " ")
		makeCmd += fmt.Sprintf(" BENCH_DATAPLANE_FLAGS='%s'", strings.Join(flags, " "))
	}
	cmd += " -record BENCHMARKS.md"
	return fmt.Sprintf("Command: `%s` (runs `%s` as root). "+
		"Tools: iperf3 (Debian) for throughput; wrk (Debian; %d threads, %d keep-alive connections, GET of a %d-byte JSON document from a Go net/http server) "+
		"and redis-benchmark (Debian redis-tools; %d clients, keep-alive, GET and SET against redis-server %s) for request rates and latencies; "+
		"the benchtool's own Go load generator, run inside the client container's namespace, for connections/s, round trips and UDP. "+
		"The daemon is `bulkhead dataplane` in the node namespace with `--queues` = CPUs (%d here). "+
		"Modes: allow-all decides every connection Allow on its first packet; inspect decides the echo, HTTP and redis connections Inspect "+
		"(every request reaches user space; `--inspect tcp/PORT`), the others Allow; inspect-all decides every connection InspectAll (every packet queued). "+
		"What the figures mean, and why some targets are out of reach: docs/dataplane.md, section Performance.\n",
		makeCmd, cmd, benchkit.WrkThreads, benchkit.WrkConnections, len(benchkit.HTTPBody), benchkit.RedisClients, redisVersion(), numCPU())
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "(version unknown)"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "(version unknown)"
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("processor\t:"))
}

// failureList lists the failed operations of the load generators (total over
// the runs, and the first failure), when there were any.
func failureList(tests []test, modes []string, res results) string {
	var w strings.Builder
	for _, t := range tests {
		if len(t.metrics) == 0 {
			continue
		}
		for _, mode := range modes {
			var n uint64
			var first string
			for _, s := range res[t.metrics[0].name][mode] {
				n += s.failed
				if first == "" {
					first = s.failure
				}
			}
			if n > 0 {
				fmt.Fprintf(&w, "- %s, %s: %d failed operations over all runs; the first: %s\n", t.metrics[0].name, modeTitle(mode), n, first)
			}
		}
	}
	if w.Len() == 0 {
		return ""
	}
	return "\nFailed operations of the load generator (docs/dataplane.md, section Performance, \"Known issue\"):\n\n" + w.String()
}
