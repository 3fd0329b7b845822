package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/internal/benchkit"
	"bulkhead.dev/bulkhead/testenv"
)

type benchConfig struct {
	bin     string
	runs    int
	seconds int
	record  string
	profile string
	modes   []string
	tests   []string
	args    []string // extra daemon arguments for every dataplane mode
}

// Ports of the servers in the server container.
const (
	portIperf = 5201
	portEcho  = 7100 // one-byte echo: connections/s, round trips
	portUDP   = 7200 // UDP sink
	portHTTP  = 8080
	portRedis = 6379
)

// modeArgs are the daemon's arguments per mode (nil: no daemon). The
// dataplane modes run fail-closed so that any packet the queue cannot take
// is dropped and counted, never silently let through uninspected.
var modeArgs = map[string][]string{
	"bare": nil,
	// bare with conntrack on (the rule Docker puts in FORWARD): what a
	// real node pays anyway, and part of what the dataplane adds to a
	// node without it.
	"conntrack": nil,
	"allow":     {"--allow-all", "--fail-closed"},
	// Per-request inspection of the request/response servers: what the
	// agent does under L7 rules.
	"inspect": {"--inspect", fmt.Sprintf("tcp/%d", portEcho), "--inspect", fmt.Sprintf("tcp/%d", portHTTP),
		"--inspect", fmt.Sprintf("tcp/%d", portRedis), "--fail-closed"},
	"inspect-all":      {"--inspect-all", "--fail-closed", "--balance", "cpu"},
	"inspect-all-hash": {"--inspect-all", "--fail-closed", "--balance", "hash"},
}

var modeOrder = []string{"bare", "conntrack", "allow", "inspect", "inspect-all", "inspect-all-hash"}

var modeTitles = map[string]string{
	"bare":             "bare",
	"conntrack":        "bare + conntrack",
	"allow":            "allow-all (fast path)",
	"inspect":          "inspect (per request)",
	"inspect-all":      "inspect-all, cpu fan-out",
	"inspect-all-hash": "inspect-all, address hash",
}

// A mode may carry extra daemon arguments after "@", to compare variants
// side by side: "inspect@--gomaxprocs 1".
func baseMode(mode string) string {
	base, _, _ := strings.Cut(mode, "@")
	return base
}

func modeTitle(mode string) string {
	base, extra, ok := strings.Cut(mode, "@")
	if !ok {
		return modeTitles[base]
	}
	return modeTitles[base] + " [" + extra + "]"
}

