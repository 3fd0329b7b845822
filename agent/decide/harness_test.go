package decide

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/internal/fakeclock"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
	"bulkhead.dev/bulkhead/policy/promote"
)

// The test bed: four local containers and an external world.
var (
	frontend4 = netip.MustParseAddr("198.18.0.10")
	api4      = netip.MustParseAddr("198.18.0.11")
	db4       = netip.MustParseAddr("198.18.0.12")
	dns4      = netip.MustParseAddr("198.18.0.13")
	frontend6 = netip.MustParseAddr("2001:2:0:1::a")
	api6      = netip.MustParseAddr("2001:2:0:1::b")
	dns6      = netip.MustParseAddr("2001:2:0:1::d")
	good4     = netip.MustParseAddr("198.19.1.20") // resolved from www.allowed.example
	evil4     = netip.MustParseAddr("198.19.1.66") // never resolved
	other4    = netip.MustParseAddr("198.19.1.30") // resolved from cdn.other.example
)

// shopPolicy is the policy of most tests; its groups are in the mode the
// test asks for.
const shopPolicy = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: shop}
spec:
  groups:
    - {name: frontend, selector: {matchLabels: {app: frontend}}}
    - {name: api, selector: {matchLabels: {app: api}}}
    - {name: db, selector: {matchLabels: {app: db}}}
    - {name: dns, selector: {matchLabels: {app: dns}}}
    - {name: allowed-sites, fqdns: ["*.allowed.example"]}
  rules:
    - name: frontend-to-api
      from: frontend
      to: api
      ports: [tcp/8080]
      app: http
      http:
        - {method: GET, path: "/users/{id}"}
        - {method: POST, path: /orders}
    - name: api-to-db
      from: api
      to: db
      ports: [tcp/6379]
      app: redis
      redis: [{command: GET}, {command: SET}]
    - name: api-to-dns
      from: api
      to: dns
      ports: [udp/53, tcp/53]
      app: dns
      dns: [{name: "*.allowed.example"}, {name: "*.other.example"}]
    - {name: api-to-sites, from: api, to: allowed-sites, ports: [tcp/80]}
    - {name: frontend-to-dns, from: frontend, to: dns}
