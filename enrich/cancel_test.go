package enrich

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/redrive-io/redrive/internal/wait"
)

// enrichAsync runs Enrich in a goroutine and returns its error channel.
func enrichAsync(ctx context.Context, c *Client) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Enrich(ctx, []byte(`{}`), nil)
		done <- err
	}()
	return done
}

// awaitDone returns the error from done, failing the test if it takes more than
// a generous guard (this is a hang detector, not a timing assertion).
func awaitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Enrich did not return after its context was cancelled")
		return nil
	}
}

// TestCancel proves that when the caller's context ends (shutdown,
// rebalance) Enrich returns ClassCanceled promptly, whatever it was doing,
// that ClassCanceled is neither transient nor permanent for the breaker (a
// breaker that opens on 1 failure stays closed), and that it is not mistaken
// for a per-request timeout.
func TestCancel(t *testing.T) {
	arrived := func(ch chan struct{}) func() bool {
		return func() bool {
			select {
			case <-ch:
				return true
			default:
				return false
			}
		}
	}

	t.Run("already cancelled: no request", func(t *testing.T) {
		srv := newCountingServer(t, okJSON)
		c, _ := testClient(t, Config{URL: srv.URL, BreakerFailures: 1})
		ctx, cancel := context.WithCancel(bg)
		cancel()
		_, err := c.Enrich(ctx, []byte(`{}`), nil)
		if ClassOf(err) != ClassCanceled || !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want canceled wrapping context.Canceled", err)
		}
		if n := srv.requests.Load(); n != 0 {
			t.Errorf("server saw %d requests, want 0", n)
		}
	})

	t.Run("during the request", func(t *testing.T) {
		in := make(chan struct{}, 1)
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { in <- struct{}{}; hang(w, r) })
		c, _ := testClient(t, Config{URL: srv.URL, BreakerFailures: 1, Timeout: time.Minute})
		ctx, cancel := context.WithCancel(bg)
		done := enrichAsync(ctx, c)
		wait.For(t, 5*time.Second, "the request at the server", arrived(in))
		cancel()
		err := awaitDone(t, done)
		if ClassOf(err) != ClassCanceled || IsRetryable(err) {
			t.Fatalf("err %v, want canceled, not retryable", err)
		}
		if got := c.BreakerState(); got != gobreaker.StateClosed {
			t.Errorf("breaker %s: a cancelled call was counted as a failure", got)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("server saw %d requests, want 1 (no retry after cancel)", n)
		}
	})

	t.Run("neither failure nor success for the breaker", func(t *testing.T) {
		// BreakerFailures=2: 503, cancelled call, 503 must open the breaker.
		// Counted as a success the cancelled call would reset the streak;
		// counted as a failure it would open the breaker by itself.
		in := make(chan struct{}, 1)
		srv := newCountingServer(t, status(503, "x"))
		c, _ := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 2, BreakerOpenFor: time.Hour, Timeout: time.Minute})
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
		srv.setHandler(func(w http.ResponseWriter, r *http.Request) { in <- struct{}{}; hang(w, r) })
		ctx, cancel := context.WithCancel(bg)
		done := enrichAsync(ctx, c)
		wait.For(t, 5*time.Second, "the request at the server", arrived(in))
		cancel()
		if err := awaitDone(t, done); ClassOf(err) != ClassCanceled {
			t.Fatalf("err %v, want canceled", err)
		}
		if got := c.BreakerState(); got != gobreaker.StateClosed {
			t.Fatalf("breaker %s after one failure and one cancel, want closed", got)
		}
		srv.setHandler(status(503, "x"))
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
		if got := c.BreakerState(); got != gobreaker.StateOpen {
			t.Errorf("breaker %s after 503, cancel, 503; want open: the cancel reset the failure streak", got)
		}
	})

	t.Run("caller deadline shorter than the request timeout is canceled, not timeout", func(t *testing.T) {
		srv := newCountingServer(t, hang)
		c, _ := testClient(t, Config{URL: srv.URL, BreakerFailures: 1, Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
		defer cancel()
		err := awaitDone(t, enrichAsync(ctx, c))
		if ClassOf(err) != ClassCanceled {
			t.Fatalf("err %v, want canceled", err)
		}
		if got := c.BreakerState(); got != gobreaker.StateClosed {
			t.Errorf("breaker %s, want closed", got)
		}
	})

	t.Run("during the backoff sleep", func(t *testing.T) {
		srv := newCountingServer(t, status(503, "x"))
		c, reg := testClient(t, Config{URL: srv.URL, RetryInitial: time.Hour, RetryMax: time.Hour})
		ctx, cancel := context.WithCancel(bg)
		done := enrichAsync(ctx, c)
		// The attempt is counted once its answer is classified, just before
		// the backoff sleep.
		wait.For(t, 5*time.Second, "the first attempt's failure", func() bool {
			return metricValue(t, reg, "redrive_enrich_requests_total", "class", string(ClassServer)) == 1
		})
		cancel()
		err := awaitDone(t, done)
		if ClassOf(err) != ClassCanceled {
			t.Fatalf("err %v, want canceled", err)
		}
		var last *Error
		if e := asError(t, err); !errors.As(e.Err, &last) || last.Class != ClassServer {
			t.Errorf("canceled error should wrap the last failure (http_5xx): %v", err)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("server saw %d requests, want 1", n)
		}
	})

	t.Run("waiting for a concurrency slot", func(t *testing.T) {
		in := make(chan struct{}, 2)
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { in <- struct{}{}; hang(w, r) })
		c, _ := testClient(t, Config{URL: srv.URL, Concurrency: 1, Timeout: time.Minute})
		holder, release := context.WithCancel(bg)
		defer release()
		first := enrichAsync(holder, c)
		wait.For(t, 5*time.Second, "the first request", arrived(in))

		// A deadline rather than cancel(), so that the call is most likely
		// already waiting for the slot when its context ends.
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		defer cancel()
		if err := awaitDone(t, enrichAsync(ctx, c)); ClassOf(err) != ClassCanceled {
			t.Fatalf("err %v, want canceled", err)
		}
		release()
		_ = awaitDone(t, first)
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("server saw %d requests, want 1: the waiting call must not send", n)
		}
	})
}
