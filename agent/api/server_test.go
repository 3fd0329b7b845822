package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// serve starts a server on a unix socket in a fresh directory and returns a
// client for it.
func serve(t *testing.T, b Backend, ev EventSource) (*Server, *Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "bh.sock")
	s := NewServer(b, ev, Options{})
	if err := s.ListenAndServeUnix(sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := NewClient(sock)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, sock
}

func TestClientEndpoints(t *testing.T) {
	fb := newFake()
	_, c, _ := serve(t, fb, nil)
	ctx := context.Background()

	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("Healthz: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Node != "node-1" || st.Flows.Evicted["idle"] != 5 || !st.Policy.Loaded {
		t.Errorf("Status = %+v, %v", st, err)
	}
	wl, err := c.Workloads(ctx)
	if err != nil || len(wl) != 1 || wl[0].Addrs[0].String() != "198.18.0.11" {
		t.Errorf("Workloads = %+v, %v", wl, err)
	}

	flowIDs := func(f FlowFilter) []string {
		t.Helper()
		fl, err := c.Flows(ctx, f)
		if err != nil {
			t.Fatalf("Flows(%+v): %v", f, err)
		}
		var ids []string
		for _, x := range fl {
			ids = append(ids, x.ID[15:])
		}
		return ids
	}
	for _, tt := range []struct {
		f    FlowFilter
		want []string
	}{
		{FlowFilter{}, []string{"1", "2", "3", "4"}},
		{FlowFilter{Limit: 2}, []string{"1", "2"}},
		{FlowFilter{Src: "frontend"}, []string{"1", "3"}},
		{FlowFilter{Dst: "db", Verdict: "deny"}, []string{"3"}},
		{FlowFilter{Workload: "api"}, []string{"1", "2", "4"}},
		{FlowFilter{App: "dns"}, []string{"4"}},
		{FlowFilter{Port: 6379}, []string{"2", "3"}},
		{FlowFilter{Src: "198.18.0.10"}, []string{"1", "3"}},
		{FlowFilter{Dst: "2001:2::/48"}, []string{"4"}},
		{FlowFilter{Dst: "198.18.0.0/30"}, nil},
	} {
		if diff := cmp.Diff(tt.want, flowIDs(tt.f)); diff != "" {
			t.Errorf("Flows(%+v) (-want +got):\n%s", tt.f, diff)
		}
	}

	if _, err := c.Graph(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Graph without a graph = %v, want ErrUnavailable", err)
	}
	fb.graph = []byte(`{"version":1,"edges":[]}`)
	if g, err := c.Graph(ctx); err != nil || !strings.Contains(string(g), `"edges": []`) {
		t.Errorf("Graph = %s, %v", g, err)
	}
	if g, err := c.GraphWithVerdicts(ctx); err != nil || !strings.Contains(string(g), `"verdicts": []`) {
		t.Errorf("GraphWithVerdicts = %s, %v", g, err)
	}

	p, err := c.Policy(ctx)
	if err != nil || p.Sources[0].Content != "kind: Policy\n" || p.Rules != 3 {
		t.Errorf("Policy = %+v, %v", p, err)
	}
	if info, err := c.ReloadPolicy(ctx); err != nil || !info.Loaded {
		t.Errorf("ReloadPolicy = %+v, %v", info, err)
	}
	fb.reloadErr = fmt.Errorf("policy: a.yaml: line 3: rules[0].to: group %q is not defined: %w", "dbb", ErrInvalid)
	_, err = c.ReloadPolicy(ctx)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 422 || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(ae.Message, `rules[0].to: group "dbb" is not defined`) {
		t.Errorf("ReloadPolicy of a bad policy = %v", err)
	}

	e, err := c.SetMode(ctx, "api", "protect")
	if err != nil || e.Mode != modes.Protect || e.Source != modes.FromOperator {
		t.Errorf("SetMode = %+v, %v", e, err)
	}
	_, err = c.SetMode(ctx, "nope", "protect")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `unknown group "nope"`) {
		t.Errorf("SetMode(nope) = %v, want 404 naming the group", err)
	}
	if _, err := c.SetMode(ctx, "api", "enforce"); err == nil || !strings.Contains(err.Error(), `unknown mode "enforce"`) || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("SetMode(enforce) = %v", err)
	}
	ms, err := c.Modes(ctx)
	if err != nil || len(ms) != 2 || ms[0].Mode != modes.Protect || ms[1].Mode != modes.Monitor {
		t.Errorf("Modes = %+v, %v", ms, err)
	}
}

