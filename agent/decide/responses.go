package decide

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// HTTP requests are counted with the status of their response
// (bulkhead_http_requests_total). A request's method waits on its flow
// until the response comes, in a small FIFO: HTTP/1.1 answers pipelined
// requests in order. When the response cannot come to the agent any more —
// the connection is put on the fast path, denied, or inspected without its
// responses (Inspect queues only what the client sends), or its inspection
// state is released (eviction, idle sweep) — the waiting requests are
// counted with status_class "none".
//
// Responses are seen while a connection is undecided (the kernel queues it
// whole) and on connections decided InspectAll: in learn mode every HTTP,
// HTTP/2 and gRPC connection; in monitor and protect mode those inspected
// request by request when Config.Responses is set.

// pendingMax is how many requests a connection may have waiting for their
// responses. Past it (a deeper pipeline than clients use), the connection's
// requests are counted without their responses.
const pendingMax = 16

// httpPending is the FIFO of the methods of a connection's requests whose
// responses have not been seen.
type httpPending struct {
	methods [pendingMax]metrics.HTTPMethod
	head, n uint8
	// unpaired: more than pendingMax requests waited at once; from then on
	// the connection's requests are counted at once, without a status, and
	// its responses are not paired (they could be paired wrongly).
	unpaired bool
}

func (q *httpPending) push(m metrics.HTTPMethod) bool {
	if int(q.n) == pendingMax {
		return false
	}
	q.methods[(int(q.head)+int(q.n))%pendingMax] = m
	q.n++
	return true
}

func (q *httpPending) pop() (metrics.HTTPMethod, bool) {
	if q.n == 0 {
		return 0, false
	}
	m := q.methods[q.head]
	q.head = uint8((int(q.head) + 1) % pendingMax)
	q.n--
	return m, true
}

// isHTTP reports whether app's responses carry an HTTP status.
func isHTTP(app l7.App) bool { return app == l7.HTTP || app == l7.HTTP2 || app == l7.GRPC }

// httpRequest records an HTTP request of an inspected flow: its method
// waits for the response.
func (d *Decider) httpRequest(ins *inspection, method string) {
	m := metrics.ParseHTTPMethod(method)
	q := &ins.pend
	if q.unpaired {
		d.metrics.HTTPRequestOf(m, 0)
		return
	}
	if !q.push(m) {
		d.noResponses(ins)
		q.unpaired = true
		d.metrics.HTTPRequestOf(m, 0)
	}
}

// httpResponse counts the oldest request waiting on the flow with the
// response's status. A response without a waiting request (its request
// came before the agent started inspecting the connection) is not counted.
func (d *Decider) httpResponse(ins *inspection, status int) {
	if ins.pend.unpaired {
		return
	}
	if m, ok := ins.pend.pop(); ok {
		d.metrics.HTTPRequestOf(m, status)
	}
}

// noResponses counts the requests waiting on the flow with status_class
// "none": their responses will not reach the agent.
func (d *Decider) noResponses(ins *inspection) {
	if ins == nil {
		return
	}
	for {
		m, ok := ins.pend.pop()
		if !ok {
			return
		}
		d.metrics.HTTPRequestOf(m, 0)
	}
}

// wantResponses reports whether a connection being decided Inspect should
// be queued whole (InspectAll) so that its responses reach the agent: an
// HTTP, HTTP/2 or gRPC connection whose server side is still parsed, in
// learn mode, or in any mode with Config.Responses.
func (d *Decider) wantResponses(x *pkt, mode policy.Mode) bool {
	ins := x.ins
	if ins == nil || ins.flags&inspStarted == 0 || ins.l7.State() != l7.StateDetected ||
		!isHTTP(ins.l7.App()) || ins.l7.Stopped(l7.FromServer) {
		return false
	}
	return mode == policy.ModeLearn || d.cfg.Responses
}

// inspectVerdict returns the verdict that keeps an inspected connection
// queued as it is: InspectAll when its responses are queued too.
func inspectVerdict(f *flowtable.Flow) dataplane.Verdict {
	if f.Flags&flagWhole != 0 {
		return dataplane.InspectAll
	}
	return dataplane.Inspect
}
