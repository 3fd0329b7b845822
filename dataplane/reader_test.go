package dataplane

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane/internal/nfq"
	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// fakeConn plays the kernel's side of a queue socket: each Recv returns the
// next burst of messages (a nil burst is an ENOBUFS overrun), then
// ErrClosed; Send records the verdict messages.
type fakeConn struct {
	mu     sync.Mutex
	bursts [][][]byte
	cur    [][]byte
	sent   []byte
	closed bool
}

func (f *fakeConn) Recv() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bursts) == 0 || f.closed {
		return 0, nfq.ErrClosed
	}
	f.cur, f.bursts = f.bursts[0], f.bursts[1:]
	if f.cur == nil {
		return 0, unix.ENOBUFS
	}
	return len(f.cur), nil
}

func (f *fakeConn) Message(i int) ([]byte, bool) { return f.cur[i], false }

func (f *fakeConn) Send(b []byte) error {
	f.mu.Lock()
	f.sent = append(f.sent, b...)
	f.mu.Unlock()
	return nil
}

func (f *fakeConn) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fakeConn) verdicts(t *testing.T) []sentVerdict {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	vs, batch, err := nfq.ParseVerdicts(f.sent)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sentVerdict, len(vs))
	for i, v := range vs {
		out[i] = sentVerdict{v, batch[i]}
	}
	return out
}

type sentVerdict struct {
	nfq.Verdict
	Batch bool
}

// pkt describes a test packet.
type pkt struct {
	src, dst         string
	proto            Proto
	sport, dport     uint16
	syn, ack         bool
	seq              uint32
	icmpType         uint8
	payload          string
	mark, ctMark     uint32
	hasCT            bool
	in, out, pin, po uint32
	// ext6 are IPv6 extension headers inserted after the fixed header.
	ext6 []ext6
}

// ext6 is an IPv6 extension header: its type and its bytes (the first,
// the next header, is filled in).
type ext6 struct {
	typ  uint8
	body []byte
}

// Extension headers for tests.
var (
	padN8      = []byte{0, 0, 1, 4, 0, 0, 0, 0}             // hop-by-hop or destination options: PadN
	routing8   = []byte{0, 0, 4, 0, 0, 0, 0, 0}             // routing header, no segments left
	firstFrag  = []byte{0, 0, 0, 1, 0, 0, 0, 7}             // fragment offset 0, more fragments
	laterFrag  = []byte{0, 0, 0, 0x20, 0, 0, 0, 7}          // fragment offset 32 bytes
	authHeader = []byte{0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2} // AH, 12 bytes
)

// withExt6 inserts extension headers into a serialized IPv6 packet.
func withExt6(raw []byte, hdrs []ext6) []byte {
	if len(hdrs) == 0 {
		return raw
	}
	out := append([]byte(nil), raw[:40]...)
	next := raw[6]
	out[6] = hdrs[0].typ
	for i, h := range hdrs {
		b := append([]byte(nil), h.body...)
		b[0] = next
		if i+1 < len(hdrs) {
			b[0] = hdrs[i+1].typ
		}
		out = append(out, b...)
	}
	out = append(out, raw[40:]...)
	binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-40))
	return out
}

