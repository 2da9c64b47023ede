// Package wait waits for a condition by polling it until it holds or a
// deadline passes: the one helper that tests and the bench use instead of
// sleeping for a guessed time, and a buffer that a writer and a poller can
// share.
package wait

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Until calls check every interval until it reports done, or ctx ends. An
// error from check does not stop the polling (the condition may still come
// true); when ctx ends, the error names what was awaited and check's last
// error.
func Until(ctx context.Context, interval time.Duration, what string, check func() (bool, error)) error {
	tick := time.NewTicker(interval)
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
				return fmt.Errorf("waiting for %s: %w (last: %w)", what, context.Cause(ctx), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// For fails t unless cond holds within timeout. The deadline only stops a
// test whose condition never comes true; it asserts nothing about timing.
// cond is polled about 600 times over the timeout, every 5 to 100 ms, so
// that a costly condition (listing a bucket) is not polled in a busy loop.
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	interval := min(max(timeout/600, 5*time.Millisecond), 100*time.Millisecond)
	err := Until(ctx, interval, what, func() (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out after %s %v", timeout, err)
	}
}

// SyncBuffer is a bytes.Buffer that a writer (a logger, a command's
// output) and a poller may use at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
