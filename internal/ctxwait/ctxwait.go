// Package ctxwait holds the waits of production code that a stop must be
// able to cut short: for time to pass, for a WaitGroup, and a look at
// whether a done channel is closed. (Package wait is the tests' and the
// bench's polling; it imports testing, which the binary must not.)
package ctxwait

import (
	"context"
	"sync"
	"time"
)

// Sleep waits d, or less when ctx ends first: then it returns ctx's cause.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Group waits for wg, or until ctx ends: then it returns ctx's cause, and
// the goroutine that waits for wg lingers until wg is done.
func Group(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Closed reports whether ch is closed, without waiting.
func Closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