// ipPacket serializes the network and transport headers of p.
func ipPacket(t testing.TB, p pkt) []byte {
	t.Helper()
	src, dst := netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst)
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(p.proto), SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		ls, netLayer = append(ls, ip), ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(p.proto), SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		ls, netLayer = append(ls, ip), ip
	}
	switch p.proto {
	case ProtoTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), SYN: p.syn, ACK: p.ack, Seq: p.seq, Window: 1000}
		_ = tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp)
	case ProtoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		_ = udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp)
	case ProtoICMP:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(p.icmpType, 0), Id: 1, Seq: 1})
	case ProtoICMPv6:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(p.icmpType, 0)}
		_ = icmp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, icmp)
	}
	ls = append(ls, gopacket.Payload(p.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return withExt6(buf.Bytes(), p.ext6)
}

// message wraps raw packet bytes in a queued-packet message.
func message(id uint32, p pkt, raw []byte) []byte {
	hw := uint16(0x0800)
	if len(raw) > 0 && raw[0]>>4 == 6 {
		hw = 0x86dd
	}
	return nfq.AppendPacket(nil, nfq.Packet{Queue: 2, ID: id, HWProto: hw, Hook: nfq.HookForward, Mark: p.mark,
		HasCT: p.hasCT, CTMark: p.ctMark, InDev: p.in, OutDev: p.out, PhysIn: p.pin, PhysOut: p.po, Payload: raw})
}

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testReader(conn queueConn, d Decider, failOpen, ct bool) *reader {
	return newReader(2, conn, d, DefaultMarks, failOpen, ct, func() time.Time { return testTime })
}

// verdictSeq answers with the given verdicts in turn.
func verdictSeq(vs ...Verdict) Decider {
	var mu sync.Mutex
	i := 0
	return DeciderFunc(func(*Packet) Verdict {
		mu.Lock()
		defer mu.Unlock()
		v := vs[i%len(vs)]
		i++
		return v
	})
}

func tcpSyn(t testing.TB, id uint32, mark uint32) []byte {
	p := pkt{src: "198.18.0.10", dst: "198.18.0.11", proto: ProtoTCP, sport: 40000, dport: 80, syn: true, mark: mark}
	return message(id, p, ipPacket(t, p))
}

func TestReaderBatchesVerdicts(t *testing.T) {
	var burst [][]byte
	for id := uint32(1); id <= 9; id++ {
		mark := uint32(0)
		if id == 4 {
			mark = 0x1 // someone else's bit: kept
		}
		burst = append(burst, tcpSyn(t, id, mark))
	}
	conn := &fakeConn{bursts: [][][]byte{burst, {tcpSyn(t, 10, 0), tcpSyn(t, 11, 0), tcpSyn(t, 12, 0)}}}
	r := testReader(conn, verdictSeq(Accept, Accept, Accept, Allow, Accept, Accept, Drop, Deny, Inspect, InspectAll, Accept, Accept), true, false)
	if err := r.loop(); err != nil {
		t.Fatal(err)
	}
	want := []sentVerdict{
		{nfq.Verdict{Queue: 2, ID: 3, Verdict: nfq.NFAccept}, true},
		{nfq.Verdict{Queue: 2, ID: 4, Verdict: nfq.NFRepeat, SetMark: true, Mark: 0x100001}, false},
		{nfq.Verdict{Queue: 2, ID: 6, Verdict: nfq.NFAccept}, true},
		{nfq.Verdict{Queue: 2, ID: 7, Verdict: nfq.NFDrop}, false},
		{nfq.Verdict{Queue: 2, ID: 8, Verdict: nfq.NFRepeat, SetMark: true, Mark: 0x200000}, false},
		{nfq.Verdict{Queue: 2, ID: 9, Verdict: nfq.NFRepeat, SetMark: true, Mark: 0x300000}, false},
		{nfq.Verdict{Queue: 2, ID: 10, Verdict: nfq.NFRepeat, SetMark: true, Mark: 0x400000}, false},
		{nfq.Verdict{Queue: 2, ID: 12, Verdict: nfq.NFAccept}, true},
	}
	if diff := cmp.Diff(want, conn.verdicts(t)); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	c := r.counters
	if got := [...]uint64{c.packets.Load(), c.accepted.Load(), c.dropped.Load(), c.verdictMsgs.Load(), c.bursts.Load()}; got != [...]uint64{12, 10, 2, 8, 2} {
		t.Errorf("packets, accepted, dropped, verdict msgs, bursts = %v", got)
	}
	var byKind [numVerdicts]uint64
	for i := range byKind {
		byKind[i] = c.verdicts[i].Load()
	}
	if byKind != [numVerdicts]uint64{7, 1, 1, 1, 1, 1} {
		t.Errorf("verdicts by kind %v", byKind)
	}
}

// TestReaderConnmarkInVerdict covers the kernels with conntrack glue:
// allow and inspect set the connmark in the verdict, deny still re-enters
// the chain for the TCP reset.
func TestReaderConnmarkInVerdict(t *testing.T) {
	conn := &fakeConn{bursts: [][][]byte{{tcpSyn(t, 1, 0), tcpSyn(t, 2, 0), tcpSyn(t, 3, 0), tcpSyn(t, 4, 0), tcpSyn(t, 5, 0)}}}
	r := testReader(conn, verdictSeq(Allow, Inspect, Deny, Accept, InspectAll), true, true)
	if err := r.loop(); err != nil {
		t.Fatal(err)
	}
	want := []sentVerdict{
		{nfq.Verdict{Queue: 2, ID: 1, Verdict: nfq.NFAccept, SetMark: true, Mark: 0x100000, SetCTMark: true, CTMark: 0x100000, CTMask: 0xf00000}, false},
		{nfq.Verdict{Queue: 2, ID: 2, Verdict: nfq.NFAccept, SetMark: true, Mark: 0x300000, SetCTMark: true, CTMark: 0x300000, CTMask: 0xf00000}, false},
		{nfq.Verdict{Queue: 2, ID: 3, Verdict: nfq.NFRepeat, SetMark: true, Mark: 0x200000}, false},
		{nfq.Verdict{Queue: 2, ID: 4, Verdict: nfq.NFAccept}, false},
		{nfq.Verdict{Queue: 2, ID: 5, Verdict: nfq.NFAccept, SetMark: true, Mark: 0x400000, SetCTMark: true, CTMark: 0x400000, CTMask: 0xf00000}, false},
	}
	if diff := cmp.Diff(want, conn.verdicts(t)); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

func TestReaderPacketFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   pkt
		want Packet
	}{
		{"tcp4", pkt{src: "198.18.0.10", dst: "198.18.0.11", proto: ProtoTCP, sport: 40000, dport: 6379, syn: true, ack: true, seq: 77,
			payload: "PING\r\n", mark: 0x00300000, in: 3, out: 3, pin: 4, po: 5},
			Packet{Family: IPv4, Proto: ProtoTCP, Src: netip.MustParseAddr("198.18.0.10"), Dst: netip.MustParseAddr("198.18.0.11"),
				SrcPort: 40000, DstPort: 6379, TCPFlags: TCPSyn | TCPAck, Seq: 77, Payload: []byte("PING\r\n"),
				Mark: 0x00300000, Conn: ConnInspected, InIf: 3, OutIf: 3, PhysIn: 4, PhysOut: 5}},
		{"udp6 with conntrack info", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoUDP, sport: 5353, dport: 53, payload: "q",
			hasCT: true, ctMark: 0x00100000},
			Packet{Family: IPv6, Proto: ProtoUDP, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b"),
				SrcPort: 5353, DstPort: 53, Payload: []byte("q"), Conn: ConnAllowed}},
		{"icmp4 echo", pkt{src: "198.18.0.10", dst: "198.19.1.2", proto: ProtoICMP, icmpType: 8, payload: "abc", mark: 0x00200000},
			Packet{Family: IPv4, Proto: ProtoICMP, Src: netip.MustParseAddr("198.18.0.10"), Dst: netip.MustParseAddr("198.19.1.2"),
				ICMPType: 8, Payload: []byte("abc"), Mark: 0x00200000, Conn: ConnDenied}},
		{"icmp6 echo", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoICMPv6, icmpType: 128, payload: "\x00\x01\x00\x01hi"},
			Packet{Family: IPv6, Proto: ProtoICMPv6, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b"),
				ICMPType: 128, Payload: []byte("\x00\x01\x00\x01hi")}},
		{"tcp6 after destination options", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 40000, dport: 8080, ack: true,
			payload: "GET", ext6: []ext6{{60, padN8}}},
			Packet{Family: IPv6, Proto: ProtoTCP, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b"),
				SrcPort: 40000, DstPort: 8080, TCPFlags: TCPAck, Payload: []byte("GET")}},
		{"udp6 after hop-by-hop, routing, first fragment, AH", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoUDP, sport: 5353, dport: 53,
			payload: "q", ext6: []ext6{{0, padN8}, {43, routing8}, {44, firstFrag}, {51, authHeader}}},
			Packet{Family: IPv6, Proto: ProtoUDP, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b"),
				SrcPort: 5353, DstPort: 53, Payload: []byte("q")}},
		{"tcp6 later fragment: no ports", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 1, dport: 2,
			ext6: []ext6{{60, padN8}, {44, laterFrag}}},
			Packet{Family: IPv6, Proto: 44, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b")}},
		{"esp6", pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: 50, payload: "secret", ext6: []ext6{{60, padN8}}},
			Packet{Family: IPv6, Proto: 50, Src: netip.MustParseAddr("2001:2:0:1::a"), Dst: netip.MustParseAddr("2001:2:0:1::b")}},
		{"other protocol", pkt{src: "198.18.0.10", dst: "198.18.0.11", proto: 47, payload: "gre"},
			Packet{Family: IPv4, Proto: 47, Src: netip.MustParseAddr("198.18.0.10"), Dst: netip.MustParseAddr("198.18.0.11")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := ipPacket(t, tc.in)
			var got Packet
			conn := &fakeConn{bursts: [][][]byte{{message(9, tc.in, raw)}}}
			r := testReader(conn, DeciderFunc(func(p *Packet) Verdict {
				got = *p
				got.Payload = append([]byte(nil), p.Payload...)
				return Accept
			}), true, false)
			if err := r.loop(); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Queue, want.ID, want.Hook, want.Time = 2, 9, HookForward, testTime
			want.Len, want.OrigLen = len(raw), len(raw)
			if len(want.Payload) == 0 {
				want.Payload = []byte{}
			}
			if len(got.Payload) == 0 {
				got.Payload = []byte{}
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("packet (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReaderBadInput: malformed and truncated packets get the configured
// verdict (accept when fail-open, drop when fail-closed) without reaching
// the Decider, and are counted.
func TestReaderBadInput(t *testing.T) {
	good := ipPacket(t, pkt{src: "198.18.0.10", dst: "198.18.0.11", proto: ProtoTCP, sport: 1, dport: 2, syn: true})
	bad := map[string][]byte{
		"empty":            {},
		"ip version 5":     {0x50, 0, 0, 20},
		"short ipv4":       good[:10],
		"truncated tcp":    good[:30],
		"bad tcp offset":   append(append([]byte(nil), good[:32]...), 0x10, 0x02, 0, 0),
		"short ipv6":       {0x60, 0, 0, 0, 0, 8, 6, 64},
		"ipv4 ihl too big": append([]byte{0x4f}, good[1:]...),
		"truncated ipv6 extension": func() []byte {
			raw := ipPacket(t, pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 1, dport: 2, ext6: []ext6{{60, padN8}}})
			raw[41] = 200 // 1608 bytes of options
			return raw
		}(),
		"nine ipv6 extensions": ipPacket(t, pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 1, dport: 2,
			ext6: slices.Repeat([]ext6{{60, padN8}}, 9)}),
		"truncated tcp after extension": ipPacket(t, pkt{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 1, dport: 2,
			ext6: []ext6{{60, padN8}}})[:60],
	}
	for _, failOpen := range []bool{true, false} {
		var burst [][]byte
		id := uint32(0)
		for _, raw := range bad {
			id++
			burst = append(burst, nfq.AppendPacket(nil, nfq.Packet{Queue: 2, ID: id, Payload: raw}))
		}
		called := 0
		conn := &fakeConn{bursts: [][][]byte{burst}}
		r := testReader(conn, DeciderFunc(func(*Packet) Verdict { called++; return Allow }), failOpen, false)
		if err := r.loop(); err != nil {
			t.Fatal(err)
		}
		want := nfq.NFDrop
		if failOpen {
			want = nfq.NFAccept
		}
		vs := conn.verdicts(t)
		if len(vs) != 1 || vs[0].Verdict.Verdict != want || vs[0].ID != id || !vs[0].Batch {
			t.Errorf("fail-open=%v: verdicts %+v, want one batch verdict %d up to id %d", failOpen, vs, want, id)
		}
		if called != 0 {
			t.Errorf("fail-open=%v: the Decider saw %d malformed packets", failOpen, called)
		}
		if n := r.counters.decodeErrors.Load(); n != uint64(len(bad)) {
			t.Errorf("fail-open=%v: %d decode errors, want %d", failOpen, n, len(bad))
		}
	}
}

func TestReaderDeciderPanics(t *testing.T) {
	conn := &fakeConn{bursts: [][][]byte{{tcpSyn(t, 1, 0), tcpSyn(t, 2, 0)}}}
	n := 0
	r := testReader(conn, DeciderFunc(func(*Packet) Verdict {
		n++
		if n == 1 {
			panic("bug")
		}
		return Verdict(200) // out of range: treated as a bug too
	}), false, false)
	if err := r.loop(); err != nil {
		t.Fatal(err)
	}
	want := []sentVerdict{{nfq.Verdict{Queue: 2, ID: 2, Verdict: nfq.NFDrop}, true}}
	if diff := cmp.Diff(want, conn.verdicts(t)); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	if got := r.counters.deciderPanics.Load(); got != 1 {
		t.Errorf("%d decider panics counted, want 1", got)
	}
}

func TestReaderOverrunsAndKernelErrors(t *testing.T) {
	conn := &fakeConn{bursts: [][][]byte{nil, {nfq.AppendError(nil, 0, int32(unix.ENOENT)), tcpSyn(t, 5, 0)}, nil}}
	r := testReader(conn, verdictSeq(Accept), true, false)
	if err := r.loop(); err != nil {
		t.Fatal(err)
	}
	c := r.counters
	if c.overruns.Load() != 2 || c.verdictErrors.Load() != 1 || c.packets.Load() != 1 {
		t.Errorf("overruns %d, verdict errors %d, packets %d; want 2, 1, 1", c.overruns.Load(), c.verdictErrors.Load(), c.packets.Load())
	}
}

// burstFixture is a realistic burst: handshakes, data, UDP, ICMP, IPv6.
func burstFixture(t testing.TB) [][]byte {
	ps := []pkt{
		{src: "198.18.0.10", dst: "198.18.0.11", proto: ProtoTCP, sport: 40000, dport: 80, syn: true},
		{src: "198.18.0.11", dst: "198.18.0.10", proto: ProtoTCP, sport: 80, dport: 40000, syn: true, ack: true},
		{src: "198.18.0.10", dst: "198.18.0.11", proto: ProtoTCP, sport: 40000, dport: 80, ack: true, payload: "GET / HTTP/1.1\r\n\r\n", mark: 0x300000},
		{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoUDP, sport: 5000, dport: 53, payload: "query"},
		{src: "198.18.0.10", dst: "198.19.1.2", proto: ProtoICMP, icmpType: 8, payload: "ping"},
		{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoICMPv6, icmpType: 128, payload: "ping"},
		{src: "2001:2:0:1::a", dst: "2001:2:0:1::b", proto: ProtoTCP, sport: 40000, dport: 80, ack: true, payload: "GET / HTTP/1.1\r\n\r\n",
			ext6: []ext6{{60, padN8}, {44, firstFrag}}},
	}
	var out [][]byte
	for i := 0; i < 64; i++ {
		p := ps[i%len(ps)]
		out = append(out, message(uint32(i+1), p, ipPacket(t, p)))
	}
	return out
}

// TestReaderNoAllocs proves the decode + decide + verdict-encode path does
// not allocate in steady state.
func TestReaderNoAllocs(t *testing.T) {
	burst := burstFixture(t)
	conn := &fakeConn{cur: burst}
	d := &StaticDecider{Deny: []PortRule{{ProtoTCP, 6379}}}
	r := testReader(conn, d, true, false)
	r.burst(len(burst)) // warm up: option slices grow once
	allocs := testing.AllocsPerRun(200, func() { r.burst(len(burst)) })
	if allocs != 0 {
		t.Errorf("%v allocations per burst of %d packets, want 0", allocs, len(burst))
	}
	rct := testReader(conn, d, true, true)
	rct.burst(len(burst))
	if allocs := testing.AllocsPerRun(200, func() { rct.burst(len(burst)) }); allocs != 0 {
		t.Errorf("connmark-in-verdict: %v allocations per burst, want 0", allocs)
	}
}

// BenchmarkReaderBurst measures the user-space cost per packet: parse the
// netlink message, decode, decide (static decider), encode batched
// verdicts.
func BenchmarkReaderBurst(b *testing.B) {
	burst := burstFixture(b)
	conn := &fakeConn{cur: burst}
	r := testReader(conn, &StaticDecider{}, true, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.burst(len(burst))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(burst)), "ns/packet")
}

// FuzzReaderPacket feeds arbitrary packet bytes through the reader: it must
// never panic and must answer every packet exactly once.
func FuzzReaderPacket(f *testing.F) {
	for _, m := range burstFixture(f)[:7] {
		var msg nfq.Msg
		_ = nfq.Parse(m, &msg)
		f.Add(append([]byte(nil), msg.Payload...))
	}
	f.Add([]byte{0x45})
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 0x2c, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		conn := &fakeConn{bursts: [][][]byte{{nfq.AppendPacket(nil, nfq.Packet{ID: 7, Payload: raw})}}}
		r := testReader(conn, &StaticDecider{Deny: []PortRule{{ProtoTCP, 1}}}, false, false)
		if err := r.loop(); err != nil {
			t.Fatal(err)
		}
		vs := conn.verdicts(t)
		if len(vs) != 1 || vs[0].ID != 7 {
			t.Fatalf("verdicts %+v, want one for id 7", vs)
		}
	})
}
