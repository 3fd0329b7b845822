package capture

import (
	"bytes"
	"container/list"
	"time"
)

// IPv4 and IPv6 fragment reassembly, bounded: at most maxDatagram bytes per
// datagram and maxFragments pieces, at most Options.MaxFragmentBytes
// pending over all datagrams (the oldest datagram is dropped to make room),
// and datagrams not complete within Options.FragmentTimeout (capture time)
// are dropped. Overlapping fragments keep the bytes that arrived first
// (first data wins, as TCP reassembly does); when the later bytes differ,
// the datagram's flow is noted.

const (
	maxDatagram  = 65535
	maxFragments = 64
)

// NoteFragmentOverlap is noted on a flow whose IP fragments overlapped with
// different bytes.
const NoteFragmentOverlap = "overlapping IP fragments with conflicting data (first data kept)"

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v4       bool
}

type fragRun struct{ start, end int }

type fragDatagram struct {
	key      fragKey
	data     []byte
	runs     []fragRun
	total    int // length once the last fragment is seen, else -1
	pieces   int
	ipBytes  int // sum of the fragments' IP lengths
	first    time.Time
	conflict bool
	elem     *list.Element
}

type defragger struct {
	maxBytes int
	timeout  time.Duration
	pending  map[fragKey]*fragDatagram
	order    list.List // oldest first
	bytes    int
	dropped  int // datagrams dropped (timeout, limits, malformed)
}

func newDefragger(maxBytes int, timeout time.Duration) *defragger {
	return &defragger{maxBytes: maxBytes, timeout: timeout, pending: map[fragKey]*fragDatagram{}}
}

// add takes a fragment. When it completes its datagram, it returns the
// datagram's payload (transport header first), the number of fragments and
// their summed IP lengths, and whether fragments overlapped with conflicting
// bytes.
func (d *defragger) add(p *packet, now time.Time) (payload []byte, pieces, ipBytes int, conflict, done bool) {
	d.expire(now)
	k := fragKey{src: p.src, dst: p.dst, id: p.fragID, proto: p.fragProto, v4: p.v4}
	g := d.pending[k]
	if g == nil {
		g = &fragDatagram{key: k, total: -1, first: now}
		g.elem = d.order.PushBack(g)
		d.pending[k] = g
	}
	start, end := p.fragOff, p.fragOff+len(p.fragData)
	if end > maxDatagram || g.pieces == maxFragments || (p.fragMore && len(p.fragData)%8 != 0) {
		d.drop(g)
		return nil, 0, 0, false, false
	}
	if !p.fragMore {
		if g.total >= 0 && g.total != end || end < g.maxEnd() {
			d.drop(g) // two different ends
			return nil, 0, 0, false, false
		}
		g.total = end
	} else if g.total >= 0 && end > g.total {
		d.drop(g)
		return nil, 0, 0, false, false
	}
	if end > len(g.data) {
		grow := end - len(g.data)
		for d.bytes+grow > d.maxBytes && d.order.Len() > 1 {
			oldest := d.order.Front().Value.(*fragDatagram)
			if oldest == g {
				break
			}
			d.drop(oldest)
		}
		if d.bytes+grow > d.maxBytes {
			d.drop(g)
			return nil, 0, 0, false, false
		}
		g.data = append(g.data, make([]byte, grow)...)
		d.bytes += grow
	}
	g.write(start, p.fragData)
	g.pieces++
	g.ipBytes += p.ipLen
	if g.total < 0 || len(g.runs) != 1 || g.runs[0].start != 0 || g.runs[0].end != g.total {
		return nil, 0, 0, false, false
	}
	d.remove(g)
	return g.data[:g.total], g.pieces, g.ipBytes, g.conflict, true
}

func (g *fragDatagram) maxEnd() int {
	if len(g.runs) == 0 {
		return 0
	}
	return g.runs[len(g.runs)-1].end
}

// write copies the bytes of [start, start+len(b)) that no earlier fragment
// covered, and merges the run.
func (g *fragDatagram) write(start int, b []byte) {
	end := start + len(b)
	pos := start
	for _, r := range g.runs {
		if r.end <= pos || r.start >= end {
			continue
		}
		if r.start > pos {
			copy(g.data[pos:r.start], b[pos-start:r.start-start])
		}
		lo, hi := max(r.start, pos), min(r.end, end)
		if !bytes.Equal(g.data[lo:hi], b[lo-start:hi-start]) {
			g.conflict = true
		}
		pos = max(pos, hi)
	}
	if pos < end {
		copy(g.data[pos:end], b[pos-start:])
	}
	// Merge [start, end) into the sorted runs.
	out := g.runs[:0:0]
	placed := false
	for _, r := range g.runs {
		switch {
		case r.end < start:
			out = append(out, r)
		case r.start > end:
			if !placed {
				out = append(out, fragRun{start, end})
				placed = true
			}
			out = append(out, r)
		default:
			start, end = min(start, r.start), max(end, r.end)
		}
	}
	if !placed {
		out = append(out, fragRun{start, end})
	}
	g.runs = out
}

// expire drops datagrams older than the timeout.
func (d *defragger) expire(now time.Time) {
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		g := e.Value.(*fragDatagram)
		if now.Sub(g.first) <= d.timeout {
			return
		}
		d.drop(g)
	}
}

func (d *defragger) drop(g *fragDatagram) {
	d.remove(g)
	d.dropped++
}

func (d *defragger) remove(g *fragDatagram) {
	if g.elem == nil {
		return
	}
	d.order.Remove(g.elem)
	g.elem = nil
	delete(d.pending, g.key)
	d.bytes -= len(g.data)
}

// flush drops everything pending (end of capture) and returns how many
// datagrams were incomplete.
func (d *defragger) flush() int {
	n := d.order.Len()
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		d.drop(e.Value.(*fragDatagram))
	}
	return n
}
