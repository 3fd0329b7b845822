package decide

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// Streams that stop being parseable: what the client sends next can no
// longer be checked, so it must not pass unchecked.

// TestNothingRecognised: a connection whose rule needs its app, whose
// client sends bytes no protocol matches, is decided at once: the app will
// never be detected.
func TestNothingRecognised(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	if v := c.request("\x00\x01\x02\x03 not a protocol anyone speaks\r\n"); v != dataplane.Deny {
		t.Fatalf("unrecognised bytes: %v, want deny", v)
	}
	want := []string{`drop frontend:local→api:8080 tcp mode=protect verdict=deny rule=frontend-to-api reason=L7 inspection failed (no protocol recognised in the client's bytes): waiting for app detection (rule frontend-to-api allows one app on tcp/8080) packets=1`}
	if diff := cmp.Diff(want, h.eventLines()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestDNSUnparsedQueries: a DNS flow whose queries must be checked by name
// cannot be made to carry unchecked queries: a datagram that breaks the
// DNS parser, or that carries no query, is dropped in protect mode
// (reported in monitor mode), and the next datagram of the same socket is
// parsed afresh, so a forbidden query after it is still dropped.
func TestDNSUnparsedQueries(t *testing.T) {
	// A query that DNS detection accepts but the decoder refuses: it
	// announces a second question it does not carry.
	broken := []byte(dnsQuery(t, 5, "www.allowed.example", dns.TypeA))
	broken[5] = 2
	tests := []struct {
		name         string
		mode         policy.Mode
		first        string
		firstV, evil dataplane.Verdict
		events       []string
	}{
		{"broken query, protect", protectM, string(broken), dataplane.Drop, dataplane.Drop, []string{
			`drop api:local→dns:53 udp app=dns mode=protect verdict=deny rule=api-to-dns reason=request inspection failed (dns: truncated message): waiting for the first dns request (rule api-to-dns has dns conditions) packets=1`,
			`drop api:local→dns:53 udp app=dns query=q.evil.example qtype=A mode=protect verdict=deny rule=api-to-dns reason=dns name "q.evil.example" not allowed by rule api-to-dns packets=1`,
		}},
		{"not DNS, protect", protectM, "hello, resolver", dataplane.Drop, dataplane.Drop, []string{
			`drop api:local→dns:53 udp mode=protect verdict=deny rule=api-to-dns reason=request inspection failed (no DNS query in the datagram): waiting for app detection (rule api-to-dns allows one app on udp/53) packets=1`,
			`drop api:local→dns:53 udp app=dns query=q.evil.example qtype=A mode=protect verdict=deny rule=api-to-dns reason=dns name "q.evil.example" not allowed by rule api-to-dns packets=1`,
		}},
		{"broken query, monitor", monitorM, string(broken), dataplane.Accept, dataplane.Accept, []string{
			`violation api:local→dns:53 udp app=dns mode=monitor verdict=allow rule=api-to-dns reason=request inspection failed (dns: truncated message): waiting for the first dns request (rule api-to-dns has dns conditions) packets=1`,
			`violation api:local→dns:53 udp app=dns query=q.evil.example qtype=A mode=monitor verdict=inspect rule=api-to-dns reason=dns name "q.evil.example" not allowed by rule api-to-dns packets=1`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			c := h.udp(api4, dns4, 53)
			if v := c.request(tt.first); v != tt.firstV {
				t.Errorf("first datagram: %v, want %v", v, tt.firstV)
			}
			if v := c.request(dnsQuery(t, 6, "q.evil.example", dns.TypeA)); v != tt.evil {
				t.Errorf("forbidden query on the same socket: %v, want %v", v, tt.evil)
			}
			if diff := cmp.Diff(tt.events, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			// A dropped query has no answer to wait for.
			if n := h.d.Stats().Inspecting; tt.evil == dataplane.Drop && n != 0 {
				t.Errorf("%d flows still hold inspection state", n)
			}
		})
	}
}

// TestRequestThenGarbage: a packet that carries an allowed request and then
// bytes that break the parser does not earn the connection the fast path:
// the requests that would follow could not be checked.
func TestRequestThenGarbage(t *testing.T) {
	garbage := get("/users/1") + "\x00\x01\x02 \r\n\r\n"
	tests := []struct {
		mode  policy.Mode
		want  dataplane.Verdict
		event string
	}{
		{protectM, dataplane.Deny, `drop frontend:local→api:8080 tcp app=http mode=protect verdict=deny rule=frontend-to-api reason=request inspection failed (http: malformed request line "\x00\x01\x02 "): waiting for the first http request (rule frontend-to-api has http conditions) packets=1`},
		{monitorM, dataplane.Allow, `violation frontend:local→api:8080 tcp app=http mode=monitor verdict=allow rule=frontend-to-api reason=request inspection failed (http: malformed request line "\x00\x01\x02 "): waiting for the first http request (rule frontend-to-api has http conditions) packets=1`},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			if v := c.request(garbage); v != tt.want {
				t.Fatalf("allowed request followed by garbage: %v, want %v", v, tt.want)
			}
			if diff := cmp.Diff([]string{tt.event}, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if n := h.d.Stats().InspectionLost; n != 1 {
				t.Errorf("InspectionLost = %d, want 1", n)
			}
		})
	}
}

// TestDNSOverTCPUnparsed: over TCP, a client stream that stops being DNS
// can carry no checked query: protect mode resets the connection, monitor
// mode reports it once.
func TestDNSOverTCPUnparsed(t *testing.T) {
	tests := []struct {
		mode   policy.Mode
		want   dataplane.Verdict
		events int
	}{
		{protectM, dataplane.Deny, 1},
		{monitorM, dataplane.Accept, 1},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			c := h.tcp(api4, dns4, 53)
			c.handshake()
			if v := c.request("\x00\x20this is not a DNS message at all"); v != tt.want {
				t.Fatalf("garbage over TCP/53: %v, want %v", v, tt.want)
			}
			if !c.reset {
				c.request("\x00\x20more bytes that are not DNS either!!")
			}
			evs := h.eventLines()
			if len(evs) != tt.events || !strings.Contains(evs[0], "reason=request inspection failed") {
				t.Errorf("events %q, want %d about the failed inspection", evs, tt.events)
			}
			if got := h.verdictLines(); len(got) != 1 || !strings.Contains(got[0], "api→dns tcp/53") {
				t.Errorf("verdicts %q, want one line for api→dns tcp/53", got)
			}
		})
	}
}

// TestDNSFlowPolicyChange: a DNS socket allowed under one policy, then used
// after a reload that no longer allows its peers: the query is dropped and
// reported, not dropped silently.
func TestDNSFlowPolicyChange(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.udp(api4, dns4, 53)
	if v := c.request(dnsQuery(t, 1, "www.allowed.example", dns.TypeA)); v != dataplane.Accept {
		t.Fatalf("allowed query: %v, want accept", v)
	}
	noDNS := strings.Replace(shopPolicy, "      to: dns\n", "      to: db\n", 1)
	h.setPolicy(noDNS, protectM)
	if v := c.request(dnsQuery(t, 2, "www.allowed.example", dns.TypeA)); v != dataplane.Drop {
		t.Fatalf("query after the reload: %v, want drop", v)
	}
	want := []string{`drop api:local→dns:53 udp app=dns query=www.allowed.example qtype=A mode=protect verdict=deny reason=no rule from api to dns packets=2`}
	if diff := cmp.Diff(want, h.eventLines()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
