package l7

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func dnsQuery(t testing.TB, id uint16, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	return m
}

func dnsReply(t testing.TB, q *dns.Msg, rcode int, rrs ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetReply(q)
	m.Rcode = rcode
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func pack(t testing.TB, m *dns.Msg) string {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tcpMsg prefixes a message with its length, as DNS over TCP does.
func tcpMsg(t testing.TB, m *dns.Msg) string {
	b := pack(t, m)
	return string([]byte{byte(len(b) >> 8), byte(len(b))}) + b
}

func TestDNSUDP(t *testing.T) {
	q := dnsQuery(t, 0x1234, "API.Example.com.", dns.TypeA)
	r := dnsReply(t, q, dns.RcodeSuccess, "www.example.com. 300 IN CNAME api.example.com.", "api.example.com. 60 IN A 198.18.0.11",
		"api.example.com. 60 IN AAAA 2001:2::b", "api.example.com. 60 IN TXT \"hello world\"")
	nx := dnsReply(t, dnsQuery(t, 7, "missing.example.", dns.TypeAAAA), dns.RcodeNameError)
	two := dnsQuery(t, 9, "a.example.", dns.TypeA)
	two.Question = append(two.Question, dns.Question{Name: "b.example.", Qtype: dns.TypeMX, Qclass: dns.ClassINET})
	weird := dnsQuery(t, 10, `a\.b\000c.example.`, dns.TypeA)
	e := NewEngine(Config{Parser: ParserConfig{Summaries: true}})
	tests := []struct {
		name    string
		segs    []seg
		want    []string
		summary string
	}{{
		name: "query and answer",
		segs: []seg{cseg(pack(t, q)), sseg(pack(t, r))},
		want: []string{
			`req dns Host="api.example.com" DNSID=4660 QType=1`,
			`resp dns Status=0 DNSID=4660 QName="api.example.com" QType=1 [www.example.com 5 300 api.example.com] [api.example.com 1 60 198.18.0.11] [api.example.com 28 60 2001:2::b] [api.example.com 16 60 ]`,
		},
		summary: `[{"id":4660,"qname":"api.example.com","qtype":"A","rcode":"NOERROR","answers":[
			{"name":"www.example.com","type":"CNAME","data":"api.example.com","ttl":300},
			{"name":"api.example.com","type":"A","data":"198.18.0.11","ttl":60},
			{"name":"api.example.com","type":"AAAA","data":"2001:2::b","ttl":60},
			{"name":"api.example.com","type":"TXT","data":"\"hello world\"","ttl":60}]}]`,
	}, {
		name:    "NXDOMAIN without the query",
		segs:    []seg{sseg(pack(t, nx))},
		want:    []string{`resp dns Status=3 DNSID=7 QName="missing.example" QType=28`},
		summary: `[{"id":7,"qname":"missing.example","qtype":"AAAA","rcode":"NXDOMAIN"}]`,
	}, {
		name: "two questions: both reported",
		segs: []seg{cseg(pack(t, two))},
		want: []string{`req dns Host="a.example" DNSID=9 QType=1`, `req dns Host="b.example" DNSID=9 QType=15`},
	}, {
		name: "escaped bytes in a name",
		segs: []seg{cseg(pack(t, weird))},
		want: []string{`req dns Host="a\\.b\\000c.example" DNSID=10 QType=1`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, f := runUDP(t, e, 40000, 53, OrientationGuessed, tc.segs...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tc.summary != "" {
				b, _ := jsonMarshal(f.Summary())
				if diff := cmp.Diff(canonJSON(t, tc.summary), canonJSON(t, string(b))); diff != "" {
					t.Errorf("summary (-want +got):\n%s", diff)
				}
			}
			f.Release()
		})
	}
}

func TestDNSTCP(t *testing.T) {
	q1 := dnsQuery(t, 1, "one.example.", dns.TypeA)
	q2 := dnsQuery(t, 2, "two.example.", dns.TypeAAAA)
	r1 := dnsReply(t, q1, dns.RcodeSuccess, "one.example. 5 IN A 198.18.0.1")
	r2 := dnsReply(t, q2, dns.RcodeServerFailure)
	both := tcpMsg(t, q1) + tcpMsg(t, q2)
	resps := tcpMsg(t, r1) + tcpMsg(t, r2)
	want := []string{
		`req dns Host="one.example" DNSID=1 QType=1`,
		`req dns Host="two.example" DNSID=2 QType=28`,
		`resp dns Status=0 DNSID=1 QName="one.example" QType=1 [one.example 1 5 198.18.0.1]`,
		`resp dns Status=2 DNSID=2 QName="two.example" QType=28`,
	}
	tests := []struct {
		name string
		segs []seg
	}{
		{"two messages in one segment", []seg{cseg(both), sseg(resps)}},
		{"one message split over two segments", []seg{cseg(both[:20]), cseg(both[20:]), sseg(resps[:1]), sseg(resps[1:40]), sseg(resps[40:])}},
		{"byte by byte", append(bytewise(FromClient, both), bytewise(FromServer, resps)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, f := runTCP(t, NewEngine(Config{}), 53, false, tc.segs...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if f.App() != DNS {
				t.Errorf("app %v", f.App())
			}
		})
	}
}

// TestDNSHostile feeds messages whose names loop, point forwards, overrun
// or are too long: each stops the parser with an error, never a hang.
func TestDNSHostile(t *testing.T) {
	header := func(qd, an uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], 0xbeef)
		binary.BigEndian.PutUint16(h[2:], 0x8180) // response
		binary.BigEndian.PutUint16(h[4:], qd)
		binary.BigEndian.PutUint16(h[6:], an)
		return h
	}
	q := append(header(1, 1), 3, 'a', 'b', 'c', 0, 0, 1, 0, 1)
	loop := append(append([]byte(nil), q...), 0xc0, byte(len(q)), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
	forward := append(append([]byte(nil), q...), 0xc0, 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
	long := header(1, 0)
	for i := 0; i < 5; i++ {
		long = append(long, 63)
		long = append(long, []byte(strings.Repeat("x", 63))...)
	}
	long = append(long, 0, 0, 1, 0, 1)
	overrun := append(append([]byte(nil), q...), 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 1)
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"pointer loop", loop, errDNSPointer.Error()},
		{"forward pointer", forward, errDNSPointer.Error()},
		{"name longer than 255", long, errDNSName.Error()},
		{"rdata beyond the message", overrun, errDNSShort.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newDNSParser(&ParserConfig{Summaries: true}, false)
			sink := &textSink{}
			_, err := p.Parse(FromServer, tc.msg, sink)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err %v, want %s", err, tc.want)
			}
		})
	}
}

