package decide

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// verdictLines summarises the graph API's verdict counts.
func (h *harness) verdictLines() []string {
	var out []string
	for _, v := range h.d.Verdicts() {
		out = append(out, fmt.Sprintf("%s→%s %s/%d %s allowed=%d reported=%d denied=%d",
			v.Src, v.Dst, v.Proto, v.Port, v.App, v.Allowed, v.Reported, v.Denied))
	}
	return out
}

// connectionLines summarises bulkhead_connections_total the same way.
func (h *harness) connectionLines() []string {
	h.t.Helper()
	mfs, err := h.m.Registry().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "bulkhead_connections_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out = append(out, fmt.Sprintf("%s→%s %s/%s %s %s=%v", l["src"], l["dst"], l["proto"], l["dport"], l["app"], l["verdict"], m.GetCounter().GetValue()))
		}
	}
	return out
}

// sortStrings compares string lists in any order.
var sortStrings = cmp.Transformer("sort", func(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
})

// TestVerdictCounts: each connection is counted under the app it ends up
// with, once when it is first decided and again when a later request on
// it makes its outcome more severe (allowed → reported → denied); DNS
// queries dropped or reported one by one count on their flow.
func TestVerdictCounts(t *testing.T) {
	tests := []struct {
		name     string
		mode     policy.Mode
		run      func(h *harness)
		verdicts []string
		metrics  []string
	}{{
		name: "DNS query allowed, counted as dns",
		mode: protectM,
		run:  func(h *harness) { h.resolve("www.allowed.example", "www.allowed.example. 60 IN A "+good4.String()) },
		verdicts: []string{
			"api→dns udp/53 dns allowed=1 reported=0 denied=0",
		},
		metrics: []string{"api→dns udp/53 dns allowed=1"},
	}, {
		name: "DNS queries dropped by name are counted denied",
		mode: protectM,
		run: func(h *harness) {
			h.resolve("www.allowed.example", "www.allowed.example. 60 IN A "+good4.String())
			for range 3 {
				h.resolve("q1w2e3r4t5.exfil.evil.example")
			}
		},
		verdicts: []string{
			"api→dns udp/53 dns allowed=1 reported=0 denied=3",
		},
		metrics: []string{"api→dns udp/53 dns allowed=1", "api→dns udp/53 dns denied=3"},
	}, {
		name: "DNS query reported by name in monitor mode",
		mode: monitorM,
		run:  func(h *harness) { h.resolve("q1w2e3r4t5.exfil.evil.example") },
		verdicts: []string{
			"api→dns udp/53 dns allowed=0 reported=1 denied=0",
		},
		metrics: []string{"api→dns udp/53 dns reported=1"},
	}, {
		name: "DNS in learn mode",
		mode: learnM,
		run:  func(h *harness) { h.resolve("www.allowed.example", "www.allowed.example. 60 IN A "+good4.String()) },
		verdicts: []string{
			"api→dns udp/53 dns allowed=1 reported=0 denied=0",
		},
		metrics: []string{"api→dns udp/53 dns allowed=1"},
	}, {
		name: "a DNS flow no rule allows is denied on its first query, as dns",
		mode: protectM,
		run: func(h *harness) {
			c := h.udp(frontend4, db4, 53)
			c.request(dnsQuery(h.t, 3, "www.allowed.example", dns.TypeA))
		},
		verdicts: []string{
			"frontend→db udp/53 dns allowed=0 reported=0 denied=1",
		},
		metrics: []string{"frontend→db udp/53 dns denied=1"},
	}, {
		name: "a forbidden request on an allowed keep-alive connection is counted denied",
		mode: protectM,
		run: func(h *harness) {
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			c.request(get("/users/1"))
			c.request(get("/users/2"))
			c.request(get("/admin"))
		},
		verdicts: []string{
			"frontend→api tcp/8080 http allowed=1 reported=0 denied=1",
		},
		metrics: []string{"frontend→api tcp/8080 http allowed=1", "frontend→api tcp/8080 http denied=1"},
	}, {
		name: "violations on a keep-alive connection in monitor mode count once",
		mode: monitorM,
		run: func(h *harness) {
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			c.request(get("/users/1"))
			c.request(get("/admin"))
			c.request(get("/debug"))
		},
		verdicts: []string{
			"frontend→api tcp/8080 http allowed=1 reported=1 denied=0",
		},
		metrics: []string{"frontend→api tcp/8080 http allowed=1", "frontend→api tcp/8080 http reported=1"},
	}, {
		name: "a connection denied on its first request counts once",
		mode: protectM,
		run: func(h *harness) {
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			c.request(get("/admin"))
		},
		verdicts: []string{
			"frontend→api tcp/8080 http allowed=0 reported=0 denied=1",
		},
		metrics: []string{"frontend→api tcp/8080 http denied=1"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			tt.run(h)
			if diff := cmp.Diff(tt.verdicts, h.verdictLines()); diff != "" {
				t.Errorf("graph verdicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.metrics, h.connectionLines(), sortStrings); diff != "" {
				t.Errorf("bulkhead_connections_total (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDNSQueryDropCounted: the drop of a query over UDP leaves the flow
// going; the Decider's statistics count it.
func TestDNSQueryDropCounted(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	if v := h.resolve("x.evil.example"); v != dataplane.Drop {
		t.Fatalf("query for a forbidden name: %v, want drop", v)
	}
	if n := h.d.Stats().DNSDropped; n != 1 {
		t.Errorf("DNSDropped = %d, want 1", n)
	}
}
