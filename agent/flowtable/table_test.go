package flowtable

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/internal/fakeclock"
)

func newClock() *fakeclock.Clock { return fakeclock.New() }

var (
	cli  = netip.MustParseAddr("198.18.0.10")
	srv  = netip.MustParseAddr("198.18.0.11")
	cli6 = netip.MustParseAddr("2001:2:0:1::a")
	srv6 = netip.MustParseAddr("2001:2:0:1::b")
)

func pkt(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, proto uint8, flags uint8) *Packet {
	return &Packet{Tuple: Tuple{Src: src, Dst: dst, SrcPort: sport, DstPort: dport, Proto: proto}, Len: 100, TCPFlags: flags}
}

func TestMakeKey(t *testing.T) {
	a := Tuple{Src: srv, Dst: cli, SrcPort: 80, DstPort: 41000, Proto: ProtoTCP}
	b := Tuple{Src: cli, Dst: srv, SrcPort: 41000, DstPort: 80, Proto: ProtoTCP}
	ka, fromBa := MakeKey(&a)
	kb, fromBb := MakeKey(&b)
	if ka != kb || fromBa == fromBb {
		t.Fatalf("directions differ: %v/%v %v/%v", ka, fromBa, kb, fromBb)
	}
	if got, want := ka.String(), "tcp 198.18.0.10:41000 <-> 198.18.0.11:80"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// Same address both sides: ports order the key.
	self := Tuple{Src: cli, Dst: cli, SrcPort: 9000, DstPort: 80, Proto: ProtoUDP}
	k, fromB := MakeKey(&self)
	if k.APort != 80 || !fromB {
		t.Errorf("self key = %v, fromB %v", k, fromB)
	}
	k6, _ := MakeKey(&Tuple{Src: cli6, Dst: srv6, SrcPort: 1, DstPort: 2, Proto: ProtoICMPv6})
	if got, want := k6.String(), "icmpv6 [2001:2:0:1::a]:1 <-> [2001:2:0:1::b]:2"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := unsafe.Sizeof(Key{}); got != 38 {
		t.Errorf("Key is %d bytes, want 38", got)
	}
}

type seen struct {
	Dir     Dir
	Created bool
	State   TCPState
	Client  string
	Packets [2]uint32
}

