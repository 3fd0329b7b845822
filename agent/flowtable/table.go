package flowtable

import (
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// IdleTimeouts are the idle timeouts per flow class.
type IdleTimeouts struct {
	TCPOpening, TCPEstablished, TCPClosing time.Duration
	UDP, ICMP, Other                       time.Duration
}

// Config configures a Table.
type Config struct {
	// MaxFlows bounds the number of flows (default 262144).
	MaxFlows int
	// Idle are the idle timeouts; zero fields take the defaults of
	// docs/agent.md (30s, 30m, 30s, 60s, 30s, 60s).
	Idle IdleTimeouts
	// SweepInterval is how often the sweeper removes idle flows (default 1s).
	SweepInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnEvict, when set, is called for every flow leaving the table, with
	// the flow still locked and intact, before its slot is reused. It must
	// not block, do I/O or call the table.
	OnEvict func(f *Flow, r Reason)
	// Logger gets the sweeper's rare messages (default: discard).
	Logger *slog.Logger
}

// Reason is why a flow left the table.
type Reason uint8

// The reasons and their numbers are those of metrics.EvictReason.
const (
	// Idle: the flow's idle timeout passed.
	Idle Reason = iota
	// Capacity: room was needed for a new flow.
	Capacity
	// Closed: a TCP connection that had closed (FIN or RST) went idle.
	Closed
	// EndpointGone: deleted because a container went away.
	EndpointGone
	numReasons
)

var reasonNames = [numReasons]string{"idle", "capacity", "closed", "endpoint_gone"}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every eviction reason, for metrics.
func Reasons() []Reason { return []Reason{Idle, Capacity, Closed, EndpointGone} }

// Stats are the table's counters.
type Stats struct {
	Active  int
	Limit   int
	Created uint64
	// Evicted counts flows that left the table, by Reason.
	Evicted [numReasons]uint64
}

const (
	chunkShift = 8
	chunkSize  = 1 << chunkShift
	none       = ^uint32(0)
	// sweepBatch bounds the flows one lock hold of the sweeper removes.
	sweepBatch = 4096
)

// Table is a bounded, sharded flow table. The zero value is not usable:
// call New.
type Table struct {
	cfg      Config
	idle     [numClasses]int64 // nanoseconds
	shards   []shard
	mask     uint64
	seed     uint64
	nextID   atomic.Uint64
	created  atomic.Uint64
	evicted  [numReasons]atomic.Uint64
	active   atomic.Int64
	limit    int
	startMu  sync.Mutex
	started  bool
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
	onEvict  func(*Flow, Reason)
	nowNanos func() int64
}

type list struct{ head, tail uint32 }

type shard struct {
	mu     sync.Mutex
	index  map[Key]uint32
	chunks []*[chunkSize]Flow
	free   uint32 // free list through Flow.next
	n, max int
	lists  [numClasses]list
	_      [64]byte // keep shards' locks on separate cache lines
}

// New returns an empty table. Start runs its sweeper.
func New(cfg Config) (*Table, error) {
	if cfg.MaxFlows == 0 {
		cfg.MaxFlows = 262144
	}
	if cfg.MaxFlows < 0 || cfg.MaxFlows > 1<<28 {
		return nil, fmt.Errorf("flowtable: MaxFlows %d out of range (1 to %d)", cfg.MaxFlows, 1<<28)
	}
	def := IdleTimeouts{30 * time.Second, 30 * time.Minute, 30 * time.Second, 60 * time.Second, 30 * time.Second, 60 * time.Second}
	idle := [numClasses]*time.Duration{&cfg.Idle.TCPOpening, &cfg.Idle.TCPEstablished, &cfg.Idle.TCPClosing, &cfg.Idle.UDP, &cfg.Idle.ICMP, &cfg.Idle.Other}
	defs := [numClasses]time.Duration{def.TCPOpening, def.TCPEstablished, def.TCPClosing, def.UDP, def.ICMP, def.Other}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Table{cfg: cfg, limit: cfg.MaxFlows, onEvict: cfg.OnEvict, stop: make(chan struct{})}
	for c := range numClasses {
		if *idle[c] <= 0 {
			*idle[c] = defs[c]
		}
		t.idle[c] = int64(*idle[c])
	}
	t.cfg = cfg
	now := cfg.Now
	t.nowNanos = func() int64 { return now().UnixNano() }

	// About 4096 flows per shard, between 1 and 256 shards (a power of 2).
	n := 1
	for n < 256 && cfg.MaxFlows/(n*2) >= 4096 {
		n *= 2
	}
	t.shards = make([]shard, n)
	t.mask = uint64(n - 1)
	for i := range t.shards {
		s := &t.shards[i]
		s.index = map[Key]uint32{}
		s.free = none
		s.max = cfg.MaxFlows / n
		if i < cfg.MaxFlows%n {
			s.max++
		}
		for c := range s.lists {
			s.lists[c] = list{none, none}
		}
	}
	start := uint64(t.nowNanos())
	t.nextID.Store(start)
	t.seed = start*0x9e3779b97f4a7c15 | 1
	return t, nil
}

// Start runs the sweeper that removes idle flows. Safe to call twice.
func (t *Table) Start() {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.started || t.closed {
		return
	}
	t.started = true
	t.wg.Go(t.sweeper)
}

// Close stops the sweeper (flows stay; Range still works). Safe to call
// twice.
func (t *Table) Close() error {
	t.startMu.Lock()
	if !t.closed {
		t.closed = true
		close(t.stop)
	}
	t.startMu.Unlock()
	t.wg.Wait()
	return nil
}

func (t *Table) sweeper() {
	tick := time.NewTicker(t.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			if n := t.Sweep(); n > 0 {
				t.cfg.Logger.Debug("flowtable: removed idle flows", "flows", n)
			}
		}
	}
}

