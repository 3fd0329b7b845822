package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/testenv"
)

type benchConfig struct {
	bin     string
	runs    int
	seconds int
	record  string
	profile string
	modes   []string
}

// modeArgs are the daemon's arguments per mode (nil: no daemon). The
// dataplane modes run fail-closed so that any packet the queue cannot take
// is dropped and counted, never silently let through uninspected.
var modeArgs = map[string][]string{
	"bare":         nil,
	"allow":        {"--allow-all", "--fail-closed"},
	"inspect":      {"--inspect-all", "--fail-closed", "--balance", "cpu"},
	"inspect-hash": {"--inspect-all", "--fail-closed", "--balance", "hash"},
}

var modeTitles = map[string]string{
	"bare":         "bare",
	"allow":        "allow-all (fast path)",
	"inspect":      "inspect-all, cpu fan-out",
	"inspect-hash": "inspect-all, address hash",
}

func splitModes(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// metric is one measurement.
type metric struct {
	name        string
	unit        string
	lowerBetter bool
	run         func(b *bench) (float64, error)
}

// sample is one measured value and what the queue did meanwhile.
type sample struct {
	value      float64
	queued     uint64
	queueDrops uint64
	extra      string
}

type bench struct {
	cfg            benchConfig
	node           *testenv.Node
	client, server *testenv.Container
	udpReceived    atomic.Uint64
	self           string
}

func runBench(cfg benchConfig) error {
	for _, m := range cfg.modes {
		if _, ok := modeArgs[m]; !ok {
			return fmt.Errorf("unknown mode %q", m)
		}
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		return fmt.Errorf("needs iperf3 (apt-get install iperf3): %w", err)
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
	metrics := b.metrics()
	results := map[string]map[string][]sample{}
	for _, m := range metrics {
		results[m.name] = map[string][]sample{}
	}
	// Interleave: each measurement runs in every mode back to back, so
	// the load of the machine at that moment hits every mode alike.
	for run := 1; run <= cfg.runs; run++ {
		for _, m := range metrics {
			for _, mode := range cfg.modes {
				d, err := b.startDaemon(mode, run == cfg.runs)
				if err != nil {
					return err
				}
				s, err := b.measure(m, d)
				if err != nil {
					_ = stopDaemon(d)
					return fmt.Errorf("%s, %s: %w", m.name, mode, err)
				}
				if err := stopDaemon(d); err != nil {
					return err
				}
				results[m.name][mode] = append(results[m.name][mode], s)
				fmt.Fprintf(os.Stderr, "run %d/%d  %-48s %-26s %10.2f %-6s (queued %d, queue drops %d%s)\n",
					run, cfg.runs, m.name, modeTitles[mode], s.value, m.unit, s.queued, s.queueDrops, s.extra)
			}
		}
	}
	table := b.table(metrics, results)
	fmt.Print(table)
	if cfg.record != "" {
		return recordSection(cfg.record, "Dataplane", table)
	}
	return nil
}

func (b *bench) setup() error {
	for _, kv := range [][2]string{{"net.ipv4.tcp_tw_reuse", "1"}, {"net.ipv4.ip_local_port_range", "1024 65000"}} {
		if err := b.client.Sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if _, err := b.server.StartProgram(context.Background(), nil, nil, "iperf3", "-s", "-p", "5201"); err != nil {
		return err
	}
	// A one-byte echo server for connections/s and round trips.
	l, err := b.server.Listen("tcp", ":7100")
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
	pc, err := b.server.ListenPacket("udp", ":7200")
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
	// Wait for iperf3 to listen.
	for i := 0; i < 50; i++ {
		c, err := b.client.Dial("tcp", b.addr(5201))
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("iperf3 server did not start")
}

func (b *bench) addr(port int) string {
	return netip.AddrPortFrom(b.server.IP4, uint16(port)).String()
}

func (b *bench) metrics() []metric {
	secs := b.cfg.seconds
	iperf := func(streams int) func(*bench) (float64, error) {
		return func(b *bench) (float64, error) {
			args := []string{"-c", b.server.IP4.String(), "-p", "5201", "-t", fmt.Sprint(secs), "-J", "-P", fmt.Sprint(streams)}
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
			defer cancel()
			out, err := b.client.Command(ctx, "iperf3", args...).Output()
			if err != nil {
				return 0, fmt.Errorf("iperf3 %v: %w: %s", args, err, out)
			}
			var r struct {
				End struct {
					SumReceived struct {
						BitsPerSecond float64 `json:"bits_per_second"`
					} `json:"sum_received"`
				} `json:"end"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				return 0, fmt.Errorf("iperf3 output: %w", err)
			}
			return r.End.SumReceived.BitsPerSecond / 1e9, nil
		}
	}
	return []metric{
		{name: "TCP throughput, 1 stream", unit: "Gbit/s", run: iperf(1)},
		{name: "TCP throughput, 4 streams", unit: "Gbit/s", run: iperf(4)},
		{name: "TCP connections/s (4 clients, 1-byte exchange)", unit: "conn/s", run: func(b *bench) (float64, error) {
			r, err := b.worker("crr", b.addr(7100), 4)
			if err != nil {
				return 0, err
			}
			return float64(r.Ops) / r.Seconds, nil
		}},
		{name: "1-byte request/response round trip", unit: "µs", lowerBetter: true, run: func(b *bench) (float64, error) {
			r, err := b.worker("rr", b.addr(7100), 1)
			if err != nil {
				return 0, err
			}
			if r.Ops == 0 {
				return 0, errors.New("no round trip completed")
			}
			return r.Seconds * 1e6 / float64(r.Ops), nil
		}},
		{name: "UDP 18-byte datagrams received", unit: "pkt/s", run: func(b *bench) (float64, error) {
			before := b.udpReceived.Load()
			r, err := b.worker("udp", b.addr(7200), 1)
			if err != nil {
				return 0, err
			}
			time.Sleep(200 * time.Millisecond) // let the sink drain
			got := b.udpReceived.Load() - before
			return float64(got) / r.Seconds, nil
		}},
	}
}

// worker runs this program's load generator inside the client namespace.
func (b *bench) worker(kind, addr string, conc int) (workerResult, error) {
	secs := b.cfg.seconds
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := b.client.Command(ctx, b.self, "-worker", kind, "-addr", addr,
		"-duration", fmt.Sprintf("%ds", secs), "-concurrency", fmt.Sprint(conc)).Output()
	var r workerResult
	if err != nil {
		return r, fmt.Errorf("worker %s: %w: %s", kind, err, out)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("worker %s output %q: %w", kind, out, err)
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("worker %s: %d failed operations", kind, r.Errors)
	}
	return r, nil
}

func (b *bench) measure(m metric, d *dptest.Daemon) (sample, error) {
	var before dataplane.Stats
	var err error
	if d != nil {
		if before, err = d.Stats(); err != nil {
			return sample{}, err
		}
	}
	v, err := m.run(b)
	if err != nil {
		return sample{}, err
	}
	s := sample{value: v}
	if d != nil {
		after, err := d.Stats()
		if err != nil {
			return sample{}, err
		}
		s.queued = after.Queued - before.Queued
		s.queueDrops = (after.KernelDropped + after.KernelUserDropped) - (before.KernelDropped + before.KernelUserDropped)
		if after.VerdictMsgs > before.VerdictMsgs {
			s.extra = fmt.Sprintf(", %.1f packets per verdict message", float64(s.queued)/float64(after.VerdictMsgs-before.VerdictMsgs))
		}
	}
	return s, nil
}

func (b *bench) startDaemon(mode string, last bool) (*dptest.Daemon, error) {
	args, ok := modeArgs[mode]
	if !ok || args == nil {
		return nil, nil
	}
	if last && mode == "inspect" && b.cfg.profile != "" {
		args = append(slices.Clone(args), "--cpuprofile", b.cfg.profile)
	}
	return dptest.Start(b.node, b.cfg.bin, args...)
}

func stopDaemon(d *dptest.Daemon) error {
	if d == nil {
		return nil
	}
	return d.Stop()
}

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

// table renders medians, ratios to bare and the queue's work per mode.
func (b *bench) table(metrics []metric, results map[string]map[string][]sample) string {
	var w strings.Builder
	fmt.Fprintf(&w, "Container to container, bridged test bed, %d runs of %d s each, medians; ratio = mode / bare (for the round trip, bare / mode: higher is better everywhere).\n\n", b.cfg.runs, b.cfg.seconds)
	w.WriteString("| measurement |")
	for _, m := range b.cfg.modes {
		fmt.Fprintf(&w, " %s |", modeTitles[m])
	}
	w.WriteString("\n|---|")
	for range b.cfg.modes {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	for _, m := range metrics {
		fmt.Fprintf(&w, "| %s (%s) |", m.name, m.unit)
		var bare float64
		if ss, ok := results[m.name]["bare"]; ok {
			bare = median(values(ss))
		}
		for _, mode := range b.cfg.modes {
			ss := results[m.name][mode]
			v := median(values(ss))
			cell := fmtValue(v)
			if mode != "bare" && bare > 0 && v > 0 {
				ratio := v / bare
				if m.lowerBetter {
					ratio = bare / v
				}
				cell += fmt.Sprintf(" (%.2f×)", ratio)
			}
			if mode != "bare" {
				var queued, drops uint64
				for _, s := range ss {
					queued += s.queued
					drops += s.queueDrops
				}
				cell += fmt.Sprintf("<br>queued %d, queue drops %d", queued/uint64(max(len(ss), 1)), drops)
			}
			fmt.Fprintf(&w, " %s |", cell)
		}
		w.WriteString("\n")
	}
	w.WriteString(b.targets(results))
	w.WriteString("\n\"queued\" is the mean number of packets that reached user space during one measurement; \"queue drops\" the total over all runs of the kernel's queue_dropped + queue_user_dropped (the dataplane runs fail-closed here, so nothing overflowing the queue passes uninspected).\n")
	return w.String()
}

// targets checks the targets against the medians.
func (b *bench) targets(results map[string]map[string][]sample) string {
	ratio := func(metric, mode string) (float64, bool) {
		bare, ok1 := results[metric]["bare"]
		got, ok2 := results[metric][mode]
		if !ok1 || !ok2 || median(values(bare)) == 0 {
			return 0, false
		}
		return median(values(got)) / median(values(bare)), true
	}
	// Queue drops during the TCP throughput measurement the target is
	// about (the UDP flood is reported in the table, not judged here).
	drops := func(mode string) uint64 {
		var n uint64
		for _, s := range results["TCP throughput, 1 stream"][mode] {
			n += s.queueDrops
		}
		return n
	}
	var w strings.Builder
	check := func(what, metric, mode string, min float64, extra string, ok bool) {
		r, have := ratio(metric, mode)
		if !have {
			return
		}
		verdict := "met"
		if r < min || !ok {
			verdict = "NOT met"
		}
		fmt.Fprintf(&w, "| %s | ≥ %.2f× bare%s | %.2f×%s | %s |\n", what, min, extra, r, map[bool]string{true: "", false: ", with queue drops"}[ok], verdict)
	}
	w.WriteString("\n| target | wanted | measured | |\n|---|---|---|---|\n")
	check("established throughput, 1 stream (allow-all)", "TCP throughput, 1 stream", "allow", 0.95, "", true)
	check("established throughput, 4 streams (allow-all)", "TCP throughput, 4 streams", "allow", 0.95, "", true)
	check("connections/s (allow-all)", "TCP connections/s (4 clients, 1-byte exchange)", "allow", 0.7, "", true)
	check("throughput with every packet queued (inspect-all, cpu fan-out)", "TCP throughput, 1 stream", "inspect", 0.5, ", zero queue drops", drops("inspect") == 0)
	check("throughput with every packet queued (inspect-all, address hash)", "TCP throughput, 1 stream", "inspect-hash", 0.5, ", zero queue drops", drops("inspect-hash") == 0)
	return w.String()
}

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

// recordSection replaces the "## title" section of a Markdown file (or
// appends it), keeping the other sections.
func recordSection(path, title, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(old) == 0 {
		old = []byte("# Benchmarks\n\nEach section is written by its `make bench-*` target.\n")
	}
	text := string(old)
	head := "## " + title + "\n"
	section := head + "\n" + sectionPreamble + "\n" + body
	start := strings.Index(text, head)
	if start < 0 {
		text = strings.TrimRight(text, "\n") + "\n\n" + section
	} else {
		end := strings.Index(text[start+len(head):], "\n## ")
		rest := ""
		if end >= 0 {
			rest = text[start+len(head)+end+1:]
		}
		text = text[:start] + section + "\n" + rest
	}
	return os.WriteFile(path, []byte(strings.TrimRight(text, "\n")+"\n"), 0o644)
}

var sectionPreamble = "Command: `make bench-dataplane` (runs `go run ./dataplane/internal/benchtool -bin bin/bulkhead -runs 3 -seconds 4 -record BENCHMARKS.md` as root). Tools: iperf3 (Debian) for throughput; the benchtool's own Go load generator, run inside the client container's namespace, for connections/s, round trips and UDP. The daemon is `bulkhead dataplane` in the node namespace with `--queues` = CPUs (" + fmt.Sprint(numCPU()) + " here).\n"

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("processor\t:"))
}