func TestHTTPErrors(t *testing.T) {
	srv := NewServer(newFake(), nil, Options{})
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/flows?port=0", "", 400, `{"error":"bad port \"0\" (want 1-65535)"}`},
		{"GET", "/v1/flows?limit=99999", "", 400, `{"error":"bad limit \"99999\" (want 1-10000)"}`},
		{"GET", "/v1/flows?color=red", "", 400, `{"error":"unknown filter \"color\" (want src, dst, workload, app, verdict, port, limit)"}`},
		{"GET", "/v1/flows?verdict=nope", "", 400, `{"error":"unknown verdict \"nope\" (want undecided, allow, deny, inspect)"}`},
		{"GET", "/v1/flows?src=198.18.0.0/40", "", 400, `{"error":"bad src \"198.18.0.0/40\": not a workload name, IP address or CIDR"}`},
		{"GET", "/v1/flows?verdict=DROP", "", 400, `{"error":"unknown verdict \"drop\" (want undecided, allow, deny, inspect)"}`},
		{"GET", "/v1/flows?app=htp", "", 400, `{"error":"unknown app \"htp\" (want ` + strings.Join(FlowApps(), ", ") + `)"}`},
		{"GET", "/v1/flows?app=unknown", "", 400, `{"error":"unknown app \"unknown\" (want ` + strings.Join(FlowApps(), ", ") + `)"}`},
		{"GET", "/v1/events?typ=drop", "", 400, `{"error":"unknown parameter \"typ\" (want follow, limit, type)"}`},
		{"GET", "/v1/events?follow=yes", "", 400, `{"error":"bad follow \"yes\" (want 1 or 0)"}`},
		{"GET", "/v1/events?limit=-3", "", 400, `{"error":"bad limit \"-3\" (want a number ≥ 0; 0: every recent event)"}`},
		{"GET", "/v1/events?type=drop,nope", "", 400, `{"error":"unknown event type \"nope\" (want violation, drop, learned, policy_reload, policy_reload_failed, mode_change, promotion, events_lost, agent_start, agent_stop)"}`},
		{"PUT", "/v1/modes/api", `{"mode":"protect","x":1}`, 400, `{"error":"bad body: want {\"mode\":\"learn|monitor|protect\"}: json: unknown field \"x\""}`},
		{"PUT", "/v1/modes/api", `not json`, 400, `{"error":"bad body: want {\"mode\":\"learn|monitor|protect\"}: invalid character 'o' in literal null (expecting 'u')"}`},
		{"PUT", "/v1/modes/ghost", `{"mode":"monitor"}`, 404, `{"error":"modes: set \"ghost\": unknown group \"ghost\""}`},
		{"GET", "/v1/nope", "", 404, `{"error":"no such endpoint: GET /v1/nope"}`},
		{"DELETE", "/v1/status", "", 404, `{"error":"no such endpoint: DELETE /v1/status"}`},
		{"GET", "/v1/events", "", 503, `{"error":"events are not available"}`},
		{"GET", "/healthz", "", 200, "ok"},
		{"GET", "/readyz", "", 200, "[+]policy: 3 rules\n[+]dataplane\nready"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://x"+tt.path, strings.NewReader(tt.body))
			rec := newRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.status != tt.status || strings.TrimSpace(rec.body.String()) != tt.want {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.status, rec.body.String(), tt.status, tt.want)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	fb := newFake()
	fb.ready = []Check{{Name: "policy", OK: true}, {Name: "dataplane", OK: false, Detail: "not attached yet"}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "bulkhead_test_total", Help: "test"}))
	h := MetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), fb.Ready)
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/readyz", 503, "[+]policy\n[-]dataplane: not attached yet\nnot ready\n"},
		{"/healthz", 200, "ok\n"},
		{"/metrics", 200, "bulkhead_test_total 0"},
	} {
		rec := newRecorder()
		h.ServeHTTP(rec, httpGet(tt.path))
		if rec.status != tt.status || !strings.Contains(rec.body.String(), tt.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, rec.status, rec.body.String(), tt.status, tt.want)
		}
	}
}

func TestEventsEndpoint(t *testing.T) {
	em := events.NewEmitter(events.Config{Node: "node-1", Now: func() time.Time { return t0 }})
	em.Start()
	defer em.Close()
	for i := range 5 {
		ty := events.Learned
		if i%2 == 1 {
			ty = events.Drop
		}
		em.Emit(events.Event{Type: ty, FlowID: events.FlowID(uint64(i))})
	}
	waitFor(t, func() bool { return em.Stats().Written == 5 })
	_, c, _ := serve(t, newFake(), em)
	ctx := context.Background()

	var got []string
	collect := func(e events.Event) error { got = append(got, string(e.Type)+" "+e.FlowID[15:]); return nil }
	if err := c.Events(ctx, EventsRequest{Limit: 3}, collect); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"learned 2", "drop 3", "learned 4"}, got); diff != "" {
		t.Errorf("recent (-want +got):\n%s", diff)
	}
	got = nil
	if err := c.Events(ctx, EventsRequest{Types: []string{"drop"}}, collect); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"drop 1", "drop 3"}, got); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
	if err := c.Events(ctx, EventsRequest{Types: []string{"nope"}}, collect); err == nil || !strings.Contains(err.Error(), `unknown event type "nope"`) {
		t.Errorf("unknown type: %v", err)
	}

	// Follow: new events arrive as they are written.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got = nil
	done := make(chan error, 1)
	go func() {
		done <- c.Events(fctx, EventsRequest{Follow: true, Types: []string{"violation"}}, func(e events.Event) error {
			got = append(got, e.FlowID[15:])
			if len(got) == 3 {
				cancel()
			}
			return nil
		})
	}()
	waitFor(t, func() bool { return em.Stats().Subscribers == 1 })
	for i := range 6 {
		ty := events.Violation
		if i%2 == 1 {
			ty = events.Learned
		}
		em.Emit(events.Event{Type: ty, FlowID: events.FlowID(uint64(10 + i))})
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not deliver three events")
	}
	if diff := cmp.Diff([]string{"a", "c", "e"}, got); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
	waitFor(t, func() bool { return em.Stats().Subscribers == 0 })
}

// TestCloseEndsStreams: Close returns while a client follows events, and
// removes the socket.
func TestCloseEndsStreams(t *testing.T) {
	em := events.NewEmitter(events.Config{})
	em.Start()
	defer em.Close()
	s, c, sock := serve(t, newFake(), em)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(context.Background(), EventsRequest{Follow: true}, func(events.Event) error { return nil })
	}()
	waitFor(t, func() bool { return em.Stats().Subscribers == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end at Close")
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
	_, err := c.Status(context.Background())
	want := "cannot reach the agent at " + sock + ": is it running? ("
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Status after Close = %v, want %q…", err, want)
	}
}

func TestUnixSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "bulkhead")
	sock := filepath.Join(dir, "bulkhead.sock")
	l, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(sock)
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", st.Mode())
	}
	dst, _ := os.Stat(dir)
	if dst.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", dst.Mode().Perm())
	}
	// Something answers: refuse.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := ListenUnix(sock); err == nil || !strings.Contains(err.Error(), "another process answers on it") {
		t.Errorf("second ListenUnix = %v", err)
	}
	// The first listener dies without removing its socket (a crash).
	l.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("socket gone: %v", err)
	}
	l2, err := ListenUnix(sock)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	l2.Close()

	// A regular file is never removed.
	file := filepath.Join(dir, "file.sock")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := ListenUnix(file); err == nil || !strings.Contains(err.Error(), "is not a socket; not removing it") {
		t.Errorf("ListenUnix over a file = %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("the file was removed: %v", err)
	}
}

func TestTCPAndClientAddresses(t *testing.T) {
	s := NewServer(newFake(), nil, Options{})
	if err := s.ListenAndServeTCP("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Addrs()[0].String()
	for _, a := range []string{addr, "http://" + addr} {
		c, err := NewClient(a)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := c.Status(context.Background()); err != nil || st.Node != "node-1" {
			t.Errorf("Status over %s = %+v, %v", a, st, err)
		}
	}
	for _, bad := range []string{"nohostport", "http://"} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%q) succeeded", bad)
		}
	}
	c, _ := NewClient("")
	if c.Target() != DefaultSocket {
		t.Errorf("default target %q", c.Target())
	}
	// A closed TCP port: the same clear message.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	c, _ = NewClient(closed)
	if _, err := c.Status(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "cannot reach the agent at "+closed+": is it running?") {
		t.Errorf("Status on a closed port = %v", err)
	}
}

func TestParseFlowFilter(t *testing.T) {
	f, err := ParseFlowFilter(url.Values{"src": {"198.18.0.0/24"}, "app": {"HTTP"}, "port": {"80"}, "limit": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.App != "http" || f.Port != 80 || f.Limit != 5 {
		t.Errorf("filter = %+v", f)
	}
	if diff := cmp.Diff(url.Values{"src": {"198.18.0.0/24"}, "app": {"http"}, "port": {"80"}, "limit": {"5"}}, f.Query()); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
	if g, _ := ParseFlowFilter(url.Values{}); g.Limit != DefaultFlowLimit {
		t.Errorf("default limit %d", g.Limit)
	}
	// Every value a flow can have is a filter; any other is refused.
	for _, v := range FlowVerdicts {
		if _, err := ParseFlowFilter(url.Values{"verdict": {v}}); err != nil {
			t.Errorf("verdict=%s: %v", v, err)
		}
	}
	for _, v := range []string{"api", "world", "www.allowed.example", "198.18.0.1", "198.18.0.0/15", "2001:2::1", "2001:2::/48"} {
		if _, err := ParseFlowFilter(url.Values{"src": {v}, "dst": {v}}); err != nil {
			t.Errorf("src=dst=%s: %v", v, err)
		}
	}
	for _, a := range FlowApps() {
		if _, err := ParseFlowFilter(url.Values{"app": {a}}); err != nil {
			t.Errorf("app=%s: %v", a, err)
		}
	}
	if len(FlowApps()) < 20 || !slices.Contains(FlowApps(), "redis") {
		t.Errorf("FlowApps = %v", FlowApps())
	}
	for _, tt := range []struct {
		f    FlowFilter
		want string
	}{
		{FlowFilter{Verdict: "nope"}, `unknown verdict "nope" (want undecided, allow, deny, inspect)`},
		{FlowFilter{App: "htp"}, `unknown app "htp" (want http, `},
		{FlowFilter{Limit: -1}, "bad limit -1 (want 1-10000)"},
		{FlowFilter{Src: "198.18.0.0/99"}, `bad src "198.18.0.0/99": not a workload name, IP address or CIDR`},
		{FlowFilter{Dst: "2001:2::zz"}, `bad dst "2001:2::zz": not a workload name, IP address or CIDR`},
		{FlowFilter{Limit: MaxFlowLimit + 1}, "bad limit 10001 (want 1-10000)"},
	} {
		if err := tt.f.Check(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Check(%+v) = %v, want %q", tt.f, err, tt.want)
		}
	}
}

func FuzzParseFlowFilter(f *testing.F) {
	for _, s := range []string{"src=frontend&port=80", "dst=2001:2::/48&limit=3", "verdict=deny&app=dns", "port=0", "limit=-1", "x=1", "src=198.18.0.1"} {
		f.Add(s)
	}
	fl := newFake().flows
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		ff, err := ParseFlowFilter(q)
		if err != nil {
			return
		}
		if ff.Limit < 1 || ff.Limit > MaxFlowLimit {
			t.Fatalf("limit %d out of range", ff.Limit)
		}
		for i := range fl {
			ff.Match(&fl[i])
		}
		// The filter survives its own query form.
		back, err := ParseFlowFilter(ff.Query())
		if err != nil {
			t.Fatalf("ParseFlowFilter(%v) of its own Query: %v", ff.Query(), err)
		}
		for i := range fl {
			if back.Match(&fl[i]) != ff.Match(&fl[i]) {
				t.Fatalf("round trip changed the filter: %+v vs %+v", ff, back)
			}
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	status int
	header http.Header
	body   strings.Builder
}

func newRecorder() *recorder { return &recorder{status: 200, header: http.Header{}} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func httpGet(path string) *http.Request {
	req, _ := http.NewRequest("GET", "http://x"+path, nil)
	return req
}

var _ io.Writer = (*recorder)(nil)
