package decide

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// response is an HTTP/1.1 response with an empty body.
func response(status int) string {
	return fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status)
}

func post(path string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}"
}

// httpClasses returns bulkhead_http_requests_total as "METHOD class"
// → count, zero series left out.
func (h *harness) httpClasses() map[string]float64 {
	h.t.Helper()
	mfs, err := h.m.Registry().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "bulkhead_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				out[l["method"]+" "+l["status_class"]] = v
			}
		}
	}
	return out
}

func withResponses(c *Config) { c.Responses = true }

// TestHTTPStatusClasses: HTTP requests are counted with the status class of
// their response whenever the response reaches the agent — learn mode, or
// monitor and protect mode with Config.Responses — and with "none" when it
// cannot: the connection is inspected without its responses, denied, or
// forgotten before the answer.
func TestHTTPStatusClasses(t *testing.T) {
	type exchange struct {
		req, resp string // resp "": no answer
		want      dataplane.Verdict
	}
	tests := []struct {
		name      string
		mode      policy.Mode
		responses bool
		exchanges []exchange
		// evict forgets the connection at the end (its inspection state
		// goes).
		evict bool
		want  map[string]float64
	}{
		{
			name: "learn: 2xx and 4xx counted",
			mode: learnM,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.InspectAll},
				{get("/missing"), response(404), dataplane.Accept},
				{post("/orders"), response(201), dataplane.Accept},
			},
			want: map[string]float64{"GET 2xx": 1, "GET 4xx": 1, "POST 2xx": 1},
		},
		{
			name: "learn: an answer not yet seen is not counted",
			mode: learnM,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.InspectAll},
				{get("/users/2"), "", dataplane.Accept},
			},
			want: map[string]float64{"GET 2xx": 1},
		},
		{
			name: "learn: forgotten before its answer: none",
			mode: learnM,
			exchanges: []exchange{
				{get("/users/1"), response(503), dataplane.InspectAll},
				{get("/users/2"), "", dataplane.Accept},
			},
			evict: true,
			want:  map[string]float64{"GET 5xx": 1, "GET none": 1},
		},
		{
			name: "protect without responses: none",
			mode: protectM,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.Inspect},
				{post("/orders"), response(201), dataplane.Accept},
			},
			want: map[string]float64{"GET none": 1, "POST none": 1},
		},
		{
			name: "monitor without responses: none",
			mode: monitorM, exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.Inspect},
				{get("/admin"), response(403), dataplane.Accept},
			},
			want: map[string]float64{"GET none": 2},
		},
		{
			name: "protect with responses: counted", mode: protectM, responses: true,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.InspectAll},
				{get("/users/404"), response(404), dataplane.Accept},
				{post("/orders"), response(500), dataplane.Accept},
			},
			want: map[string]float64{"GET 2xx": 1, "GET 4xx": 1, "POST 5xx": 1},
		},
		{
			name: "monitor with responses: a reported request counted too", mode: monitorM, responses: true,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.InspectAll},
				{get("/admin"), response(403), dataplane.Accept},
			},
			want: map[string]float64{"GET 2xx": 1, "GET 4xx": 1},
		},
		{
			name: "protect with responses: a denied request has none", mode: protectM, responses: true,
			exchanges: []exchange{
				{get("/users/1"), response(200), dataplane.InspectAll},
				{get("/admin"), "", dataplane.Deny},
			},
			want: map[string]float64{"GET 2xx": 1, "GET none": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []harnessOpt
			if tt.responses {
				opts = append(opts, withResponses)
			}
			h := newHarness(t, shopPolicy, tt.mode, opts...)
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			for _, e := range tt.exchanges {
				if v := c.request(e.req); v != e.want {
					t.Fatalf("%q: %v, want %v", firstLine(e.req), v, e.want)
				}
				if e.resp != "" && !c.reset {
					c.reply(e.resp)
				}
			}
			if tt.evict {
				h.flows.DeleteIf(func(*flowtable.Flow) bool { return true }, flowtable.EndpointGone)
			}
			if diff := cmp.Diff(tt.want, h.httpClasses()); diff != "" {
				t.Errorf("bulkhead_http_requests_total by method and class (-want +got):\n%s", diff)
			}
		})
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// TestHTTPPipelined: answers pair with pipelined requests in order.
func TestHTTPPipelined(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	if v := c.request(post("/orders") + get("/users/1") + get("/gone")); v != dataplane.InspectAll {
		t.Fatalf("pipelined requests: %v, want inspect-all", v)
	}
	c.reply(response(201) + response(200))
	c.reply(response(410))
	want := map[string]float64{"POST 2xx": 1, "GET 2xx": 1, "GET 4xx": 1}
	if diff := cmp.Diff(want, h.httpClasses()); diff != "" {
		t.Errorf("bulkhead_http_requests_total by method and class (-want +got):\n%s", diff)
	}
}

// TestHTTPPipelineOverflow: a pipeline deeper than the requests a flow
// keeps is counted without answers (none), and no answer is paired with the
// wrong request afterwards.
func TestHTTPPipelineOverflow(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	var reqs, resps strings.Builder
	for range pendingMax {
		reqs.WriteString(get("/users/1"))
		resps.WriteString(response(200))
	}
	reqs.WriteString(post("/orders"))
	resps.WriteString(response(500))
	c.request(reqs.String())
	c.reply(resps.String())
	c.request(get("/users/2"))
	c.reply(response(200))
	want := map[string]float64{"GET none": pendingMax + 1, "POST none": 1}
	if diff := cmp.Diff(want, h.httpClasses()); diff != "" {
		t.Errorf("bulkhead_http_requests_total by method and class (-want +got):\n%s", diff)
	}
}

// h2Frames builds HTTP/2 frames.
type h2Frames struct {
	buf bytes.Buffer
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func newH2Frames() *h2Frames {
	f := &h2Frames{}
	f.fr = http2.NewFramer(&f.buf, nil)
	f.enc = hpack.NewEncoder(&f.hb)
	return f
}

// headers writes a HEADERS frame with the fields (name, value pairs).
func (f *h2Frames) headers(t *testing.T, stream uint32, endStream bool, fields ...string) {
	t.Helper()
	f.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		if err := f.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: f.hb.Bytes(), EndHeaders: true, EndStream: endStream}); err != nil {
		t.Fatal(err)
	}
}

func (f *h2Frames) take() string {
	s := f.buf.String()
	f.buf.Reset()
	return s
}

// TestGRPCStatusClasses: gRPC and HTTP/2 requests are counted with the
// :status of their response; a stream answered later is still paired.
func TestGRPCStatusClasses(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	c := h.tcp(frontend4, api4, 8080)
	c.handshake()
	cl, sv := newH2Frames(), newH2Frames()
	cl.buf.WriteString(http2.ClientPreface)
	if err := cl.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	cl.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":path", "/shop.Orders/Place", ":authority", "api", "content-type", "application/grpc")
	if v := c.request(cl.take()); v != dataplane.InspectAll {
		t.Fatalf("gRPC request: %v, want inspect-all", v)
	}
	if err := sv.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	sv.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	c.reply(sv.take())
	cl.headers(t, 3, true, ":method", "GET", ":scheme", "http", ":path", "/users/1", ":authority", "api")
	c.request(cl.take())
	sv.headers(t, 3, true, ":status", "404")
	c.reply(sv.take())
	want := map[string]float64{"POST 2xx": 1, "GET 4xx": 1}
	if diff := cmp.Diff(want, h.httpClasses()); diff != "" {
		t.Errorf("bulkhead_http_requests_total by method and class (-want +got):\n%s", diff)
	}
}