// Sweep removes every flow idle past its timeout now and returns how many
// it removed. The sweeper calls it; tests call it with a fake clock.
func (t *Table) Sweep() int {
	total := 0
	for i := range t.shards {
		s := &t.shards[i]
		for {
			now := t.nowNanos()
			s.mu.Lock()
			n := 0
			for c := range numClasses {
				for n < sweepBatch {
					idx := s.lists[c].tail
					if idx == none {
						break
					}
					f := s.flow(idx)
					if now-f.LastSeen < t.idle[c] {
						break
					}
					r := Idle
					if c == classTCPClosing {
						r = Closed
					}
					t.evict(s, idx, r)
					n++
				}
			}
			s.mu.Unlock()
			total += n
			if n < sweepBatch {
				break
			}
		}
	}
	return total
}

// hash spreads keys over shards; the seed makes the spread unpredictable to
// whoever picks addresses and ports.
func (t *Table) shardOf(k *Key) *shard {
	h := t.seed
	for i := 0; i < 16; i += 8 {
		h = mix(h ^ le64(k.A[i:]))
		h = mix(h ^ le64(k.B[i:]))
	}
	h = mix(h ^ uint64(k.APort)<<24 ^ uint64(k.BPort)<<8 ^ uint64(k.Proto))
	return &t.shards[h&t.mask]
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func mix(x uint64) uint64 {
	hi, lo := bits.Mul64(x, 0x9e3779b97f4a7c15)
	return hi ^ lo
}

// Packet is what Track needs to know about a packet.
type Packet struct {
	Tuple
	// Len is the packet's length in bytes (IP header included).
	Len int
	// TCPFlags are the TCP header's flags (TCP only).
	TCPFlags uint8
	// Time is when the packet was read, in unix nanoseconds; 0 means now.
	Time int64
	// FromClient says the sender is known to be the client (the kernel
	// queued the packet because it is the client's): a flow created by it
	// takes the sender as its client whatever the ports say.
	FromClient bool
}

// ephemeralFloor is where operating systems start the ports they pick for
// clients (Linux 32768, IANA 49152).
const ephemeralFloor = 32768

// clientIsSender decides which side of a new flow is the client from its
// first packet: the sender of a SYN, the receiver of a SYN-ACK; for a flow
// picked up mid-stream (a TCP segment without SYN, or a UDP answer whose
// question was not seen) the side with the ephemeral port, when one port is
// below ephemeralFloor and the other is not; else the sender.
func clientIsSender(p *Packet) bool {
	switch {
	case p.FromClient:
		return true
	case p.Proto == ProtoTCP && p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn|TCPAck:
		return false
	case p.Proto == ProtoTCP && p.TCPFlags&TCPSyn != 0:
		return true
	case p.SrcPort < ephemeralFloor && p.DstPort >= ephemeralFloor:
		return false
	}
	return true
}

// Track finds the flow of p, or creates it, accounts p and calls fn with the
// flow locked. dir is p's direction; created says the flow is new (its Src
// and Dst are still to be set). fn must be short and must not do I/O, block,
// or call the table.
func (t *Table) Track(p *Packet, fn func(f *Flow, dir Dir, created bool)) {
	k, fromB := MakeKey(&p.Tuple)
	now := p.Time
	if now == 0 {
		now = t.nowNanos()
	}
	s := t.shardOf(&k)
	s.mu.Lock()
	idx, ok := s.index[k]
	created := !ok
	var f *Flow
	if !ok {
		idx = t.insert(s, &k, now)
		f = s.flow(idx)
		orient(f, p, fromB)
	} else {
		f = s.flow(idx)
		if p.Proto == ProtoTCP && p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn && f.State != TCPOpening {
			// A SYN on a connection past its handshake: the client reused
			// its port for a new connection, the old one is over.
			t.restart(f, now)
			orient(f, p, fromB)
			created = true
		}
	}
	dir := FromClient
	if (f.client == sideB) != fromB {
		dir = FromServer
	}
	f.LastSeen = max(f.LastSeen, now)
	f.Packets[dir]++
	f.Bytes[dir] += uint64(p.Len)
	if p.Proto == ProtoTCP {
		switch {
		case p.TCPFlags&(TCPFin|TCPRst) != 0:
			f.State = TCPClosing
		case f.State == TCPOpening && f.Packets[FromClient] > 0 && f.Packets[FromServer] > 0:
			f.State = TCPEstablished
		}
	}
	s.touch(idx, f)
	fn(f, dir, created)
	s.mu.Unlock()
}

// orient sets a new flow's client side and TCP state from its first packet.
func orient(f *Flow, p *Packet, fromB bool) {
	f.client = sideA
	if fromB == clientIsSender(p) {
		f.client = sideB
	}
	if p.Proto == ProtoTCP && p.TCPFlags&TCPSyn == 0 {
		f.State = TCPEstablished // picked up mid-stream
	}
}

// restart ends a flow whose addresses and ports a new connection took over
// and makes it that new connection's flow: the eviction callback releases
// what the wiring attached (reason Closed), and the flow starts afresh with
// a new ID, in place (its index and list links stay).
func (t *Table) restart(f *Flow, now int64) {
	if t.onEvict != nil {
		t.onEvict(f, Closed)
	}
	t.evicted[Closed].Add(1)
	t.created.Add(1)
	*f = Flow{Key: f.Key, ID: t.nextID.Add(1), Created: now, LastSeen: now, class: f.class, prev: f.prev, next: f.next}
}

// Lookup calls fn with the flow of tuple locked, without creating it or
// counting a packet; it returns false (and does not call fn) when there is
// no such flow.
func (t *Table) Lookup(tuple *Tuple, fn func(f *Flow, dir Dir)) bool {
	k, fromB := MakeKey(tuple)
	s := t.shardOf(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.index[k]
	if !ok {
		return false
	}
	f := s.flow(idx)
	dir := FromClient
	if (f.client == sideB) != fromB {
		dir = FromServer
	}
	fn(f, dir)
	return true
}

// Delete removes the flow of tuple for reason r (EndpointGone);
// it returns false when there is none.
func (t *Table) Delete(tuple *Tuple, r Reason) bool {
	k, _ := MakeKey(tuple)
	s := t.shardOf(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.index[k]
	if ok {
		t.evict(s, idx, r)
	}
	return ok
}

// DeleteIf removes every flow for which match returns true, for reason r
// (e.g. the flows of a container that went away, or all of them), and
// returns how many it removed. match runs with the flow locked and must not
// call the table.
func (t *Table) DeleteIf(match func(f *Flow) bool, r Reason) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, idx := range s.index {
			if match(s.flow(idx)) {
				t.evict(s, idx, r) // deleting from a map while ranging over it is allowed
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Range calls fn for every flow, one shard locked at a time, until fn
// returns false. fn must copy what it keeps and must not call the table.
func (t *Table) Range(fn func(f *Flow) bool) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, idx := range s.index {
			if !fn(s.flow(idx)) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
	}
}

// Len returns the number of flows.
func (t *Table) Len() int { return int(t.active.Load()) }

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	st := Stats{Active: t.Len(), Limit: t.limit, Created: t.created.Load()}
	for r := range numReasons {
		st.Evicted[r] = t.evicted[r].Load()
	}
	return st
}

func (s *shard) flow(idx uint32) *Flow { return &s.chunks[idx>>chunkShift][idx&(chunkSize-1)] }

// insert allocates a slot for k (evicting when the shard is full), indexes
// it and links it. The shard is locked.
func (t *Table) insert(s *shard, k *Key, now int64) uint32 {
	if s.n >= s.max {
		if v := s.victim(); v != none {
			t.evict(s, v, Capacity)
		}
	}
	idx := s.free
	if idx == none {
		base := uint32(len(s.chunks)) << chunkShift
		s.chunks = append(s.chunks, new([chunkSize]Flow))
		// Chain the new chunk's slots, first slot first.
		for i := uint32(chunkSize - 1); i > 0; i-- {
			s.flow(base + i).next = s.free
			s.free = base + i
		}
		idx = base
	} else {
		s.free = s.flow(idx).next
	}
	f := s.flow(idx)
	*f = Flow{Key: *k, ID: t.nextID.Add(1), Created: now, LastSeen: now, prev: none, next: none}
	f.class = classOf(f)
	s.index[*k] = idx
	s.n++
	t.active.Add(1)
	t.created.Add(1)
	s.pushFront(idx, f)
	return idx
}

// victim picks the flow to evict for room: the least recently used among
// flows that are not established TCP connections, else the least recently
// used established one.
func (s *shard) victim() uint32 {
	best, bestSeen := none, int64(0)
	for c := range numClasses {
		if c == classTCPEstablished {
			continue
		}
		if idx := s.lists[c].tail; idx != none {
			if f := s.flow(idx); best == none || f.LastSeen < bestSeen {
				best, bestSeen = idx, f.LastSeen
			}
		}
	}
	if best == none {
		best = s.lists[classTCPEstablished].tail
	}
	return best
}

func (t *Table) evict(s *shard, idx uint32, r Reason) {
	f := s.flow(idx)
	if t.onEvict != nil {
		t.onEvict(f, r)
	}
	s.unlink(idx, f)
	delete(s.index, f.Key)
	*f = Flow{next: s.free}
	s.free = idx
	s.n--
	t.active.Add(-1)
	t.evicted[r].Add(1)
}

// touch moves a flow to the front of its class list, changing lists when
// its class changed.
func (s *shard) touch(idx uint32, f *Flow) {
	c := classOf(f)
	if c == f.class && s.lists[c].head == idx {
		return
	}
	s.unlink(idx, f)
	f.class = c
	s.pushFront(idx, f)
}

func (s *shard) pushFront(idx uint32, f *Flow) {
	l := &s.lists[f.class]
	f.prev, f.next = none, l.head
	if l.head != none {
		s.flow(l.head).prev = idx
	} else {
		l.tail = idx
	}
	l.head = idx
}

func (s *shard) unlink(idx uint32, f *Flow) {
	l := &s.lists[f.class]
	if f.prev != none {
		s.flow(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != none {
		s.flow(f.next).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = none, none
}
