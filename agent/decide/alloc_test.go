package decide

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/dataplane"
)

// TestDecideAllocs: the steady state of the packet path allocates nothing:
// requests on an established connection checked request by request (also
// with their responses, queued whole), DNS queries and answers, a
// fast-pathed connection's late packets, and new connections denied at L4
// between two local workloads while the event queue is full (a flood: the
// drop is counted, no event is built).
func TestDecideAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := newHarness(t, shopPolicy, protectM)

	web := h.tcp(frontend4, api4, 8080)
	web.handshake()
	if v := web.request(get("/users/1")); v != dataplane.Inspect {
		t.Fatalf("first request: %v", v)
	}
	req := []byte(get("/users/42"))
	webPkt := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: web.client.Addr(), Dst: web.server.Addr(),
		SrcPort: web.client.Port(), DstPort: web.server.Port(), TCPFlags: dataplane.TCPPsh | dataplane.TCPAck,
		Conn: dataplane.ConnInspected, Payload: req, Len: 40 + len(req), Time: h.clk.Now()}

	h.resolve("www.allowed.example", "www.allowed.example. 60 IN A "+good4.String())
	dnsc := h.udp(api4, dns4, 53)
	q := []byte(dnsQuery(t, 3, "www.allowed.example", dns.TypeA))
	a := []byte(dnsAnswer(t, 3, "www.allowed.example", dns.TypeA, "www.allowed.example. 60 IN A "+good4.String()))
	dnsc.request(string(q))
	dnsc.reply(string(a))
	query := &dataplane.Packet{Proto: dataplane.ProtoUDP, Family: dataplane.IPv4, Src: dnsc.client.Addr(), Dst: dnsc.server.Addr(),
		SrcPort: dnsc.client.Port(), DstPort: 53, Payload: q, Len: 28 + len(q), Time: h.clk.Now()}
	answer := &dataplane.Packet{Proto: dataplane.ProtoUDP, Family: dataplane.IPv4, Src: dnsc.server.Addr(), Dst: dnsc.client.Addr(),
		SrcPort: 53, DstPort: dnsc.client.Port(), Payload: a, Len: 28 + len(a), Time: h.clk.Now()}

	fast := h.tcp(api4, good4, 80)
	if v := fast.send(true, dataplane.TCPSyn, ""); v != dataplane.Allow {
		t.Fatalf("SYN to an allowed site: %v", v)
	}
	late := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: fast.server.Addr(), Dst: fast.client.Addr(),
		SrcPort: fast.server.Port(), DstPort: fast.client.Port(), TCPFlags: dataplane.TCPSyn | dataplane.TCPAck, Len: 40, Time: h.clk.Now()}

	hw := newHarness(t, shopPolicy, protectM, withResponses)
	whole := hw.tcp(frontend4, api4, 8080)
	wholeReq, wholeResp := wholeExchange(t, hw, whole)

	// frontend → db: no rule, both ends local (both ends' groups hear of
	// the violation). A new client port per SYN: a new flow each time.
	denied := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: frontend4, Dst: db4,
		SrcPort: 20000, DstPort: 6379, TCPFlags: dataplane.TCPSyn, Len: 60, Time: h.clk.Now()}
	deniedBefore := h.metric("bulkhead_connections_total", "verdict", "denied")

	for _, tt := range []struct {
		name string
		fn   func()
	}{
		{"HTTP request and response queued whole", func() {
			wholeReq.Seq, wholeResp.Seq = whole.cseq, whole.sseq
			whole.cseq += uint32(len(wholeReq.Payload))
			whole.sseq += uint32(len(wholeResp.Payload))
			if v := hw.d.Decide(wholeReq); v != dataplane.Accept {
				t.Fatalf("request: %v", v)
			}
			if v := hw.d.Decide(wholeResp); v != dataplane.Accept {
				t.Fatalf("response: %v", v)
			}
		}},
		{"inspected HTTP request", func() {
			webPkt.Seq = web.cseq
			web.cseq += uint32(len(req))
			if v := h.d.Decide(webPkt); v != dataplane.Accept {
				t.Fatalf("request: %v", v)
			}
		}},
		{"DNS query and answer", func() {
			if v := h.d.Decide(query); v != dataplane.Accept {
				t.Fatalf("query: %v", v)
			}
			if v := h.d.Decide(answer); v != dataplane.Accept {
				t.Fatalf("answer: %v", v)
			}
		}},
		{"late packet of a fast-pathed connection", func() {
			if v := h.d.Decide(late); v != dataplane.Allow {
				t.Fatalf("late packet: %v", v)
			}
		}},
		{"denied new flow, local to local, event queue full", func() {
			denied.SrcPort++
			h.ev.full = true
			defer func() { h.ev.full = false }()
			if v := h.d.Decide(denied); v != dataplane.Deny {
				t.Fatalf("frontend → db SYN: %v, want deny", v)
			}
		}},
	} {
		if n := testing.AllocsPerRun(200, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", tt.name, n)
		}
	}
	// AllocsPerRun runs the function once more than it measures.
	if got := h.metric("bulkhead_connections_total", "verdict", "denied") - deniedBefore; got != 201 {
		t.Errorf("denied connections counted: %v, want 201", got)
	}
	if ev := h.eventLines(); len(ev) != 0 {
		t.Errorf("unexpected events: %q", ev)
	}
}

// wholeExchange opens c, an HTTP connection queued whole (InspectAll), and
// returns a request and a response packet to replay on it (set their Seq).
func wholeExchange(t testing.TB, h *harness, c *conn) (req, resp *dataplane.Packet) {
	c.handshake()
	if v := c.request(get("/users/1")); v != dataplane.InspectAll {
		t.Fatalf("first request: %v, want inspect-all", v)
	}
	c.reply(response(200))
	q, a := []byte(get("/users/42")), []byte(response(200))
	req = &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: c.client.Addr(), Dst: c.server.Addr(),
		SrcPort: c.client.Port(), DstPort: c.server.Port(), TCPFlags: dataplane.TCPPsh | dataplane.TCPAck,
		Conn: dataplane.ConnInspectedAll, Payload: q, Len: 40 + len(q), Time: h.clk.Now()}
	resp = &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: c.server.Addr(), Dst: c.client.Addr(),
		SrcPort: c.server.Port(), DstPort: c.client.Port(), TCPFlags: dataplane.TCPPsh | dataplane.TCPAck,
		Conn: dataplane.ConnInspectedAll, Payload: a, Len: 40 + len(a), Time: h.clk.Now()}
	return req, resp
}

// TestDecideConcurrent runs many flows through one Decider from several
// goroutines (go test -race checks the locking).
func TestDecideConcurrent(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				port := uint16(20000 + g*1000 + i)
				client := netip.AddrPortFrom(frontend4, port)
				for _, p := range []struct {
					flags   dataplane.TCPFlags
					payload string
				}{{dataplane.TCPSyn, ""}, {dataplane.TCPAck | dataplane.TCPPsh, get(fmt.Sprintf("/users/%d", i))}} {
					pk := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: client.Addr(), Dst: api4,
						SrcPort: client.Port(), DstPort: 8080, TCPFlags: p.flags, Payload: []byte(p.payload), Seq: 100, Time: h.clk.Now()}
					if p.payload != "" {
						pk.Seq = 101
					}
					h.d.Decide(pk)
				}
			}
		})
	}
	wg.Wait()
	if got := h.metric("bulkhead_connections_total", "verdict", "allowed"); got != 800 {
		t.Errorf("allowed connections %v, want 800", got)
	}
}
