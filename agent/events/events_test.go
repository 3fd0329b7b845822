package events

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/testenv"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

func samples() []Event {
	web := Endpoint{Workload: "frontend", Kind: "local", Labels: map[string]string{"app": "frontend", "tier": "web"}, IP: netip.MustParseAddr("198.18.0.10"), Port: 41000}
	api := Endpoint{Workload: "api", Kind: "local", Labels: map[string]string{"app": "api"}, IP: netip.MustParseAddr("198.18.0.11"), Port: 8080}
	db := Endpoint{Workload: "db", Kind: "local", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("198.18.0.12"), Port: 6379}
	return []Event{
		{Time: t0, Type: Drop, FlowID: FlowID(0x182a5c3b1e2f0001), Src: web, Dst: db, Proto: "tcp", App: "redis",
			L7: L7{Command: "FLUSHALL"}, Mode: "protect", Verdict: "deny", Reason: "no rule allows frontend to db"},
		{Time: t0, Type: Violation, FlowID: FlowID(2), Src: web, Dst: api, Proto: "tcp", App: "http",
			L7: L7{Method: "GET", Host: "api", Path: "/admin"}, Mode: "monitor", Verdict: "allow",
			Rule: "frontend-to-api-http", Reason: "request not allowed by the rule's HTTP conditions"},
		{Time: t0, Type: Drop, FlowID: FlowID(3), Src: api,
			Dst:   Endpoint{Workload: "world", Kind: "world", IP: netip.MustParseAddr("2001:2:0:100::9"), Port: 53},
			Proto: "udp", App: "dns", L7: L7{Query: "x7f3k2.exfil.example", QType: "TXT"}, Mode: "protect", Verdict: "deny",
			Reason: "DNS name not allowed"},
		{Time: t0, Type: Learned, FlowID: FlowID(4), Src: api,
			Dst:   Endpoint{Workload: "api.partner.example", Kind: "fqdn", IP: netip.MustParseAddr("198.19.1.2"), Port: 443},
			Proto: "tcp", App: "tls", L7: L7{Host: "api.partner.example"}, Mode: "learn", Verdict: "allow"},
		{Time: t0, Type: PolicyReload, Message: "3 files, 5 groups, 9 rules"},
		{Time: t0, Type: PolicyReloadFailed, Reason: "policy.yaml: line 4: rules[0].to: group \"dbb\" is not defined"},
		{Time: t0, Type: ModeChange, Group: "api", From: "learn", Mode: "protect", Reason: "set by the operator"},
		{Time: t0, Type: Promotion, Group: "db", From: "monitor", Mode: "protect", Reason: "24h0m0s without new edges or violations"},
		{Time: t0, Type: AgentStart, Message: "bulkhead dev"},
		{Time: t0, Type: AgentStop},
	}
}

func TestGolden(t *testing.T) {
	var out testenv.Buffer
	e := NewEmitter(Config{Node: "node-1", Outputs: []io.Writer{&out}})
	e.Start()
	for _, ev := range samples() {
		if !e.Emit(ev) {
			t.Fatal("Emit refused an event")
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/events.jsonl", []byte(out.String()))
}

// TestDocs checks that docs/events.md names every type and every JSON field.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, ty := range Types() {
		if !strings.Contains(doc, "`"+string(ty)+"`") {
			t.Errorf("docs/events.md does not document the type `%s`", ty)
		}
	}
	var walk func(rt reflect.Type, prefix string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || name == "" {
				continue
			}
			if !strings.Contains(doc, "`"+prefix+name+"`") {
				t.Errorf("docs/events.md does not document the field `%s%s`", prefix, name)
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == rt.PkgPath() {
				walk(f.Type, prefix+name+".")
			}
		}
	}
	walk(reflect.TypeFor[Event](), "")
}

// blockingWriter blocks every write until released.
type blockingWriter struct{ release chan struct{} }

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

func TestEmitNeverBlocks(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	e := NewEmitter(Config{Node: "n", Queue: 4, Outputs: []io.Writer{bw}})
	e.Start()
	accepted := 0
	for range 100 {
		if e.Emit(Event{Type: Drop}) {
			accepted++
		}
	}
	// The writer holds one event (blocked in Write), the queue four.
	if accepted > 5 || accepted < 4 {
		t.Errorf("accepted %d events with a queue of 4 and a stuck writer", accepted)
	}
	st := e.Stats()
	if st.Dropped != uint64(100-accepted) || st.Emitted != uint64(accepted) {
		t.Errorf("stats = %+v", st)
	}
	ev := Event{Type: Violation, FlowID: "0000000000000001", Src: Endpoint{Workload: "a"}}
	if n := testing.AllocsPerRun(100, func() { e.Emit(ev) }); n != 0 {
		t.Errorf("Emit allocates %v times", n)
	}
	close(bw.release)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Emit(Event{Type: Drop}) {
		t.Error("Emit after Close accepted the event")
	}
	if st := e.Stats(); st.Written != st.Emitted {
		t.Errorf("Close did not write the queued events: %+v", st)
	}
	e.Close()
}

