package decide

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/dataplane"
)

// BenchmarkDecide measures one Decide call on the packet path's common
// cases, protect mode, with the test bed's policy.
func BenchmarkDecide(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t, shopPolicy, protectM)

	b.Run("InspectedHTTPRequest", func(b *testing.B) {
		c := h.tcp(frontend4, api4, 8080)
		c.handshake()
		c.request(get("/users/1"))
		req := []byte(get("/users/42"))
		p := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: c.client.Addr(), Dst: c.server.Addr(),
			SrcPort: c.client.Port(), DstPort: 8080, TCPFlags: dataplane.TCPPsh | dataplane.TCPAck,
			Conn: dataplane.ConnInspected, Payload: req, Len: 40 + len(req), Time: h.clk.Now()}
		seq := c.cseq
		b.ReportAllocs()
		for b.Loop() {
			p.Seq = seq
			seq += uint32(len(req))
			h.d.Decide(p)
		}
	})
	b.Run("InspectedHTTPExchangeWhole", func(b *testing.B) {
		// A request and its response on a connection queued whole
		// (inspect.responses), counted by status class.
		hw := newHarness(t, shopPolicy, protectM, withResponses)
		c := hw.tcp(frontend4, api4, 8080)
		req, resp := wholeExchange(b, hw, c)
		b.ReportAllocs()
		for b.Loop() {
			req.Seq, resp.Seq = c.cseq, c.sseq
			c.cseq += uint32(len(req.Payload))
			c.sseq += uint32(len(resp.Payload))
			hw.d.Decide(req)
			hw.d.Decide(resp)
		}
	})
	b.Run("NewFlowAllowedL4", func(b *testing.B) {
		p := &dataplane.Packet{Proto: dataplane.ProtoTCP, Family: dataplane.IPv4, Src: api4, Dst: good4,
			DstPort: 80, TCPFlags: dataplane.TCPSyn, Len: 60, Time: h.clk.Now()}
		h.resolve("www.allowed.example", "www.allowed.example. 3600 IN A "+good4.String())
		port := uint16(0)
		b.ReportAllocs()
		for b.Loop() {
			port++
			p.SrcPort = 1024 + port%60000
			p.Src = netip.AddrFrom4([4]byte{198, 18, 0, 11})
			h.d.Decide(p)
		}
	})
	b.Run("NewFlowDeniedL4", func(b *testing.B) {
		p := &dataplane.Packet{Proto: dataplane.ProtoUDP, Family: dataplane.IPv4, Src: frontend4, Dst: db4,
			SrcPort: 40000, Payload: []byte("x"), Len: 29, Time: h.clk.Now()}
		h.ev.full = true // a flood: the event queue is full
		defer func() { h.ev.full = false }()
		port := uint16(0)
		b.ReportAllocs()
		for b.Loop() {
			port++
			p.DstPort = 1 + port%60000
			h.d.Decide(p)
		}
	})
	b.Run("DNSQueryAndAnswer", func(b *testing.B) {
		c := h.udp(api4, dns4, 53)
		q := []byte(dnsQuery(t, 3, "www.allowed.example", dns.TypeA))
		a := []byte(dnsAnswer(t, 3, "www.allowed.example", dns.TypeA, "www.allowed.example. 60 IN A "+good4.String()))
		query := &dataplane.Packet{Proto: dataplane.ProtoUDP, Family: dataplane.IPv4, Src: c.client.Addr(), Dst: dns4,
			SrcPort: c.client.Port(), DstPort: 53, Payload: q, Len: 28 + len(q), Time: h.clk.Now()}
		answer := &dataplane.Packet{Proto: dataplane.ProtoUDP, Family: dataplane.IPv4, Src: dns4, Dst: c.client.Addr(),
			SrcPort: 53, DstPort: c.client.Port(), Payload: a, Len: 28 + len(a), Time: h.clk.Now()}
		b.ReportAllocs()
		for b.Loop() {
			h.d.Decide(query)
			h.d.Decide(answer)
		}
	})
}
