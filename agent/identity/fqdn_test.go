package identity

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/internal/fakeclock"
)

func newClock() *fakeclock.Clock { return fakeclock.New() }

var (
	ip1 = netip.MustParseAddr("198.19.1.1")
	ip2 = netip.MustParseAddr("198.19.1.2")
	ip6 = netip.MustParseAddr("2001:2:0:100::5")
)

func TestFQDNTTLFloorAndExpiry(t *testing.T) {
	clk := newClock()
	m := NewFQDNMap(30*time.Second, 100, clk.Now)
	m.Observe("Short.Example.COM.", ip1, 5*time.Second) // below the floor
	m.Observe("long.example.com", ip2, 300*time.Second)

	steps := []struct {
		after  time.Duration
		name1  string
		name2  string
		sweep  int
		remain int
	}{
		{0, "short.example.com", "long.example.com", 0, 2},
		{29 * time.Second, "short.example.com", "long.example.com", 0, 2}, // floor keeps the 5 s answer
		{time.Second, "", "long.example.com", 1, 1},                       // 30 s: floor reached
		{269 * time.Second, "long.example.com", "long.example.com", 0, 1}, // (name1 unused here)
		{time.Second, "", "", 1, 0},
	}
	for i, s := range steps {
		clk.Advance(s.after)
		if i == 3 {
			// Looking up ip2 only: ip1 is gone.
			if got, ok := m.Name(ip2); !ok || got != s.name2 {
				t.Errorf("step %d: Name(ip2) = %q, %v", i, got, ok)
			}
		} else {
			if got, _ := m.Name(ip1); got != s.name1 {
				t.Errorf("step %d: Name(ip1) = %q, want %q", i, got, s.name1)
			}
			if got, _ := m.Name(ip2); got != s.name2 {
				t.Errorf("step %d: Name(ip2) = %q, want %q", i, got, s.name2)
			}
		}
		if got := m.Sweep(); got != s.sweep {
			t.Errorf("step %d: Sweep = %d, want %d", i, got, s.sweep)
		}
		if got := m.Stats().Pairs; got != s.remain {
			t.Errorf("step %d: %d pairs, want %d", i, got, s.remain)
		}
	}
	if got := m.Stats().Expired; got != 2 {
		t.Errorf("Expired = %d, want 2", got)
	}
}

func TestFQDNRefreshExtends(t *testing.T) {
	clk := newClock()
	m := NewFQDNMap(0, 100, clk.Now)
	m.Observe("a.example", ip1, 10*time.Second)
	clk.Advance(8 * time.Second)
	m.Observe("a.example", ip1, 10*time.Second) // now expires at 18 s
	m.Observe("a.example", ip1, time.Second)    // a shorter TTL never shortens
	clk.Advance(9 * time.Second)
	if _, ok := m.Name(ip1); !ok {
		t.Fatal("refreshed pair expired early")
	}
	clk.Advance(time.Second)
	if n, ok := m.Name(ip1); ok {
		t.Fatalf("pair still there after its TTL: %q", n)
	}
}

