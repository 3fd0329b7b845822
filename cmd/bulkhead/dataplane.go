package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/netns"
)

func init() {
	register(command{
		name:    "dataplane",
		usage:   "[--deny tcp/PORT|udp/PORT|icmp|icmpv6]... [--inspect tcp/PORT]... [--deny-payload TEXT] [--allow-all | --inspect-all] [--queues N] [--fail-closed] [--stats 5s]",
		summary: "developer tool: run container discovery and the dataplane here with a static decider",
		run:     runDataplane,
	})
}

// portRules collects repeated --deny and --inspect flags.
type portRules []dataplane.PortRule

func (p *portRules) String() string {
	s := make([]string, len(*p))
	for i, r := range *p {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

func (p *portRules) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		r, err := dataplane.ParsePortRule(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		*p = append(*p, r)
	}
	return nil
}

func runDataplane(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dataplane", stderr)
	var deny portRules
	fs.Var(&deny, "deny", "deny connections to PROTO/PORT (tcp/6379, udp/53) or of a protocol (icmp, icmpv6); repeatable")
	var inspect portRules
	fs.Var(&inspect, "inspect", "inspect connections to PROTO/PORT request by request (queue what the client sends); repeatable")
	denyPayload := fs.String("deny-payload", "", "deny an inspected connection when a queued packet's payload contains this text")
	allowAll := fs.Bool("allow-all", false, "allow every connection (the default when no --deny is given)")
	inspectAll := fs.Bool("inspect-all", false, "allow every other connection but keep queueing all its packets, both directions")
	queues := fs.Int("queues", 0, "number of queues and readers (default: number of CPUs)")
	queueBase := fs.Uint("queue-base", 0, "first queue number")
	queueLen := fs.Uint("queue-len", 0, "packets the kernel holds per queue waiting for a verdict (default 4096)")
	copyLen := fs.Uint("copy-len", 0, "bytes of each queued packet copied to the daemon (default 65531: whole packets)")
	batch := fs.Int("batch", 0, "most packets read per receive call (default 64)")
	rcvBuf := fs.Int("rcvbuf", 0, "receive buffer of each queue socket in bytes (default 32 MiB)")
	procRoot := fs.String("proc-root", "/proc", "where /proc is, for the kernel's queue counters")
	decideDelay := fs.Duration("decide-delay", 0, "testing only: make every decision take this long (a slow Decider, to overflow the queue)")
	failClosed := fs.Bool("fail-closed", false, "drop packets when the daemon is gone or the queue is full (default: fail-open)")
	balance := fs.String("balance", string(dataplane.BalanceHash), "spread packets over queues by address hash or by cpu")
	backend := fs.String("backend", string(dataplane.BackendAuto), "iptables backend: auto, nft or legacy")
	mech := fs.String("connmark", string(dataplane.MechanismAuto), "how decisions reach the connmark: auto, repeat or verdict")
	stats := fs.Duration("stats", 0, "print counters at this interval (and always on SIGUSR1)")
	statsFormat := fs.String("stats-format", "text", "counters format: text or json (one object per line)")
	logLevel := fs.String("log-level", "info", "debug (logs every decision), info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *allowAll && (*inspectAll || len(deny) > 0 || len(inspect) > 0) {
		return usagef("--allow-all excludes --inspect-all, --inspect and --deny")
	}
	if *denyPayload != "" && len(inspect) == 0 && !*inspectAll {
		return usagef("--deny-payload needs inspected connections: --inspect PROTO/PORT or --inspect-all")
	}
	if *statsFormat != "text" && *statsFormat != "json" {
		return usagef("--stats-format %q: want text or json", *statsFormat)
	}
	if *queueBase > 65535 {
		return usagef("--queue-base %d: want 0 to 65535", *queueBase)
	}
	if *queueLen > 1<<20 {
		return usagef("--queue-len %d: want 1 to %d", *queueLen, 1<<20)
	}
	if *copyLen > 65531 {
		return usagef("--copy-len %d: want 1 to 65531", *copyLen)
	}
	if *batch < 0 || *batch > 1024 {
		return usagef("--batch %d: want 1 to 1024", *batch)
	}
	if *rcvBuf < 0 || *rcvBuf > 1<<30 {
		return usagef("--rcvbuf %d: want 1 to %d", *rcvBuf, 1<<30)
	}
	if *decideDelay < 0 || *decideDelay > time.Second {
		return usagef("--decide-delay %v: want 0 to 1s", *decideDelay)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level %q: %v", *logLevel, err)
	}
	be, err := dataplane.ParseBackend(*backend)
	if err != nil {
		return usagef("%v", err)
	}
	mechanism, err := dataplane.ParseMechanism(*mech)
	if err != nil {
		return usagef("%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	decider := &dataplane.StaticDecider{Deny: deny, Inspect: inspect, InspectAll: *inspectAll, DenyPayload: []byte(*denyPayload),
		Delay: *decideDelay, Logger: log}
	dp, err := dataplane.New(dataplane.Config{
		Decider:    decider,
		Queues:     *queues,
		QueueBase:  uint16(*queueBase),
		QueueLen:   uint32(*queueLen),
		CopyLen:    uint32(*copyLen),
		Batch:      *batch,
		RcvBuf:     *rcvBuf,
		ProcRoot:   *procRoot,
		FailClosed: *failClosed,
		Balance:    dataplane.Balance(*balance),
		Backend:    be,
		Mechanism:  mechanism,
		Logger:     log,
	})
	if err != nil {
		return usagef("%v", err)
	}
	// Discover the containers first and attach them before Start, so the
	// first rule set (which replaces rules a crashed run left) already
	// covers them: no unprotected moment on a restart.
	w, err := netns.NewWatcher(netns.Config{Logger: log})
	if err == nil {
		err = w.Start(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("container discovery: %w", err)
	}
	for _, c := range w.Containers() {
		dp.HandleEvent(ctx, netns.Event{Type: netns.Added, Container: c})
	}
	if err := dp.Start(ctx); err != nil {
		return errors.Join(err, w.Close(), dp.Close())
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	var tick <-chan time.Time
	if *stats > 0 {
		t := time.NewTicker(*stats)
		defer t.Stop()
		tick = t.C
	}
	printStats := func() {
		s, err := dp.Stats()
		var statsErr string
		if err != nil {
			statsErr = err.Error()
			log.Warn("dataplane: kernel queue counters", "err", err)
		}
		ds := decider.Stats()
		if *statsFormat == "json" {
			// The shape dptest.Snapshot reads: it fails on StatsError.
			b, _ := json.Marshal(struct {
				dataplane.Stats
				StatsError string `json:",omitempty"`
				Decider    dataplane.StaticStats
			}{s, statsErr, ds})
			fmt.Fprintf(stdout, "%s\n", b)
			return
		}
		fmt.Fprintf(stdout, "--- %s\n", time.Now().Format(time.TimeOnly))
		_ = s.WriteText(stdout)
		if statsErr != "" {
			fmt.Fprintf(stdout, "counters error: %s\n", statsErr)
		}
		fmt.Fprintf(stdout, "inspected connections: requests %d (%d bytes), empty %d, from server %d, denied for payload %d\n",
			ds.Requests, ds.RequestBytes, ds.Empty, ds.FromServer, ds.PayloadDenied)
	}
	log.Info("dataplane: ready", "deny", deny.String(), "inspect", inspect.String(), "inspect_all", *inspectAll,
		"deny_payload", *denyPayload, "mechanism", dp.Mechanism())
	events := w.Events()
	for {
		select {
		case <-ctx.Done():
			werr := w.Close()
			cerr := dp.Close()
			printStats()
			return errors.Join(werr, cerr)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			dp.HandleEvent(ctx, ev)
		case <-usr1:
			printStats()
		case <-tick:
			printStats()
		}
	}
}
