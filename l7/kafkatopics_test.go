package l7

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kafkaTestID returns a topic id made from n.
func kafkaTestID(n int) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[8:], uint64(n)+1)
	id[0] = 0x42
	return id
}

// kafkaState prints what Lookup says of each id.
func kafkaState(k *KafkaTopics, ids ...[16]byte) []string {
	var out []string
	for _, id := range ids {
		name, st := k.Lookup(id)
		switch st {
		case KafkaTopicKnown:
			out = append(out, name)
		case KafkaTopicConflict:
			out = append(out, "conflict")
		default:
			out = append(out, "unknown")
		}
	}
	return out
}

func TestKafkaTopicsAnnounce(t *testing.T) {
	a, b, c := kafkaTestID(1), kafkaTestID(2), kafkaTestID(3)
	tests := []struct {
		name     string
		announce []kafkaNamed
		taken    []bool
		want     []string // Lookup of a, b, c
	}{
		{name: "empty", want: []string{"unknown", "unknown", "unknown"}},
		{
			name:     "known and unknown ids",
			announce: []kafkaNamed{{"orders", a}, {"audit", b}},
			taken:    []bool{true, true},
			want:     []string{"orders", "audit", "unknown"},
		},
		{
			name:     "announced again with the same name",
			announce: []kafkaNamed{{"orders", a}, {"orders", a}},
			taken:    []bool{true, true},
			want:     []string{"orders", "unknown", "unknown"},
		},
		{
			name:     "two names for one id: conflict, for good",
			announce: []kafkaNamed{{"orders", a}, {"payments", a}, {"orders", a}},
			taken:    []bool{true, true, true},
			want:     []string{"conflict", "unknown", "unknown"},
		},
		{
			name: "illegal names and the null id are ignored",
			announce: []kafkaNamed{{"", a}, {"a/b", a}, {"..", a}, {"with space", b}, {string(make([]byte, 250)), b},
				{"orders", [16]byte{}}, {"Legal.name_0-9", c}},
			taken: []bool{false, false, false, false, false, false, true},
			want:  []string{"unknown", "unknown", "Legal.name_0-9"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKafkaTopics(0)
			var taken []bool
			for _, n := range tc.announce {
				taken = append(taken, k.Announce(n.id, []byte(n.name)))
			}
			if diff := cmp.Diff(tc.taken, taken); diff != "" {
				t.Errorf("Announce results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, kafkaState(k, a, b, c)); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKafkaTopicsNil(t *testing.T) {
	var k *KafkaTopics
	if k.Announce(kafkaTestID(1), []byte("orders")) {
		t.Error("a nil KafkaTopics took a name")
	}
	if _, st := k.Lookup(kafkaTestID(1)); st != KafkaTopicUnknown || k.Len() != 0 {
		t.Errorf("nil KafkaTopics: state %v, len %d", st, k.Len())
	}
}

// TestKafkaTopicsBounded: the map never holds more than max ids; the clock
// evicts ids not used since the hand last passed and spares the others.
func TestKafkaTopicsBounded(t *testing.T) {
	k := NewKafkaTopics(4)
	for i := 0; i < 4; i++ {
		k.Announce(kafkaTestID(i), []byte(fmt.Sprint("t", i)))
	}
	// New ids start without a reference (a burst of announcements does not
	// push out ids in use): the fifth id takes the first slot.
	k.Announce(kafkaTestID(4), []byte("t4"))
	if diff := cmp.Diff([]string{"unknown", "t1", "t2", "t3", "t4"},
		kafkaState(kafkaTopicsCopy(k), kafkaTestID(0), kafkaTestID(1), kafkaTestID(2), kafkaTestID(3), kafkaTestID(4))); diff != "" {
		t.Fatalf("after the first eviction (-want +got):\n%s", diff)
	}
	// t2 is used; the next two announcements evict t1 and t3, not t2.
	k.Lookup(kafkaTestID(2))
	k.Announce(kafkaTestID(5), []byte("t5"))
	k.Announce(kafkaTestID(6), []byte("t6"))
	got := kafkaState(kafkaTopicsCopy(k), kafkaTestID(1), kafkaTestID(2), kafkaTestID(3), kafkaTestID(4), kafkaTestID(5), kafkaTestID(6))
	if diff := cmp.Diff([]string{"unknown", "t2", "unknown", "t4", "t5", "t6"}, got); diff != "" {
		t.Errorf("second chance (-want +got):\n%s", diff)
	}
	for i := 7; i < 1000; i++ {
		k.Announce(kafkaTestID(i), []byte(fmt.Sprint("t", i)))
		if n := k.Len(); n > 4 {
			t.Fatalf("%d ids held, max 4", n)
		}
	}
	if _, st := k.Lookup(kafkaTestID(999)); st != KafkaTopicKnown {
		t.Error("the last id announced was evicted")
	}
	// A conflicting entry is evicted like any other, and the id may then
	// be learnt afresh.
	k.Announce(kafkaTestID(999), []byte("other"))
	for i := 1000; i < 1010; i++ {
		k.Announce(kafkaTestID(i), []byte(fmt.Sprint("t", i)))
	}
	k.Announce(kafkaTestID(999), []byte("t999"))
	if diff := cmp.Diff([]string{"t999"}, kafkaState(k, kafkaTestID(999))); diff != "" {
		t.Errorf("after eviction of a conflict (-want +got):\n%s", diff)
	}
}

// kafkaTopicsCopy returns a copy of k's ids and names that lookups can
// inspect without setting k's reference bits.
func kafkaTopicsCopy(k *KafkaTopics) *KafkaTopics {
	k.mu.RLock()
	defer k.mu.RUnlock()
	c := NewKafkaTopics(k.max)
	for id, i := range k.index {
		s := &k.slots[i]
		c.Announce(id, []byte(s.name))
		if s.conflict {
			c.Announce(id, []byte(s.name+"x"))
		}
	}
	return c
}

// TestKafkaTopicsConcurrent announces and looks up from several goroutines
// at once (run with -race); names never mix up.
func TestKafkaTopicsConcurrent(t *testing.T) {
	k := NewKafkaTopics(64)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				n := (i*7 + g) % 200
				id := kafkaTestID(n)
				want := fmt.Sprint("topic-", n)
				if g%2 == 0 {
					k.Announce(id, []byte(want))
					continue
				}
				if name, st := k.Lookup(id); st == KafkaTopicKnown && name != want {
					errs <- fmt.Errorf("id %d resolves to %q, want %q", n, name, want)
					return
				} else if st == KafkaTopicConflict {
					errs <- fmt.Errorf("id %d in conflict", n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := k.Len(); n > 64 {
		t.Errorf("%d ids held, max 64", n)
	}
}

// TestKafkaTopicsAllocs: looking up, and announcing a known pair again, do
// not allocate (the packet path does both).
func TestKafkaTopicsAllocs(t *testing.T) {
	k := NewKafkaTopics(0)
	id, name := kafkaTestID(1), []byte("orders")
	k.Announce(id, name)
	if n := testing.AllocsPerRun(100, func() {
		k.Lookup(id)
		k.Lookup(kafkaTestID(2))
		k.Announce(id, name)
	}); n != 0 {
		t.Errorf("%.1f allocations", n)
	}
}
