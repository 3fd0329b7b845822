package netns

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// nodeSystem reads the node namespace.
type nodeSystem interface {
	listLinks() ([]hostLink, error)
	// getLink returns false (and no error) when no link has that index.
	getLink(index int) (hostLink, bool, error)
	listAddrs() ([]nodeAddr, error)
}

// peerSystem reads a container's peer namespace.
type peerSystem interface {
	inspect(c Container) (peerInfo, error)
}

// namer places nsids: see nsResolver.
type namer interface {
	resolve(want map[int]bool) map[int]nsName
}

// engine turns what the OS says into the container set and its events. It
// does no I/O of its own (that goes through node, peers and names), keeps
// no goroutines and takes the time as an argument, so the watcher's logic
// is tested with fakes. It is not safe for concurrent use.
type engine struct {
	node   nodeSystem
	peers  peerSystem
	names  namer
	filter func(string) bool
	log    *slog.Logger
	settle time.Duration // how long a new container is re-inspected

	links linkTable
	up    map[int]bool // uplink ifindexes, see uplinks
	cur   map[int]Container
	// settleUntil holds, for new containers, until when their peer is
	// re-inspected on every settle tick.
	settleUntil map[int]time.Time
	listed      bool // full has succeeded once

	// Work noted by note and done by flush.
	fetch   map[int]bool // node links to read again
	readdrs bool         // node addresses changed
	inspect map[int]bool // containers (by host ifindex) to inspect again
}

func newEngine(node nodeSystem, peers peerSystem, names namer, filter func(string) bool, settle time.Duration, log *slog.Logger) *engine {
	return &engine{
		node: node, peers: peers, names: names, filter: filter, settle: settle, log: log,
		links: linkTable{}, up: map[int]bool{}, cur: map[int]Container{},
		settleUntil: map[int]time.Time{}, fetch: map[int]bool{}, inspect: map[int]bool{},
	}
}

// full re-reads every node link and address, re-inspects every container
// and returns the events since the last state. On error the state is kept.
func (e *engine) full(now time.Time) ([]Event, error) {
	links, err := e.node.listLinks()
	if err != nil {
		return nil, err
	}
	addrs, err := e.node.listAddrs()
	if err != nil {
		return nil, err
	}
	e.links = make(linkTable, len(links))
	for _, l := range links {
		e.links[l.Index] = l
	}
	e.up = uplinks(addrs)
	clear(e.fetch)
	e.readdrs = false
	events := e.rebuild(now, true)
	if !e.listed {
		// What the first listing finds has mostly been running for a
		// while: only the containers not yet fully visible (caught in
		// the middle of their set-up) are polled while they settle.
		e.listed = true
		for idx, c := range e.cur {
			if c.NetNSPath != "" && c.PeerIf != "" && len(c.Addrs) > 0 {
				delete(e.settleUntil, idx)
			}
		}
	}
	return events, nil
}

// note records the work a notification calls for and reports whether
// there is any; flush does it.
func (e *engine) note(n notice) bool {
	if n.NSID < 0 {
		switch n.Kind {
		case linkChanged:
			e.fetch[n.Index] = true
		case linkDeleted:
			e.fetch[n.Index] = true
			for _, o := range e.links.orphansOf(n.Index) {
				e.fetch[o] = true
			}
		case addrChanged:
			e.readdrs = true
		}
		return e.pending()
	}
	for idx, c := range e.cur {
		if c.NetNSID != n.NSID || c.PeerIndex != n.Index {
			continue
		}
		e.inspect[idx] = true
		if n.Kind != addrChanged {
			// The peer was renamed, moved or deleted: the node side
			// may have a new peer namespace or be gone.
			e.fetch[idx] = true
		}
	}
	return e.pending()
}

// pending reports whether flush has work.
func (e *engine) pending() bool {
	return len(e.fetch) > 0 || e.readdrs || len(e.inspect) > 0
}

// flush does the work noted since the last flush and returns the events.
func (e *engine) flush(now time.Time) []Event {
	for idx := range e.fetch {
		l, ok, err := e.node.getLink(idx)
		switch {
		case err != nil:
			// Leave the link as it was; the next full re-list fixes it.
			e.log.Warn("netns: cannot read link", "index", idx, "err", err)
		case ok:
			e.links[idx] = l
		default:
			delete(e.links, idx)
		}
	}
	clear(e.fetch)
	if e.readdrs {
		e.readdrs = false
		if addrs, err := e.node.listAddrs(); err != nil {
			e.log.Warn("netns: cannot read node addresses", "err", err)
		} else {
			e.up = uplinks(addrs)
		}
	}
	return e.rebuild(now, false)
}

