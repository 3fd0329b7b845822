package capture

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"bulkhead.dev/bulkhead/l7"
)

// Options bound and tune Analyze. The zero value means the defaults.
type Options struct {
	// Engine configures the l7 engine. Summaries are always on; a zero
	// Engine.MaxBufferTotal means DefaultMaxBufferTotal.
	Engine l7.Config
	// MaxFlows caps the flows tracked at once; when full, the flow seen
	// least recently is finished early (noted "flow table full").
	MaxFlows int
	// IdleTimeout finishes a flow idle for this long (capture time).
	IdleTimeout time.Duration
	// ClosedTimeout finishes a TCP flow this long after FIN from both
	// sides or RST.
	ClosedTimeout time.Duration
	// MaxPending caps finished flows held back to keep the output ordered.
	MaxPending int
	// MaxFragmentBytes caps bytes of incomplete IP datagrams held.
	MaxFragmentBytes int
	// FragmentTimeout drops an incomplete datagram after this long.
	FragmentTimeout time.Duration
	// Progress, when set, is called now and then with the bytes of input
	// read so far, and once at the end.
	Progress func(read int64)
	// Logger receives debug messages about input oddities (nil: none).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxFlows         = 1 << 18
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultClosedTimeout    = 30 * time.Second
	DefaultMaxPending       = 1 << 16
	DefaultMaxFragmentBytes = 4 << 20
	DefaultFragmentTimeout  = 30 * time.Second
	// DefaultMaxBufferTotal caps the reassembly buffers of all flows
	// (l7.Config.MaxBufferTotal): with DefaultMaxFlows flows, the engine's
	// own bound (2 × MaxBuffer per flow) would be 8 GiB.
	DefaultMaxBufferTotal = 256 << 20
)

// Notes analyze adds to flows.
const (
	NoteEvicted = "flow table full: flow finished early"
)

