package wait

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Until returns once the condition holds, keeps polling through errors,
// and names what it waited for (and the last error) when ctx ends.
func TestUntil(t *testing.T) {
	var n atomic.Int32
	err := Until(context.Background(), time.Millisecond, "the third call", func() (bool, error) {
		if n.Add(1) < 3 {
			return false, errors.New("not yet")
		}
		return true, nil
	})
	if err != nil || n.Load() != 3 {
		t.Fatalf("Until = %v after %d calls, want nil after 3", err, n.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = Until(ctx, time.Millisecond, "never", func() (bool, error) { return false, errors.New("still down") })
	if err == nil || !strings.Contains(err.Error(), "waiting for never") || !strings.Contains(err.Error(), "still down") {
		t.Fatalf("Until = %v, want it to name what and the last error", err)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() { defer close(done); b.Write([]byte("a")) }() //nolint:errcheck
	For(t, 5*time.Second, "the write", func() bool { return b.String() == "a" })
	<-done
}