func TestFQDNSeveralNames(t *testing.T) {
	clk := newClock()
	m := NewFQDNMap(0, 100, clk.Now)
	m.Observe("a.example", ip1, time.Minute)
	clk.Advance(time.Second)
	m.Observe("b.example", ip1, time.Minute)
	m.Observe("a.example", ip6, time.Minute)
	if got, _ := m.Name(ip1); got != "b.example" {
		t.Errorf("Name = %q, want the most recent", got)
	}
	if diff := cmp.Diff([]string{"b.example", "a.example"}, m.AppendNames(nil, ip1)); diff != "" {
		t.Errorf("AppendNames (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{ip6, ip1}, m.AppendAddrs(nil, "A.example."), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("AppendAddrs (-want +got):\n%s", diff)
	}
	// Refreshing a.example/ip1 makes it the most recent for ip1.
	m.Observe("a.example", ip1, time.Minute)
	if got, _ := m.Name(ip1); got != "a.example" {
		t.Errorf("Name after refresh = %q", got)
	}
	// IPv4-mapped lookups find IPv4 pairs.
	if got, _ := m.Name(netip.AddrFrom16(ip1.As16())); got != "a.example" {
		t.Errorf("Name(mapped) = %q", got)
	}
}

func TestFQDNObserveResponse(t *testing.T) {
	clk := newClock()
	m := NewFQDNMap(0, 100, clk.Now)
	m.ObserveResponse("www.shop.example.", []DNSRecord{
		{Name: "www.shop.example", TTL: 300, Target: "shop.cdn.example"},
		{Name: "shop.cdn.example", TTL: 60, Target: "edge.cdn.example"},
		{Name: "edge.cdn.example", TTL: 120, Addr: ip1},
		{Name: "edge.cdn.example", TTL: 20, Addr: ip6},
		{Name: "unrelated.example", TTL: 600, Addr: ip2},
	})
	if diff := cmp.Diff([]string{"www.shop.example", "shop.cdn.example", "edge.cdn.example"}, reverse(m.AppendNames(nil, ip1))); diff != "" {
		t.Errorf("names of ip1 (-want +got):\n%s", diff)
	}
	if got, _ := m.Name(ip2); got != "unrelated.example" {
		t.Errorf("Name(ip2) = %q", got)
	}
	// The chain's least TTL (60 s) bounds ip1; ip6's own 20 s bounds it.
	clk.Advance(21 * time.Second)
	if _, ok := m.Name(ip6); ok {
		t.Error("ip6 outlived its 20 s TTL")
	}
	clk.Advance(39 * time.Second)
	if n := m.AppendNames(nil, ip1); len(n) != 0 {
		t.Errorf("ip1 outlived the chain's 60 s TTL: %q", n)
	}
	if _, ok := m.Name(ip2); !ok {
		t.Error("ip2 expired early")
	}
}

// TestFQDNObserveResponseNoCNAME: address records without a chain are
// remembered under their own names.
func TestFQDNObserveResponseNoCNAME(t *testing.T) {
	m := NewFQDNMap(time.Minute, 100, newClock().Now)
	m.ObserveResponse("API.Example.", []DNSRecord{
		{Name: "API.Example.", TTL: 300, Addr: ip1},
		{Name: "api.example", TTL: 300, Addr: ip6},
		{Name: "other.example", TTL: 300, Addr: ip2},
		{Name: "api.example", TTL: 300}, // no address: ignored
	})
	for _, tt := range []struct {
		addr netip.Addr
		want string
	}{{ip1, "api.example"}, {ip6, "api.example"}, {ip2, "other.example"}} {
		if got, _ := m.Name(tt.addr); got != tt.want {
			t.Errorf("Name(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if n := m.Stats().Pairs; n != 3 {
		t.Errorf("%d pairs, want 3", n)
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestFQDNBounded(t *testing.T) {
	clk := newClock()
	const max = 100
	m := NewFQDNMap(time.Hour, max, clk.Now)
	for i := range 1000 {
		m.Observe(fmt.Sprintf("h%d.example", i), netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), time.Hour)
		if n := m.Stats().Pairs; n > max {
			t.Fatalf("after %d answers the map holds %d pairs, more than %d", i+1, n, max)
		}
	}
	st := m.Stats()
	if st.Pairs != max || st.Evicted != 900 {
		t.Errorf("stats = %+v, want %d pairs and 900 evicted", st, max)
	}
	// The most recent stay, the oldest went.
	if got, ok := m.Name(netip.AddrFrom4([4]byte{198, 19, 3, 231})); !ok || got != "h999.example" {
		t.Errorf("newest pair: %q, %v", got, ok)
	}
	if _, ok := m.Name(netip.AddrFrom4([4]byte{198, 19, 0, 0})); ok {
		t.Error("oldest pair still there")
	}
	// A refreshed pair is kept over newer ones.
	m.Observe("h900.example", netip.AddrFrom4([4]byte{198, 19, 3, 132}), time.Hour)
	for i := range max - 1 {
		m.Observe(fmt.Sprintf("n%d.example", i), netip.AddrFrom4([4]byte{198, 20, 0, byte(i)}), time.Hour)
	}
	if _, ok := m.Name(netip.AddrFrom4([4]byte{198, 19, 3, 132})); !ok {
		t.Error("refreshed pair was evicted")
	}
}

func TestFQDNConcurrent(t *testing.T) {
	m := NewFQDNMap(time.Second, 64, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			buf := make([]string, 0, 8)
			for i := range 2000 {
				a := netip.AddrFrom4([4]byte{198, 19, byte(g), byte(i)})
				m.Observe(fmt.Sprintf("h%d.example", i%50), a, time.Minute)
				m.Name(a)
				buf = m.AppendNames(buf[:0], a)
				if i%500 == 0 {
					m.Sweep()
				}
			}
		})
	}
	wg.Wait()
	if n := m.Stats().Pairs; n > 64 {
		t.Fatalf("%d pairs, more than 64", n)
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	s := mustStatic(t)
	fq := NewFQDNMap(time.Minute, 100, nil)
	fq.Observe("api.example.com", ip1, time.Hour)
	r := NewResolver([]Source{s}, []PeerSource{s}, fq)
	r.Add(Container{HostIf: "veth-api", Addrs: addrs("198.18.0.11")})
	buf := make([]string, 0, 4)
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"FQDNMap.Name", func() { fq.Name(ip1) }},
		{"FQDNMap.AppendNames", func() { buf = fq.AppendNames(buf[:0], ip1) }},
		{"Resolver.Local", func() { r.Local("veth-api") }},
		{"Resolver.Addr local", func() { r.Addr(netip.MustParseAddr("198.18.0.11")) }},
		{"Resolver.Addr cidr", func() { r.Addr(netip.MustParseAddr("198.19.100.1")) }},
		{"Resolver.Addr fqdn", func() { r.Addr(ip1) }},
		{"Resolver.Addr world", func() { r.Addr(ip2) }},
		{"FQDNMap.Observe refresh", func() { fq.Observe("api.example.com", ip1, time.Hour) }},
		{"FQDNMap.ObserveResponse refresh", func() {
			fq.ObserveResponse("api.example.com.", []DNSRecord{{Name: "api.example.com.", TTL: 60, Addr: ip1}})
		}},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, n)
		}
	}
}

func BenchmarkResolverAddr(b *testing.B) {
	fq := NewFQDNMap(time.Minute, 1000, nil)
	for i := range 1000 {
		fq.Observe(fmt.Sprintf("h%d.example", i), netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), time.Hour)
	}
	r := NewResolver(nil, nil, fq)
	a := netip.AddrFrom4([4]byte{198, 19, 1, 7})
	b.ReportAllocs()
	for b.Loop() {
		r.Addr(a)
	}
}