func TestDetectDNS(t *testing.T) {
	q := pack(t, dnsQuery(t, 1, "example.com.", dns.TypeA))
	r := pack(t, dnsReply(t, dnsQuery(t, 1, "example.com.", dns.TypeA), 0, "example.com. 1 IN A 1.2.3.4"))
	nb := "\x12\x34\x01\x10\x00\x01\x00\x00\x00\x00\x00\x00\x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01"
	mdns := "\x00\x00\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00\x05_http\x04_tcp\x05local\x00\x00\x0c\x00\x01\x00\x00\x11\x94\x00\x02\xc0\x0c"
	tests := []struct {
		tcp  bool
		dir  Dir
		data string
		want Match
	}{
		{false, FromClient, q, Matched},
		{false, FromServer, q, NoMatch},
		{false, FromServer, r, Matched},
		{false, FromClient, r, NoMatch},
		{false, FromClient, q[:14], NoMatch},
		{false, FromClient, nb, NoMatch},
		{false, FromServer, mdns, Matched},
		{false, FromClient, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NoMatch},
		{true, FromClient, string([]byte{0, byte(len(q))}) + q, Matched},
		{true, FromClient, string([]byte{0, byte(len(q))}) + q[:13], NeedMore},
		{true, FromClient, "\x00", NeedMore},
		{true, FromClient, "\x00\x05hello", NoMatch},
	}
	for i, tc := range tests {
		d := detectDNSUDP
		if tc.tcp {
			d = detectDNSTCP
		}
		if got := d(tc.dir, []byte(tc.data)); got != tc.want {
			t.Errorf("%d: detect(tcp=%v, %v, %q) = %v, want %v", i, tc.tcp, tc.dir, tc.data, got, tc.want)
		}
	}
}

// TestDNSWireMatchesMiekg checks the packet-path decoder against
// miekg/dns on the same messages.
func TestDNSWireMatchesMiekg(t *testing.T) {
	q := dnsQuery(t, 77, "Mixed.Case.Example.", dns.TypeAAAA)
	r := dnsReply(t, q, 0, "mixed.case.example. 30 IN AAAA 2001:2::1", "mixed.case.example. 30 IN NS ns1.example.",
		"mixed.case.example. 30 IN PTR host.example.", "mixed.case.example. 30 IN A 10.0.0.1")
	r.Compress = true
	raw := []byte(pack(t, r))
	var m dnsMsg
	if err := m.decode(raw, true); err != nil {
		t.Fatal(err)
	}
	var want dns.Msg
	if err := want.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	if got, w := string(m.questions[0].name), normDNSName(want.Question[0].Name); got != w {
		t.Errorf("qname %q, want %q", got, w)
	}
	if len(m.answers) != len(want.Answer) {
		t.Fatalf("%d answers, want %d", len(m.answers), len(want.Answer))
	}
	for i, a := range m.answers {
		h := want.Answer[i].Header()
		if a.Name != normDNSName(h.Name) || a.Type != h.Rrtype || a.TTL != h.Ttl {
			t.Errorf("answer %d: %+v, want %v", i, a, want.Answer[i])
		}
		switch rr := want.Answer[i].(type) {
		case *dns.A:
			if a.Data != rr.A.String() || !net.IP(a.Addr.AsSlice()).Equal(rr.A) {
				t.Errorf("answer %d: %+v, want %v", i, a, rr)
			}
		case *dns.AAAA:
			if a.Data != rr.AAAA.String() {
				t.Errorf("answer %d: %+v, want %v", i, a, rr)
			}
		case *dns.NS:
			if a.Data != normDNSName(rr.Ns) {
				t.Errorf("answer %d: %+v, want %v", i, a, rr)
			}
		case *dns.PTR:
			if a.Data != normDNSName(rr.Ptr) {
				t.Errorf("answer %d: %+v, want %v", i, a, rr)
			}
		}
	}
}
