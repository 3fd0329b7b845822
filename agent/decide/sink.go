package decide

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// The inspection is the l7.Sink of its flow: the engine calls it during
// inspect, with the flow locked and call filled in.

// Request evaluates one request the l7 engine completed, records it when
// learning, and reports it when it is a violation.
func (ins *inspection) Request(r *l7.Request) {
	c := &ins.call
	d, f := c.d, c.f
	if d == nil {
		return
	}
	c.requests++
	f.L7.Requests++
	app := r.App
	f.App = uint8(app)
	switch app {
	case l7.HTTP, l7.HTTP2, l7.GRPC:
		// The response's status is not seen when only requests are queued.
		d.metrics.HTTPRequest(r.Method, 0)
	}
	pf := policy.Flow{Src: c.src.ep, Dst: c.dst.ep, Proto: l7.Transport(f.Key.Proto), Port: f.Server().Port(),
		AppKnown: true, App: app, Request: r}
	dec := c.st.plan.Evaluate(&pf)
	x := pkt{st: c.st, p: c.p, f: f, dir: c.dir, ins: ins, src: c.src, dst: c.dst, now: c.now, kept: c.kept}
	switch {
	case dec.Mode == policy.ModeLearn:
		d.learnRequest(&x, app, r)
	case dec.Verdict == policy.Violation && isDNS(f) && dec.Reason.Code != policy.ReasonRequest:
		// A DNS flow's peers and port were reported when it began.
	case dec.Verdict == policy.Violation:
		verdict := "deny"
		if !dec.Drop() {
			verdict = "allow"
			if dec.PerRequest {
				verdict = "inspect"
			}
		}
		d.report(&x, &dec, r, "", verdict)
	}
	if c.requests == 1 || severity(&dec) > severity(&c.worst) {
		c.worst = dec
		c.worst.Reason.Value = "" // aliases the request
	}
}

func isDNS(f *flowtable.Flow) bool { return f.Flags&flagDNS != 0 }

// severity orders decisions: a drop, a reported violation, an allowed
// request that needs its successors checked, an allowed one.
func severity(d *policy.Decision) int {
	switch {
	case d.Verdict == policy.Violation && d.Drop():
		return 4
	case d.Verdict == policy.Violation:
		return 3
	case d.Verdict == policy.Pending:
		return 2
	case d.PerRequest:
		return 1
	}
	return 0
}

// Response records DNS answers in the FQDN map and counts DNS queries by
// response code.
func (ins *inspection) Response(r *l7.Response) {
	c := &ins.call
	d := c.d
	if d == nil || r.App != l7.DNS {
		return
	}
	d.metrics.DNSQuery(r.Status)
	if d.fqdn == nil || r.Status != 0 || len(r.Answers) == 0 {
		return
	}
	var buf [16]identity.DNSRecord
	recs := buf[:0]
	for i := range r.Answers {
		a := &r.Answers[i]
		switch {
		case a.Addr.IsValid():
			recs = append(recs, identity.DNSRecord{Name: a.Name, TTL: a.TTL, Addr: a.Addr})
		case a.Type == dnsTypeCNAME:
			recs = append(recs, identity.DNSRecord{Name: a.Name, TTL: a.TTL, Target: a.Data})
		}
		if len(recs) == len(buf) {
			break
		}
	}
	d.fqdn.ObserveResponse(r.QName, recs)
}

const dnsTypeCNAME = 5

// Note watches for the engine giving up on a direction (a parser error, a
// reassembly limit): requests that follow can no longer be checked.
func (ins *inspection) Note(n string) {
	if !stopNote(n) {
		return
	}
	ins.flags |= inspLost
	ins.lostNote = n
}

// informational are the notes after which the engine goes on parsing
// requests. Every other note means a direction stopped: the engine's
// reassembly limits, a parser error, or a switch to bytes it cannot read
// (TLS upgrades, compression, tunnels): the requests that follow cannot be
// checked.
var informational = map[string]bool{
	l7.NoteConflictingOverlap: true,
	l7.NoteGap:                true,
	"records truncated":       true,
	"http: several Host headers (the first is used)":                               true,
	"http: both Transfer-Encoding and Content-Length (possible request smuggling)": true,
	"AMQP 1.0":       true,
	"CQL v5 framing": true,
	"quic: CRYPTO data beyond 32 KiB not inspected": true,
}

// stopNote reports whether a note means the engine stopped reading a
// direction: its own limit notes and parser errors (any note not known to
// be informational).
func stopNote(n string) bool { return !informational[n] }
