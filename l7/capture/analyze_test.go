package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/internal/golden"
)

func dnsQueryBytes(t testing.TB, name string) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = 0x4242
	// Pad with an EDNS0 option so that the query is worth fragmenting.
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.Option = append(o.Option, &dns.EDNS0_PADDING{Padding: make([]byte, 200)})
	m.Extra = append(m.Extra, o)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpExchange is a TCP handshake, a GET and a response between cliIP:40000
// and srvIP:80, as IP packets.
func httpExchange(v6 bool) [][]byte {
	src, dst := cliIP, srvIP
	ip := func(s, d netip.Addr, seg []byte) []byte {
		if v6 {
			return ipv6(s, d, 6, false, 0, 0, false, seg)
		}
		return ipv4(s, d, 6, 1, 0, false, seg)
	}
	if v6 {
		src, dst = cliIP6, srvIP6
	}
	req := []byte("GET /x HTTP/1.1\r\nHost: web.example\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	return [][]byte{
		ip(src, dst, tcpSeg(40000, 80, 100, 0x02, nil)),
		ip(dst, src, tcpSeg(80, 40000, 500, 0x12, nil)),
		ip(src, dst, tcpSeg(40000, 80, 101, 0x18, req)),
		ip(dst, src, tcpSeg(80, 40000, 501, 0x18, resp)),
	}
}

func frames(pkts [][]byte, wrap func([]byte) []byte) []frame {
	var out []frame
	for i, p := range pkts {
		out = append(out, frame{at: time.Duration(i) * time.Millisecond, data: wrap(p)})
	}
	return out
}

// TestLinkTypes reads the same HTTP exchange under every link type.
func TestLinkTypes(t *testing.T) {
	sll := func(p []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[14:], etherIPv4)
		return append(h, p...)
	}
	sll2 := func(p []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h, etherIPv4)
		return append(h, p...)
	}
	null := func(order binary.AppendByteOrder) func([]byte) []byte {
		return func(p []byte) []byte { return append(order.AppendUint32(nil, 2), p...) }
	}
	tests := []struct {
		name string
		link uint32
		wrap func([]byte) []byte
		ng   bool
	}{
		{"ethernet", LinkEthernet, func(p []byte) []byte { return eth(p) }, false},
		{"ethernet pcapng", LinkEthernet, func(p []byte) []byte { return eth(p) }, true},
		{"802.1Q", LinkEthernet, func(p []byte) []byte { return eth(p, 100) }, false},
		{"QinQ", LinkEthernet, func(p []byte) []byte { return eth(p, 0x88a8<<16|10, 20) }, false},
		{"raw", LinkRaw, func(p []byte) []byte { return p }, false},
		{"raw IPv4 (228)", LinkIPv4, func(p []byte) []byte { return p }, false},
		{"SLL", LinkSLL, sll, false},
		{"SLL2", LinkSLL2, sll2, true},
		{"null little-endian", LinkNull, null(binary.LittleEndian), false},
		{"null big-endian", LinkNull, null(binary.BigEndian), false},
		{"loop", LinkLoop, null(binary.BigEndian), false},
	}
	want := `{"proto":"tcp","src":"198.18.0.10","sport":40000,"dst":"198.18.0.11","dport":80,"first":"2025-01-02T03:04:05.000000000Z","last":"2025-01-02T03:04:05.003000000Z","packets":[2,2],"bytes":[118,118],"app":"http","http":[{"method":"GET","host":"web.example","path":"/x","status":200}]}`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := frames(httpExchange(false), tc.wrap)
			var b []byte
			if tc.ng {
				b = pcapngFile(t, tc.link, fr...)
			} else {
				b = pcapFile(t, tc.link, fr...)
			}
			recs, st, err := analyzeBytes(t, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{want}, jsonLines(t, recs)); diff != "" {
				t.Errorf("(-want +got):\n%s\nstats %+v", diff, st)
			}
		})
	}
	t.Run("IPv6", func(t *testing.T) {
		recs, _, err := analyzeBytes(t, pcapFile(t, LinkEthernet, frames(httpExchange(true), func(p []byte) []byte { return eth(p) })...), Options{})
		if err != nil || len(recs) != 1 || recs[0].App != "http" || recs[0].Src != cliIP6 || recs[0].Bytes != [2]uint64{158, 158} {
			t.Errorf("records %+v, err %v", recs, err)
		}
	})
}