func TestRecent(t *testing.T) {
	e := NewEmitter(Config{Node: "n", Recent: 3})
	e.Start()
	for i := range 5 {
		e.Emit(Event{Type: Learned, FlowID: FlowID(uint64(i))})
	}
	e.Close()
	var ids []string
	for _, ev := range e.Recent(0) {
		ids = append(ids, ev.FlowID)
	}
	if diff := cmp.Diff([]string{FlowID(2), FlowID(3), FlowID(4)}, ids); diff != "" {
		t.Errorf("Recent (-want +got):\n%s", diff)
	}
	if got := e.Recent(1); len(got) != 1 || got[0].FlowID != FlowID(4) {
		t.Errorf("Recent(1) = %+v", got)
	}
	few := NewEmitter(Config{Recent: 10})
	few.Emit(Event{Type: Drop})
	few.Close() // writes the queued event without a started writer
	if got := len(few.Recent(5)); got != 1 {
		t.Errorf("Recent with one event = %d", got)
	}
	none := NewEmitter(Config{Recent: -1})
	none.Emit(Event{Type: Drop})
	none.Close()
	if got := none.Recent(0); len(got) != 0 {
		t.Errorf("Recent disabled returned %d events", len(got))
	}
}

func TestSubscriptions(t *testing.T) {
	ctx := context.Background()
	e := NewEmitter(Config{Node: "n"})
	// Written synchronously (no Start) through the unexported write, so the
	// order of deliveries is exact.
	slow := e.Subscribe(4)
	fast := e.Subscribe(100)
	for i := range 10 {
		e.write(Event{Type: Learned, FlowID: FlowID(uint64(i))}, nil)
		if i < 2 {
			continue
		}
		// fast reads everything as it comes; slow reads nothing until 10.
		for {
			ev, err := fast.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev.FlowID == FlowID(uint64(i)) {
				break
			}
		}
		if i == 6 {
			// slow reads two: room for the loss report and one more event.
			for range 2 {
				if _, err := slow.Next(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var got []string
	for range 4 {
		ev, err := slow.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == EventsLost {
			got = append(got, "lost "+FlowID(ev.Lost))
		} else {
			got = append(got, ev.FlowID)
		}
	}
	want := []string{FlowID(2), FlowID(3), "lost " + FlowID(3), FlowID(7)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slow subscriber (-want +got):\n%s", diff)
	}
	if st := e.Stats(); st.Subscribers != 2 {
		t.Errorf("Subscribers = %d", st.Subscribers)
	}
	slow.Close()
	slow.Close()
	if _, err := slow.Next(ctx); !errors.Is(err, ErrClosed) {
		// Buffered events may still come first; drain them.
		for err == nil {
			_, err = slow.Next(ctx)
		}
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v", err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fast.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context = %v", err)
	}
	e.Close()
	if _, err := fast.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after the emitter closed = %v", err)
	}
	if _, err := e.Subscribe(0).Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: Next = %v", err)
	}
}

func TestFlowID(t *testing.T) {
	if got := FlowID(0x182a5c3b1e2f0001); got != "182a5c3b1e2f0001" {
		t.Errorf("FlowID = %q", got)
	}
	if got, err := ParseFlowID("00000000000000ff"); err != nil || got != 255 {
		t.Errorf("ParseFlowID = %d, %v", got, err)
	}
}

// BenchmarkEmit is the packet path's cost of reporting an event (the writer
// drains to io.Discard meanwhile).
func BenchmarkEmit(b *testing.B) {
	e := NewEmitter(Config{Node: "n", Queue: 1 << 16, Outputs: []io.Writer{io.Discard}})
	e.Start()
	defer e.Close()
	ev := samples()[0]
	b.ReportAllocs()
	for b.Loop() {
		e.Emit(ev)
	}
}

func TestReserve(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	e := NewEmitter(Config{Node: "n", Queue: 2, Outputs: []io.Writer{bw}})
	// Not started: the queue fills without a writer.
	for i := range 2 {
		if !e.Reserve() {
			t.Fatalf("Reserve %d refused with room in the queue", i)
		}
		e.Emit(Event{Type: Drop})
	}
	if e.Reserve() {
		t.Error("Reserve accepted with a full queue")
	}
	if st := e.Stats(); st.Dropped != 1 || st.Emitted != 2 {
		t.Errorf("stats after a refused Reserve = %+v, want 1 dropped, 2 emitted", st)
	}
	if n := testing.AllocsPerRun(100, func() { e.Reserve() }); n != 0 {
		t.Errorf("Reserve allocates %v times", n)
	}
	close(bw.release)
	e.Close()
	if e.Reserve() {
		t.Error("Reserve accepted after Close")
	}
}
