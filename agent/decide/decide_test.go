package decide

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

var (
	learnM   = policy.ModeLearn
	monitorM = policy.ModeMonitor
	protectM = policy.ModeProtect
)

// TestHTTPKeepAlive: an allowed keep-alive HTTP connection is inspected
// request by request; a forbidden request on it is dropped with a reset
// (protect), reported (monitor), or learnt (learn). Learn mode queues the
// connection whole, responses included, and counts each request with the
// status class of its response; the other modes queue only the requests
// and count them with status class "none".
func TestHTTPKeepAlive(t *testing.T) {
	tests := []struct {
		mode       policy.Mode
		syn, first dataplane.Verdict
		second     dataplane.Verdict
		whole      bool // the server's packets are queued
		events     []string
		edges      []string
		classes    map[string]float64 // GET requests by status class
	}{
		{protectM, dataplane.Accept, dataplane.Inspect, dataplane.Deny, false, []string{
			`drop frontend:local→api:8080 tcp app=http method=GET path=/admin mode=protect verdict=deny rule=frontend-to-api reason=http path "/admin" not allowed by rule frontend-to-api packets=3`}, nil,
			map[string]float64{"none": 3, "2xx": 0}},
		{monitorM, dataplane.Accept, dataplane.Inspect, dataplane.Accept, false, []string{
			`violation frontend:local→api:8080 tcp app=http method=GET path=/admin mode=monitor verdict=inspect rule=frontend-to-api reason=http path "/admin" not allowed by rule frontend-to-api packets=3`}, nil,
			map[string]float64{"none": 3, "2xx": 0}},
		{learnM, dataplane.Accept, dataplane.InspectAll, dataplane.Accept, true, []string{
			`learned frontend:local→api:8080 tcp app=http method=GET path=/users/1 mode=learn verdict=inspect`},
			[]string{`frontend→api tcp/8080 http {"method":"GET","path":"/admin","host":"api","count":1} {"method":"GET","path":"/users/{id}","host":"api","count":1}`},
			// The answer pairs with the first request; the other two
			// still wait for theirs.
			map[string]float64{"none": 0, "2xx": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			c := h.tcp(frontend4, api4, 8080)
			if v := c.handshake(); v != tt.syn {
				t.Fatalf("SYN: %v, want %v", v, tt.syn)
			}
			if v := c.request(get("/users/1")); v != tt.first {
				t.Fatalf("first request: %v, want %v", v, tt.first)
			}
			if v := c.request(get("/users/2")); v != dataplane.Accept {
				t.Fatalf("second allowed request: %v, want accept", v)
			}
			// The server's answers and ACKs stay in the kernel, except in
			// learn mode.
			before := c.delivered
			c.reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			if queued := c.delivered != before; queued != tt.whole {
				t.Errorf("the server's answer queued: %v, want %v", queued, tt.whole)
			}
			if v := c.request(get("/admin")); v != tt.second {
				t.Fatalf("forbidden request: %v, want %v", v, tt.second)
			}
			if diff := cmp.Diff(tt.events, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.edges, h.edges()); diff != "" {
				t.Errorf("learned edges (-want +got):\n%s", diff)
			}
			for class, want := range tt.classes {
				if got := h.metric("bulkhead_http_requests_total", "method", "GET", "status_class", class); got != want {
					t.Errorf("GET requests with status class %s: %v, want %v", class, got, want)
				}
			}
		})
	}
}

