package identity

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DNSRecord is one answer record as the wiring hands it over from the DNS
// parser: an address record (Addr set) or a CNAME (Target set).
type DNSRecord struct {
	Name   string
	TTL    uint32 // seconds
	Addr   netip.Addr
	Target string // CNAME target
}

// FQDNMap remembers which DNS names resolved to which addresses, from the
// DNS answers the agent sees, so that an external address can be named by
// the FQDN that resolved it and FQDN rules can match it.
//
// Each (name, address) pair is remembered until its TTL expires, but at
// least TTLFloor (clients cache answers longer than some servers say, and
// connect after the answer). The map holds at most Max pairs; when full, the
// pair least recently refreshed by an answer goes first. It is safe for
// concurrent use; lookups take a read lock and do not allocate.
type FQDNMap struct {
	floor time.Duration
	max   int
	now   func() time.Time

	mu     sync.RWMutex
	pairs  map[fqdnKey]*fqdnEntry
	byIP   map[netip.Addr]*fqdnEntry // most recently refreshed first
	byName map[string]*fqdnEntry
	lru    fqdnEntry // sentinel: lru.next is the most recent, lru.prev the least

	evicted, expired atomic.Uint64
}

type fqdnKey struct {
	name string
	ip   netip.Addr
}

type fqdnEntry struct {
	fqdnKey
	expires          int64 // unix nanoseconds
	prev, next       *fqdnEntry
	ipPrev, ipNext   *fqdnEntry
	namePrev, nameNx *fqdnEntry
}

// NewFQDNMap returns an empty map keeping at most maxPairs pairs (at least 1)
// for at least floor each; now is the clock (time.Now when nil).
func NewFQDNMap(floor time.Duration, maxPairs int, now func() time.Time) *FQDNMap {
	if now == nil {
		now = time.Now
	}
	m := &FQDNMap{
		floor:  floor,
		max:    max(maxPairs, 1),
		now:    now,
		pairs:  map[fqdnKey]*fqdnEntry{},
		byIP:   map[netip.Addr]*fqdnEntry{},
		byName: map[string]*fqdnEntry{},
	}
	m.lru.next, m.lru.prev = &m.lru, &m.lru
	return m
}

// Observe records that name resolved to addr with this TTL.
func (m *FQDNMap) Observe(name string, addr netip.Addr, ttl time.Duration) {
	name = normName(name)
	addr = normAddr(addr)
	if name == "" || !addr.IsValid() {
		return
	}
	now := m.now().UnixNano()
	exp := now + int64(max(ttl, m.floor))
	m.mu.Lock()
	defer m.mu.Unlock()
	k := fqdnKey{name, addr}
	if e, ok := m.pairs[k]; ok {
		e.expires = max(e.expires, exp)
		m.unlink(e)
		m.link(e)
		return
	}
	m.expireTail(now, 2)
	for len(m.pairs) >= m.max {
		m.remove(m.lru.prev)
		m.evicted.Add(1)
	}
	e := &fqdnEntry{fqdnKey: fqdnKey{strings.Clone(name), addr}, expires: exp}
	m.pairs[e.fqdnKey] = e
	m.link(e)
}

// ObserveResponse records a DNS response to a query for qname: every
// address reached from qname (directly or through CNAMEs in the answer) is
// remembered under qname and under every name of the chain, with the
// smallest TTL along the chain. Records not reached from qname are
// remembered under their own name.
//
// An answer without CNAMEs (the common case) is recorded without allocating
// once its pairs are known.
func (m *FQDNMap) ObserveResponse(qname string, answers []DNSRecord) {
	if !hasCNAME(answers) {
		// Every address record is reached from qname or stands alone:
		// either way it is remembered under its own name.
		for _, r := range answers {
			if r.Addr.IsValid() {
				m.Observe(r.Name, r.Addr, time.Duration(r.TTL)*time.Second)
			}
		}
		return
	}
	qname = normName(qname)
	// Names reachable from qname through CNAMEs, with the least TTL so far.
	type hop struct {
		ttl   uint32
		chain []string
	}
	reach := map[string]hop{qname: {ttl: ^uint32(0), chain: []string{qname}}}
	for changed := true; changed; {
		changed = false
		for _, r := range answers {
			if r.Target == "" {
				continue
			}
			from, to := normName(r.Name), normName(r.Target)
			h, ok := reach[from]
			if _, seen := reach[to]; !ok || seen {
				continue
			}
			reach[to] = hop{ttl: min(h.ttl, r.TTL), chain: append(append([]string(nil), h.chain...), to)}
			changed = true
		}
	}
	for _, r := range answers {
		if !r.Addr.IsValid() {
			continue
		}
		h, ok := reach[normName(r.Name)]
		if !ok {
			m.Observe(r.Name, r.Addr, time.Duration(r.TTL)*time.Second)
			continue
		}
		ttl := time.Duration(min(h.ttl, r.TTL)) * time.Second
		for _, n := range h.chain {
			m.Observe(n, r.Addr, ttl)
		}
	}
}

