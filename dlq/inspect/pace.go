package inspect

import (
	"context"
	"time"

	"github.com/redrive-io/redrive/internal/ctxwait"
)

// Pacer spaces out sends to at most Rate records per second: each Wait for n
// records returns no earlier than n/Rate seconds after the previous Wait
// returned. A nil Pacer or a Rate of 0 does not wait.
type Pacer struct {
	// Rate is records per second; 0 is unlimited.
	Rate float64
	// Now and Sleep are the clock; nil uses the real one. Sleep returns
	// early with ctx's error when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	next time.Time
}

// Wait blocks until n more records may be sent.
func (p *Pacer) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil || p == nil || p.Rate <= 0 {
		return err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	sleep := ctxwait.Sleep
	if p.Sleep != nil {
		sleep = p.Sleep
	}
	t := now()
	if p.next.After(t) {
		if err := sleep(ctx, p.next.Sub(t)); err != nil {
			return err
		}
		t = p.next
	}
	p.next = t.Add(time.Duration(float64(n) / p.Rate * float64(time.Second)))
	return nil
}

// chunk is how many records to send at once: about a tenth of a second's
// worth at the rate, between 1 and 100.
func (p *Pacer) chunk() int {
	if p == nil || p.Rate <= 0 {
		return 100
	}
	return min(max(int(p.Rate/10), 1), 100)
}
