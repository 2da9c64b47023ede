// Package fakeclock is a clock that tests move by hand, for the components
// that take their clock as a collaborator (sinks.WithClock, pipeline.Deps.Now).
package fakeclock

import (
	"sync"
	"time"
)

// Clock is safe for the component reading it and the test moving it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
