package learn

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// fakeClock advances one second per call.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func httpObs(src, dst, path string) Observation {
	return Observation{Src: Workload(src), Dst: Workload(dst), Proto: l7.TCP, Port: 8080, App: l7.HTTP,
		Request: &l7.Request{Method: "GET", Path: path}}
}

func TestObserve(t *testing.T) {
	g := New(fakeClock(), Limits{MaxEdges: 3, MaxValues: 2})
	steps := []struct {
		o    Observation
		want Result
	}{
		{httpObs("fe", "api", "/users/1"), Result{NewEdge: true, NewValue: true}},
		{httpObs("fe", "api", "/users/2"), Result{}}, // same generalised value
		{httpObs("fe", "api", "/orders"), Result{NewValue: true}},
		{httpObs("fe", "api", "/admin"), Result{}}, // past MaxValues: "more"
		{Observation{Src: Workload("fe"), Dst: FQDN("GitHub.com."), Proto: l7.TCP, Port: 443, App: l7.TLS}, Result{NewEdge: true}},
		{Observation{Src: Workload("fe"), Dst: Addr(netip.MustParseAddr("::ffff:203.0.113.9")), Proto: l7.UDP, Port: 123, App: l7.NTP}, Result{NewEdge: true}},
		{Observation{Src: Host(), Dst: Workload("fe"), Proto: l7.TCP, Port: 22}, Result{}},       // past MaxEdges: dropped
		{Observation{Src: Workload(""), Dst: Workload("fe"), Proto: l7.TCP, Port: 22}, Result{}}, // invalid
		{Observation{Src: Host(), Dst: Workload("fe"), Proto: l7.TCP, Port: 0}, Result{}},        // invalid
	}
	for i, s := range steps {
		if got := g.Observe(s.o); got != s.want {
			t.Errorf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
	if d := cmp.Diff(Stats{Edges: 3, Workloads: 0, Dropped: 1, Invalid: 2}, g.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	s := g.Snapshot()
	// Sorted by source, then destination kind: workload, fqdn, addr.
	e := s.Edges[0]
	if e.Dst != Workload("api") || e.Count != 4 || !e.ValuesMore || len(e.Values) != 2 || !e.FirstSeen.Before(e.LastSeen) {
		t.Errorf("edge fe→api: %+v", e)
	}
	if s.Edges[1].Dst != FQDN("github.com") || s.Edges[2].Dst.Addr != netip.MustParseAddr("203.0.113.9") {
		t.Errorf("peers not normalised: %+v %+v", s.Edges[1].Dst, s.Edges[2].Dst)
	}
}

// TestObserveOwnsValues checks that the graph keeps copies of the request's
// values: the agent passes requests whose strings point into packet buffers
// it reuses.
func TestObserveOwnsValues(t *testing.T) {
	g := New(fakeClock(), Limits{})
	buf := []byte("GET/orders")
	o := httpObs("fe", "api", "")
	o.Request.Method = unsafe.String(&buf[0], 3)
	o.Request.Path = unsafe.String(&buf[3], len(buf)-3)
	g.Observe(o)
	// The same values again: counted, and the stored key must stay the
	// graph's own copy (assigning to an existing string key replaces it).
	g.Observe(o)
	copy(buf, "XXXXXXXXXX")
	want := []Value{{Values: Values{policy.AttrMethod: "GET", policy.AttrPath: "/orders"}, Count: 2}}
	if d := cmp.Diff(want, g.Snapshot().Edges[0].Values); d != "" {
		t.Errorf("values after the request's buffer was reused (-want +got):\n%s", d)
	}
}

func TestObserveLabels(t *testing.T) {
	g := New(fakeClock(), Limits{})
	o := httpObs("fe", "api", "/")
	o.SrcLabels = map[string]string{"app": "fe", "v": "1"}
	g.Observe(o)
	o.SrcLabels = nil // unknown: keep
	g.Observe(o)
	want := []WorkloadInfo{{Name: "fe", Labels: map[string]string{"app": "fe", "v": "1"}}}
	if d := cmp.Diff(want, g.Snapshot().Workloads); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	o.SrcLabels = map[string]string{"app": "fe", "v": "2"}
	g.Observe(o)
	want[0].Labels["v"] = "2"
	if d := cmp.Diff(want, g.Snapshot().Workloads); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestObserveConcurrent(t *testing.T) {
	g := New(nil, Limits{})
	var wg sync.WaitGroup
	var newEdges sync.Map
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				o := httpObs(fmt.Sprintf("c%d", i%50), "api", fmt.Sprintf("/p/%d", w))
				o.Port = uint16(1000 + i%7)
				if g.Observe(o).NewEdge {
					if _, dup := newEdges.LoadOrStore(fmt.Sprint(i%50, o.Port), true); dup {
						t.Errorf("edge %d/%d reported new twice", i%50, o.Port)
					}
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	newEdges.Range(func(any, any) bool { n++; return true })
	if st := g.Stats(); st.Edges != 350 || n != 350 {
		t.Errorf("edges %d, new-edge reports %d, want 350", st.Edges, n)
	}
	var total uint64
	for _, e := range g.Snapshot().Edges {
		total += e.Count
	}
	if total != 4000 {
		t.Errorf("counts add to %d, want 4000", total)
	}
}

func TestSnapshotJSON(t *testing.T) {
	g := New(fakeClock(), Limits{})
	o := httpObs("fe", "api", "/users/1")
	o.SrcLabels = map[string]string{"app": "fe"}
	g.Observe(o)
	g.Observe(Observation{Src: Workload("api"), Dst: Addr(netip.MustParseAddr("2001:2::1")), Proto: l7.UDP, Port: 53, App: l7.DNS, Request: &l7.Request{Host: "x.example.com"}})
	g.Observe(Observation{Src: Host(), Dst: FQDN("example.com"), Proto: l7.TCP, Port: 443, App: l7.Unknown})
	s := g.Snapshot()
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/graph.json", buf.Bytes())
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, back, cmpOpts); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for _, bad := range []string{
		`{"version": 2, "workloads": [], "edges": []}`,
		`{"version": 1, "edges": [{"src": {"host": true}, "dst": {"host": true}, "proto": "icmp", "port": 1}]}`,
		`{"version": 1, "edges": [{"src": {"host": true, "workload": "x"}, "dst": {"host": true}, "proto": "tcp", "port": 1}]}`,
		`{"version": 1, "edges": [{"src": {"host": true}, "dst": {"host": true}, "proto": "tcp", "port": 1, "values": [{"colour": "x"}]}]}`,
		`{"version": 1, "extra": 1}`,
	} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadJSON(%s): want an error", bad)
		}
	}
}

func TestAddSnapshot(t *testing.T) {
	a := New(fakeClock(), Limits{})
	a.Observe(httpObs("fe", "api", "/a"))
	b := New(fakeClock(), Limits{})
	b.Observe(httpObs("fe", "api", "/b"))
	b.Observe(httpObs("fe", "db", "/"))
	a.Add(b.Snapshot())
	want := Merge(0, New(nil, Limits{}).Snapshot(), b.Snapshot())
	want = Merge(0, want, func() Snapshot {
		c := New(fakeClock(), Limits{})
		c.Observe(httpObs("fe", "api", "/a"))
		return c.Snapshot()
	}())
	if d := cmp.Diff(want, a.Snapshot(), cmpOpts); d != "" {
		t.Errorf("Add (-want +got):\n%s", d)
	}
}
