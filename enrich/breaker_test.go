package enrich

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/redrive-io/redrive/internal/wait"
)

// TestBreaker_OpensAndStopsSending proves invariant 3 ("an outage is cheap"):
// after BreakerFailures consecutive 503s the breaker opens, and the calls that
// follow send no request at all and fail with ClassBreakerOpen (transient).
func TestBreaker_OpensAndStopsSending(t *testing.T) {
	srv := newCountingServer(t, status(503, "down"))
	var logs wait.SyncBuffer
	c, reg := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 3, BreakerOpenFor: time.Hour},
		WithLogger(newTestLogger(&logs)))

	for i := range 3 {
		_, err := c.Enrich(bg, []byte(`{}`), nil)
		if got := ClassOf(err); got != ClassServer {
			t.Fatalf("call %d: class %s, want %s", i, got, ClassServer)
		}
	}
	if got := c.BreakerState(); got != gobreaker.StateOpen {
		t.Fatalf("breaker %s after 3 consecutive 503s, want open", got)
	}
	for i := range 10 {
		_, err := c.Enrich(bg, []byte(`{}`), nil)
		if got := ClassOf(err); got != ClassBreakerOpen {
			t.Fatalf("call %d while open: class %s, want %s", i, got, ClassBreakerOpen)
		}
		if !IsRetryable(err) {
			t.Fatal("breaker_open must be retryable (DLQ, not parking)")
		}
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3: an open breaker must send nothing", n)
	}
	if v := metricValue(t, reg, "redrive_enrich_breaker_state", "", ""); v != 2 {
		t.Errorf("breaker gauge = %v, want 2 (open)", v)
	}
	if v := metricValue(t, reg, "redrive_enrich_requests_total", "class", "breaker_open"); v != 10 {
		t.Errorf("requests_total{class=breaker_open} = %v, want 10", v)
	}
	if n := strings.Count(logs.String(), "circuit breaker state changed"); n != 1 {
		t.Errorf("%d state-change log lines, want 1:\n%s", n, logs.String())
	}
}

// TestBreaker_PermanentAnswersNeverOpen proves that 4xx and garbage answers,
// which are the record's fault and not the API's, never open the breaker.
func TestBreaker_PermanentAnswersNeverOpen(t *testing.T) {
	for _, h := range []struct {
		name string
		h    http.HandlerFunc
	}{{"400", status(400, "bad")}, {"404", status(404, "gone")}, {"garbage 200", status(200, "<html>")}} {
		t.Run(h.name, func(t *testing.T) {
			srv := newCountingServer(t, h.h)
			c, _ := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 2, BreakerOpenFor: time.Hour})
			for range 10 {
				_, err := c.Enrich(bg, []byte(`{}`), nil)
				if IsRetryable(err) {
					t.Fatalf("%v should be permanent", err)
				}
			}
			if got := c.BreakerState(); got != gobreaker.StateClosed {
				t.Errorf("breaker %s, want closed", got)
			}
			if n := srv.requests.Load(); n != 10 {
				t.Errorf("server saw %d requests, want 10", n)
			}
		})
	}
}

// TestBreaker_RefusedCredentialsOpen proves that 401 and 403 answers, the
// API refusing redrive and not the record, open the breaker: the API is
// not asked again for every record while the credentials are wrong.
func TestBreaker_RefusedCredentialsOpen(t *testing.T) {
	for _, code := range []int{401, 403} {
		srv := newCountingServer(t, status(code, "no"))
		c, _ := testClient(t, Config{URL: srv.URL, BreakerFailures: 3, BreakerOpenFor: time.Hour})
		for range 10 {
			if _, err := c.Enrich(bg, []byte(`{}`), nil); !IsRetryable(err) {
				t.Fatalf("%d: %v should be transient", code, err)
			}
		}
		if got := c.BreakerState(); got != gobreaker.StateOpen {
			t.Errorf("%d: breaker %s, want open", code, got)
		}
		if n := srv.requests.Load(); n != 3 {
			t.Errorf("%d: server saw %d requests, want 3 (then the breaker)", code, n)
		}
	}
}

