package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// seriesSet hands out the counter children of a CounterVec by a comparable
// key, creating each child on first use and caching it. Lookups of known
// keys read an immutable map through an atomic pointer: no lock and no
// write to shared memory, so queue readers on many CPUs do not contend. New
// keys go through a mutex-guarded map that is copied into the read map
// after as many misses as it has entries (amortised O(1) per new key, as in
// sync.Map, but typed: no boxing, no allocation per lookup).
//
// At most limit series are created for keys as given (limit ≤ 0: no cap).
// Past the cap, an observation of a new key is counted under the series of
// fold(key) instead — a key whose high-cardinality fields are "other" — and
// counted in folded. Folded series do not count against the cap.
type seriesSet[K comparable] struct {
	vec    *prometheus.CounterVec
	labels func(K) []string // label values of a key, in the vec's label order
	fold   func(K) K
	limit  int
	folded prometheus.Counter // counts folded observations; may be nil

	read     atomic.Pointer[map[K]*seriesEntry] // immutable; a subset of all
	complete atomic.Bool                        // read holds every unfolded series
	unfolded atomic.Int64                       // series created for keys as given

	mu     sync.Mutex
	all    map[K]*seriesEntry // every series; guarded by mu
	misses int                // lookups that missed read since it was last copied
}

type seriesEntry struct {
	c      prometheus.Counter
	used   atomic.Bool // observed since the last sweep
	folded bool
}

func newSeriesSet[K comparable](vec *prometheus.CounterVec, labels func(K) []string, fold func(K) K, limit int, folded prometheus.Counter) *seriesSet[K] {
	s := &seriesSet[K]{vec: vec, labels: labels, fold: fold, limit: limit, folded: folded, all: make(map[K]*seriesEntry)}
	s.read.Store(&map[K]*seriesEntry{})
	s.complete.Store(true)
	return s
}

// get returns the counter of key k, creating (or folding) it on first use.
func (s *seriesSet[K]) get(k K) prometheus.Counter {
	e := (*s.read.Load())[k]
	if e == nil {
		e = s.slow(k)
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e.c
}

func (s *seriesSet[K]) full() bool {
	return s.limit > 0 && s.unfolded.Load() >= int64(s.limit)
}

func (s *seriesSet[K]) slow(k K) *seriesEntry {
	if s.full() && s.complete.Load() {
		// The read map holds every series created for keys as given, and
		// no more can be: k is new, or was published after our first look.
		// A flood of new keys past the cap is folded without the lock.
		if e := (*s.read.Load())[k]; e != nil {
			return e
		}
		s.countFolded()
		k = s.fold(k)
		if e := (*s.read.Load())[k]; e != nil {
			return e
		}
		return s.lockedGet(k, true)
	}
	return s.lockedGet(k, false)
}

func (s *seriesSet[K]) countFolded() {
	if s.folded != nil {
		s.folded.Inc()
	}
}

// lockedGet finds or creates the entry of k under the lock. folded is true
// when k is already a folded key.
func (s *seriesSet[K]) lockedGet(k K, folded bool) *seriesEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.all[k]
	if e == nil && !folded && s.full() {
		s.countFolded()
		k, folded = s.fold(k), true
		e = s.all[k]
	}
	if e == nil {
		e = &seriesEntry{c: s.vec.WithLabelValues(s.labels(k)...), folded: folded}
		if !folded {
			// Before the count: whoever sees the new count sees this too.
			s.complete.Store(false)
		}
		s.all[k] = e
		if !folded {
			s.unfolded.Add(1)
		}
	}
	// Publish once the cap is reached, so that lookups past it need no
	// lock; otherwise after as many misses as there are series.
	if s.misses++; s.misses >= len(s.all) || (s.full() && !s.complete.Load()) {
		s.publishLocked()
	}
	return e
}

// publishLocked copies every series into a new read map.
func (s *seriesSet[K]) publishLocked() {
	m := make(map[K]*seriesEntry, len(s.all))
	for k, e := range s.all {
		m[k] = e
	}
	s.read.Store(&m)
	s.misses = 0
	s.complete.Store(true)
}

// count returns the number of series created for keys as given.
func (s *seriesSet[K]) count() int { return int(s.unfolded.Load()) }

// sweep deletes the series not observed since the previous sweep, so that
// series of workloads that went away stop being exported and free room
// under the cap. It returns the number of series deleted. An observation
// racing with the deletion of its own series may be lost; that series had
// been idle for a whole sweep period.
func (s *seriesSet[K]) sweep() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.all {
		if e.used.Swap(false) {
			continue
		}
		s.vec.DeleteLabelValues(s.labels(k)...)
		delete(s.all, k)
		if !e.folded {
			s.unfolded.Add(-1)
		}
		n++
	}
	s.publishLocked()
	return n
}

// counterTable holds the children of a CounterVec for a fixed, small index
// space (e.g. HTTP method × status class), created on first use so that
// combinations never seen are not exported.
type counterTable struct {
	vec    *prometheus.CounterVec
	labels func(i int) []string
	cells  []atomic.Pointer[counterCell]
}

type counterCell struct{ prometheus.Counter }

func newCounterTable(vec *prometheus.CounterVec, size int, labels func(i int) []string) *counterTable {
	return &counterTable{vec: vec, labels: labels, cells: make([]atomic.Pointer[counterCell], size)}
}

// at returns the counter of index i.
func (t *counterTable) at(i int) prometheus.Counter {
	if c := t.cells[i].Load(); c != nil {
		return c.Counter
	}
	// WithLabelValues returns the same child for the same labels, so a race
	// between two first uses is harmless.
	t.cells[i].CompareAndSwap(nil, &counterCell{t.vec.WithLabelValues(t.labels(i)...)})
	return t.cells[i].Load().Counter
}
