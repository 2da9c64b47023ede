package enrich

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// failing answers the first n requests with fail, then with okJSON.
func failing(n int64, fail http.HandlerFunc) http.HandlerFunc {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			fail(w, r)
			return
		}
		okJSON(w, r)
	}
}

// TestRetries proves the in-line retry budget: transient failures are
// retried up to Retries times, permanent ones and breaker refusals are not
// retried at all, and each attempt gets its own timeout.
func TestRetries(t *testing.T) {
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		cfg      Config
		wantErr  Class // "" for success
		requests int64
	}{
		{name: "two 503s then success", handler: failing(2, status(503, "x")), wantErr: "", requests: 3},
		{name: "429 then success", handler: failing(1, status(429, "x")), wantErr: "", requests: 2},
		{name: "always 503 gives up after 1+Retries", handler: status(503, "x"), wantErr: ClassServer, requests: 3},
		{name: "Retries=4", handler: status(503, "x"), cfg: Config{Retries: 4}, wantErr: ClassServer, requests: 5},
		{name: "NoRetries tries once", handler: status(503, "x"), cfg: Config{Retries: NoRetries}, wantErr: ClassServer, requests: 1},
		{name: "400 is tried exactly once", handler: status(400, "x"), wantErr: ClassClient, requests: 1},
		{name: "401 is tried once, and transient", handler: status(401, "x"), wantErr: ClassAuth, requests: 1},
		{name: "garbage is tried exactly once", handler: status(200, "<x>"), wantErr: ClassBadResponse, requests: 1},
		{name: "timeout then success: attempts have their own timeout", handler: failing(1, hang),
			cfg: Config{Timeout: 50 * time.Millisecond}, wantErr: "", requests: 2},
		{name: "open breaker stops retries at once", handler: status(503, "x"),
			cfg: Config{Retries: 5, BreakerFailures: 2, BreakerOpenFor: time.Hour}, wantErr: ClassBreakerOpen, requests: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCountingServer(t, tc.handler)
			cfg := tc.cfg
			cfg.URL = srv.URL
			c, reg := testClient(t, cfg)
			out, err := c.Enrich(bg, []byte(`{"a":1}`), nil)
			if got := ClassOf(err); got != tc.wantErr {
				t.Fatalf("class %q, want %q (err %v)", got, tc.wantErr, err)
			}
			if err == nil && string(out) != `{"score":1}` {
				t.Errorf("answer %s", out)
			}
			if n := srv.requests.Load(); n != tc.requests {
				t.Errorf("server saw %d requests, want %d", n, tc.requests)
			}
			wantRefused := 0.0
			if tc.wantErr == ClassBreakerOpen {
				wantRefused = 1 // one refusal ends the call: no retrying against an open breaker
			}
			if v := metricValue(t, reg, "redrive_enrich_requests_total", "class", string(ClassBreakerOpen)); v != wantRefused {
				t.Errorf("%v attempts refused by the breaker, want %v", v, wantRefused)
			}
		})
	}
}

// retryAfterStatus answers code with a Retry-After header.
func retryAfterStatus(code int, after string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", after)
		w.WriteHeader(code)
	}
}

// An API that says when to come back (Retry-After) is not asked sooner: a
// wait longer than the in-line cap (RetryMax) ends the in-line retries, and
// the error carries the wait for the DLQ's not-before time; a short one
// only lengthens the in-line backoff.
func TestRetriesHonourRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		requests int64
		asked    time.Duration
	}{
		{"429 asking 2 minutes", retryAfterStatus(429, "120"), 1, 2 * time.Minute},
		{"503 asking until a date", retryAfterStatus(503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), 1, time.Hour},
		{"429 asking 0 s", retryAfterStatus(429, "0"), 3, 0},
		{"429 with an unreadable header", retryAfterStatus(429, "soon"), 3, 0},
		{"500 ignores the header", retryAfterStatus(500, "120"), 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCountingServer(t, tc.handler)
			c, _ := testClient(t, Config{URL: srv.URL})
			_, err := c.Enrich(bg, []byte(`{"a":1}`), nil)
			if err == nil || !IsRetryable(err) {
				t.Fatalf("err %v, want a transient failure", err)
			}
			if n := srv.requests.Load(); n != tc.requests {
				t.Errorf("server saw %d requests, want %d", n, tc.requests)
			}
			// A date is read against the clock: allow the test's own time.
			if got := RetryAfterOf(err); got > tc.asked || got < tc.asked-time.Minute {
				t.Errorf("RetryAfter %s, want %s", got, tc.asked)
			}
		})
	}
}

// A short Retry-After, within the in-line cap, is waited out in line:
// the backoff asks for at least that long.
func TestPoliteBackOffWaitsWhatWasAsked(t *testing.T) {
	var last error = &Error{Class: ClassThrottled, RetryAfter: 300 * time.Millisecond}
	b := politeBackOff{BackOff: backoff.NewConstantBackOff(time.Millisecond), last: &last, most: time.Second}
	if d := b.NextBackOff(); d != 300*time.Millisecond {
		t.Errorf("waits %s, want the 300ms asked", d)
	}
	last = &Error{Class: ClassThrottled, RetryAfter: 2 * time.Second}
	if d := b.NextBackOff(); d != backoff.Stop {
		t.Errorf("waits %s for an ask above the cap, want Stop", d)
	}
	last = &Error{Class: ClassServer}
	if d := b.NextBackOff(); d != time.Millisecond {
		t.Errorf("waits %s without an ask, want the backoff's 1ms", d)
	}
}