// TestBreaker_PermanentAnswerResetsFailureStreak proves that failures must be
// consecutive: a 4xx in between shows the API is up and restarts the count.
func TestBreaker_PermanentAnswerResetsFailureStreak(t *testing.T) {
	srv := newCountingServer(t, status(503, "down"))
	c, _ := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 3, BreakerOpenFor: time.Hour})
	for range 4 {
		srv.setHandler(status(503, "down"))
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
		srv.setHandler(status(400, "bad"))
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
	}
	if got := c.BreakerState(); got != gobreaker.StateClosed {
		t.Errorf("breaker %s after streaks of 2 failures (threshold 3), want closed", got)
	}
}

// TestBreaker_HalfOpenProbe proves recovery: once BreakerOpenFor has passed,
// a failing probe re-opens the breaker after one request, and a successful
// probe closes it. One log line is written per transition.
func TestBreaker_HalfOpenProbe(t *testing.T) {
	srv := newCountingServer(t, status(503, "down"))
	var logs wait.SyncBuffer
	c, reg := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 2, BreakerOpenFor: 30 * time.Millisecond},
		WithLogger(newTestLogger(&logs)))
	for range 2 {
		_, _ = c.Enrich(bg, []byte(`{}`), nil)
	}
	if got := c.BreakerState(); got != gobreaker.StateOpen {
		t.Fatalf("breaker %s, want open", got)
	}

	// Still failing: the half-open probe goes out, fails, and re-opens.
	wait.For(t, 5*time.Second, "half-open", func() bool { return c.BreakerState() == gobreaker.StateHalfOpen })
	before := srv.requests.Load()
	_, err := c.Enrich(bg, []byte(`{}`), nil)
	if ClassOf(err) != ClassServer {
		t.Fatalf("probe: %v, want http_5xx", err)
	}
	if n := srv.requests.Load() - before; n != 1 {
		t.Errorf("half-open sent %d requests, want 1 probe", n)
	}
	// The gauge reads the breaker at scrape time, so it may already show
	// half-open if BreakerOpenFor passed since the probe failed; it must
	// then agree with the breaker.
	if v := metricValue(t, reg, "redrive_enrich_breaker_state", "", ""); v != 2 && !(v == 1 && c.BreakerState() == gobreaker.StateHalfOpen) {
		t.Fatalf("breaker gauge = %v after a failed probe, want 2 (open)", v)
	}

	// Healthy again: poll until a probe gets through and closes the breaker.
	srv.setHandler(okJSON)
	wait.For(t, 5*time.Second, "a successful probe", func() bool {
		_, err := c.Enrich(bg, []byte(`{}`), nil)
		return err == nil
	})
	if got := c.BreakerState(); got != gobreaker.StateClosed {
		t.Errorf("breaker %s after a successful probe, want closed", got)
	}
	if v := metricValue(t, reg, "redrive_enrich_breaker_state", "", ""); v != 0 {
		t.Errorf("breaker gauge = %v, want 0 (closed)", v)
	}
	// closed→open, open→half-open, half-open→open, open→half-open, half-open→closed.
	if n := strings.Count(logs.String(), "circuit breaker state changed"); n != 5 {
		t.Errorf("%d state-change log lines, want 5:\n%s", n, logs.String())
	}
}

// TestBreakerGaugeFollowsTime proves that redrive_enrich_breaker_state
// leaves 2 (open) once BreakerOpenFor has passed, with no request sent: a
// dashboard must not show an outage that is over just because no record
// needing enrichment has arrived since.
func TestBreakerGaugeFollowsTime(t *testing.T) {
	srv := newCountingServer(t, status(503, "down"))
	c, reg := testClient(t, Config{URL: srv.URL, Retries: NoRetries, BreakerFailures: 1, BreakerOpenFor: 20 * time.Millisecond})
	_, _ = c.Enrich(bg, []byte(`{}`), nil)
	sent := srv.requests.Load()
	wait.For(t, 5*time.Second, "the gauge to leave open by itself", func() bool {
		return metricValue(t, reg, "redrive_enrich_breaker_state", "", "") == float64(gobreaker.StateHalfOpen)
	})
	if n := srv.requests.Load() - sent; n != 0 {
		t.Errorf("%d requests sent while waiting; the gauge must move without one", n)
	}
}
