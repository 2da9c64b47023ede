package testenv

import (
	"context"
	"fmt"
	"time"
)

// poll calls check every 100 ms until it says done, or ctx ends; the error
// then names what was awaited and check's last error.
func poll(ctx context.Context, what string, check func() (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := check()
		if done && err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("testenv: waiting for %s: %w (last: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("testenv: waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}
