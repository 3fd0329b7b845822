package events

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures an Emitter.
type Config struct {
	// Node is written in every event.
	Node string
	// Queue is the capacity of the queue from Emit to the writer (default
	// 4096).
	Queue int
	// Recent is how many events Recent keeps (default 1000; negative: none).
	Recent int
	// Subscriber is the default buffer of a subscription (default 1024).
	Subscriber int
	// Outputs receive every event as one JSON line (standard output, a
	// RotatingFile…). The emitter closes those that are io.Closers, except
	// Stdout-like writers the caller keeps (see KeepOpen).
	Outputs []io.Writer
	// KeepOpen lists outputs the emitter must not close (os.Stdout).
	KeepOpen []io.Writer
	// Evidence, when set, stores the packets of drop and violation events.
	Evidence *Evidence
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats are the emitter's counters.
type Stats struct {
	Emitted     uint64 // accepted by Emit
	Dropped     uint64 // refused by Emit: queue full or closed
	Written     uint64 // processed by the writer
	WriteErrors uint64 // failed writes to an output
	Evidence    uint64 // evidence files written
	Subscribers int
}

// Emitter queues events and writes them from one goroutine.
type Emitter struct {
	cfg   Config
	queue chan Event
	stop  chan struct{}
	done  chan struct{}

	startOnce, closeOnce sync.Once
	closed               atomic.Bool
	started              atomic.Bool
	wg                   sync.WaitGroup

	emitted, dropped, written, writeErrors, evidence atomic.Uint64

	mu     sync.Mutex
	recent []Event // ring
	next   int     // next slot in recent
	full   bool
	subs   map[*Subscription]struct{}
}

// NewEmitter returns an emitter; Start runs its writer.
func NewEmitter(cfg Config) *Emitter {
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Recent == 0 {
		cfg.Recent = 1000
	}
	if cfg.Subscriber <= 0 {
		cfg.Subscriber = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Emitter{
		cfg:   cfg,
		queue: make(chan Event, cfg.Queue),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		subs:  map[*Subscription]struct{}{},
	}
	if cfg.Recent > 0 {
		e.recent = make([]Event, cfg.Recent)
	}
	return e
}

// Start runs the writer goroutine. Safe to call twice.
func (e *Emitter) Start() {
	e.startOnce.Do(func() {
		if e.closed.Load() {
			return
		}
		e.started.Store(true)
		e.wg.Go(e.run)
	})
}

// Close stops accepting events, writes those already queued, closes the
// outputs and ends every subscription. Safe to call twice.
func (e *Emitter) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		e.startOnce.Do(func() {}) // a later Start does nothing
		close(e.stop)
		e.wg.Wait()
		if !e.started.Load() {
			e.drain()
		}
		e.mu.Lock()
		for s := range e.subs {
			s.end()
		}
		e.subs = map[*Subscription]struct{}{}
		e.mu.Unlock()
		err = e.closeOutputs()
	})
	return err
}

