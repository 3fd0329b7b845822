package scenario

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/events"
)

const (
	dropLine  = `{"time":"2026-01-01T00:00:00Z","node":"n","type":"drop","flow_id":"0000000000000001","src":{"workload":"compromised","kind":"local","ip":"198.18.0.14","port":41000},"dst":{"workload":"db","kind":"local","ip":"198.18.0.12","port":6379},"proto":"tcp","mode":"protect","verdict":"deny","reason":"no rule from compromised to db"}`
	learnLine = `{"time":"2026-01-01T00:00:00Z","node":"n","type":"learned","src":{"workload":"frontend"},"dst":{"workload":"api","port":8080},"proto":"tcp","app":"http","l7":{"method":"GET","path":"/api/orders"},"mode":"learn","verdict":"allow"}`
)

func TestParseEvents(t *testing.T) {
	evs, rest, err := ParseEvents([]byte(dropLine + "\n\n" + learnLine + "\n" + `{"type":"dr`))
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != `{"type":"dr` {
		t.Errorf("rest = %q, want the incomplete last line", rest)
	}
	var got []string
	for i := range evs {
		got = append(got, Summarize(&evs[i]))
	}
	want := []string{
		"drop compromised → db:6379 tcp (protect): no rule from compromised to db",
		"learned frontend → api:8080 tcp http GET /api/orders (learn)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if evs[0].Src.IP != netip.MustParseAddr("198.18.0.14") {
		t.Errorf("src ip = %v", evs[0].Src.IP)
	}

	for _, bad := range []string{"not json\n", `{"node":"n"}` + "\n"} {
		if _, _, err := ParseEvents([]byte(bad)); err == nil {
			t.Errorf("ParseEvents(%q) accepted it", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		ev   events.Event
		want string
	}{
		{events.Event{Type: events.Drop, Src: events.Endpoint{Workload: "api"}, Dst: events.Endpoint{Workload: "world", IP: netip.MustParseAddr("198.19.66.6"), Port: 443}, Proto: "tcp", Mode: "protect", Reason: "no rule from api to world"},
			"drop api → world(198.19.66.6):443 tcp (protect): no rule from api to world"},
		{events.Event{Type: events.Drop, Src: events.Endpoint{Workload: "api"}, Dst: events.Endpoint{Workload: "dns", Port: 53}, Proto: "udp", App: "dns", L7: events.L7{Query: strings.Repeat("a", 70) + ".exfil.", QType: "A"}},
			"drop api → dns:53 udp dns " + strings.Repeat("a", 60) + "… A"},
		{events.Event{Type: events.ModeChange, Group: "api", From: "monitor", Mode: "protect", Reason: "set by the operator"},
			"mode_change (protect) group api monitor → protect: set by the operator"},
		{events.Event{Type: events.PolicyReload, Message: "1 file, 5 groups, 4 rules"},
			"policy_reload: 1 file, 5 groups, 4 rules"},
	} {
		if got := Summarize(&tt.ev); got != tt.want {
			t.Errorf("Summarize = %q\nwant        %q", got, tt.want)
		}
	}
}

// TestEventLog appends to a file in pieces, as the agent's writer does, and
// reads it with marks.
func TestEventLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := NewEventLog(path)
	m0, err := l.Mark() // the file does not exist yet
	if err != nil || m0 != 0 {
		t.Fatalf("Mark on a missing file = %v, %v", m0, err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(learnLine + "\n" + dropLine[:40])
	m1, err := l.Mark()
	if err != nil || m1 != 1 {
		t.Fatalf("Mark after one line and a half = %v, %v; want 1", m1, err)
	}
	isDrop := func(ev *events.Event) bool { return ev.Type == events.Drop }
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.WriteString(dropLine[40:] + "\n")
	}()
	got, err := l.Wait(context.Background(), m1, 5*time.Second, isDrop)
	if err != nil || len(got) != 1 || got[0].Dst.Workload != "db" {
		t.Fatalf("Wait = %v, %v; want the drop event", got, err)
	}
	all, err := l.Since(m0)
	if err != nil || len(all) != 2 {
		t.Fatalf("Since(0) = %d events, %v; want 2", len(all), err)
	}
	none, err := l.Wait(context.Background(), 2, 100*time.Millisecond, isDrop)
	if err != nil || len(none) != 0 {
		t.Errorf("Wait past the end = %v, %v; want nothing when the time is up", none, err)
	}
}

// FuzzParseEvents checks that any input parses or fails cleanly and that
// the incomplete rest is never a complete line.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(dropLine + "\n" + learnLine + "\n"))
	f.Add([]byte(learnLine + "\n{\"type\""))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, rest, err := ParseEvents(b)
		if err == nil && strings.Contains(string(rest), "\n") {
			t.Fatalf("rest %q holds a complete line", rest)
		}
		for i := range evs {
			if evs[i].Type == "" {
				t.Fatalf("event %d without a type", i)
			}
			_ = Summarize(&evs[i])
		}
	})
}
