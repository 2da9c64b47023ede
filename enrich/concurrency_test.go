package enrich

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/wait"
)

// TestConcurrencyBound proves invariant 5 for the API: with Concurrency=4 the
// server never sees more than 4 requests at once while 50 calls run. The
// client is given an HTTP client with no per-host connection limit, so the
// bound tested is the Client's own, not the transport's.
func TestConcurrencyBound(t *testing.T) {
	const limit, calls = 4, 50
	var cur, peak atomic.Int64
	gate := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-gate
		okJSON(w, r)
	})
	var once sync.Once
	openGate := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(openGate) // runs before the server's Close, which waits for handlers
	unbounded := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(unbounded.CloseIdleConnections)
	c, reg := testClient(t, Config{URL: srv.URL, Concurrency: limit, Timeout: 10 * time.Second}, WithHTTPClient(unbounded))

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			if _, err := c.Enrich(bg, []byte(`{}`), nil); err != nil {
				errs <- err
			}
		})
	}
	// Hold the first requests at the server until the bound is reached, then
	// leave the other 46 callers a moment to (wrongly) get through.
	wait.For(t, 5*time.Second, "4 requests in flight", func() bool { return cur.Load() >= limit })
	if v := metricValue(t, reg, "redrive_enrich_in_flight", "", ""); v != limit {
		t.Errorf("in_flight gauge = %v, want %d", v, limit)
	}
	time.Sleep(50 * time.Millisecond)
	openGate()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Enrich: %v", err)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrent requests at the server = %d, want %d", p, limit)
	}
	if n := srv.requests.Load(); n != calls {
		t.Errorf("server saw %d requests, want %d", n, calls)
	}
	if v := metricValue(t, reg, "redrive_enrich_in_flight", "", ""); v != 0 {
		t.Errorf("in_flight gauge = %v after all calls, want 0", v)
	}
	if v := metricValue(t, reg, "redrive_enrich_requests_total", "class", "ok"); v != calls {
		t.Errorf("requests_total{class=ok} = %v, want %d", v, calls)
	}
	if v := metricValue(t, reg, "redrive_enrich_request_duration_seconds", "", ""); v != calls {
		t.Errorf("duration histogram has %v samples, want %d", v, calls)
	}
}

// TestConnectionsReused proves that answers are drained and closed, so that
// sequential calls reuse one connection, whether the answer is a success, an
// error with a body, or an oversize body within the drain limit.
func TestConnectionsReused(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"200 JSON", okJSON},
		{"503 with a body", status(503, string(make([]byte, 4096)))},
		{"400 with a body", status(400, string(make([]byte, 4096)))},
		{"oversize 200", status(200, `"`+string(make([]byte, 8000))+`"`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int64
			srv := newCountingServerWith(t, tc.handler, func(hs *http.Server) {
				hs.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}
			})
			c, _ := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 100, MaxResponseBytes: 1024})
			for range 20 {
				_, _ = c.Enrich(bg, []byte(`{}`), nil)
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("20 sequential calls opened %d connections, want 1", n)
			}
		})
	}
}

// TestDefaultTransportSized proves that the Client's own transport keeps as
// many idle connections per host as Concurrency (Go's default of 2 would
// re-dial constantly) and opens no more than that.
func TestDefaultTransportSized(t *testing.T) {
	c, _ := testClient(t, Config{URL: "http://api.invalid/", Concurrency: 17})
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", c.http.Transport)
	}
	if tr.MaxIdleConnsPerHost != 17 || tr.MaxConnsPerHost != 17 || tr.MaxIdleConns < 17 {
		t.Errorf("MaxIdleConnsPerHost=%d MaxConnsPerHost=%d MaxIdleConns=%d, want 17, 17, >=17",
			tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, tr.MaxIdleConns)
	}
}

// TestSlotNotHeldDuringBackoff proves that a call sleeping between retries
// does not hold its concurrency slot: with Concurrency=1, another call gets
// through while the first one waits to retry.
func TestSlotNotHeldDuringBackoff(t *testing.T) {
	srv := newCountingServer(t, failing(1, status(503, "x")))
	c, reg := testClient(t, Config{URL: srv.URL, Concurrency: 1, RetryInitial: time.Hour, RetryMax: time.Hour})
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	sleeper := enrichAsync(ctx, c)
	wait.For(t, 5*time.Second, "the first call to fail and sleep", func() bool {
		return metricValue(t, reg, "redrive_enrich_requests_total", "class", string(ClassServer)) == 1
	})

	// A guard, not a timing assertion: if the slot were held, this would
	// wait for the hour-long backoff.
	gctx, gcancel := context.WithTimeout(bg, 5*time.Second)
	defer gcancel()
	if _, err := c.Enrich(gctx, []byte(`{}`), nil); err != nil {
		t.Fatalf("second call while the first sleeps: %v", err)
	}
	cancel()
	if err := awaitDone(t, sleeper); ClassOf(err) != ClassCanceled {
		t.Errorf("sleeping call: %v, want canceled", err)
	}
}