// TestFragments: IPv4 and IPv6 fragments carrying a UDP DNS query, in and
// out of order, overlapping, incomplete.
func TestFragments(t *testing.T) {
	q := udpDgram(40001, 53, dnsQueryBytes(t, "frag.example."))
	cut := 64 // a multiple of 8
	v4 := func(off int, more bool, data []byte) []byte { return ipv4(cliIP, srvIP, 17, 7, off, more, data) }
	v6 := func(off int, more bool, data []byte) []byte {
		return ipv6(cliIP6, srvIP6, 17, true, 9, off, more, data)
	}
	conflict := append([]byte(nil), q[cut-8:cut+8]...)
	conflict[10] ^= 0xff
	tests := []struct {
		name  string
		pkts  [][]byte
		app   string
		notes []string
		drop  uint64
	}{
		{"IPv4 in order", [][]byte{v4(0, true, q[:cut]), v4(cut, false, q[cut:])}, "dns", nil, 0},
		{"IPv4 out of order", [][]byte{v4(cut, false, q[cut:]), v4(0, true, q[:cut])}, "dns", nil, 0},
		{"IPv4 three pieces and a duplicate", [][]byte{v4(0, true, q[:cut]), v4(2*cut, false, q[2*cut:]), v4(0, true, q[:cut]), v4(cut, true, q[cut:2*cut])}, "dns", nil, 0},
		{"IPv4 overlap with conflicting bytes", [][]byte{v4(0, true, q[:cut]), v4(cut-8, true, conflict), v4(cut, false, q[cut:])}, "dns", []string{NoteFragmentOverlap}, 0},
		{"IPv6", [][]byte{v6(cut, false, q[cut:]), v6(0, true, q[:cut])}, "dns", nil, 0},
		{"IPv4 missing piece", [][]byte{v4(0, true, q[:cut])}, "", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, st, err := analyzeBytes(t, pcapFile(t, LinkRaw, frames(tc.pkts, func(p []byte) []byte { return p })...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st.FragmentsDropped != tc.drop {
				t.Errorf("dropped %d, want %d", st.FragmentsDropped, tc.drop)
			}
			if tc.app == "" {
				if len(recs) != 0 {
					t.Errorf("records %v", jsonLines(t, recs))
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("records %v", jsonLines(t, recs))
			}
			r := recs[0]
			if r.App != tc.app || r.Dport != 53 || r.Packets[0] != uint64(len(tc.pkts)) {
				t.Errorf("record %s", jsonLines(t, recs))
			}
			if diff := cmp.Diff(tc.notes, r.Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			if !strings.Contains(jsonLines(t, recs)[0], `"qname":"frag.example"`) {
				t.Errorf("no qname in %s", jsonLines(t, recs)[0])
			}
		})
	}
}

func TestFragmentBounds(t *testing.T) {
	var pkts [][]byte
	// Many incomplete datagrams: the pending bytes stay under the cap.
	for id := 0; id < 200; id++ {
		pkts = append(pkts, ipv4(cliIP, srvIP, 17, uint16(id), 0, true, make([]byte, 1480)))
	}
	// A datagram claiming more than 64 KiB.
	pkts = append(pkts, ipv4(cliIP, srvIP, 17, 999, 65528, false, make([]byte, 100)))
	d := newDefragger(64<<10, time.Minute)
	var p packet
	for _, b := range pkts {
		if err := decodeIP(b, &p); err != nil {
			t.Fatal(err)
		}
		if _, _, _, _, done := d.add(&p, t0); done {
			t.Fatal("an incomplete datagram completed")
		}
		if d.bytes > 64<<10 {
			t.Fatalf("%d bytes pending, cap 64 KiB", d.bytes)
		}
	}
	if d.dropped < 150 {
		t.Errorf("dropped %d, want the oldest dropped", d.dropped)
	}
	// Timeout.
	d2 := newDefragger(1<<20, time.Second)
	_ = decodeIP(ipv4(cliIP, srvIP, 17, 1, 0, true, make([]byte, 8)), &p)
	d2.add(&p, t0)
	_ = decodeIP(ipv4(cliIP, srvIP, 17, 2, 0, true, make([]byte, 8)), &p)
	d2.add(&p, t0.Add(2*time.Second))
	if d2.dropped != 1 || len(d2.pending) != 1 {
		t.Errorf("after timeout: dropped %d pending %d", d2.dropped, len(d2.pending))
	}
}

func TestClientSide(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	tests := []struct {
		name    string
		pkts    [][]byte
		src     string
		sport   uint16
		packets [2]uint64
	}{{
		name: "SYN sender",
		pkts: [][]byte{
			ipv4(srvIP, cliIP, 6, 1, 0, false, tcpSeg(80, 40000, 1, 0x02, nil)), // the "server" opens: it is the client
			ipv4(cliIP, srvIP, 6, 1, 0, false, tcpSeg(40000, 80, 9, 0x12, nil)),
		},
		src: "198.18.0.11", sport: 80, packets: [2]uint64{1, 1},
	}, {
		name: "no handshake: the first request decides",
		pkts: [][]byte{
			ipv4(srvIP, cliIP, 6, 1, 0, false, tcpSeg(8080, 9000, 1, 0x18, resp)),
			ipv4(cliIP, srvIP, 6, 1, 0, false, tcpSeg(9000, 8080, 1, 0x18, req)),
		},
		src: "198.18.0.10", sport: 9000, packets: [2]uint64{1, 1},
	}, {
		name: "no handshake, nothing recognised: the port below 1024 is the server's",
		pkts: [][]byte{
			ipv4(srvIP, cliIP, 6, 1, 0, false, tcpSeg(999, 40000, 1, 0x18, []byte("zzz"))),
		},
		src: "198.18.0.10", sport: 40000, packets: [2]uint64{0, 1},
	}, {
		name: "no handshake, nothing recognised: the higher port is the client's",
		pkts: [][]byte{
			ipv4(srvIP, cliIP, 6, 1, 0, false, tcpSeg(5000, 6000, 1, 0x18, []byte("zzz"))),
		},
		src: "198.18.0.10", sport: 6000, packets: [2]uint64{0, 1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, err := analyzeBytes(t, pcapFile(t, LinkRaw, frames(tc.pkts, func(p []byte) []byte { return p })...), Options{})
			if err != nil || len(recs) != 1 {
				t.Fatalf("records %v err %v", recs, err)
			}
			r := recs[0]
			if r.Src.String() != tc.src || r.Sport != tc.sport || r.Packets != tc.packets {
				t.Errorf("got %s", jsonLines(t, recs)[0])
			}
		})
	}
}

// TestOrderAndExpiry: flows come out by first packet time then 5-tuple,
// idle flows are finished early, a full table finishes the least recently
// seen flow.
func TestOrderAndExpiry(t *testing.T) {
	q := func(sport uint16) []byte {
		return ipv4(cliIP, srvIP, 17, 1, 0, false, udpDgram(sport, 53, dnsQueryBytes(t, "o.example.")))
	}
	fr := []frame{
		{0, q(1001)}, {0, q(1000)}, // same time: by port
		{time.Second, q(1002)},
		{10 * time.Minute, q(1003)}, // expires the first three
		{10*time.Minute + time.Second, q(1001)},
	}
	recs, _, err := analyzeBytes(t, pcapFile(t, LinkRaw, fr...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint16
	for _, r := range recs {
		got = append(got, r.Sport)
	}
	if diff := cmp.Diff([]uint16{1000, 1001, 1002, 1003, 1001}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	recs, st, err := analyzeBytes(t, pcapFile(t, LinkRaw, fr[:3]...), Options{MaxFlows: 2})
	if err != nil || st.Evicted != 1 || len(recs) != 3 {
		t.Fatalf("evicted %d records %d err %v", st.Evicted, len(recs), err)
	}
	if recs[1].Sport != 1001 || len(recs[1].Notes) != 1 || recs[1].Notes[0] != NoteEvicted {
		t.Errorf("evicted flow: %s", jsonLines(t, recs))
	}
}

func TestBadInput(t *testing.T) {
	good := pcapFile(t, LinkRaw, frames(httpExchange(false), func(p []byte) []byte { return p })...)
	ng := pcapngFile(t, LinkRaw, frames(httpExchange(false), func(p []byte) []byte { return p })...)
	hugeBlock := append([]byte(nil), ng...)
	// The first enhanced packet block follows the section header (28 bytes)
	// and the interface description: make its length enormous.
	epb := bytes.Index(hugeBlock[28:], []byte{6, 0, 0, 0}) + 28
	binary.LittleEndian.PutUint32(hugeBlock[epb+4:], 0xfffffff0)
	bigCap := append([]byte(nil), ng...)
	binary.LittleEndian.PutUint32(bigCap[epb+20:], 0x7fffffff)
	bigSnap := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(bigSnap[24+8:], 0x7fffffff) // first record's caplen
	tests := []struct {
		name      string
		b         []byte
		notCap    bool
		err       bool
		truncated bool
		flows     int
	}{
		{name: "empty", b: nil, notCap: true},
		{name: "text", b: []byte("hello, this is not a capture\n"), notCap: true},
		{name: "gzip", b: []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, notCap: true},
		{name: "pcap header only", b: good[:24]},
		{name: "short pcap header", b: good[:10], notCap: true},
		{name: "truncated in a packet", b: good[:len(good)-5], truncated: true, flows: 1},
		{name: "pcapng block of 4 GiB", b: hugeBlock, err: true},
		{name: "pcapng captured length beyond its block", b: bigCap, err: true},
		{name: "pcap captured length of 2 GiB", b: bigSnap, err: true},
		{name: "pcapng truncated", b: ng[:len(ng)-7], flows: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, st, err := analyzeBytes(t, tc.b, Options{})
			if got := errors.Is(err, ErrNotCapture); got != tc.notCap {
				t.Errorf("err %v, not-a-capture %v", err, tc.notCap)
			}
			if !tc.notCap && (err != nil) != tc.err {
				t.Errorf("err %v, want error %v", err, tc.err)
			}
			if st.Truncated != tc.truncated {
				t.Errorf("truncated %v", st.Truncated)
			}
			if tc.flows > 0 && len(recs) < tc.flows {
				t.Errorf("%d flows, want %d", len(recs), tc.flows)
			}
		})
	}
}

// TestTunnels: GTP-U and VXLAN are decapsulated.
func TestTunnels(t *testing.T) {
	inner := httpExchange(false)
	gtp := func(p []byte) []byte {
		h := []byte{0x30, 0xff, 0, 0, 0, 0, 0, 1}
		binary.BigEndian.PutUint16(h[2:], uint16(len(p)))
		return ipv4(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 17, 1, 0, false, udpDgram(2152, 2152, append(h, p...)))
	}
	vxlan := func(p []byte) []byte {
		h := []byte{0x08, 0, 0, 0, 0, 0, 1, 0}
		return ipv4(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 17, 1, 0, false, udpDgram(40000, 4789, append(h, eth(p)...)))
	}
	for name, wrap := range map[string]func([]byte) []byte{"gtp": gtp, "vxlan": vxlan} {
		recs, _, err := analyzeBytes(t, pcapFile(t, LinkRaw, frames(inner, wrap)...), Options{})
		if err != nil || len(recs) != 1 || recs[0].App != "http" || recs[0].Src != cliIP {
			t.Errorf("%s: records %v err %v", name, jsonLines(t, recs), err)
		}
	}
}

// TestRecordGolden pins the JSON of a record with every field.
func TestRecordGolden(t *testing.T) {
	r := &Record{
		Proto: "tcp", Src: cliIP, Sport: 40000, Dst: srvIP, Dport: 443,
		First: t0.Add(123456789 * time.Nanosecond), Last: t0.Add(2 * time.Second),
		Packets: [2]uint64{10, 8}, Bytes: [2]uint64{1234, 5678}, App: "tls",
		Protocols: map[string]any{"tls": map[string]any{"sni": "api.example", "alpn": []string{"h2"}, "version": "1.3", "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1"}},
		Notes:     []string{"reassembly limit reached"},
	}
	got, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	tw := NewTableWriter(&table)
	_ = tw.Write(r)
	_ = tw.Flush()
	golden.Check(t, "testdata/record.json", append(got, '\n'))
	golden.Check(t, "testdata/record.table", table.Bytes())
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	now := t0
	p := NewProgressBar(&out, "big.pcap", 1000, func() time.Time { return now })
	p.Update(0)
	p.Update(100) // too soon: not drawn
	now = now.Add(time.Second)
	p.Update(500)
	p.Update(1000) // the end is always drawn
	p.Done()
	want := "\rbig.pcap [>                             ]   0% 0.0/0.0 MB" +
		"\rbig.pcap [===============>              ]  50% 0.0/0.0 MB" +
		"\rbig.pcap [==============================] 100% 0.0/0.0 MB" +
		"\r\033[K"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
