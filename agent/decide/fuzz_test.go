package decide

import (
	"encoding/binary"
	"testing"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// FuzzDecide feeds arbitrary packet sequences through a Decider in each
// mode (and in protect mode with Config.Responses): it must never panic,
// and every piece of inspection state must go back to the pool when the
// flows leave the table.
//
// Input: records of an 8-byte header (endpoint pair, protocol, direction
// and family, TCP flags, port selector, payload length) and the payload.
func FuzzDecide(f *testing.F) {
	hdr := func(pair, proto, dir, flags, port byte, payload string) []byte {
		b := []byte{pair, proto, dir, flags, port, 0, 0, 0}
		binary.BigEndian.PutUint16(b[5:], uint16(len(payload)))
		return append(b, payload...)
	}
	f.Add(append(append(hdr(0, 0, 0, byte(dataplane.TCPSyn), 0, ""), hdr(0, 0, 1, byte(dataplane.TCPSyn|dataplane.TCPAck), 0, "")...),
		hdr(0, 0, 0, byte(dataplane.TCPPsh|dataplane.TCPAck), 0, get("/users/1"))...))
	f.Add(hdr(2, 1, 0, 0, 1, dnsQuery(f, 1, "a.allowed.example", 1)))
	f.Add(hdr(2, 1, 1, 0, 1, dnsAnswer(f, 1, "a.allowed.example", 1, "a.allowed.example. 60 IN A 198.19.1.20")))
	f.Add(hdr(1, 2, 0, 0, 0, "ping"))
	f.Add(hdr(3, 0, 0, byte(dataplane.TCPPsh), 2, "*1\r\n$8\r\nFLUSHALL\r\n"))
	// A datagram to port 53 that is not DNS, then a query on the same
	// socket; an allowed request followed by bytes that break HTTP.
	f.Add(append(hdr(2, 1, 0, 0, 1, "hello, resolver"), hdr(2, 1, 0, 0, 1, dnsQuery(f, 2, "x.evil.example", 1))...))
	f.Add(hdr(0, 0, 0, byte(dataplane.TCPPsh|dataplane.TCPAck), 0, get("/users/1")+"\x00\x01 \r\n\r\n"))
	// Pipelined requests and their answers, one broken.
	f.Add(append(hdr(0, 0, 0, byte(dataplane.TCPPsh|dataplane.TCPAck), 0, get("/users/1")+post("/orders")),
		hdr(0, 0, 1, byte(dataplane.TCPPsh|dataplane.TCPAck), 0, response(200)+"HTTP/1.1 2x1 bad\r\n\r\n")...))
	pairs := [][2]int{{0, 1}, {1, 2}, {1, 3}, {0, 2}}
	hosts := []struct{ v4, v6 string }{{"198.18.0.10", "2001:2:0:1::a"}, {"198.18.0.11", "2001:2:0:1::b"}, {"198.18.0.12", "2001:2:0:1::c"}, {"198.18.0.13", "2001:2:0:1::d"}}
	ports := []uint16{8080, 53, 6379, 22}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, mode := range []policy.Mode{learnM, monitorM, protectM, protectM} {
			h := newHarness(t, shopPolicy, mode, func(c *Config) { c.MaxInspections = 4; c.Responses = i == 3 })
			for rest := data; len(rest) >= 8; {
				pair := pairs[int(rest[0])%len(pairs)]
				proto := []dataplane.Proto{dataplane.ProtoTCP, dataplane.ProtoUDP, dataplane.ProtoICMP, 47}[rest[1]%4]
				fromClient := rest[2]&1 == 0
				v6 := rest[2]&2 != 0
				flags := dataplane.TCPFlags(rest[3])
				port := ports[int(rest[4])%len(ports)]
				n := min(int(binary.BigEndian.Uint16(rest[5:])), len(rest)-8)
				payload := rest[8 : 8+n]
				rest = rest[8+n:]
				src, dst := hosts[pair[0]].v4, hosts[pair[1]].v4
				if v6 {
					src, dst = hosts[pair[0]].v6, hosts[pair[1]].v6
				}
				c := &conn{h: h, proto: proto, cseq: 1, sseq: 1}
				c.client = mustAddrPort(src, 41000)
				c.server = mustAddrPort(dst, port)
				if proto == dataplane.ProtoICMP && v6 {
					c.proto = dataplane.ProtoICMPv6
				}
				c.send(fromClient, flags, string(payload))
			}
			if n := h.flows.DeleteIf(func(*flowtable.Flow) bool { return true }, flowtable.EndpointGone); n < 0 {
				t.Fatal("negative flush")
			}
			if s := h.d.Stats(); s.Inspecting != 0 {
				t.Fatalf("%s: %d flows still hold inspection state after the flush", mode, s.Inspecting)
			}
		}
	})
}