func splitList(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// metric is one reported figure.
type metric struct {
	name        string
	unit        string
	lowerBetter bool
}

// test is one measurement: a run yields one value per metric.
type test struct {
	key     string
	metrics []metric
	modes   []string // the modes it runs in
	run     func(b *bench) ([]float64, error)
	// cpu, if set, adds a last metric: the CPU time of the load
	// generator, the server and the daemon per operation. run then sets
	// b.ops and b.clientCPU; cpu returns the server's pid.
	cpu func(b *bench) int
}

// sample is one measured value and what the queue did meanwhile.
type sample struct {
	value      float64
	queued     uint64
	queueDrops uint64
	// failed counts the load generator's failed operations (connections
	// refused or reset, round trips that timed out); failure is the first.
	failed  uint64
	failure string
	extra   string
}

// results[metric name][mode] are the samples.
type results map[string]map[string][]sample

type bench struct {
	cfg            benchConfig
	node           *testenv.Node
	client, server *testenv.Container
	udpReceived    atomic.Uint64
	self           string
	wrkScript      string
	redis          *testenv.Process
	iperfServer    *testenv.Process
	// softirqs are the kernel's softirq threads (ksoftirqd/N): network
	// work deferred from the processes that caused it runs there, and
	// counts in every CPU figure.
	softirqs []int
	// Set by a run that accounts CPU: operations done, and the load
	// generator's CPU time.
	ops       float64
	clientCPU time.Duration
	// failed and failure: what the last worker run reported as failed.
	failed  uint64
	failure string
}

func runBench(cfg benchConfig) error {
	for _, m := range cfg.modes {
		if _, ok := modeArgs[baseMode(m)]; !ok {
			return fmt.Errorf("unknown mode %q (want some of %s)", m, strings.Join(modeOrder, ","))
		}
	}
	for _, prog := range []string{"iperf3", "wrk", "redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("needs %s (scripts/install-deps.sh installs it): %w", prog, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	n, err := testenv.Build(testenv.Config{Name: "dpbench", Topology: testenv.Bridged, Containers: []string{"client", "server"}})
	if err != nil {
		return err
	}
	defer n.Close()
	// Remove the test bed even on Ctrl-C.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		n.Close()
		os.Exit(130)
	}()
	b := &bench{cfg: cfg, node: n, client: n.Container("client"), server: n.Container("server"), self: self}
	if err := b.setup(); err != nil {
		return err
	}
	defer os.Remove(b.wrkScript)
	tests, err := b.selectTests()
	if err != nil {
		return err
	}
	res := results{}
	// Interleave: each measurement runs in every mode back to back, so
	// the load of the machine at that moment hits every mode alike.
	for run := 1; run <= cfg.runs; run++ {
		for _, t := range tests {
			for _, mode := range b.modesOf(t) {
				if err := b.measure(t, mode, run, res); err != nil {
					return fmt.Errorf("%s, %s: %w", t.key, mode, err)
				}
			}
		}
	}
	table := b.table(tests, res)
	fmt.Print(table)
	if cfg.record != "" {
		return benchkit.RecordSection(cfg.record, "Dataplane", b.preamble()+"\n"+table)
	}
	return nil
}

// selectTests returns the tests named by -tests (all by default).
func (b *bench) selectTests() ([]test, error) {
	all := b.tests()
	if len(b.cfg.tests) == 0 {
		return all, nil
	}
	var out []test
	for _, k := range b.cfg.tests {
		i := slices.IndexFunc(all, func(t test) bool { return t.key == k })
		if i < 0 {
			var keys []string
			for _, t := range all {
				keys = append(keys, t.key)
			}
			return nil, fmt.Errorf("unknown test %q (want some of %s)", k, strings.Join(keys, ","))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// modesOf returns the selected modes a test runs in, in table order.
func (b *bench) modesOf(t test) []string {
	var out []string
	for _, m := range b.cfg.modes {
		if slices.Contains(t.modes, baseMode(m)) {
			out = append(out, m)
		}
	}
	return out
}

// measure runs test t once in mode and appends one sample per metric.
func (b *bench) measure(t test, mode string, run int, res results) error {
	if baseMode(mode) == "conntrack" {
		if err := b.setConntrack(true); err != nil {
			return err
		}
		defer b.setConntrack(false)
	}
	d, err := b.startDaemon(t, mode, run == b.cfg.runs)
	if err != nil {
		return err
	}
	s, vals, err := b.measureWith(t, d)
	if err := errors.Join(err, stopDaemon(d)); err != nil {
		return err
	}
	for i, m := range t.metrics {
		s.value = vals[i]
		if res[m.name] == nil {
			res[m.name] = map[string][]sample{}
		}
		res[m.name][mode] = append(res[m.name][mode], s)
		fmt.Fprintf(os.Stderr, "run %d/%d  %-52s %-26s %10.2f %-6s (queued %d, queue drops %d%s)\n",
			run, b.cfg.runs, m.name, modeTitle(mode), s.value, m.unit, s.queued, s.queueDrops, s.extra)
		if s.failed > 0 && i == 0 {
			fmt.Fprintf(os.Stderr, "run %d/%d  %s, %s: %d failed operations; the first: %s\n", run, b.cfg.runs, t.key, modeTitle(mode), s.failed, s.failure)
		}
	}
	return nil
}

// measureWith runs t once with daemon d (nil: bare) and returns the
// queue's counters and the values.
func (b *bench) measureWith(t test, d *dptest.Daemon) (sample, []float64, error) {
	var s sample
	var before dataplane.Stats
	var daemonCPU, serverCPU cpuClock
	if d != nil {
		var err error
		if before, err = d.Stats(); err != nil {
			return s, nil, err
		}
		daemonCPU.start(d.Proc.PID())
	}
	softirqCPU := make([]cpuClock, len(b.softirqs))
	if t.cpu != nil {
		serverCPU.start(t.cpu(b))
		for i, pid := range b.softirqs {
			softirqCPU[i].start(pid)
		}
	}
	b.ops, b.clientCPU, b.failed, b.failure = 0, 0, 0, ""
	vals, err := t.run(b)
	if err != nil {
		return s, nil, err
	}
	s.failed, s.failure = b.failed, b.failure
	dcpu, err := daemonCPU.stop()
	if err != nil {
		return s, nil, err
	}
	if t.cpu != nil {
		scpu, err := serverCPU.stop()
		if err != nil {
			return s, nil, err
		}
		for i := range softirqCPU {
			c, err := softirqCPU[i].stop()
			if err != nil {
				return s, nil, err
			}
			scpu += c
		}
		if b.ops == 0 {
			return s, nil, fmt.Errorf("%s: no operations counted", t.key)
		}
		vals = append(vals, float64((b.clientCPU+scpu+dcpu).Nanoseconds())/1e3/b.ops)
	}
	if d != nil {
		after, err := d.Stats()
		if err != nil {
			return s, nil, err
		}
		s.queued = after.Queued - before.Queued
		s.queueDrops = (after.KernelDropped + after.KernelUserDropped) - (before.KernelDropped + before.KernelUserDropped)
		if after.VerdictMsgs > before.VerdictMsgs {
			s.extra = fmt.Sprintf(", %.1f packets per verdict message", float64(s.queued)/float64(after.VerdictMsgs-before.VerdictMsgs))
		}
		if s.queued > 0 {
			s.extra += fmt.Sprintf(", daemon %.2f µs CPU per queued packet", float64(dcpu.Nanoseconds())/1e3/float64(s.queued))
		}
		if n := after.Dropped - before.Dropped; n > 0 {
			s.extra += fmt.Sprintf(", daemon dropped %d (decode errors %d, overruns %d, verdicts %d drop / %d deny)", n,
				after.DecodeErrors-before.DecodeErrors, after.Overruns-before.Overruns,
				after.Verdicts[dataplane.Drop]-before.Verdicts[dataplane.Drop], after.Verdicts[dataplane.Deny]-before.Verdicts[dataplane.Deny])
		}
	}
	return s, vals, nil
}

// cpuClock measures a process's CPU time between start and stop.
type cpuClock struct {
	pid   int
	begin time.Duration
	err   error
}

func (c *cpuClock) start(pid int) {
	c.pid = pid
	c.begin, c.err = dptest.ProcessCPU(pid)
}

// stop returns the CPU time used since start (0 if never started).
func (c *cpuClock) stop() (time.Duration, error) {
	if c.pid == 0 || c.err != nil {
		return 0, c.err
	}
	end, err := dptest.ProcessCPU(c.pid)
	return end - c.begin, err
}

// softirqThreads returns the pids of the kernel's softirq threads
// (ksoftirqd/N) under procRoot.
func softirqThreads(procRoot string) ([]int, error) {
	dirs, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("find softirq threads: %w", err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, d.Name(), "comm"))
		if err == nil && strings.HasPrefix(string(comm), "ksoftirqd/") {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("find softirq threads: no ksoftirqd/N in %s", procRoot)
	}
	slices.Sort(pids)
	return pids, nil
}

// conntrackRule makes the node track connections, as Docker's FORWARD
// rules do.
var conntrackRule = []string{"FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"}

// setConntrack adds (or deletes) conntrackRule in the node, both families.
func (b *bench) setConntrack(on bool) error {
	op := "-D"
	if on {
		op = "-I"
	}
	for _, prog := range []string{"iptables", "ip6tables"} {
		if _, err := b.node.Node.Run(context.Background(), prog, append([]string{op}, conntrackRule...)...); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) startDaemon(t test, mode string, last bool) (*dptest.Daemon, error) {
	args, ok := modeArgs[baseMode(mode)]
	if !ok || args == nil {
		return nil, nil
	}
	args = append(slices.Clone(args), b.cfg.args...)
	if _, extra, ok := strings.Cut(mode, "@"); ok {
		args = append(args, strings.Fields(extra)...)
	}
	if last && b.cfg.profile != "" && mode != "allow" {
		args = append(args, "--cpuprofile", fmt.Sprintf("%s.%s.%s", b.cfg.profile, t.key, mode))
	}
	return dptest.Start(b.node, b.cfg.bin, args...)
}

func stopDaemon(d *dptest.Daemon) error {
	if d == nil {
		return nil
	}
	return d.Stop()
}

func (b *bench) setup() error {
	for _, kv := range [][2]string{{"net.ipv4.tcp_tw_reuse", "1"}, {"net.ipv4.ip_local_port_range", "1024 65000"}} {
		if err := b.client.Sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	var err error
	if b.iperfServer, err = b.server.StartProgram(context.Background(), nil, nil, "iperf3", "-s", "-p", fmt.Sprint(portIperf)); err != nil {
		return err
	}
	if b.softirqs, err = softirqThreads("/proc"); err != nil {
		return err
	}
	if err := b.startApps(); err != nil {
		return err
	}
	// A one-byte echo server for connections/s and round trips.
	l, err := b.server.Listen("tcp", fmt.Sprintf(":%d", portEcho))
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	// A UDP sink that counts datagrams.
	pc, err := b.server.ListenPacket("udp", fmt.Sprintf(":%d", portUDP))
	if err != nil {
		return err
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(32 << 20)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			b.udpReceived.Add(1)
		}
	}()
	// Wait for iperf3 and redis to listen.
	for _, port := range []int{portIperf, portRedis} {
		if err := benchkit.WaitListening(b.client.Host, b.addr(port), 5*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) addr(port int) string {
	return netip.AddrPortFrom(b.server.IP4, uint16(port)).String()
}