func TestTrack(t *testing.T) {
	tests := []struct {
		name string
		pkts []*Packet
		want []seen
	}{
		{
			name: "tcp handshake, data, close",
			pkts: []*Packet{
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
				pkt(srv, 80, cli, 41000, ProtoTCP, TCPSyn|TCPAck),
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPAck),
				pkt(srv, 80, cli, 41000, ProtoTCP, TCPFin|TCPAck),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "198.18.0.10:41000", [2]uint32{1, 0}},
				{FromServer, false, TCPEstablished, "198.18.0.10:41000", [2]uint32{1, 1}},
				{FromClient, false, TCPEstablished, "198.18.0.10:41000", [2]uint32{2, 1}},
				{FromServer, false, TCPClosing, "198.18.0.10:41000", [2]uint32{2, 2}},
			},
		},
		{
			name: "client with the higher address",
			pkts: []*Packet{
				pkt(srv, 50000, cli, 443, ProtoTCP, TCPSyn),
				pkt(cli, 443, srv, 50000, ProtoTCP, TCPSyn|TCPAck),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "198.18.0.11:50000", [2]uint32{1, 0}},
				{FromServer, false, TCPEstablished, "198.18.0.11:50000", [2]uint32{1, 1}},
			},
		},
		{
			name: "first packet is a SYN-ACK: its receiver is the client",
			pkts: []*Packet{
				pkt(srv, 80, cli, 41000, ProtoTCP, TCPSyn|TCPAck),
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPAck),
			},
			want: []seen{
				{FromServer, true, TCPOpening, "198.18.0.10:41000", [2]uint32{0, 1}},
				{FromClient, false, TCPEstablished, "198.18.0.10:41000", [2]uint32{1, 1}},
			},
		},
		{
			name: "tcp picked up mid-stream: the ephemeral port is the client's",
			pkts: []*Packet{pkt(srv, 80, cli, 41000, ProtoTCP, TCPAck)},
			want: []seen{{FromServer, true, TCPEstablished, "198.18.0.10:41000", [2]uint32{0, 1}}},
		},
		{
			name: "tcp picked up mid-stream between two high ports: the sender",
			pkts: []*Packet{pkt(srv, 40000, cli, 41000, ProtoTCP, TCPAck)},
			want: []seen{{FromClient, true, TCPEstablished, "198.18.0.11:40000", [2]uint32{1, 0}}},
		},
		{
			name: "tcp picked up mid-stream, sender known to be the client",
			pkts: []*Packet{func() *Packet { p := pkt(srv, 80, cli, 41000, ProtoTCP, TCPAck); p.FromClient = true; return p }()},
			want: []seen{{FromClient, true, TCPEstablished, "198.18.0.11:80", [2]uint32{1, 0}}},
		},
		{
			name: "a new connection reuses the addresses and ports: a new flow",
			pkts: []*Packet{
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
				pkt(srv, 80, cli, 41000, ProtoTCP, TCPSyn|TCPAck),
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "198.18.0.10:41000", [2]uint32{1, 0}},
				{FromServer, false, TCPEstablished, "198.18.0.10:41000", [2]uint32{1, 1}},
				{FromClient, true, TCPOpening, "198.18.0.10:41000", [2]uint32{1, 0}},
			},
		},
		{
			name: "a retransmitted SYN is the same connection",
			pkts: []*Packet{
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "198.18.0.10:41000", [2]uint32{1, 0}},
				{FromClient, false, TCPOpening, "198.18.0.10:41000", [2]uint32{2, 0}},
			},
		},
		{
			name: "udp answer seen first",
			pkts: []*Packet{pkt(srv, 53, cli, 45000, ProtoUDP, 0)},
			want: []seen{{FromServer, true, TCPOpening, "198.18.0.10:45000", [2]uint32{0, 1}}},
		},
		{
			name: "rst closes",
			pkts: []*Packet{
				pkt(cli, 41000, srv, 80, ProtoTCP, TCPSyn),
				pkt(srv, 80, cli, 41000, ProtoTCP, TCPRst|TCPAck),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "198.18.0.10:41000", [2]uint32{1, 0}},
				{FromServer, false, TCPClosing, "198.18.0.10:41000", [2]uint32{1, 1}},
			},
		},
		{
			name: "udp over ipv6",
			pkts: []*Packet{
				pkt(cli6, 5353, srv6, 53, ProtoUDP, 0),
				pkt(srv6, 53, cli6, 5353, ProtoUDP, 0),
			},
			want: []seen{
				{FromClient, true, TCPOpening, "[2001:2:0:1::a]:5353", [2]uint32{1, 0}},
				{FromServer, false, TCPOpening, "[2001:2:0:1::a]:5353", [2]uint32{1, 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := New(Config{MaxFlows: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []seen
			var id uint64
			for _, p := range tt.pkts {
				tab.Track(p, func(f *Flow, dir Dir, created bool) {
					if created {
						id = f.ID
					} else if f.ID != id {
						t.Errorf("flow id changed: %d then %d", id, f.ID)
					}
					got = append(got, seen{dir, created, f.State, f.Client().String(), f.Packets})
				})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tab.Len() != 1 {
				t.Errorf("Len = %d, want 1", tab.Len())
			}
		})
	}
}

func TestIdleTimeouts(t *testing.T) {
	clk := newClock()
	var evicted []string
	tab, err := New(Config{
		MaxFlows: 100,
		Idle:     IdleTimeouts{TCPOpening: 10 * time.Second, TCPEstablished: time.Hour, TCPClosing: 5 * time.Second, UDP: 20 * time.Second, ICMP: 15 * time.Second, Other: 25 * time.Second},
		Now:      clk.Now,
		OnEvict: func(f *Flow, r Reason) {
			evicted = append(evicted, fmt.Sprintf("%s %s %v", r, f.Key, f.Slot))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	track := func(p *Packet, slot string) {
		tab.Track(p, func(f *Flow, _ Dir, created bool) {
			if created {
				f.Slot = slot
			}
		})
	}
	track(pkt(cli, 1, srv, 80, ProtoTCP, TCPSyn), "opening")
	track(pkt(cli, 2, srv, 80, ProtoTCP, TCPSyn), "established")
	track(pkt(srv, 80, cli, 2, ProtoTCP, TCPSyn|TCPAck), "")
	track(pkt(cli, 3, srv, 80, ProtoTCP, TCPAck), "closing")
	track(pkt(cli, 3, srv, 80, ProtoTCP, TCPFin), "")
	track(pkt(cli, 4, srv, 53, ProtoUDP, 0), "udp")
	track(pkt(cli, 0, srv, 0, ProtoICMP, 0), "icmp")
	track(pkt(cli6, 0, srv6, 0, 47, 0), "gre")

	steps := []struct {
		after time.Duration
		want  []string
	}{
		{4 * time.Second, nil},
		{time.Second, []string{"closed tcp 198.18.0.10:3 <-> 198.18.0.11:80 closing"}},
		{5 * time.Second, []string{"idle tcp 198.18.0.10:1 <-> 198.18.0.11:80 opening"}},
		{5 * time.Second, []string{"idle icmp 198.18.0.10:0 <-> 198.18.0.11:0 icmp"}},
		{5 * time.Second, []string{"idle udp 198.18.0.10:4 <-> 198.18.0.11:53 udp"}},
		{5 * time.Second, []string{"idle 47 [2001:2:0:1::a]:0 <-> [2001:2:0:1::b]:0 gre"}},
		{time.Hour, []string{"idle tcp 198.18.0.10:2 <-> 198.18.0.11:80 established"}},
	}
	for i, s := range steps {
		clk.Advance(s.after)
		evicted = nil
		tab.Sweep()
		if diff := cmp.Diff(s.want, evicted); diff != "" {
			t.Errorf("step %d (+%s) (-want +got):\n%s", i, s.after, diff)
		}
	}
	if tab.Len() != 0 {
		t.Errorf("Len = %d after every timeout", tab.Len())
	}
	if st := tab.Stats(); st.Evicted[Idle] != 5 || st.Evicted[Closed] != 1 || st.Created != 6 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTrafficKeepsFlowsAlive(t *testing.T) {
	clk := newClock()
	tab, _ := New(Config{MaxFlows: 10, Idle: IdleTimeouts{UDP: 10 * time.Second}, Now: clk.Now})
	p := pkt(cli, 4, srv, 53, ProtoUDP, 0)
	for range 5 {
		tab.Track(p, func(*Flow, Dir, bool) {})
		clk.Advance(9 * time.Second)
		if n := tab.Sweep(); n != 0 {
			t.Fatalf("an active flow was swept")
		}
	}
	clk.Advance(time.Second)
	if n := tab.Sweep(); n != 1 {
		t.Fatalf("Sweep = %d, want 1", n)
	}
}

func TestCapacityEviction(t *testing.T) {
	clk := newClock()
	var reasons []Reason
	tab, _ := New(Config{MaxFlows: 4, Now: clk.Now, OnEvict: func(f *Flow, r Reason) { reasons = append(reasons, r) }})
	// Two established connections, then a flood of SYNs and UDP.
	for port := uint16(1); port <= 2; port++ {
		tab.Track(pkt(cli, port, srv, 80, ProtoTCP, TCPSyn), func(*Flow, Dir, bool) {})
		tab.Track(pkt(srv, 80, cli, port, ProtoTCP, TCPSyn|TCPAck), func(*Flow, Dir, bool) {})
		clk.Advance(time.Second)
	}
	for port := uint16(100); port < 200; port++ {
		proto := uint8(ProtoTCP)
		if port%2 == 0 {
			proto = ProtoUDP
		}
		tab.Track(pkt(cli, port, srv, 9, proto, TCPSyn), func(*Flow, Dir, bool) {})
		clk.Advance(time.Millisecond)
		if tab.Len() > 4 {
			t.Fatalf("Len = %d > 4", tab.Len())
		}
	}
	for port := uint16(1); port <= 2; port++ {
		if !tab.Lookup(&Tuple{Src: cli, Dst: srv, SrcPort: port, DstPort: 80, Proto: ProtoTCP}, func(*Flow, Dir) {}) {
			t.Errorf("established flow %d was pushed out by the flood", port)
		}
	}
	// The two flood flows left are the most recent ones.
	for port := uint16(198); port < 200; port++ {
		proto := uint8(ProtoTCP)
		if port%2 == 0 {
			proto = ProtoUDP
		}
		if !tab.Lookup(&Tuple{Src: cli, Dst: srv, SrcPort: port, DstPort: 9, Proto: proto}, func(*Flow, Dir) {}) {
			t.Errorf("recent flow %d missing", port)
		}
	}
	if st := tab.Stats(); st.Evicted[Capacity] != 98 || len(reasons) != 98 {
		t.Errorf("evicted %v (callback %d), want 98 for capacity", st.Evicted, len(reasons))
	}
	// With only established connections, the least recently used goes.
	tab2, _ := New(Config{MaxFlows: 2, Now: clk.Now})
	for port := uint16(1); port <= 3; port++ {
		tab2.Track(pkt(cli, port, srv, 80, ProtoTCP, TCPAck), func(*Flow, Dir, bool) {})
		clk.Advance(time.Second)
		if port == 2 {
			tab2.Track(pkt(cli, 1, srv, 80, ProtoTCP, TCPAck), func(*Flow, Dir, bool) {}) // 1 is used again
		}
	}
	if tab2.Lookup(&Tuple{Src: cli, Dst: srv, SrcPort: 2, DstPort: 80, Proto: ProtoTCP}, func(*Flow, Dir) {}) {
		t.Error("least recently used flow 2 survived")
	}
}

func TestDeleteAndRange(t *testing.T) {
	var deleted []uint64
	tab, _ := New(Config{MaxFlows: 100, OnEvict: func(f *Flow, r Reason) {
		if r == EndpointGone {
			deleted = append(deleted, f.ID)
		}
	}})
	var ids []uint64
	for port := uint16(1); port <= 10; port++ {
		tab.Track(pkt(cli, port, srv, 80, ProtoTCP, TCPSyn), func(f *Flow, _ Dir, _ bool) {
			ids = append(ids, f.ID)
			f.Verdict = Allow
			f.Rule = "web"
		})
	}
	tu := Tuple{Src: srv, Dst: cli, SrcPort: 80, DstPort: 3, Proto: ProtoTCP} // reply direction
	if !tab.Delete(&tu, EndpointGone) || tab.Delete(&tu, EndpointGone) {
		t.Fatal("Delete should succeed once")
	}
	if diff := cmp.Diff([]uint64{ids[2]}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	n := 0
	tab.Range(func(f *Flow) bool {
		if f.Verdict != Allow || f.Rule != "web" || f.Server().Port() != 80 {
			t.Errorf("flow %+v", f)
		}
		n++
		return n < 5
	})
	if n != 5 {
		t.Errorf("Range visited %d, want to stop at 5", n)
	}
	if tab.Len() != 9 {
		t.Errorf("Len = %d", tab.Len())
	}
	if n := tab.DeleteIf(func(f *Flow) bool { return f.Client().Port()%2 == 0 }, EndpointGone); n != 5 {
		t.Errorf("DeleteIf removed %d, want 5 (ports 2, 4, 6, 8, 10)", n)
	}
	if st := tab.Stats(); tab.Len() != 4 || st.Evicted[EndpointGone] != 1+5 {
		t.Errorf("after DeleteIf: Len %d, stats %+v", tab.Len(), st)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("ids not increasing: %v", ids)
		}
	}
}

func TestStartClose(t *testing.T) {
	clk := newClock()
	tab, _ := New(Config{MaxFlows: 10, SweepInterval: time.Millisecond, Idle: IdleTimeouts{UDP: time.Second}, Now: clk.Now})
	tab.Start()
	tab.Start()
	tab.Track(pkt(cli, 4, srv, 53, ProtoUDP, 0), func(*Flow, Dir, bool) {})
	clk.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for tab.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if tab.Len() != 0 {
		t.Error("the sweeper did not remove the idle flow")
	}
	tab.Close()
	tab.Close()
	tab.Start() // after Close: no sweeper
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{MaxFlows: -1}); err == nil {
		t.Error("New(-1) succeeded")
	}
	tab, err := New(Config{})
	if err != nil || tab.Stats().Limit != 262144 || len(tab.shards) != 64 {
		t.Errorf("defaults: %v, %+v, %d shards", err, tab.Stats(), len(tab.shards))
	}
	total := 0
	small, _ := New(Config{MaxFlows: 10000})
	for i := range small.shards {
		total += small.shards[i].max
	}
	if total != 10000 {
		t.Errorf("shard bounds add up to %d, want 10000", total)
	}
}

func TestConcurrent(t *testing.T) {
	clk := newClock()
	const max = 5000
	var evictions sync.Map
	tab, _ := New(Config{MaxFlows: max, Now: clk.Now, Idle: IdleTimeouts{UDP: time.Second}, OnEvict: func(f *Flow, _ Reason) {
		if f.Slot == nil {
			t.Error("evicted a flow whose slot was never set")
		}
		evictions.Store(f.ID, true)
	}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20000 {
				src := netip.AddrFrom4([4]byte{198, 18, byte(g), byte(i % 7)})
				p := pkt(src, uint16(i%3000), srv, 53, ProtoUDP, 0)
				tab.Track(p, func(f *Flow, _ Dir, created bool) {
					if created {
						f.Slot = i
					}
					f.L7.Requests++
				})
				if i%1000 == 0 {
					clk.Advance(500 * time.Millisecond)
					tab.Sweep()
				}
				if n := tab.Len(); n > max {
					t.Errorf("Len = %d > %d", n, max)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			tab.Range(func(f *Flow) bool { _ = f.Key.String(); return true })
		}
	})
	wg.Wait()
	st := tab.Stats()
	var ev uint64
	for _, e := range st.Evicted {
		ev += e
	}
	if st.Created-ev != uint64(st.Active) {
		t.Errorf("created %d - evicted %d != active %d", st.Created, ev, st.Active)
	}
}

func TestNoAllocations(t *testing.T) {
	tab, _ := New(Config{MaxFlows: 1000})
	p := pkt(cli, 41000, srv, 80, ProtoTCP, TCPAck)
	reply := pkt(srv, 80, cli, 41000, ProtoTCP, TCPAck)
	tab.Track(p, func(*Flow, Dir, bool) {})
	var requests uint32
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Track existing", func() { tab.Track(p, func(f *Flow, _ Dir, _ bool) { f.L7.Requests++ }) }},
		{"Track reply", func() { tab.Track(reply, func(f *Flow, _ Dir, _ bool) { requests = f.L7.Requests }) }},
		{"Lookup", func() { tab.Lookup(&p.Tuple, func(f *Flow, _ Dir) { requests = f.L7.Requests }) }},
	} {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
	_ = requests
	// Inserting into a warm table (evicting and reusing slots) does not
	// allocate either once the index has grown.
	full, _ := New(Config{MaxFlows: 256})
	var port uint16
	insert := func() {
		port++
		full.Track(pkt(cli, port, srv, 53, ProtoUDP, 0), func(*Flow, Dir, bool) {})
	}
	for range 10000 {
		insert()
	}
	if n := testing.AllocsPerRun(1000, insert); n > 0.01 {
		t.Errorf("insert with eviction: %v allocations, want 0", n)
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func distinct(i int) *Packet {
	return pkt(netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), byte(i >> 8)}), uint16(i), srv, 443, ProtoTCP, TCPSyn)
}

// TestMemoryPerFlow fills a table with 1,000,000 flows and measures the heap
// it holds: at most 512 bytes per flow.
func TestMemoryPerFlow(t *testing.T) {
	const n = 1_000_000
	before := heapInUse()
	tab, _ := New(Config{MaxFlows: n})
	for i := range n {
		tab.Track(distinct(i), func(*Flow, Dir, bool) {})
	}
	// Each shard holds its share of the bound: the fullest shards evict
	// slightly before the table as a whole is full.
	if tab.Len() < n*99/100 {
		t.Fatalf("Len = %d, want at least 99%% of %d", tab.Len(), n)
	}
	per := float64(heapInUse()-before) / float64(tab.Len())
	runtime.KeepAlive(tab)
	t.Logf("%d flows, %.0f bytes per flow (Flow struct %d bytes)", tab.Len(), per, unsafe.Sizeof(Flow{}))
	if per > 512 {
		t.Errorf("%.0f bytes per flow, more than 512", per)
	}
}

// TestFlood sends 1,000,000 distinct flows through a default table: it stays
// within its bound (flows and 128 MiB) and the established connection that
// was there before the flood survives it.
func TestFlood(t *testing.T) {
	before := heapInUse()
	tab, _ := New(Config{})
	est := pkt(cli, 41000, srv, 80, ProtoTCP, TCPAck)
	tab.Track(est, func(*Flow, Dir, bool) {})
	for i := range 1_000_000 {
		tab.Track(distinct(i), func(*Flow, Dir, bool) {})
		if i%4096 == 0 && tab.Len() > 262144 {
			t.Fatalf("Len = %d after %d flows", tab.Len(), i)
		}
	}
	used := heapInUse() - before
	runtime.KeepAlive(tab)
	t.Logf("%d flows, %.1f MiB after the flood; evicted %v", tab.Len(), float64(used)/(1<<20), tab.Stats().Evicted)
	if tab.Len() > 262144 {
		t.Errorf("Len = %d > 262144", tab.Len())
	}
	if used > 128<<20 {
		t.Errorf("the table holds %.1f MiB, more than 128 MiB", float64(used)/(1<<20))
	}
	if !tab.Lookup(&est.Tuple, func(*Flow, Dir) {}) {
		t.Error("the established connection did not survive the flood")
	}
}

func BenchmarkTrackExisting(b *testing.B) {
	tab, _ := New(Config{})
	p := pkt(cli, 41000, srv, 80, ProtoTCP, TCPAck)
	b.ReportAllocs()
	for b.Loop() {
		tab.Track(p, func(f *Flow, _ Dir, _ bool) {})
	}
}

func BenchmarkTrackNew(b *testing.B) {
	tab, _ := New(Config{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Track(distinct(i), func(f *Flow, _ Dir, _ bool) {})
		i++
	}
}

func BenchmarkTrackParallel(b *testing.B) {
	tab, _ := New(Config{})
	for i := range 10000 {
		tab.Track(distinct(i), func(*Flow, Dir, bool) {})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tab.Track(distinct(i%10000), func(*Flow, Dir, bool) {})
			i++
		}
	})
}

// BenchmarkMemoryPerFlow reports the heap bytes per tracked flow.
func BenchmarkMemoryPerFlow(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		before := heapInUse()
		tab, _ := New(Config{MaxFlows: n})
		for i := range n {
			tab.Track(distinct(i), func(*Flow, Dir, bool) {})
		}
		b.ReportMetric(float64(heapInUse()-before)/float64(tab.Len()), "bytes/flow")
		runtime.KeepAlive(tab)
	}
}
