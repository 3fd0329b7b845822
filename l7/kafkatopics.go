package l7

import (
	"sync"
	"sync/atomic"
)

// DefaultKafkaTopics is how many topic ids a KafkaTopics made by the engine
// remembers.
const DefaultKafkaTopics = 4096

// kafkaMaxTopicName is Kafka's longest legal topic name.
const kafkaMaxTopicName = 249

// KafkaTopics maps Kafka topic ids to topic names. Modern clients name the
// topics of Produce (v13) and Fetch (v13 and later) requests by id only,
// and learn the names from Metadata responses, often on another connection
// than the one that produces. The engine's Kafka parser records every
// (id, name) pair the server side of any Kafka flow announces (Metadata v10
// and later, CreateTopics v7, DescribeTopicPartitions) and looks ids up
// when it reports a request, so that policies can match topic names.
//
// It is bounded: at most max ids, replaced in CLOCK order (an id looked up
// or announced again since the hand last passed gets a second chance; a new
// id has none yet, so that a burst of new ids does not push out those in
// use). It is safe
// for concurrent use; lookups take a read lock and do not allocate, and so
// does announcing a pair that is already known.
//
// Trust: the names come from the bytes of inspected flows. An id announced
// with two different names (a topic id is a random UUID that never changes
// name, so that only happens when a server lies) is marked conflicting and
// resolves to nothing until it is evicted: requests for it are then
// reported with the id, which no name rule matches.
type KafkaTopics struct {
	mu    sync.RWMutex
	max   int
	index map[[16]byte]int32 // id → slot
	slots []kafkaTopicSlot
	hand  int
}

type kafkaTopicSlot struct {
	id       [16]byte
	name     string
	conflict bool
	// ref is set by lookups and announcements (under the read lock) and
	// cleared by the clock hand (under the write lock).
	ref atomic.Bool
}

// KafkaTopicState says what Lookup knows of an id.
type KafkaTopicState uint8

const (
	// KafkaTopicUnknown: the id was never announced (or was evicted).
	KafkaTopicUnknown KafkaTopicState = iota
	// KafkaTopicKnown: the name is known.
	KafkaTopicKnown
	// KafkaTopicConflict: the id was announced with different names.
	KafkaTopicConflict
)

// NewKafkaTopics returns an empty map that remembers up to max ids
// (DefaultKafkaTopics when max ≤ 0).
func NewKafkaTopics(max int) *KafkaTopics {
	if max <= 0 {
		max = DefaultKafkaTopics
	}
	return &KafkaTopics{max: max, index: make(map[[16]byte]int32)}
}

// Lookup returns the name of topic id. The name is valid for as long as
// the caller likes (it is never modified).
func (k *KafkaTopics) Lookup(id [16]byte) (string, KafkaTopicState) {
	if k == nil {
		return "", KafkaTopicUnknown
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	i, ok := k.index[id]
	if !ok {
		return "", KafkaTopicUnknown
	}
	s := &k.slots[i]
	s.touch()
	if s.conflict {
		return "", KafkaTopicConflict
	}
	return s.name, KafkaTopicKnown
}

// Announce records that topic id is named name, as a server said. Names
// that are not legal Kafka topic names (1 to 249 of a-z, A-Z, 0-9, '.',
// '_', '-'; not "." or "..") and the null id are ignored; it reports whether the pair was
// taken. name is copied.
func (k *KafkaTopics) Announce(id [16]byte, name []byte) bool {
	if k == nil || id == ([16]byte{}) || !kafkaLegalTopic(name) {
		return false
	}
	k.mu.RLock()
	i, ok := k.index[id]
	if ok {
		s := &k.slots[i]
		if !s.conflict && s.name == string(name) {
			s.touch()
			k.mu.RUnlock()
			return true
		}
	}
	k.mu.RUnlock()

	k.mu.Lock()
	defer k.mu.Unlock()
	if i, ok := k.index[id]; ok {
		s := &k.slots[i]
		if s.name != string(name) {
			s.conflict = true
		}
		s.touch()
		return true
	}
	slot := k.victim()
	if slot < 0 {
		slot = len(k.slots)
		k.slots = append(k.slots, kafkaTopicSlot{})
	} else {
		delete(k.index, k.slots[slot].id)
	}
	s := &k.slots[slot]
	s.id, s.name, s.conflict = id, string(name), false
	s.ref.Store(false)
	k.index[id] = int32(slot)
	return true
}

// Len returns how many ids are remembered.
func (k *KafkaTopics) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.index)
}

// victim returns the slot to reuse, or -1 when there is room for a new one.
// The clock hand clears the reference bits it passes and stops at the first
// slot without one. Called with the write lock held.
func (k *KafkaTopics) victim() int {
	if len(k.slots) < k.max {
		return -1
	}
	for {
		s := &k.slots[k.hand]
		i := k.hand
		k.hand = (k.hand + 1) % len(k.slots)
		if !s.ref.Swap(false) {
			return i
		}
	}
}

// touch sets the slot's reference bit, writing only when it is clear.
func (s *kafkaTopicSlot) touch() {
	if !s.ref.Load() {
		s.ref.Store(true)
	}
}

// kafkaLegalTopic reports whether b is a legal Kafka topic name.
func kafkaLegalTopic(b []byte) bool {
	if len(b) == 0 || len(b) > kafkaMaxTopicName || string(b) == "." || string(b) == ".." {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
