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
	if isHTTP(app) {
		d.httpRequest(ins, r.Method)
	}
	pf := policy.Flow{Src: c.src.ep, Dst: c.dst.ep, Proto: l7.Transport(f.Key.Proto), Port: f.Server().Port(),
		AppKnown: true, App: app, Request: r}
	dec := c.st.plan.Evaluate(&pf)
	x := pkt{st: c.st, p: c.p, f: f, dir: c.dir, ins: ins, src: c.src, dst: c.dst, now: c.now, kept: c.kept}
	switch {
	case dec.Mode == policy.ModeLearn:
		d.learnRequest(&x, app, r)
	case dec.Verdict == policy.Violation && isDNS(f) && dec.Reason.Code != policy.ReasonRequest &&
		(f.Verdict == flowtable.Undecided || f.Flags&flagReported != 0):
		// A violation of the DNS flow as a whole (its peers, port or app)
		// is reported once, when the flow is decided (dnsFlow). A later
		// query meets one only when the policy changed since.
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

// Response counts HTTP requests by the status of their response, records
// DNS answers in the FQDN map and counts DNS queries by response code.
func (ins *inspection) Response(r *l7.Response) {
	c := &ins.call
	d := c.d
	if d == nil {
		return
	}
	if isHTTP(r.App) {
		d.httpResponse(ins, r.Status)
		return
	}
	if r.App != l7.DNS {
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

// Note keeps the last note about the client's bytes: when the client's
// stream stops being parsed (l7.Flow.Stopped), it says why. Whether it
// stopped is asked of the engine, not guessed from the note.
func (ins *inspection) Note(n string) {
	if c := &ins.call; c.d != nil && c.dir == flowtable.FromClient {
		ins.note = n
	}
}

// clientStopped reports whether the engine stopped reading what the
// client of an inspected flow sends: bytes that broke the protocol, a
// reassembly limit, a switch to TLS, nothing recognised, or the app's only
// request seen (a TLS or QUIC handshake).
func clientStopped(ins *inspection) bool {
	return ins != nil && ins.flags&inspStarted != 0 && ins.l7.Stopped(l7.FromClient)
}

// requestsLost reports whether requests that follow on an inspected flow
// can no longer be parsed: the client stopped being read, and its app's
// requests go on after the first (not a TLS or QUIC handshake).
func requestsLost(ins *inspection) bool {
	return clientStopped(ins) && !handshakeOnly(ins.l7.App())
}

// handshakeOnly reports whether app's one request is its handshake:
// nothing that follows is parsed.
func handshakeOnly(app l7.App) bool { return app == l7.TLS || app == l7.QUIC }

// stoppedWhy says why the client's requests can no longer be checked,
// after prefix: "request inspection failed (reassembly limit reached)".
func stoppedWhy(prefix string, ins *inspection) string {
	switch {
	case ins.note != "":
		return prefix + " (" + ins.note + ")"
	case ins.l7.State() != l7.StateDetected:
		return prefix + " (no protocol recognised in the client's bytes)"
	}
	return prefix + " (the client's bytes are no longer parsed)"
}