func hasCNAME(answers []DNSRecord) bool {
	for _, r := range answers {
		if r.Target != "" {
			return true
		}
	}
	return false
}

// Name returns the most recently seen unexpired name of addr.
func (m *FQDNMap) Name(addr netip.Addr) (string, bool) {
	addr = normAddr(addr)
	now := m.now().UnixNano()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for e := m.byIP[addr]; e != nil; e = e.ipNext {
		if e.expires > now {
			return e.name, true
		}
	}
	return "", false
}

// AppendNames appends every unexpired name of addr to dst, most recent
// first. It does not allocate when dst has room.
func (m *FQDNMap) AppendNames(dst []string, addr netip.Addr) []string {
	addr = normAddr(addr)
	now := m.now().UnixNano()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for e := m.byIP[addr]; e != nil; e = e.ipNext {
		if e.expires > now {
			dst = append(dst, e.name)
		}
	}
	return dst
}

// AppendAddrs appends every unexpired address of name to dst, most recent
// first.
func (m *FQDNMap) AppendAddrs(dst []netip.Addr, name string) []netip.Addr {
	name = normName(name)
	now := m.now().UnixNano()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for e := m.byName[name]; e != nil; e = e.nameNx {
		if e.expires > now {
			dst = append(dst, e.ip)
		}
	}
	return dst
}

// Sweep removes every expired pair and returns how many it removed.
func (m *FQDNMap) Sweep() int {
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for e := m.lru.prev; e != &m.lru; {
		prev := e.prev
		if e.expires <= now {
			m.remove(e)
			n++
		}
		e = prev
	}
	m.expired.Add(uint64(n))
	return n
}

// FQDNStats are the map's counters.
type FQDNStats struct {
	Pairs   int    // pairs held now
	Evicted uint64 // pairs removed because the map was full
	Expired uint64 // pairs removed because their TTL passed
}

// Stats returns the map's counters.
func (m *FQDNMap) Stats() FQDNStats {
	m.mu.RLock()
	n := len(m.pairs)
	m.mu.RUnlock()
	return FQDNStats{Pairs: n, Evicted: m.evicted.Load(), Expired: m.expired.Load()}
}

// expireTail removes up to n expired pairs from the least recent end.
func (m *FQDNMap) expireTail(now int64, n int) {
	for ; n > 0 && m.lru.prev != &m.lru && m.lru.prev.expires <= now; n-- {
		m.remove(m.lru.prev)
		m.expired.Add(1)
	}
}

// link puts e at the most recent end of every list.
func (m *FQDNMap) link(e *fqdnEntry) {
	e.next, e.prev = m.lru.next, &m.lru
	e.next.prev, m.lru.next = e, e

	if h := m.byIP[e.ip]; h != nil {
		h.ipPrev = e
	}
	e.ipNext, e.ipPrev = m.byIP[e.ip], nil
	m.byIP[e.ip] = e

	if h := m.byName[e.name]; h != nil {
		h.namePrev = e
	}
	e.nameNx, e.namePrev = m.byName[e.name], nil
	m.byName[e.name] = e
}

// unlink takes e out of every list.
func (m *FQDNMap) unlink(e *fqdnEntry) {
	e.prev.next, e.next.prev = e.next, e.prev

	if e.ipPrev != nil {
		e.ipPrev.ipNext = e.ipNext
	} else if e.ipNext != nil {
		m.byIP[e.ip] = e.ipNext
	} else {
		delete(m.byIP, e.ip)
	}
	if e.ipNext != nil {
		e.ipNext.ipPrev = e.ipPrev
	}

	if e.namePrev != nil {
		e.namePrev.nameNx = e.nameNx
	} else if e.nameNx != nil {
		m.byName[e.name] = e.nameNx
	} else {
		delete(m.byName, e.name)
	}
	if e.nameNx != nil {
		e.nameNx.namePrev = e.namePrev
	}
	e.prev, e.next, e.ipPrev, e.ipNext, e.namePrev, e.nameNx = nil, nil, nil, nil, nil, nil
}

func (m *FQDNMap) remove(e *fqdnEntry) {
	m.unlink(e)
	delete(m.pairs, e.fqdnKey)
}
