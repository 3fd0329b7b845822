package l7

import (
	"crypto/tls"
	"runtime"
	"testing"

	"github.com/miekg/dns"
)

// Hot-path benchmarks of the engine, per packet. "make bench-l7" prints
// them next to the per-protocol replays of l7/capture.

// perPacket runs fn b.N times; each run feeds packets packets. It reports
// ns/packet and allocs/packet.
func perPacket(b *testing.B, packets int, fn func()) {
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fn()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * float64(packets)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/packet")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/packet")
}

func BenchmarkHotPath(b *testing.B) {
	b.Run("http-keepalive", func(b *testing.B) {
		e := NewEngine(Config{})
		var f Flow
		var sink nopSink
		f.Init(e, TCP, 40000, 80, OrientationKnown)
		f.TCP(FromClient, 0, SYN, nil, sink)
		f.TCP(FromServer, 0, SYN|ACK, nil, sink)
		req := []byte("GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: api.example:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
		seq := [2]uint32{1, 1}
		perPacket(b, 2, func() {
			f.TCP(FromClient, seq[0], ACK, req, sink)
			f.TCP(FromServer, seq[1], ACK, resp, sink)
			seq[0] += uint32(len(req))
			seq[1] += uint32(len(resp))
		})
	})
	q := []byte(pack(b, dnsQuery(b, 1, "api.example.com.", dns.TypeA)))
	r := []byte(pack(b, dnsReply(b, dnsQuery(b, 1, "api.example.com.", dns.TypeA), 0,
		"api.example.com. 60 IN CNAME edge.example.net.", "edge.example.net. 60 IN A 198.18.0.11")))
	for _, sum := range []bool{false, true} {
		name := "dns-udp"
		if sum {
			name = "dns-udp-with-summaries-miekg"
		}
		b.Run(name, func(b *testing.B) {
			e := NewEngine(Config{Parser: ParserConfig{Summaries: sum, MaxRecords: 1 << 30}})
			var f Flow
			var sink nopSink
			f.Init(e, UDP, 40000, 53, OrientationKnown)
			perPacket(b, 2, func() {
				f.UDP(FromClient, q, sink)
				f.UDP(FromServer, r, sink)
			})
		})
	}
	b.Run("tls-connection", func(b *testing.B) {
		e := NewEngine(Config{})
		c13, s13 := tlsTranscript(b, &tls.Config{ServerName: "api.example", NextProtos: []string{"h2"}, InsecureSkipVerify: true},
			&tls.Config{Certificates: []tls.Certificate{testCert()}})
		var f Flow
		var sink nopSink
		perPacket(b, 4, func() {
			f.Init(e, TCP, 40000, 443, OrientationKnown)
			f.TCP(FromClient, 0, SYN, nil, sink)
			f.TCP(FromServer, 0, SYN|ACK, nil, sink)
			f.TCP(FromClient, 1, ACK, c13, sink)
			f.TCP(FromServer, 1, ACK, s13, sink)
			f.Release()
		})
	})
	b.Run("detect-unknown", func(b *testing.B) {
		// A flow nothing recognises: every detector runs once per side.
		e := NewEngine(Config{})
		var f Flow
		var sink nopSink
		data := []byte("\x00\x01\x02\x03 some binary protocol nobody knows \xff\xfe")
		perPacket(b, 2, func() {
			f.Init(e, TCP, 40000, 7777, OrientationKnown)
			f.TCP(FromClient, 1, ACK, data, sink)
			f.TCP(FromServer, 1, ACK, data, sink)
			f.Release()
		})
	})
}