// TestL4 covers flows decided on their first packet: the lateral movement,
// a port scan, egress to an unknown address, ICMP, UDP; IPv4 and IPv6.
func TestL4(t *testing.T) {
	type step struct {
		name string
		run  func(h *harness) dataplane.Verdict
	}
	lateral := step{"frontend to db", func(h *harness) dataplane.Verdict { return h.tcp(frontend4, db4, 6379).handshake() }}
	lateral6 := step{"frontend to api over IPv6 on an unlisted port", func(h *harness) dataplane.Verdict { return h.tcp(frontend6, api6, 22).handshake() }}
	egress := step{"api to an unknown address", func(h *harness) dataplane.Verdict { return h.tcp(api4, evil4, 80).handshake() }}
	ping := step{"frontend pings dns", func(h *harness) dataplane.Verdict { return h.icmp(frontend4, dns4).send(true, 0, "ping") }}
	ping6 := step{"frontend pings dns over IPv6", func(h *harness) dataplane.Verdict { return h.icmp(frontend6, dns6).send(true, 0, "ping") }}
	pingDenied := step{"api pings db", func(h *harness) dataplane.Verdict { return h.icmp(api4, db4).send(true, 0, "ping") }}
	pingDenied6 := step{"frontend pings api over IPv6", func(h *harness) dataplane.Verdict { return h.icmp(frontend6, api6).send(true, 0, "ping") }}
	udp := step{"frontend to db over UDP", func(h *harness) dataplane.Verdict { return h.udp(frontend4, db4, 9000).request("x") }}
	tests := []struct {
		mode   policy.Mode
		step   step
		want   dataplane.Verdict
		events []string
	}{
		{protectM, lateral, dataplane.Deny, []string{`drop frontend:local→db:6379 tcp mode=protect verdict=deny reason=no rule from frontend to db packets=1`}},
		{monitorM, lateral, dataplane.Allow, []string{`violation frontend:local→db:6379 tcp mode=monitor verdict=allow reason=no rule from frontend to db packets=1`}},
		{learnM, lateral, dataplane.Accept, nil},
		{protectM, lateral6, dataplane.Deny, []string{`drop frontend:local→api:22 tcp mode=protect verdict=deny reason=no rule from frontend to api allows tcp/22 packets=1`}},
		{protectM, egress, dataplane.Deny, []string{`drop api:local→world:80 tcp mode=protect verdict=deny reason=no rule from api to 198.19.1.66 packets=1`}},
		{protectM, ping, dataplane.Allow, nil},
		{protectM, ping6, dataplane.Allow, nil},
		{learnM, ping, dataplane.Allow, nil},
		{protectM, pingDenied, dataplane.Deny, []string{`drop api:local→db:0 icmp mode=protect verdict=deny reason=no rule from api to db allows icmp echo-request packets=1`}},
		{protectM, pingDenied6, dataplane.Deny, []string{`drop frontend:local→api:0 icmpv6 mode=protect verdict=deny reason=no rule from frontend to api allows icmpv6 echo-request packets=1`}},
		{protectM, udp, dataplane.Deny, []string{`drop frontend:local→db:9000 udp mode=protect verdict=deny reason=no rule from frontend to db packets=1`}},
		{learnM, udp, dataplane.Allow, []string{`learned frontend:local→db:9000 udp mode=learn verdict=allow`}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.step.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			if v := tt.step.run(h); v != tt.want {
				t.Fatalf("verdict %v, want %v", v, tt.want)
			}
			if diff := cmp.Diff(tt.events, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPortScan: a scan of many ports is denied port by port in protect
// mode, each reported; the flows of the scan are counted as denied.
func TestPortScan(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	for port := uint16(1); port <= 50; port++ {
		if v := h.tcp(frontend4, db4, port).send(true, dataplane.TCPSyn, ""); v != dataplane.Deny {
			t.Fatalf("SYN to port %d: %v, want deny", port, v)
		}
	}
	if n := len(h.ev.take()); n != 50 {
		t.Errorf("%d events for 50 ports, want 50", n)
	}
	if got := h.metric("bulkhead_connections_total", "src", "frontend", "dst", "db", "verdict", "denied"); got != 50 {
		t.Errorf("denied connections counted: %v, want 50", got)
	}
	if got := h.metric("bulkhead_policy_violations_total", "group", "frontend", "mode", "protect", "reason", "no_rule"); got != 50 {
		t.Errorf("violations counted: %v, want 50", got)
	}
}

// TestDNS: queries are checked by name, answers feed the FQDN map, and
// FQDN rules then allow the addresses those answers gave.
func TestDNS(t *testing.T) {
	tests := []struct {
		mode                policy.Mode
		allowedQuery, badQ  dataplane.Verdict
		goodConn, otherConn dataplane.Verdict
		events              []string
	}{
		{protectM, dataplane.Accept, dataplane.Drop, dataplane.Allow, dataplane.Deny, []string{
			`drop api:local→dns:53 udp app=dns query=x4k2j9q1z8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0.evil.example qtype=A mode=protect verdict=deny rule=api-to-dns reason=dns name "x4k2j9q1z8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0.evil.example" not allowed by rule api-to-dns packets=1`,
			`drop api:local→cdn.other.example:80 tcp mode=protect verdict=deny reason=no rule from api to 198.19.1.30 (cdn.other.example) packets=1`,
		}},
		{monitorM, dataplane.Accept, dataplane.Accept, dataplane.Allow, dataplane.Allow, []string{
			`violation api:local→dns:53 udp app=dns query=x4k2j9q1z8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0.evil.example qtype=A mode=monitor verdict=inspect rule=api-to-dns reason=dns name "x4k2j9q1z8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0.evil.example" not allowed by rule api-to-dns packets=1`,
			`violation api:local→cdn.other.example:80 tcp mode=monitor verdict=allow reason=no rule from api to 198.19.1.30 (cdn.other.example) packets=1`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode)
			if v := h.resolve("www.allowed.example", "www.allowed.example. 5 IN A "+good4.String()); v != tt.allowedQuery {
				t.Fatalf("allowed query: %v, want %v", v, tt.allowedQuery)
			}
			if v := h.resolve("x4k2j9q1z8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0.evil.example"); v != tt.badQ {
				t.Fatalf("query for an unknown domain: %v, want %v", v, tt.badQ)
			}
			h.resolve("cdn.other.example", "cdn.other.example. 60 IN A "+other4.String())
			if name, _ := h.res.FQDN().Name(good4); name != "www.allowed.example" {
				t.Fatalf("FQDN map: %v is %q, want www.allowed.example", good4, name)
			}
			// The answer's TTL was 5 s: the 30 s floor keeps it.
			h.clk.Advance(20 * time.Second)
			if v := h.tcp(api4, good4, 80).handshake(); v != tt.goodConn {
				t.Errorf("connection to an address of *.allowed.example: %v, want %v", v, tt.goodConn)
			}
			if v := h.tcp(api4, other4, 80).handshake(); v != tt.otherConn {
				t.Errorf("connection to an address of another name: %v, want %v", v, tt.otherConn)
			}
			if diff := cmp.Diff(tt.events, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if got := h.metric("bulkhead_dns_queries_total", "rcode", "NOERROR"); got != 2 {
				t.Errorf("NOERROR answers counted: %v, want 2", got)
			}
		})
	}
}

// TestDNSOverTCP: a forbidden query over TCP resets the connection (a
// dropped segment would be retransmitted past the parser).
func TestDNSOverTCP(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(api4, dns4, 53)
	c.handshake()
	q := dnsQuery(t, 9, "secret.evil.example", dns.TypeTXT)
	msg := string([]byte{byte(len(q) >> 8), byte(len(q))}) + q
	if v := c.request(msg); v != dataplane.Deny {
		t.Fatalf("forbidden query over TCP: %v, want deny", v)
	}
	if d := h.d.Stats().DNSDropped; d != 1 {
		t.Errorf("DNSDropped = %d, want 1", d)
	}
}

// TestLearnGraph: learn mode records edges with their L7 values, workload
// to workload, to FQDNs and to plain addresses; each new edge is one
// learned event.
func TestLearnGraph(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	c.request(get("/users/1"))
	c.request("POST /orders HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}")
	r := h.tcp(api4, db4, 6379)
	r.handshake()
	r.request("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	r.reply("$-1\r\n")
	r.request("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
	h.resolve("www.allowed.example", "www.allowed.example. 60 IN A "+good4.String())
	w := h.tcp(api4, good4, 80)
	w.handshake()
	w.request(get("/"))
	x := h.tcp(api4, evil4, 443)
	x.handshake()
	x.send(true, dataplane.TCPFin|dataplane.TCPAck, "")
	want := []string{
		`api→198.19.1.66 tcp/443 unknown`,
		`api→db tcp/6379 redis {"command":"GET","count":1} {"command":"SET","count":1}`,
		`api→dns udp/53 dns {"name":"www.allowed.example","count":1}`,
		`api→fqdn:www.allowed.example tcp/80 http {"method":"GET","path":"/","host":"api","count":1}`,
		`frontend→api tcp/8080 http {"method":"GET","path":"/users/{id}","host":"api","count":1} {"method":"POST","path":"/orders","host":"api","count":1}`,
	}
	if diff := cmp.Diff(want, h.edges()); diff != "" {
		t.Errorf("learned edges (-want +got):\n%s", diff)
	}
	evs := h.eventLines()
	if len(evs) != 5 {
		t.Errorf("%d events, want 5 learned:\n%s", len(evs), strings.Join(evs, "\n"))
	}
	if got := h.metric("bulkhead_learning_edges_added_total"); got != 5 {
		t.Errorf("edges learned metric %v, want 5", got)
	}
}

// TestL7Wait: a connection whose L7 attributes do not come is decided when
// the wait ends (packets, bytes or time) and reported.
func TestL7Wait(t *testing.T) {
	tests := []struct {
		name  string
		mode  policy.Mode
		deny  bool
		feed  func(h *harness, c *conn) dataplane.Verdict
		want  dataplane.Verdict
		event string
	}{
		{"packets, protect, deny", protectM, true, func(h *harness, c *conn) dataplane.Verdict {
			var v dataplane.Verdict
			for range 8 {
				v = c.request("G")
			}
			return v
		}, dataplane.Deny, `drop frontend:local→api:8080 tcp mode=protect verdict=deny rule=frontend-to-api reason=L7 wait exceeded: waiting for app detection (rule frontend-to-api allows one app on tcp/8080) packets=8`},
		{"time, protect, allow", protectM, false, func(h *harness, c *conn) dataplane.Verdict {
			c.request("GE")
			h.clk.Advance(3 * time.Second)
			return c.request("T")
		}, dataplane.Allow, `violation frontend:local→api:8080 tcp mode=protect verdict=allow rule=frontend-to-api reason=L7 wait exceeded: waiting for app detection (rule frontend-to-api allows one app on tcp/8080) packets=2`},
		{"bytes, monitor", monitorM, true, func(h *harness, c *conn) dataplane.Verdict {
			return c.request("GET /users/1 HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 17<<10))
		}, dataplane.Allow, `violation frontend:local→api:8080 tcp app=http mode=monitor verdict=allow rule=frontend-to-api reason=L7 wait exceeded: waiting for the first http request (rule frontend-to-api has http conditions) packets=1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, tt.mode, func(c *Config) { c.Wait.Deny = tt.deny })
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			if v := tt.feed(h, c); v != tt.want {
				t.Fatalf("verdict %v, want %v", v, tt.want)
			}
			if diff := cmp.Diff([]string{tt.event}, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if got := h.metric("bulkhead_policy_violations_total", "reason", "inspection_limit"); got != 1 {
				t.Errorf("inspection_limit violations %v, want 1", got)
			}
			if h.d.Stats().Inspecting != 0 {
				t.Errorf("inspection state not released: %d flows hold some", h.d.Stats().Inspecting)
			}
		})
	}
}

// TestInspectionLimit: past MaxInspections, a flow that needs inspection is
// decided without it and reported.
func TestInspectionLimit(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM, func(c *Config) { c.MaxInspections = 1 })
	a := h.tcp(frontend4, api4, 8080)
	a.handshake()
	if v := a.request("GET /users/1 HTTP/1.1\r\n"); v != dataplane.Accept {
		t.Fatalf("partial request: %v, want accept", v)
	}
	b := h.tcp(frontend4, api4, 8080)
	b.handshake()
	if v := b.request(get("/users/1")); v != dataplane.Deny {
		t.Fatalf("second flow over the limit: %v, want deny", v)
	}
	if s := h.d.Stats(); s.InspectionLimit != 1 || s.Inspecting != 1 {
		t.Errorf("stats %+v, want 1 refused, 1 inspecting", s)
	}
	evs := h.eventLines()
	if len(evs) != 1 || !strings.Contains(evs[0], "reason=inspection capacity reached") {
		t.Errorf("events %q, want one drop for the inspection capacity", evs)
	}
}

// TestEvictReleases: inspection state goes back to the pool when its flow
// leaves the flow table.
func TestEvictReleases(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	h.flows.Start()
	defer h.flows.Close()
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	c.request(get("/users/1"))
	if n := h.d.Stats().Inspecting; n != 1 {
		t.Fatalf("inspecting %d flows, want 1", n)
	}
	n := h.flows.DeleteIf(func(*flowtable.Flow) bool { return true }, flowtable.EndpointGone)
	if n != 1 || h.d.Stats().Inspecting != 0 {
		t.Errorf("flushed %d flows; still inspecting %d", n, h.d.Stats().Inspecting)
	}
}

// TestModeSwitch: a group switched from learn to protect: the inspected
// keep-alive connection learnt in learn mode is now checked request by
// request.
func TestModeSwitch(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	if v := c.request(get("/users/1")); v != dataplane.InspectAll {
		t.Fatalf("learn: %v, want inspect-all", v)
	}
	h.setPolicy(shopPolicy, protectM)
	// Protect mode (without Config.Responses) stops queueing the answers.
	if v := c.request(get("/users/2")); v != dataplane.Inspect {
		t.Errorf("allowed request after the switch: %v, want inspect", v)
	}
	if v := c.request(get("/debug")); v != dataplane.Deny {
		t.Errorf("forbidden request after the switch: %v, want deny", v)
	}
}

// TestMidStream: a connection whose first packets passed the agent by
// (fail-open, a full queue) is picked up from the server's answer: the
// ephemeral port tells the client, and the answer is not mistaken for a
// connection from the server.
func TestMidStream(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(frontend4, api4, 8080)
	if v := c.reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); v != dataplane.Accept {
		t.Fatalf("server answer seen first: %v, want accept", v)
	}
	if v := c.request(get("/users/7")); v != dataplane.Inspect {
		t.Errorf("the next request: %v, want inspect", v)
	}
	if ev := h.eventLines(); len(ev) != 0 {
		t.Errorf("events: %q", ev)
	}
}

// TestPortReuse: a client reuses its port for a new connection while the
// old connection's flow (inspected: its end stayed in the kernel) is still
// tracked. The new connection is decided afresh, not checked against the
// old one's stream.
func TestPortReuse(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	if v := c.request(get("/users/1")); v != dataplane.Inspect {
		t.Fatalf("first connection: %v, want inspect", v)
	}
	// The old connection ended in the kernel; a new one takes its ports
	// (a new conntrack entry: no connmark) with another sequence number.
	k, _ := flowtable.MakeKey(&flowtable.Tuple{Src: c.client.Addr(), Dst: c.server.Addr(), SrcPort: c.client.Port(), DstPort: c.server.Port(), Proto: flowtable.ProtoTCP})
	delete(h.connmrk, k)
	c.cseq, c.sseq = 900000000, 700000000
	if v := c.handshake(); v != dataplane.Accept {
		t.Fatalf("new connection's SYN: %v, want accept", v)
	}
	if v := c.request(get("/users/2")); v != dataplane.Inspect {
		t.Errorf("new connection's request: %v, want inspect", v)
	}
	if ev := h.eventLines(); len(ev) != 0 {
		t.Errorf("events: %q", ev)
	}
	if n := h.d.Stats().Inspecting; n != 1 {
		t.Errorf("%d flows hold inspection state, want 1 (the old one's was released)", n)
	}
}

// TestSweepInspections: a connection inspected request by request holds its
// state only while it is active; after the sweep its next request is
// inspected afresh and still checked.
func TestSweepInspections(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	c.request(get("/users/1"))
	if n := h.d.SweepInspections(h.clk.Now(), 10*time.Second); n != 0 {
		t.Errorf("swept %d active flows", n)
	}
	h.clk.Advance(11 * time.Second)
	if n := h.d.SweepInspections(h.clk.Now(), 10*time.Second); n != 1 || h.d.Stats().Inspecting != 0 {
		t.Fatalf("swept %d flows, %d still inspecting; want 1, 0", n, h.d.Stats().Inspecting)
	}
	if v := c.request(get("/users/2")); v != dataplane.Accept {
		t.Errorf("allowed request after the sweep: %v, want accept (still inspected)", v)
	}
	if v := c.request(get("/admin")); v != dataplane.Deny {
		t.Errorf("forbidden request after the sweep: %v, want deny", v)
	}
}

// TestPolicyShapes: the same HTTP connection under rules of three shapes,
// in protect mode: a port-only rule decides on the SYN (fast path at
// once), an app rule when the app is known (then fast path), a rule with
// L7 conditions request by request (inspected for the connection's life).
func TestPolicyShapes(t *testing.T) {
	const head = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: shapes}
spec:
  groups:
    - {name: frontend, selector: {matchLabels: {app: frontend}}}
    - {name: api, selector: {matchLabels: {app: api}}}
  rules:
`
	tests := []struct {
		name               string
		rule               string
		syn, first, second dataplane.Verdict
		queued, inspecting int
	}{
		{"port only", "    - {from: frontend, to: api, ports: [tcp/8080]}\n", dataplane.Allow, dataplane.Accept, dataplane.Accept, 1, 0},
		{"app", "    - {from: frontend, to: api, ports: [tcp/8080], app: http}\n", dataplane.Accept, dataplane.Allow, dataplane.Accept, 4, 0},
		{"L7 conditions", "    - {from: frontend, to: api, ports: [tcp/8080], app: http, http: [{method: GET}]}\n",
			dataplane.Accept, dataplane.Inspect, dataplane.Accept, 5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, head+tt.rule, protectM)
			c := h.tcp(frontend4, api4, 8080)
			if v := c.handshake(); v != tt.syn {
				t.Errorf("SYN: %v, want %v", v, tt.syn)
			}
			if v := c.request(get("/a")); v != tt.first {
				t.Errorf("first request: %v, want %v", v, tt.first)
			}
			if v := c.request(get("/b")); v != tt.second {
				t.Errorf("second request: %v, want %v", v, tt.second)
			}
			if c.delivered != tt.queued {
				t.Errorf("%d packets reached the Decider, want %d", c.delivered, tt.queued)
			}
			if n := h.d.Stats().Inspecting; n != int64(tt.inspecting) {
				t.Errorf("%d flows hold inspection state, want %d", n, tt.inspecting)
			}
			if ev := h.eventLines(); len(ev) != 0 {
				t.Errorf("events: %q", ev)
			}
		})
	}
}

// TestSpoofedSource: a container that sends with another workload's
// address is named by the interface its packets come in on, so the
// borrowed address gives it none of that workload's rights.
func TestSpoofedSource(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	// frontend (interface index 10) pretends to be api, which may use db.
	c := h.tcp(api4, db4, 6379)
	c.physIn = 10
	if v := c.handshake(); v != dataplane.Deny {
		t.Fatalf("frontend with api's address → db: %v, want deny", v)
	}
	want := []string{`drop frontend:local→db:6379 tcp mode=protect verdict=deny reason=no rule from frontend to db packets=1`}
	if diff := cmp.Diff(want, h.eventLines()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// The real api, from its own interface (11), is allowed to wait for
	// its Redis command.
	r := h.tcp(api4, db4, 6379)
	r.physIn = 11
	if v := r.handshake(); v != dataplane.Accept {
		t.Errorf("api → db: %v, want accept", v)
	}
}
