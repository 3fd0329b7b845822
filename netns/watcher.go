package netns

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"
)

const (
	// debounce is how long the watcher gathers notifications before acting
	// on them: a container's creation is a burst of them.
	debounce = 20 * time.Millisecond
	// settleEvery and settleFor: a new container's peer is re-inspected
	// this often for this long, because runtimes configure addresses after
	// the veth appears (notifications usually say so sooner).
	settleEvery = 200 * time.Millisecond
	settleFor   = 5 * time.Second
	// eventBuffer is the capacity of the Events channel; events beyond it
	// wait, in order, in the watcher.
	eventBuffer = 64
)

// errClosed is returned by Start after Close.
var errClosed = errors.New("netns: watcher is closed")

// Watcher reports containers appearing and disappearing.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	events chan Event
	stop   chan struct{} // closed by Close
	exited chan struct{} // closed when the loop has returned

	mu      sync.Mutex // Start and Close
	started bool
	closed  bool
	wg      sync.WaitGroup

	snapMu sync.Mutex
	snap   []Container

	// Tests change these before Start.
	settleEvery, settleFor time.Duration
	listenAllNSID          bool // ask for the peers' notifications
}

// NewWatcher checks cfg and returns a watcher; Start starts it.
func NewWatcher(cfg Config) (*Watcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Watcher{
		cfg:    cfg,
		log:    cfg.Logger,
		events: make(chan Event, eventBuffer),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),

		settleEvery:   settleEvery,
		settleFor:     settleFor,
		listenAllNSID: true,
	}, nil
}

// Start lists existing containers (reported as Added events first) and
// subscribes to link and address changes; events for a container appearing
// or disappearing are delivered within 1 s. Safe to call twice: the second
// call does nothing. ctx bounds the start only; the watcher runs until
// Close. After Close, Start returns an error.
func (w *Watcher) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return errClosed
	case w.started:
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	node, err := openNode(w.cfg.NetNS)
	if err != nil {
		return err
	}
	// Subscribe before listing, so nothing that happens in between is
	// missed.
	mon, err := openMonitor(node.ns, w.listenAllNSID)
	if err != nil {
		node.close()
		return err
	}
	if mon.nsidErr != nil {
		w.log.Warn("netns: cannot hear the containers' own notifications (NETLINK_LISTEN_ALL_NSID needs CAP_NET_BROADCAST and Linux 4.7): address changes of settled containers are seen by the periodic re-list only", "err", mon.nsidErr)
	}
	eng := newEngineFor(w.cfg, node, w.settleFor)
	initial, err := eng.full(time.Now())
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		mon.close()
		node.close()
		return err
	}
	w.log.Info("netns: watching containers", "netns", node.path, "containers", len(initial), "peer_notifications", mon.allNSID)
	for _, ev := range initial {
		w.log.Debug("netns: event", "event", ev.String())
	}
	w.publish(eng)
	w.started = true
	notices := make(chan notice, 256)
	w.wg.Add(2)
	go w.read(mon, notices)
	go w.loop(node, mon, eng, notices, initial)
	return nil
}

// Events delivers events in order; the channel is closed by Close.
func (w *Watcher) Events() <-chan Event { return w.events }

// Containers returns the current set, sorted by HostIf.
func (w *Watcher) Containers() []Container {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	out := make([]Container, len(w.snap))
	for i, c := range w.snap {
		out[i] = c.clone()
	}
	return out
}

// Close stops the watcher and closes the Events channel; safe to call
// twice. Events not yet received are dropped.
func (w *Watcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	close(w.stop)
	if !w.started {
		close(w.events)
		return nil
	}
	w.wg.Wait()
	return nil
}

func (w *Watcher) publish(eng *engine) {
	cs := eng.containers()
	w.snapMu.Lock()
	w.snap = cs
	w.snapMu.Unlock()
}

// read turns the monitor's datagrams into notices until the monitor is
// closed. A lost-notifications overrun is passed on as a notice of kind 0.
func (w *Watcher) read(mon *monitor, out chan<- notice) {
	defer w.wg.Done()
	var buf []notice
	for {
		var err error
		buf, err = mon.read(buf[:0])
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case errors.Is(err, errOverrun):
			buf = append(buf[:0], notice{})
		case errors.Is(err, errMalformed):
			// Use what was decoded before the damage.
			w.log.Warn("netns: bad notification", "err", err)
		case err != nil:
			w.log.Error("netns: notification socket failed: changes are seen by the periodic re-list only", "err", err)
			return
		}
		for _, n := range buf {
			select {
			case out <- n:
			case <-w.exited:
				return
			}
		}
	}
}

// loop owns node, mon and eng: it acts on notices and timers and delivers
// events, until Close.
func (w *Watcher) loop(node *nodeNet, mon *monitor, eng *engine, notices <-chan notice, queue []Event) {
	defer w.wg.Done()
	defer close(w.events)
	defer node.close()
	defer mon.close() // wakes read, which then sees exited
	defer close(w.exited)

	flushT := time.NewTimer(debounce)
	flushT.Stop()
	flushArmed := false
	settleT := time.NewTimer(w.settleEvery)
	settleArmed := true
	resync := time.NewTicker(w.cfg.Resync)
	defer flushT.Stop()
	defer settleT.Stop()
	defer resync.Stop()

	changed := func(events []Event) {
		for _, ev := range events {
			w.log.Debug("netns: event", "event", ev.String())
		}
		if len(events) > 0 {
			queue = append(queue, events...)
			w.publish(eng)
		}
		if !settleArmed && eng.settling() {
			settleT.Reset(w.settleEvery)
			settleArmed = true
		}
	}
	full := func() {
		events, err := eng.full(time.Now())
		if err != nil {
			w.log.Error("netns: re-list failed", "err", err)
		}
		changed(events)
	}
	for {
		var out chan<- Event
		var head Event
		if len(queue) > 0 {
			out, head = w.events, queue[0]
		}
		select {
		case <-w.stop:
			return
		case out <- head:
			queue[0] = Event{}
			queue = queue[1:]
		case n := <-notices:
			if n.Kind == 0 {
				w.log.Warn("netns: notifications lost, re-listing")
				full()
				continue
			}
			if eng.note(n) && !flushArmed {
				flushT.Reset(debounce)
				flushArmed = true
			}
		case <-flushT.C:
			flushArmed = false
			changed(eng.flush(time.Now()))
		case <-settleT.C:
			settleArmed = false
			changed(eng.settleTick(time.Now()))
		case <-resync.C:
			full()
		}
	}
}