func (e *Emitter) closeOutputs() error {
	var errs []error
	for _, w := range e.cfg.Outputs {
		keep := false
		for _, k := range e.cfg.KeepOpen {
			if k == w {
				keep = true
			}
		}
		if c, ok := w.(io.Closer); ok && !keep {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Emit queues ev without blocking; it returns false (and counts a drop) when
// the queue is full or the emitter closed. It does not allocate.
func (e *Emitter) Emit(ev Event) bool {
	if e.closed.Load() {
		e.dropped.Add(1)
		return false
	}
	select {
	case e.queue <- ev:
		e.emitted.Add(1)
		return true
	default:
		e.dropped.Add(1)
		return false
	}
}

// Reserve reports whether Emit would queue an event now. When it would not
// (the queue is full or the emitter closed) it counts the event as dropped,
// as Emit would have, so that the packet path can skip building an event
// that would be dropped anyway (a flood of violations). It does not
// allocate.
func (e *Emitter) Reserve() bool {
	if e.closed.Load() || len(e.queue) == cap(e.queue) {
		e.dropped.Add(1)
		return false
	}
	return true
}

func (e *Emitter) run() {
	var buf []byte
	for {
		select {
		case ev := <-e.queue:
			buf = e.write(ev, buf)
		case <-e.stop:
			e.drain()
			return
		}
	}
}

// drain writes what is left in the queue.
func (e *Emitter) drain() {
	var buf []byte
	for {
		select {
		case ev := <-e.queue:
			buf = e.write(ev, buf)
		default:
			return
		}
	}
}

func (e *Emitter) write(ev Event, buf []byte) []byte {
	if ev.Time.IsZero() {
		ev.Time = e.cfg.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.Node = e.cfg.Node
	if e.cfg.Evidence != nil && len(ev.Packets) > 0 && (ev.Type == Drop || ev.Type == Violation) {
		name, err := e.cfg.Evidence.Write(&ev)
		if err != nil {
			e.cfg.Logger.Warn("events: evidence not written", "flow", ev.FlowID, "err", err)
		} else {
			ev.Evidence = name
			e.evidence.Add(1)
		}
	}
	ev.Packets = nil
	line, err := json.Marshal(&ev)
	if err != nil { // cannot happen with these field types; keep the event anyway
		e.cfg.Logger.Error("events: marshal", "type", ev.Type, "err", err)
	} else {
		buf = append(append(buf[:0], line...), '\n')
		for _, w := range e.cfg.Outputs {
			if _, err := w.Write(buf); err != nil {
				if e.writeErrors.Add(1) == 1 || e.writeErrors.Load()%1000 == 0 {
					e.cfg.Logger.Warn("events: write failed", "err", err, "failures", e.writeErrors.Load())
				}
			}
		}
	}
	e.written.Add(1)
	e.mu.Lock()
	if len(e.recent) > 0 {
		e.recent[e.next] = ev
		e.next = (e.next + 1) % len(e.recent)
		e.full = e.full || e.next == 0
	}
	for s := range e.subs {
		s.offer(ev)
	}
	e.mu.Unlock()
	return buf
}

// Recent returns up to n of the most recent events, oldest first (n <= 0:
// all kept).
func (e *Emitter) Recent(n int) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	count := e.next
	if e.full {
		count = len(e.recent)
	}
	if n <= 0 || n > count {
		n = count
	}
	out := make([]Event, 0, n)
	for i := count - n; i < count; i++ {
		idx := i
		if e.full {
			idx = (e.next + i) % len(e.recent)
		}
		out = append(out, e.recent[idx])
	}
	return out
}

// Stats returns the emitter's counters.
func (e *Emitter) Stats() Stats {
	e.mu.Lock()
	n := len(e.subs)
	e.mu.Unlock()
	return Stats{
		Emitted: e.emitted.Load(), Dropped: e.dropped.Load(), Written: e.written.Load(),
		WriteErrors: e.writeErrors.Load(), Evidence: e.evidence.Load(), Subscribers: n,
	}
}

// Subscription receives the events written after it was made. A
// subscription with a buffer of one cannot report losses (the report needs
// room too); Subscribe makes buffers of at least two.
type Subscription struct {
	e    *Emitter
	ch   chan Event
	lost atomic.Uint64
	once sync.Once
	gone chan struct{}
}

// ErrClosed is returned by Subscription.Next once the subscription or the
// emitter is closed.
var ErrClosed = errors.New("events: subscription closed")

// Subscribe returns a subscription with a buffer of size events (<= 0: the
// configured default).
func (e *Emitter) Subscribe(size int) *Subscription {
	if size <= 0 {
		size = e.cfg.Subscriber
	}
	size = max(size, 2)
	s := &Subscription{e: e, ch: make(chan Event, size), gone: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		s.end()
		return s
	}
	e.subs[s] = struct{}{}
	return s
}

// offer delivers ev or counts it lost. After a loss, the next event that
// fits is preceded by an EventsLost event, so the gap shows where it
// happened. The emitter's lock is held (one sender at a time).
func (s *Subscription) offer(ev Event) {
	if n := s.lost.Load(); n > 0 {
		if cap(s.ch)-len(s.ch) < 2 {
			s.lost.Add(1)
			return
		}
		s.lost.Store(0)
		s.ch <- Event{Time: ev.Time, Node: ev.Node, Type: EventsLost, Lost: n}
	}
	select {
	case s.ch <- ev:
	default:
		s.lost.Add(1)
	}
}

func (s *Subscription) end() { s.once.Do(func() { close(s.gone) }) }

// Next returns the next event; where events were lost because the reader
// was too slow, an EventsLost event says how many. It returns ctx's error
// when ctx ends and ErrClosed when the subscription ends (after the events
// already buffered).
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	select {
	case ev := <-s.ch:
		return ev, nil
	default:
	}
	select {
	case ev := <-s.ch:
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-s.gone:
		return Event{}, ErrClosed
	}
}

// Close ends the subscription; safe to call twice.
func (s *Subscription) Close() {
	s.e.mu.Lock()
	delete(s.e.subs, s)
	s.e.mu.Unlock()
	s.end()
}