func (o Options) withDefaults() Options {
	if o.MaxFlows <= 0 {
		o.MaxFlows = DefaultMaxFlows
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ClosedTimeout <= 0 {
		o.ClosedTimeout = DefaultClosedTimeout
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxFragmentBytes <= 0 {
		o.MaxFragmentBytes = DefaultMaxFragmentBytes
	}
	if o.FragmentTimeout <= 0 {
		o.FragmentTimeout = DefaultFragmentTimeout
	}
	o.Engine.Parser.Summaries = true
	if o.Engine.MaxBufferTotal <= 0 {
		o.Engine.MaxBufferTotal = DefaultMaxBufferTotal
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats counts what Analyze saw.
type Stats struct {
	Packets          uint64 // packets read
	Bytes            int64  // input bytes read
	NotIP            uint64 // packets that are not IPv4/IPv6 (ARP, LLDP…) or of unknown link type
	Malformed        uint64 // truncated or malformed IP/transport headers
	Fragments        uint64 // IP fragments
	Reassembled      uint64 // datagrams reassembled from fragments
	FragmentsDropped uint64 // incomplete or invalid fragmented datagrams
	Flows            uint64 // flows written
	Evicted          uint64 // flows finished early because the table was full
	Truncated        bool   // the capture ends in the middle of a packet
}

// Analyze reads one capture from r and calls emit with each flow, in order
// of first packet time then 5-tuple (within what MaxPending allows; see
// docs/flow-json.md). It returns an error wrapping ErrNotCapture when r is
// not a capture; for a capture corrupt in the middle, the flows read so far
// are emitted before the error. A capture cut short in its last packet is
// not an error (Stats.Truncated).
func Analyze(ctx context.Context, r io.Reader, opts Options, emit func(*Record) error) (Stats, error) {
	a := newAnalyzer(opts.withDefaults(), emit)
	cr := &countingReader{r: r}
	src, err := openSource(cr)
	if err != nil {
		return a.stats, err
	}
	err = a.run(ctx, src, cr)
	a.stats.Bytes = cr.n
	if a.opts.Progress != nil {
		a.opts.Progress(cr.n)
	}
	if ferr := a.finishAll(); err == nil {
		err = ferr
	}
	return a.stats, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// flowKey identifies a flow whichever way its packets go: endpoint a is the
// lesser of the two (address, port).
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
}

// flowEntry is a tracked flow.
type flowEntry struct {
	key        flowKey
	v4         bool
	clientIsA  bool // the caller-side client (before any engine flip)
	first      time.Time
	last       time.Time
	pkts       [2]uint64 // by caller side
	bytes      [2]uint64
	fl         l7.Flow
	inspecting bool // fl is initialised and not released
	summary    any  // taken when fl was released early
	app        l7.App
	flipped    bool
	notes      []string
	fin        uint8 // FIN seen: bit per caller side; 4: RST
	payload    bool  // some payload was seen
	clientISN  uint32
	// links are the entry's places in the analyzer's intrusive lists,
	// indexed by listID.
	links [2]entryLinks
}

// Request implements l7.Sink (summaries come from the parsers).
func (e *flowEntry) Request(*l7.Request) {}

// Response implements l7.Sink.
func (e *flowEntry) Response(*l7.Response) {}

// Note implements l7.Sink: notes are kept once each, 16 at most.
func (e *flowEntry) Note(n string) {
	for _, m := range e.notes {
		if m == n {
			return
		}
	}
	if len(e.notes) < 16 {
		e.notes = append(e.notes, n)
	}
}

// listID names one of the two lists a flowEntry is on.
type listID uint8

const (
	byActivity listID = iota // analyzer.lru
	byCreation               // analyzer.created
)

// entryLinks are an entry's neighbours in one list.
type entryLinks struct{ prev, next *flowEntry }

// entryList is an intrusive doubly-linked list of entries over their
// links[id].
type entryList struct {
	head, tail *flowEntry
	id         listID
}

type analyzer struct {
	opts    Options
	emit    func(*Record) error
	eng     *l7.Engine
	flows   map[flowKey]*flowEntry
	lru     entryList // head: most recently seen
	created entryList // head: oldest
	defrag  *defragger
	pending recordHeap
	stats   Stats
	pkt     packet
	emitErr error
}

func newAnalyzer(opts Options, emit func(*Record) error) *analyzer {
	return &analyzer{
		opts:    opts,
		emit:    emit,
		eng:     l7.NewEngine(opts.Engine),
		flows:   make(map[flowKey]*flowEntry),
		lru:     entryList{id: byActivity},
		created: entryList{id: byCreation},
		defrag:  newDefragger(opts.MaxFragmentBytes, opts.FragmentTimeout),
	}
}

// run reads packets until the end of the source.
func (a *analyzer) run(ctx context.Context, src source, cr *countingReader) error {
	for {
		data, ts, link, err := src.next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				a.stats.Truncated = true
				a.opts.Logger.Debug("capture ends inside a packet", "packets", a.stats.Packets)
				return nil
			}
			return fmt.Errorf("capture: packet %d: %w", a.stats.Packets+1, err)
		}
		a.stats.Packets++
		if a.stats.Packets&0x3fff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if a.opts.Progress != nil {
				a.opts.Progress(cr.n)
			}
		}
		a.packet(data, ts, link)
		if a.emitErr != nil {
			return a.emitErr
		}
	}
}

// packet handles one captured packet.
func (a *analyzer) packet(data []byte, ts time.Time, link uint32) {
	p := &a.pkt
	for depth := 0; ; depth++ {
		ip, err := decodeLink(link, data)
		if err != nil {
			a.stats.NotIP++
			return
		}
		if err := decodeIP(ip, p); err != nil {
			if errors.Is(err, errNotIP) {
				a.stats.NotIP++
			} else {
				a.stats.Malformed++
			}
			return
		}
		if depth == maxTunnel || p.frag {
			break
		}
		inner, innerLink, ok := decap(p)
		if !ok {
			break
		}
		data, link = inner, innerLink
	}
	pieces, ipBytes, conflict := 1, p.ipLen, false
	if p.frag {
		a.stats.Fragments++
		before := a.defrag.dropped
		payload, n, sum, c, done := a.defrag.add(p, ts)
		a.stats.FragmentsDropped += uint64(a.defrag.dropped - before)
		if !done {
			return
		}
		a.stats.Reassembled++
		pieces, ipBytes, conflict = n, sum, c
		p.proto = p.fragProto
		if err := decodeTransport(payload, p); err != nil {
			a.stats.Malformed++
			return
		}
	}
	a.expire(ts)
	e, srcIsA := a.lookup(p, ts)
	if conflict {
		e.Note(NoteFragmentOverlap)
	}
	a.feed(e, p, srcIsA, ts, pieces, ipBytes)
}

// canonical returns the flow key of p and whether p's source is endpoint a.
func canonical(p *packet) (flowKey, bool) {
	k := flowKey{proto: p.proto}
	srcFirst := true
	switch c := compare16(p.src, p.dst); {
	case c > 0:
		srcFirst = false
	case c == 0:
		srcFirst = p.sport <= p.dport
	}
	if srcFirst {
		k.a, k.b, k.pa, k.pb = p.src, p.dst, p.sport, p.dport
	} else {
		k.a, k.b, k.pa, k.pb = p.dst, p.src, p.dport, p.sport
	}
	return k, srcFirst
}

func compare16(x, y [16]byte) int {
	for i := range x {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// lookup finds or creates the flow of p; srcIsA tells which end sent p.
func (a *analyzer) lookup(p *packet, ts time.Time) (e *flowEntry, srcIsA bool) {
	k, srcIsA := canonical(p)
	e = a.flows[k]
	syn := p.proto == protoTCP && p.tcpFlags()&(l7.SYN|l7.ACK) == l7.SYN
	if e != nil && syn && (e.payload || e.fin != 0) && (e.clientIsA != srcIsA || p.seq != e.clientISN) {
		// A new connection reusing the 5-tuple.
		a.finish(e)
		e = nil
	}
	if e != nil {
		return e, srcIsA
	}
	if len(a.flows) >= a.opts.MaxFlows && a.lru.tail != nil {
		old := a.lru.tail
		old.Note(NoteEvicted)
		a.stats.Evicted++
		a.finish(old)
	}
	e = &flowEntry{key: k, v4: p.v4, first: ts, last: ts}
	clientIsSrc, o := orientation(p)
	e.clientIsA = clientIsSrc == srcIsA
	if syn {
		e.clientISN = p.seq
	}
	a.flows[k] = e
	a.created.pushBack(e)
	a.lru.pushFront(e)
	if p.proto == protoTCP || p.proto == protoUDP {
		tr := l7.TCP
		if p.proto == protoUDP {
			tr = l7.UDP
		}
		cport, sport := p.sport, p.dport
		if !clientIsSrc {
			cport, sport = sport, cport
		}
		e.fl.Init(a.eng, tr, cport, sport, o)
		e.inspecting = true
	}
	return e, srcIsA
}

// orientation decides which end of p's flow is the client: the sender of a
// SYN (the receiver of a SYN-ACK) for sure; otherwise a guess by port (a
// port below 1024 facing one above it is the server's, else the higher port
// is the client's ephemeral port, else the sender), which detection may
// still swap (l7.OrientationGuessed).
func orientation(p *packet) (clientIsSrc bool, o l7.Orientation) {
	if f := p.tcpFlags(); p.proto == protoTCP && f&l7.SYN != 0 {
		return f&l7.ACK == 0, l7.OrientationKnown
	}
	sp, dp := p.sport, p.dport
	switch {
	case sp < 1024 && dp >= 1024:
		return false, l7.OrientationGuessed
	case dp < 1024 && sp >= 1024:
		return true, l7.OrientationGuessed
	case sp != dp:
		return sp > dp, l7.OrientationGuessed
	}
	return true, l7.OrientationGuessed
}

// feed accounts p to e and hands its payload to the engine.
func (a *analyzer) feed(e *flowEntry, p *packet, srcIsA bool, ts time.Time, pieces, ipBytes int) {
	side := l7.FromServer
	if srcIsA == e.clientIsA {
		side = l7.FromClient
	}
	e.pkts[side] += uint64(pieces)
	e.bytes[side] += uint64(ipBytes)
	if ts.After(e.last) {
		e.last = ts
	}
	a.lru.moveFront(e)
	if len(p.payload) > 0 && (p.proto == protoTCP || p.proto == protoUDP) {
		e.payload = true
	}
	if p.proto == protoTCP {
		if p.tcpFlags()&l7.RST != 0 {
			e.fin |= 4
		}
		if p.tcpFlags()&l7.FIN != 0 {
			e.fin |= 1 << side
		}
	}
	if !e.inspecting {
		return
	}
	switch p.proto {
	case protoTCP:
		e.fl.TCP(side, p.seq, p.tcpFlags(), p.payload, e)
	case protoUDP:
		if len(p.payload) > 0 {
			e.fl.UDP(side, p.payload, e)
		}
	}
	if e.fl.Done() {
		a.stopInspecting(e)
	}
}

// stopInspecting keeps what the engine learnt and frees its state.
func (a *analyzer) stopInspecting(e *flowEntry) {
	if !e.inspecting {
		return
	}
	e.fl.Finish(e)
	e.summary = e.fl.Summary()
	e.app = e.fl.App()
	e.flipped = e.fl.Flipped()
	e.fl.Release()
	e.inspecting = false
}

// expire finishes flows idle past their timeout.
func (a *analyzer) expire(now time.Time) {
	for e := a.lru.tail; e != nil; e = a.lru.tail {
		timeout := a.opts.IdleTimeout
		if e.fin&4 != 0 || e.fin&3 == 3 {
			timeout = a.opts.ClosedTimeout
		}
		if now.Sub(e.last) <= timeout {
			break
		}
		a.finish(e)
	}
	a.flushPending(false)
}

// finish ends a flow and queues its record.
func (a *analyzer) finish(e *flowEntry) {
	a.stopInspecting(e)
	delete(a.flows, e.key)
	a.lru.remove(e)
	a.created.remove(e)
	heap.Push(&a.pending, e.record())
	if a.pending.Len() > a.opts.MaxPending {
		a.write(heap.Pop(&a.pending).(*Record))
	}
}

// flushPending writes queued records that no tracked flow can precede:
// those that started before the oldest flow still tracked (all at the end).
func (a *analyzer) flushPending(all bool) {
	for a.pending.Len() > 0 {
		r := a.pending[0]
		if !all && a.created.head != nil && !r.First.Before(a.created.head.first) {
			return
		}
		a.write(heap.Pop(&a.pending).(*Record))
	}
}

func (a *analyzer) write(r *Record) {
	if a.emitErr != nil {
		return
	}
	a.stats.Flows++
	a.emitErr = a.emit(r)
}

// finishAll ends every flow at the end of the capture.
func (a *analyzer) finishAll() error {
	a.stats.FragmentsDropped += uint64(a.defrag.flush())
	for e := a.created.head; e != nil; e = a.created.head {
		a.finish(e)
	}
	a.flushPending(true)
	return a.emitErr
}

// record builds the output of a finished flow.
func (e *flowEntry) record() *Record {
	addr := func(b [16]byte) netip.Addr {
		if e.v4 {
			return netip.AddrFrom4([4]byte(b[12:]))
		}
		return netip.AddrFrom16(b)
	}
	r := &Record{
		Proto:   protoName(e.key.proto),
		First:   e.first,
		Last:    e.last,
		Packets: e.pkts,
		Bytes:   e.bytes,
		App:     e.app.String(),
		Notes:   e.notes,
	}
	clientIsA := e.clientIsA
	if e.flipped {
		clientIsA = !clientIsA
		r.Packets[0], r.Packets[1] = r.Packets[1], r.Packets[0]
		r.Bytes[0], r.Bytes[1] = r.Bytes[1], r.Bytes[0]
	}
	r.Src, r.Sport, r.Dst, r.Dport = addr(e.key.a), e.key.pa, addr(e.key.b), e.key.pb
	if !clientIsA {
		r.Src, r.Sport, r.Dst, r.Dport = r.Dst, r.Dport, r.Src, r.Sport
	}
	switch s := e.summary.(type) {
	case nil:
	case l7.Summaries:
		r.Protocols = map[string]any(s)
	default:
		r.Protocols = map[string]any{e.app.String(): s}
	}
	return r
}

// recordHeap orders pending records (min-heap by Record.less).
type recordHeap []*Record

func (h recordHeap) Len() int           { return len(h) }
func (h recordHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h recordHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recordHeap) Push(x any)        { *h = append(*h, x.(*Record)) }
func (h *recordHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// The intrusive lists' operations.

func (l *entryList) pushFront(e *flowEntry) {
	e.links[l.id] = entryLinks{next: l.head}
	if l.head != nil {
		l.head.links[l.id].prev = e
	} else {
		l.tail = e
	}
	l.head = e
}

func (l *entryList) pushBack(e *flowEntry) {
	e.links[l.id] = entryLinks{prev: l.tail}
	if l.tail != nil {
		l.tail.links[l.id].next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *entryList) moveFront(e *flowEntry) {
	if l.head == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}

func (l *entryList) remove(e *flowEntry) {
	lk := &e.links[l.id]
	if lk.prev != nil {
		lk.prev.links[l.id].next = lk.next
	} else if l.head == e {
		l.head = lk.next
	}
	if lk.next != nil {
		lk.next.links[l.id].prev = lk.prev
	} else if l.tail == e {
		l.tail = lk.prev
	}
	*lk = entryLinks{}
}
