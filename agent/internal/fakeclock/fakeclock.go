// Package fakeclock is a settable clock for tests of the agent's packages.
package fakeclock

import (
	"sync"
	"time"
)

// Start is where New clocks start: 2025-03-01 12:00:00 UTC.
var Start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a clock that moves only when told. It is safe for concurrent
// use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock at Start.
func New() *Clock { return &Clock{t: Start} }

// Now returns the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
