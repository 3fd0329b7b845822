// Command benchagent measures the agent end to end, container to container:
// bare (no Bulkhead) against the real "bulkhead agent" in protect mode with
// a policy whose rules have L7 conditions, so that every request of the
// keep-alive connections is checked (HTTP paths, Redis commands). It builds
// a bridged test bed (testenv), runs wrk against a Go HTTP server and
// redis-benchmark against redis-server, alternating bare and agent runs so
// that drift hits both alike, and prints medians and their ratios as a
// Markdown table; with -record it writes the table into the "Agent"
// section of BENCHMARKS.md. Every run is bounded (wrk by time,
// redis-benchmark by request count and a timeout).
//
// With -parts it instead reads "go test -bench" output of the agent's
// parts (flow table, identity, events, the Decider) on standard input and
// records the medians, custom units (bytes/flow) included; make
// bench-agent-parts runs it that way.
//
// Usage (as root; make bench-agent runs it):
//
//	go run ./agent/internal/benchagent -bin bin/bulkhead -runs 3 -seconds 5 -record BENCHMARKS.md
//	go run ./agent/internal/benchagent -bin bin/bulkhead -runs 1 -cpuprofile /tmp/agent.prof
//	go test ./agent/decide -run '^$' -bench . -benchmem | go run ./agent/internal/benchagent -parts
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.bin, "bin", "bin/bulkhead", "the bulkhead binary")
	flag.IntVar(&cfg.runs, "runs", 3, "runs of each measurement (the table shows medians)")
	flag.IntVar(&cfg.seconds, "seconds", 5, "seconds per measurement")
	flag.StringVar(&cfg.record, "record", "", "write the table into this file's Agent section (BENCHMARKS.md)")
	flag.StringVar(&cfg.profile, "cpuprofile", "", "write the agent's CPU profile of its last run to this file")
	flag.StringVar(&cfg.command, "command", "", "the command to record with the table (default: this program's arguments)")
	agentArgs := flag.String("agent-args", "", "extra arguments for the agent, space-separated (e.g. \"--queues 1\")")
	parts := flag.Bool("parts", false, "read \"go test -bench\" output of the agent's parts on standard input and record its table instead")
	notes := flag.String("notes", "", "with -parts: text written under the table")
	flag.Parse()
	cfg.agentArgs = strings.Fields(*agentArgs)
	if *parts {
		if err := runParts(cfg.record, cfg.command, *notes); err != nil {
			fmt.Fprintln(os.Stderr, "benchagent:", err)
			os.Exit(1)
		}
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "benchagent: needs root to build network namespaces")
		os.Exit(1)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchagent:", err)
		os.Exit(1)
	}
}
