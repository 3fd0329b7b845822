// Command benchtool measures the dataplane container to container: bare
// (no Bulkhead); through the dataplane with an allow-all Decider (kernel
// fast path after the first packet); with per-request inspection of the
// request/response servers (Inspect: what the client sends that carries
// data is queued, nothing else); and with every packet queued (InspectAll,
// CPU fan-out and address-hash balancing). It builds a bridged test bed,
// runs each measurement in every mode in turn (so drift hits every mode
// alike), repeats, and prints medians and ratios to bare as a Markdown
// table; with -record it also writes the table into the "Dataplane"
// section of BENCHMARKS.md.
//
// Throughput uses iperf3 inside the container namespaces; HTTP keep-alive
// requests use wrk against a Go net/http server; redis GET and SET use
// redis-benchmark against redis-server (all Debian packages). Connections
// per second, the 1-byte request/response round trip and small-packet UDP
// use this program's own load generator, re-run inside the client
// namespace (ip netns exec … benchtool -worker …), against servers it runs
// in the server namespace. Every run is bounded in time (and
// redis-benchmark in requests).
//
// Usage (as root; make bench-dataplane runs it):
//
//	go run ./dataplane/internal/benchtool -bin bin/bulkhead -runs 3 -record BENCHMARKS.md
//	go run ./dataplane/internal/benchtool -bin bin/bulkhead -runs 1 -tests http,redis -modes bare,inspect -cpuprofile /tmp/dp.prof
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	worker := flag.String("worker", "", "internal: run a load generator (crr, rr, udp) and print its result as JSON")
	addr := flag.String("addr", "", "internal: worker target address")
	dur := flag.Duration("duration", 0, "internal: worker run time")
	conc := flag.Int("concurrency", 1, "internal: worker parallel clients")
	size := flag.Int("size", 18, "internal: UDP payload bytes")

	bin := flag.String("bin", "bin/bulkhead", "the bulkhead binary to run in the node")
	runs := flag.Int("runs", 3, "runs per measurement (the table shows medians)")
	seconds := flag.Int("seconds", 4, "seconds per measurement")
	record := flag.String("record", "", "write the table into this file's Dataplane section (e.g. BENCHMARKS.md)")
	profile := flag.String("cpuprofile", "", "write the daemon's CPU profiles of the last run to FILE.TEST.MODE")
	modes := flag.String("modes", strings.Join(modeOrder, ","), "modes to measure")
	tests := flag.String("tests", "", "tests to run (default all): tcp1,tcp4,crr,rr,udp,http,redis")
	daemonArgs := flag.String("daemon-args", "", "extra arguments for the daemon in every dataplane mode, space-separated (e.g. \"--queues 1\")")
	flag.Parse()

	if *worker != "" {
		if err := runWorker(*worker, *addr, *dur, *conc, *size); err != nil {
			fmt.Fprintln(os.Stderr, "benchtool worker:", err)
			os.Exit(1)
		}
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "benchtool: needs root to build network namespaces")
		os.Exit(1)
	}
	cfg := benchConfig{bin: *bin, runs: *runs, seconds: *seconds, record: *record, profile: *profile,
		modes: splitList(*modes), tests: splitList(*tests), args: strings.Fields(*daemonArgs)}
	if err := runBench(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}
