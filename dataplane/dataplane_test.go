package dataplane

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"bulkhead.dev/bulkhead/dataplane/internal/nfq"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// idleConn is a bound queue on which nothing arrives: Recv blocks until
// Close.
type idleConn struct {
	once sync.Once
	done chan struct{}
}

func newIdleConn() *idleConn { return &idleConn{done: make(chan struct{})} }

func (c *idleConn) Recv() (int, error)         { <-c.done; return 0, nfq.ErrClosed }
func (c *idleConn) Message(int) ([]byte, bool) { return nil, false }
func (c *idleConn) Send([]byte) error          { return nil }
func (c *idleConn) Close() error               { c.once.Do(func() { close(c.done) }); return nil }

// fakeKernel opens idle queues and records their configuration; glue says
// whether it supports conntrack info in verdicts.
type fakeKernel struct {
	mu     sync.Mutex
	glue   bool
	opened []queueConfig
	conns  []*idleConn
}

func (k *fakeKernel) open(qc queueConfig) (queueConn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if qc.flags&nfq.FlagConntrack != 0 && !k.glue {
		return nil, fmt.Errorf("nfq: queue %d: set flags: %w", qc.queue, unix.EOPNOTSUPP)
	}
	k.opened = append(k.opened, qc)
	c := newIdleConn()
	k.conns = append(k.conns, c)
	return c, nil
}