// settling reports whether some new container is still re-inspected on
// settle ticks.
func (e *engine) settling() bool { return len(e.settleUntil) > 0 }

// settleTick re-inspects the containers still settling (their runtime may
// not have configured their addresses yet) and returns the events.
func (e *engine) settleTick(now time.Time) []Event {
	for idx, until := range e.settleUntil {
		if now.After(until) {
			delete(e.settleUntil, idx)
			continue
		}
		e.inspect[idx] = true
	}
	return e.rebuild(now, false)
}

// rebuild derives the container set from the link table, names and
// inspects the containers that need it, and returns the events. all
// re-inspects every container (and re-names the unnamed ones).
func (e *engine) rebuild(now time.Time, all bool) []Event {
	next := containerLinks(e.links, e.up, e.filter)
	var toName, toInspect []int
	want := map[int]bool{}
	// In ifindex order, so the OS is asked in a stable order.
	for _, idx := range slices.Sorted(maps.Keys(next)) {
		c := next[idx]
		prev, known := e.cur[idx]
		same := known && prev.HostIf == c.HostIf && prev.NetNSID == c.NetNSID && prev.PeerIndex == c.PeerIndex
		if !same {
			// New, renamed, or its peer is elsewhere now: start over.
			e.settleUntil[idx] = now.Add(e.settle)
			toName = append(toName, idx)
			toInspect = append(toInspect, idx)
			want[c.NetNSID] = true
			continue
		}
		c.NetNS, c.NetNSPath, c.PeerIf, c.Addrs = prev.NetNS, prev.NetNSPath, prev.PeerIf, prev.Addrs
		next[idx] = c
		if !all && !e.inspect[idx] {
			continue
		}
		toInspect = append(toInspect, idx)
		if c.NetNSPath == "" {
			toName = append(toName, idx)
			want[c.NetNSID] = true
		}
	}
	clear(e.inspect)
	for idx := range e.settleUntil {
		if _, ok := next[idx]; !ok {
			delete(e.settleUntil, idx)
		}
	}
	stale := e.place(next, toName, toInspect, want)
	if len(stale) > 0 {
		// A path went stale (its namespace died and the nsid was given
		// to another): name those again at once, once.
		want = map[int]bool{}
		for _, idx := range stale {
			want[next[idx].NetNSID] = true
		}
		e.place(next, stale, stale, want)
	}
	events := diff(e.cur, next)
	e.cur = next
	return events
}

// place names the containers toName (their nsids are want) and inspects
// the containers toInspect, updating next. It returns the containers whose
// path turned out to open another namespace; their name and path are
// cleared. Other inspection failures keep the last known peer state.
func (e *engine) place(next map[int]Container, toName, toInspect []int, want map[int]bool) (stale []int) {
	if len(want) > 0 {
		names := e.names.resolve(want)
		for _, idx := range toName {
			c := next[idx]
			nm := names[c.NetNSID]
			c.NetNS, c.NetNSPath = nm.Name, nm.Path
			next[idx] = c
		}
	}
	for _, idx := range toInspect {
		c := next[idx]
		if c.NetNSPath == "" {
			continue
		}
		info, err := e.peers.inspect(c)
		if err != nil {
			if errors.Is(err, errStaleNamespace) {
				c.NetNS, c.NetNSPath = "", ""
				next[idx] = c
				stale = append(stale, idx)
			}
			// A container being deleted fails here routinely.
			e.log.Debug("netns: cannot inspect peer", "container", c.HostIf, "err", err)
			continue
		}
		c.PeerIf, c.Addrs = info.Name, info.Addrs
		next[idx] = c
	}
	return stale
}

// containers returns a copy of the current set, sorted by HostIf.
func (e *engine) containers() []Container {
	out := make([]Container, 0, len(e.cur))
	for c := range maps.Values(e.cur) {
		out = append(out, c.clone())
	}
	sortContainers(out)
	return out
}
