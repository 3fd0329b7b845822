package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
)

// EventLog reads the agent's event log (JSON lines, docs/events.md) as it
// grows. It is safe for concurrent use.
type EventLog struct {
	path string

	mu      sync.Mutex
	off     int64  // bytes of the file consumed
	partial []byte // an incomplete last line
	all     []events.Event
}

// NewEventLog returns a reader of the event log at path (which may not
// exist yet).
func NewEventLog(path string) *EventLog { return &EventLog{path: path} }

// Path is the event log's path.
func (l *EventLog) Path() string { return l.path }

// Mark is a position in the event log: the events after it are the ones
// written since it was taken.
type Mark int

// Mark reads what is new and returns the position after the last event.
func (l *EventLog) Mark() (Mark, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.readLocked(); err != nil {
		return 0, err
	}
	return Mark(len(l.all)), nil
}

// Since reads what is new and returns the events after m.
func (l *EventLog) Since(m Mark) ([]events.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.readLocked(); err != nil {
		return nil, err
	}
	if int(m) > len(l.all) {
		return nil, nil
	}
	return append([]events.Event(nil), l.all[m:]...), nil
}

// settle is how long the matching events must stay the same before Wait
// takes them as complete.
const settle = 300 * time.Millisecond

// Wait polls the log for the events after m that satisfy match: until some
// match and no new match came for a moment (an attack of many probes makes
// many events, written one after the other), or the time limit passes. It
// returns every matching event after m; none when the limit passed without
// any (the caller decides what that means).
func (l *EventLog) Wait(ctx context.Context, m Mark, limit time.Duration, match func(*events.Event) bool) ([]events.Event, error) {
	deadline := time.Now().Add(limit)
	var (
		got     []events.Event
		changed time.Time
	)
	for {
		evs, err := l.Since(m)
		if err != nil {
			return nil, err
		}
		if now := Filter(evs, match); len(now) != len(got) {
			got, changed = now, time.Now()
		}
		if (len(got) > 0 && time.Since(changed) >= settle) || !time.Now().Before(deadline) {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Filter returns the events that satisfy match.
func Filter(evs []events.Event, match func(*events.Event) bool) []events.Event {
	var out []events.Event
	for i := range evs {
		if match(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// readLocked consumes the complete lines appended since the last read.
func (l *EventLog) readLocked() error {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scenario: event log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return fmt.Errorf("scenario: event log %s: %w", l.path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("scenario: event log %s: %w", l.path, err)
	}
	l.off += int64(len(b))
	evs, rest, err := ParseEvents(append(l.partial, b...))
	l.partial = rest
	l.all = append(l.all, evs...)
	if err != nil {
		return fmt.Errorf("scenario: event log %s: %w", l.path, err)
	}
	return nil
}

// ParseEvents decodes the complete JSON lines of b and returns the events
// and what follows the last newline (an incomplete line). A line that is
// not an event is an error naming it; the events before it are returned.
func ParseEvents(b []byte) (evs []events.Event, rest []byte, err error) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return evs, append([]byte(nil), b...), nil
		}
		line := bytes.TrimSpace(b[:i])
		b = b[i+1:]
		if len(line) == 0 {
			continue
		}
		var ev events.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return evs, append([]byte(nil), b...), fmt.Errorf("bad event line %q: %w", truncate(string(line), 200), err)
		}
		if ev.Type == "" {
			return evs, append([]byte(nil), b...), fmt.Errorf("event line without a type: %q", truncate(string(line), 200))
		}
		evs = append(evs, ev)
	}
}

// Summarize renders an event on one line for people:
//
//	drop compromised → db:6379 tcp redis PING (protect): no rule from compromised to db
func Summarize(ev *events.Event) string {
	var b strings.Builder
	b.WriteString(string(ev.Type))
	if ev.Src.Workload != "" || ev.Dst.Workload != "" {
		fmt.Fprintf(&b, " %s → %s", endpoint(ev.Src, false), endpoint(ev.Dst, true))
	}
	for _, s := range []string{ev.Proto, ev.App, l7Summary(&ev.L7)} {
		if s != "" {
			b.WriteString(" " + s)
		}
	}
	if ev.Mode != "" {
		fmt.Fprintf(&b, " (%s)", ev.Mode)
	}
	if ev.Group != "" {
		fmt.Fprintf(&b, " group %s %s → %s", ev.Group, ev.From, ev.Mode)
	}
	if ev.Reason != "" {
		b.WriteString(": " + truncate(ev.Reason, 120))
	} else if ev.Message != "" {
		b.WriteString(": " + truncate(ev.Message, 120))
	}
	return b.String()
}

func endpoint(e events.Endpoint, withPort bool) string {
	s := e.Workload
	if s == "world" && e.IP.IsValid() {
		s = "world(" + e.IP.String() + ")"
	}
	if withPort && e.Port != 0 {
		s = fmt.Sprintf("%s:%d", s, e.Port)
	}
	return s
}

// l7Summary renders the attributes an event carries, in a fixed order.
func l7Summary(l *events.L7) string {
	var parts []string
	for _, s := range []string{l.Method, l.Path, l.Query, l.QType, l.Command, l.GRPCService, l.GRPCMethod, l.Topic} {
		if s != "" {
			parts = append(parts, truncate(s, 60))
		}
	}
	if l.Host != "" {
		parts = append(parts, "host="+l.Host)
	}
	return strings.Join(parts, " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