func newTestDataplane(t *testing.T, k *fakeKernel, f *FakeRunner, mod func(*Config)) *Dataplane {
	t.Helper()
	cfg := Config{
		Decider:   &StaticDecider{},
		Queues:    2,
		Runner:    f,
		CheckLink: func(string) error { return nil },
		ProcRoot:  "testdata/proc/two-queues",
		openQueue: k.open,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func saved(t *testing.T, f *FakeRunner, fam Family) string {
	t.Helper()
	b, err := f.Save(context.Background(), fam)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDataplaneLifecycle(t *testing.T) {
	ctx := context.Background()
	k, f := &fakeKernel{}, &FakeRunner{}
	empty := map[Family]string{IPv4: saved(t, f, IPv4), IPv6: saved(t, f, IPv6)}
	d := newTestDataplane(t, k, f, nil)
	if err := d.Attach(ctx, bridgedA); err != nil { // before Start: remembered
		t.Fatal(err)
	}
	if len(f.Scripts()) != 0 {
		t.Fatal("Attach before Start ran iptables")
	}
	for range 2 {
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(k.opened); got != 2 {
		t.Fatalf("%d queues opened, want 2", got)
	}
	for i, qc := range k.opened {
		want := queueConfig{queue: uint16(i), copyLen: 65531, queueLen: 4096, flags: nfq.FlagGSO | nfq.FlagFailOpen, failOpen: true, procRoot: "testdata/proc/two-queues"}
		if diff := cmp.Diff(want, qc, cmp.AllowUnexported(queueConfig{})); diff != "" {
			t.Errorf("queue %d config (-want +got):\n%s", i, diff)
		}
	}
	if m := d.Mechanism(); m != MechanismRepeat {
		t.Errorf("mechanism %q on a kernel without conntrack glue, want repeat", m)
	}
	if s := saved(t, f, IPv4); !strings.Contains(s, bridgedA.Name) || strings.Count(s, "-j BULKHEAD-FWD") != 1 {
		t.Errorf("after Start:\n%s", s)
	}
	if err := d.Attach(ctx, bridgedB); err != nil {
		t.Fatal(err)
	}
	if err := d.Detach(ctx, bridgedA.Name); err != nil {
		t.Fatal(err)
	}
	want, _ := BuildRules(RuleSpec{Veths: []Veth{bridgedB}, Queues: 2, FailOpen: true, Balance: BalanceHash, Marks: DefaultMarks})
	for _, rs := range want {
		cur, _ := ParseSave([]byte(saved(t, f, rs.Family)))
		if diff := cmp.Diff(rs.Rules, cur.Rules); diff != "" {
			t.Errorf("%v rules after attach B, detach A (-want +got):\n%s", rs.Family, diff)
		}
	}
	if diff := cmp.Diff([]Veth{bridgedB}, d.Veths(), cmp.Comparer(func(a, b Veth) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
		t.Errorf("Veths (-want +got):\n%s", diff)
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Queues) != 2 || !st.Queues[1].KernelBound || st.Queues[1].KernelDropped != 12 || st.KernelUserDropped != 5 || !st.FailOpen || st.Mechanism != MechanismRepeat {
		t.Errorf("stats %+v", st)
	}
	for range 2 {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for fam, before := range empty {
		if diff := cmp.Diff(before, saved(t, f, fam)); diff != "" {
			t.Errorf("%v after Close (-before +after):\n%s", fam, diff)
		}
	}
	for i, c := range k.conns {
		select {
		case <-c.done:
		default:
			t.Errorf("queue %d still open after Close", i)
		}
	}
	if err := d.Start(ctx); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestDataplaneMechanism(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		glue    bool
		want    Mechanism
		force   Mechanism
		wantErr string
	}{
		{glue: false, want: MechanismRepeat},
		{glue: true, want: MechanismVerdict},
		{glue: true, force: MechanismRepeat, want: MechanismRepeat},
		{glue: false, force: MechanismVerdict, wantErr: "CONFIG_NETFILTER_NETLINK_GLUE_CT"},
	} {
		t.Run(fmt.Sprintf("glue=%v/force=%s", tc.glue, tc.force), func(t *testing.T) {
			k, f := &fakeKernel{glue: tc.glue}, &FakeRunner{}
			d := newTestDataplane(t, k, f, func(c *Config) { c.Mechanism = tc.force })
			err := d.Start(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Start error %v, want one naming %q", err, tc.wantErr)
				}
				if len(f.Scripts()) != 0 {
					t.Error("rules applied although Start failed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Mechanism(); got != tc.want {
				t.Errorf("mechanism %q, want %q", got, tc.want)
			}
			for _, r := range d.readers {
				if r.ctVerdict != (tc.want == MechanismVerdict) {
					t.Errorf("queue %d reader ctVerdict=%v", r.queue, r.ctVerdict)
				}
			}
			for _, qc := range k.opened {
				if (qc.flags&nfq.FlagConntrack != 0) != (tc.want == MechanismVerdict) {
					t.Errorf("queue %d flags %#x", qc.queue, qc.flags)
				}
			}
		})
	}
}

// TestDataplaneReplacesStaleRules starts over rules a killed run left
// behind (with a duplicated jump and a chain of an older version): one
// batch per family leaves exactly the new rules, and other software's rules
// are untouched.
func TestDataplaneReplacesStaleRules(t *testing.T) {
	ctx := context.Background()
	f := &FakeRunner{}
	stale := "*filter\n:DOCKER-USER - [0:0]\n:BULKHEAD-FWD - [0:0]\n:BULKHEAD-OLD - [0:0]\n" +
		"-A FORWARD -j BULKHEAD-FWD\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j BULKHEAD-FWD\n-A DOCKER-USER -j RETURN\n" +
		"-A BULKHEAD-FWD -j BULKHEAD-OLD\n-A BULKHEAD-OLD -j NFQUEUE --queue-num 0\nCOMMIT\n"
	for _, fam := range []Family{IPv4, IPv6} {
		if err := f.Load(fam, stale); err != nil {
			t.Fatal(err)
		}
	}
	d := newTestDataplane(t, &fakeKernel{}, f, nil)
	if err := d.Attach(ctx, routedA); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Scripts()); n != 2 {
		t.Errorf("%d restore batches, want one per family", n)
	}
	s := saved(t, f, IPv4)
	if strings.Contains(s, "BULKHEAD-OLD") || strings.Count(s, "-j BULKHEAD-FWD") != 1 || !strings.Contains(s, "-A FORWARD -j DOCKER-USER") || !strings.Contains(s, "-A DOCKER-USER -j RETURN") {
		t.Errorf("after Start over stale rules:\n%s", s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	want := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n"
	if diff := cmp.Diff(want, saved(t, f, IPv6)); diff != "" {
		t.Errorf("after Close (-want +got):\n%s", diff)
	}
}

func TestDataplaneAttachErrorsNameTheInput(t *testing.T) {
	ctx := context.Background()
	f := &FakeRunner{}
	d := newTestDataplane(t, &fakeKernel{}, f, func(c *Config) {
		c.CheckLink = func(name string) error {
			if name == "vethgone" || name == "br-gone" {
				return errors.New("no such interface")
			}
			return nil
		}
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := saved(t, f, IPv4)
	for _, tc := range []struct {
		v    Veth
		want string
	}{
		{Veth{Name: "vethgone"}, "attach vethgone: no such interface"},
		{Veth{Name: "veth1", Bridge: "br-gone"}, "attach veth1: bridge br-gone"},
		{Veth{Name: "veth1", Addrs: pfx("224.0.0.1/32")}, "veth veth1: address 224.0.0.1/32"},
		{Veth{Name: "bad name"}, `"bad name"`},
	} {
		err := d.Attach(ctx, tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Attach(%+v) = %v, want an error containing %q", tc.v, err, tc.want)
		}
	}
	// iptables refusing the batch: the error names the veth and the old
	// rules stay.
	f.FailRestore = errors.New("iptables-restore: line 3 failed")
	err := d.Attach(ctx, bridgedA)
	if err == nil || !strings.Contains(err.Error(), "attach veth1a2b3c4") {
		t.Errorf("Attach with failing iptables = %v", err)
	}
	f.FailRestore = nil
	if diff := cmp.Diff(before, saved(t, f, IPv4)); diff != "" {
		t.Errorf("rules changed by failed attaches (-before +after):\n%s", diff)
	}
	if len(d.Veths()) != 0 {
		t.Errorf("failed attach left veths %v", d.Veths())
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "no Decider") {
		t.Errorf("New without Decider: %v", err)
	}
	for _, cfg := range []Config{
		{Decider: &StaticDecider{}, Balance: "rr"},
		{Decider: &StaticDecider{}, Mechanism: "magic"},
		{Decider: &StaticDecider{}, Backend: "ebpf"},
		{Decider: &StaticDecider{}, Queues: 5000},
		{Decider: &StaticDecider{}, Marks: Marks{Mask: 1, Allow: 1, Deny: 1, Inspect: 1, InspectAll: 1}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestStaticDecider(t *testing.T) {
	deny := []PortRule{{ProtoTCP, 6379}, {ProtoUDP, 53}}
	inspect := []PortRule{{ProtoTCP, 8080}}
	for _, tc := range []struct {
		name string
		d    *StaticDecider
		p    Packet
		want Verdict
		// counters after the one call
		stats StaticStats
	}{
		{name: "allow", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoTCP, DstPort: 80}, want: Allow},
		{name: "deny tcp", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoTCP, DstPort: 6379}, want: Deny},
		{name: "other proto", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoUDP, DstPort: 6379}, want: Allow},
		{name: "deny udp", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoUDP, DstPort: 53}, want: Deny},
		{name: "dns of allowed", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoUDP, SrcPort: 53, Conn: ConnAllowed}, want: Accept},
		{name: "dns of denied", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoUDP, DstPort: 53, Conn: ConnDenied}, want: Drop},
		{name: "icmp", d: &StaticDecider{Deny: deny}, p: Packet{Proto: ProtoICMP}, want: Allow},
		{name: "inspect-all", d: &StaticDecider{InspectAll: true}, p: Packet{Proto: ProtoTCP}, want: InspectAll},
		{name: "inspect port", d: &StaticDecider{Inspect: inspect, InspectAll: true}, p: Packet{Proto: ProtoTCP, DstPort: 8080}, want: Inspect},
		{name: "deny beats inspect", d: &StaticDecider{Deny: []PortRule{{ProtoTCP, 8080}}, Inspect: inspect}, p: Packet{Proto: ProtoTCP, DstPort: 8080}, want: Deny},
		{name: "request", d: &StaticDecider{Inspect: inspect, DenyPayload: []byte("/admin")},
			p: Packet{Proto: ProtoTCP, DstPort: 8080, Conn: ConnInspected, Payload: []byte("GET / HTTP/1.1\r\n")}, want: Accept,
			stats: StaticStats{Requests: 1, RequestBytes: 16}},
		{name: "forbidden request", d: &StaticDecider{Inspect: inspect, DenyPayload: []byte("/admin")},
			p: Packet{Proto: ProtoTCP, DstPort: 8080, Conn: ConnInspected, Payload: []byte("GET /admin HTTP/1.1\r\n")}, want: Deny,
			stats: StaticStats{Requests: 1, RequestBytes: 21, PayloadDenied: 1}},
		{name: "forbidden first packet", d: &StaticDecider{Inspect: inspect, DenyPayload: []byte("/admin")},
			p: Packet{Proto: ProtoTCP, DstPort: 8080, Payload: []byte("GET /admin HTTP/1.1\r\n")}, want: Deny,
			stats: StaticStats{PayloadDenied: 1}},
		{name: "forbidden on allowed port", d: &StaticDecider{Inspect: inspect, DenyPayload: []byte("/admin")},
			p: Packet{Proto: ProtoTCP, DstPort: 80, Payload: []byte("GET /admin HTTP/1.1\r\n")}, want: Allow},
		{name: "inspect-all payload", d: &StaticDecider{InspectAll: true, DenyPayload: []byte("/admin")},
			p: Packet{Proto: ProtoTCP, SrcPort: 80, Conn: ConnInspectedAll, Payload: []byte("/admin")}, want: Deny,
			stats: StaticStats{PayloadDenied: 1}},
		{name: "empty inspected", d: &StaticDecider{Inspect: inspect},
			p: Packet{Proto: ProtoTCP, DstPort: 8080, Conn: ConnInspected}, want: Accept, stats: StaticStats{Empty: 1}},
		{name: "server side", d: &StaticDecider{Inspect: inspect},
			p: Packet{Proto: ProtoTCP, SrcPort: 8080, DstPort: 40000, Conn: ConnInspected, Payload: []byte("HTTP/1.1 200 OK")}, want: Accept,
			stats: StaticStats{FromServer: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Decide(&tc.p); got != tc.want {
				t.Errorf("Decide(%+v) = %v, want %v", tc.p, got, tc.want)
			}
			if diff := cmp.Diff(tc.stats, tc.d.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
	for _, s := range []string{"tcp", "tcp/0", "sctp/1", "udp/70000", "tcp/x"} {
		if _, err := ParsePortRule(s); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("ParsePortRule(%q) = %v, want an error naming it", s, err)
		}
	}
	if r, err := ParsePortRule("UDP/53"); err != nil || r != (PortRule{ProtoUDP, 53}) || r.String() != "udp/53" {
		t.Errorf("ParsePortRule(UDP/53) = %v, %v", r, err)
	}
}

// TestDefaultQueuesPerCPU: without Config.Queues there is one queue, and
// one reader, per CPU, and the rules balance over all of them.
func TestDefaultQueuesPerCPU(t *testing.T) {
	k, f := &fakeKernel{}, &FakeRunner{}
	d := newTestDataplane(t, k, f, func(c *Config) { c.Queues = 0 })
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cpus := runtime.NumCPU()
	if len(k.opened) != cpus || len(d.readers) != cpus {
		t.Errorf("%d queues opened, %d readers; want one each per CPU (%d)", len(k.opened), len(d.readers), cpus)
	}
	for i, qc := range k.opened {
		if qc.queue != uint16(i) {
			t.Errorf("queue %d opened as number %d", i, qc.queue)
		}
	}
	want := "--queue-num 0"
	if cpus > 1 {
		want = fmt.Sprintf("--queue-balance 0:%d", cpus-1)
	}
	if s := saved(t, f, IPv4); !strings.Contains(s, "-j NFQUEUE "+want) {
		t.Errorf("rules do not queue to %q:\n%s", want, s)
	}
}

// TestBindRefusedExplained: the kernel answers EPERM both for a queue
// another socket holds and for a caller without CAP_NET_ADMIN; its list of
// bound queues tells which, and the error says so.
func TestBindRefusedExplained(t *testing.T) {
	for _, tc := range []struct {
		name     string
		procRoot string
		queue    uint16
		err      error
		want     string
	}{
		{"held by another socket", "testdata/proc/two-queues", 1, unix.EPERM,
			"queue 1 is bound by another process (another bulkhead?): the kernel lists it bound to netlink port id 3213871 in testdata/proc/two-queues/net/netfilter/nfnetlink_queue"},
		{"no privilege", "testdata/proc/two-queues", 5, unix.EPERM, "queue 5: bind refused: binding a queue needs CAP_NET_ADMIN"},
		{"no queue file", "testdata/proc/empty", 0, unix.EPERM, "queue 0: bind refused: binding a queue needs CAP_NET_ADMIN"},
		{"unreadable list", "testdata/proc/bad", 0, unix.EPERM, "queue 0: bind refused: bound by another process, or no CAP_NET_ADMIN"},
		{"same socket twice", "testdata/proc/two-queues", 0, unix.EBUSY, "queue 0 is bound by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := bindRefused(queueConfig{queue: tc.queue, procRoot: tc.procRoot}, fmt.Errorf("nfq: queue %d: bind: %w", tc.queue, tc.err))
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bindRefused = %v; want it to wrap %v and contain %q", err, tc.err, tc.want)
			}
		})
	}
}

// TestStatsUnlistedQueue: a proc root that does not list the queues this
// Dataplane holds (another namespace's, or a wrong path) is an error, not
// silent zeros; once closed, unbound queues are expected.
func TestStatsUnlistedQueue(t *testing.T) {
	for _, tc := range []struct {
		procRoot, wantErr string
	}{
		{"testdata/proc/two-queues", ""},
		{"testdata/proc/empty", "testdata/proc/empty/net/netfilter/nfnetlink_queue does not list queue 0, 1"},
		{t.TempDir(), "does not list queue 0, 1"},
		{"testdata/proc/bad", "testdata/proc/bad/net/netfilter/nfnetlink_queue: line 1"},
	} {
		t.Run(tc.procRoot, func(t *testing.T) {
			d := newTestDataplane(t, &fakeKernel{}, &FakeRunner{}, func(c *Config) { c.ProcRoot = tc.procRoot })
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			s, err := d.Stats()
			if tc.wantErr == "" {
				if err != nil || !s.Queues[0].KernelBound || s.Queues[1].KernelIDSequence != 43845 {
					t.Errorf("Stats = %+v, %v; want both queues read", s.Queues, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Stats error %v, want one containing %q", err, tc.wantErr)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Stats(); tc.procRoot != "testdata/proc/bad" && err != nil {
				t.Errorf("Stats after Close: %v, want no error (queues unbound)", err)
			}
		})
	}
}
