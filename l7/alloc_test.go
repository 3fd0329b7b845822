package l7

import (
	"crypto/tls"
	"testing"
)

// The packet path does not allocate in steady state: feeding requests of a
// keep-alive connection, DNS datagrams, and whole TLS connections (parsers
// and buffers come from the engine's pools). Summaries are off, as in the
// agent.

// skipUnderRace skips allocation counting under the race detector, whose
// sync.Pool drops pooled values at random.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops values at random)")
	}
}

func TestAllocsHTTPKeepAlive(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	var f Flow
	f.Init(e, TCP, 40000, 80, OrientationKnown)
	var sink nopSink
	f.TCP(FromClient, 0, SYN, nil, sink)
	f.TCP(FromServer, 0, SYN|ACK, nil, sink)
	req := []byte("GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: API.Example:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	// A request split over two segments, so that the reassembly buffer is
	// used too.
	split := len(req) / 2
	seq := [2]uint32{1, 1}
	allocs := testing.AllocsPerRun(1000, func() {
		f.TCP(FromClient, seq[0], ACK, req[:split], sink)
		f.TCP(FromClient, seq[0]+uint32(split), ACK, req[split:], sink)
		f.TCP(FromServer, seq[1], ACK, resp, sink)
		seq[0] += uint32(len(req))
		seq[1] += uint32(len(resp))
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request", allocs)
	}
	if f.App() != HTTP || f.Requests() < 1000 {
		t.Errorf("app %v requests %d", f.App(), f.Requests())
	}
}

func TestAllocsDNS(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	q := []byte(pack(t, dnsQuery(t, 1, "api.example.com.", 1)))
	r := []byte(pack(t, dnsReply(t, dnsQuery(t, 1, "api.example.com.", 1), 0,
		"api.example.com. 60 IN CNAME edge.example.net.", "edge.example.net. 60 IN A 198.18.0.11")))
	var f Flow
	f.Init(e, UDP, 40000, 53, OrientationKnown)
	var sink nopSink
	allocs := testing.AllocsPerRun(1000, func() {
		f.UDP(FromClient, q, sink)
		f.UDP(FromServer, r, sink)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per query and answer", allocs)
	}
	if f.App() != DNS || f.Requests() < 1000 {
		t.Errorf("app %v requests %d", f.App(), f.Requests())
	}
}

func TestAllocsTLSConnection(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	c13, s13 := tlsTranscript(t, &tls.Config{ServerName: "api.example", NextProtos: []string{"h2"}, InsecureSkipVerify: true},
		&tls.Config{Certificates: []tls.Certificate{testCert()}})
	var f Flow
	var sink nopSink
	// A whole connection per run: Init, handshake, ClientHello,
	// ServerHello, Release.
	allocs := testing.AllocsPerRun(1000, func() {
		f.Init(e, TCP, 40000, 443, OrientationKnown)
		f.TCP(FromClient, 0, SYN, nil, sink)
		f.TCP(FromServer, 0, SYN|ACK, nil, sink)
		f.TCP(FromClient, 1, ACK, c13, sink)
		f.TCP(FromServer, 1, ACK, s13, sink)
		if !f.Done() {
			panic("TLS flow not done after both hellos")
		}
		f.Release()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per connection", allocs)
	}
}