`

// fakeEvents records events.
type fakeEvents struct {
	mu   sync.Mutex
	evs  []events.Event
	full bool
}

func (f *fakeEvents) Emit(e events.Event) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return false
	}
	f.evs = append(f.evs, e)
	return true
}

func (f *fakeEvents) Reserve() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.full
}

func (f *fakeEvents) take() []events.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.evs
	f.evs = nil
	return out
}

// labelSource names the containers by interface.
type labelSource map[string]identity.Workload

func (labelSource) Name() string { return "test" }
func (s labelSource) Workload(c identity.Container) (identity.Workload, bool) {
	w, ok := s[c.HostIf]
	return w, ok
}

// harness is a Decider with real parts and a fake kernel: it keeps each
// connection's connmark and only hands the Decider what the dataplane's
// rules would queue.
type harness struct {
	t       *testing.T
	clk     *fakeclock.Clock
	d       *Decider
	flows   *flowtable.Table
	res     *identity.Resolver
	ev      *fakeEvents
	m       *metrics.Metrics
	graph   *learn.Graph
	prom    *promote.Promoter
	connmrk map[flowtable.Key]dataplane.ConnState
	queued  int
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, pol string, mode policy.Mode, opts ...harnessOpt) *harness {
	t.Helper()
	clk := fakeclock.New()
	h := &harness{t: t, clk: clk, ev: &fakeEvents{}, connmrk: map[flowtable.Key]dataplane.ConnState{}}
	var err error
	h.flows, err = flowtable.New(flowtable.Config{MaxFlows: 4096, Now: clk.Now,
		OnEvict: func(f *flowtable.Flow, r flowtable.Reason) { h.d.OnEvict(f, r) }})
	if err != nil {
		t.Fatal(err)
	}
	src := labelSource{}
	fq := identity.NewFQDNMap(30*time.Second, 1000, clk.Now)
	h.res = identity.NewResolver([]identity.Source{src}, nil, fq)
	for i, w := range []struct {
		name string
		addr []netip.Addr
	}{{"frontend", []netip.Addr{frontend4, frontend6}}, {"api", []netip.Addr{api4, api6}}, {"db", []netip.Addr{db4}}, {"dns", []netip.Addr{dns4, dns6}}} {
		ifname := fmt.Sprintf("veth%d", i)
		src[ifname] = identity.Workload{Name: w.name, Labels: map[string]string{"app": w.name}}
		h.res.Add(identity.Container{HostIf: ifname, HostIndex: 10 + i, NetNS: "ns-" + w.name, Addrs: w.addr})
	}
	h.res.SetHostAddrs([]netip.Addr{netip.MustParseAddr("198.18.0.1")})
	h.m, err = metrics.New(metrics.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.graph = learn.New(clk.Now, learn.Limits{})
	h.prom = promote.New(clk.Now)
	cfg := Config{
		Flows: h.flows, Resolver: h.res, Events: h.ev, Metrics: h.m, Graph: h.graph, Promoter: h.prom,
		Wait: Wait{Packets: 8, Bytes: 16 << 10, Time: 2 * time.Second, Deny: true}, EvidencePackets: 8,
		Queues: 1, Now: clk.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.d, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.setPolicy(pol, mode)
	return h
}

// setPolicy compiles pol and puts every group in mode.
func (h *harness) setPolicy(pol string, mode policy.Mode) {
	h.t.Helper()
	p, err := policy.Parse("shop.yaml", []byte(pol))
	if err != nil {
		h.t.Fatal(err)
	}
	plan, err := policy.Compile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	if plan, err = plan.WithDefaultMode(mode); err != nil {
		h.t.Fatal(err)
	}
	for _, g := range plan.Modes() {
		if plan, err = plan.WithMode(g.Group, mode); err != nil {
			h.t.Fatal(err)
		}
	}
	h.d.SetPlan(plan)
}

// conn is one connection (or UDP conversation) through the fake kernel.
type conn struct {
	h                *harness
	proto            dataplane.Proto
	client, server   netip.AddrPort
	cseq, sseq       uint32
	lastV            dataplane.Verdict
	reset            bool // the kernel reset it (denied)
	icmpType         uint8
	delivered, total int
	// physIn is the bridge port the client's packets come in on (0: not
	// said).
	physIn uint32
}

var nextPort uint16 = 40000

func (h *harness) tcp(c, s netip.Addr, port uint16) *conn {
	nextPort++
	return &conn{h: h, proto: dataplane.ProtoTCP, client: netip.AddrPortFrom(c, nextPort), server: netip.AddrPortFrom(s, port), cseq: 1000, sseq: 5000}
}

func (h *harness) udp(c, s netip.Addr, port uint16) *conn {
	nextPort++
	return &conn{h: h, proto: dataplane.ProtoUDP, client: netip.AddrPortFrom(c, nextPort), server: netip.AddrPortFrom(s, port)}
}

func (h *harness) icmp(c, s netip.Addr) *conn {
	pr, echo := dataplane.ProtoICMP, uint8(8)
	if c.Is6() {
		pr, echo = dataplane.ProtoICMPv6, 128
	}
	return &conn{h: h, proto: pr, client: netip.AddrPortFrom(c, 0), server: netip.AddrPortFrom(s, 0), icmpType: echo}
}

// send sends one packet through the fake kernel and returns the verdict
// the packet got (the Decider's, or the kernel's own: Accept for the fast
// path, Deny for a denied connection).
func (c *conn) send(fromClient bool, flags dataplane.TCPFlags, payload string) dataplane.Verdict {
	h := c.h
	h.t.Helper()
	p := &dataplane.Packet{Proto: c.proto, Time: h.clk.Now(), Payload: []byte(payload), TCPFlags: flags, Queue: 0}
	src, dst := c.client, c.server
	seq, ack := &c.cseq, c.sseq
	if !fromClient {
		src, dst = dst, src
		seq, ack = &c.sseq, c.cseq
	} else {
		p.PhysIn = c.physIn
	}
	p.Src, p.Dst, p.SrcPort, p.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
	if src.Addr().Is4() {
		p.Family = dataplane.IPv4
	} else {
		p.Family = dataplane.IPv6
	}
	if c.proto == dataplane.ProtoTCP {
		p.Seq, p.Ack = *seq, ack
		*seq += uint32(len(payload))
		if flags&(dataplane.TCPSyn|dataplane.TCPFin) != 0 {
			*seq++
		}
	}
	if c.proto == dataplane.ProtoICMP || c.proto == dataplane.ProtoICMPv6 {
		p.ICMPType = c.icmpType
		if !fromClient {
			p.ICMPType = 0
			if c.proto == dataplane.ProtoICMPv6 {
				p.ICMPType = 129
			}
		}
		p.SrcPort, p.DstPort = 0, 0
	}
	p.Len = 40 + len(payload)
	p.OrigLen = p.Len
	c.total++
	k, _ := flowtable.MakeKey(&flowtable.Tuple{Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: uint8(p.Proto)})
	st := h.connmrk[k]
	isDNS := (c.proto == dataplane.ProtoTCP || c.proto == dataplane.ProtoUDP) && (p.SrcPort == 53 || p.DstPort == 53)
	if !isDNS {
		switch st {
		case dataplane.ConnAllowed:
			return dataplane.Accept
		case dataplane.ConnDenied:
			c.reset = true
			return dataplane.Deny
		case dataplane.ConnInspected:
			if !fromClient || (c.proto == dataplane.ProtoTCP && len(payload) == 0) {
				return dataplane.Accept
			}
		}
	}
	p.Conn = st
	c.delivered++
	h.queued++
	v := h.d.Decide(p)
	// The dataplane reads the next packet into the same buffer: whatever
	// the Decider keeps of this one must be a copy.
	for i := range p.Payload {
		p.Payload[i] = '#'
	}
	switch v {
	case dataplane.Allow:
		h.connmrk[k] = dataplane.ConnAllowed
	case dataplane.Deny:
		h.connmrk[k] = dataplane.ConnDenied
		c.reset = true
	case dataplane.Inspect:
		h.connmrk[k] = dataplane.ConnInspected
	case dataplane.InspectAll:
		h.connmrk[k] = dataplane.ConnInspectedAll
	}
	c.lastV = v
	return v
}

// handshake opens a TCP connection; it returns the SYN's verdict.
func (c *conn) handshake() dataplane.Verdict {
	v := c.send(true, dataplane.TCPSyn, "")
	if c.reset {
		return v
	}
	c.send(false, dataplane.TCPSyn|dataplane.TCPAck, "")
	c.send(true, dataplane.TCPAck, "")
	return v
}

// request sends a client payload (and acknowledges it from the server);
// it returns the verdict of the payload's packet.
func (c *conn) request(payload string) dataplane.Verdict {
	flags := dataplane.TCPPsh | dataplane.TCPAck
	if c.proto != dataplane.ProtoTCP {
		flags = 0
	}
	v := c.send(true, flags, payload)
	if c.proto == dataplane.ProtoTCP && !c.reset && v != dataplane.Drop {
		c.send(false, dataplane.TCPAck, "")
	}
	return v
}

// reply sends a server payload.
func (c *conn) reply(payload string) dataplane.Verdict {
	flags := dataplane.TCPPsh | dataplane.TCPAck
	if c.proto != dataplane.ProtoTCP {
		flags = 0
	}
	return c.send(false, flags, payload)
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: api\r\nUser-Agent: t\r\n\r\n"
}

// dnsQuery packs a query for name.
func dnsQuery(t testing.TB, id uint16, name string, qtype uint16) string {
	t.Helper()
	m := new(dns.Msg)
	m.Id = id
	m.SetQuestion(dns.Fqdn(name), qtype)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dnsAnswer packs the answer to a query for name with records rrs
// ("name 60 IN A 1.2.3.4"); none means NXDOMAIN.
func dnsAnswer(t testing.TB, id uint16, name string, qtype uint16, rrs ...string) string {
	t.Helper()
	q := new(dns.Msg)
	q.Id = id
	q.SetQuestion(dns.Fqdn(name), qtype)
	m := new(dns.Msg)
	m.SetReply(q)
	if len(rrs) == 0 {
		m.Rcode = dns.RcodeNameError
	}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resolve runs a DNS exchange api → dns for name, answered with rrs; it
// returns the query's verdict.
func (h *harness) resolve(name string, rrs ...string) dataplane.Verdict {
	c := h.udp(api4, dns4, 53)
	v := c.request(dnsQuery(h.t, 7, name, dns.TypeA))
	if v != dataplane.Drop && v != dataplane.Deny {
		c.reply(dnsAnswer(h.t, 7, name, dns.TypeA, rrs...))
	}
	return v
}

// eventLine summarises an event for comparisons.
func eventLine(e events.Event) string {
	s := fmt.Sprintf("%s %s:%s→%s:%d %s", e.Type, e.Src.Workload, e.Src.Kind, e.Dst.Workload, e.Dst.Port, e.Proto)
	if e.App != "" {
		s += " app=" + e.App
	}
	for _, kv := range [][2]string{{"method", e.L7.Method}, {"path", e.L7.Path}, {"query", e.L7.Query}, {"qtype", e.L7.QType}, {"command", e.L7.Command}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	s += " mode=" + e.Mode + " verdict=" + e.Verdict
	if e.Rule != "" {
		s += " rule=" + e.Rule
	}
	if e.Reason != "" {
		s += " reason=" + e.Reason
	}
	if len(e.Packets) > 0 {
		s += fmt.Sprintf(" packets=%d", len(e.Packets))
	}
	return s
}

func (h *harness) eventLines() []string {
	var out []string
	for _, e := range h.ev.take() {
		if e.Time.Before(fakeclock.Start) || e.Time.After(h.clk.Now()) || e.FlowID == "" {
			h.t.Errorf("event %q: time %v (want the clock's, %v or before), flow id %q", eventLine(e), e.Time, h.clk.Now(), e.FlowID)
		}
		for _, p := range e.Packets {
			if p.Time.IsZero() || len(p.Data) < 20 {
				h.t.Errorf("event %q: evidence packet %+v", eventLine(e), p)
			}
		}
		out = append(out, eventLine(e))
	}
	return out
}

// edges summarises the learned graph.
func (h *harness) edges() []string {
	var out []string
	for _, e := range h.graph.Snapshot().Edges {
		s := fmt.Sprintf("%s→%s %s/%d %s", e.Src, e.Dst, e.Proto, e.Port, e.App)
		var vals []string
		for _, v := range e.Values {
			b, _ := v.MarshalJSON()
			vals = append(vals, string(b))
		}
		if len(vals) > 0 {
			s += " " + strings.Join(vals, " ")
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// metric returns the value of one series of the agent's metrics.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.m.Registry().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			}
		}
	}
	return total
}

func mustAddrPort(a string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(a), port)
}
