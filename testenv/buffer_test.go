package testenv

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestBuffer writes from several goroutines while reading (go test -race
// checks the locking) and then finds every write whole.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	const writers, lines = 4, 100
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(&b, "writer %d line %d\n", w, i)
			}
		})
	}
	for b.Len() == 0 || strings.Count(b.String(), "\n") < writers*lines {
		_ = b.String() // read while the writers write
		if b.Len() > 1<<20 {
			t.Fatalf("runaway buffer: %d bytes", b.Len())
		}
	}
	wg.Wait()
	got := b.String()
	if b.Len() != len(got) {
		t.Errorf("Len() = %d, len(String()) = %d", b.Len(), len(got))
	}
	for w := range writers {
		for i := range lines {
			if line := fmt.Sprintf("writer %d line %d\n", w, i); !strings.Contains(got, line) {
				t.Errorf("missing or torn write %q", line)
			}
		}
	}
}
