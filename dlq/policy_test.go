package dlq

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPolicyDelayDoublesUpToTheCap(t *testing.T) {
	p := Policy{Base: time.Second, MaxDelay: 10 * time.Second, MaxAttempts: 100, MaxAge: time.Hour}
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 90: 10 * time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestPolicyFailed(t *testing.T) {
	p := Policy{Base: time.Second, MaxDelay: time.Minute, MaxAttempts: 3, MaxAge: time.Hour}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cause := errors.New("503")
	fresh := Envelope{Origin: Origin{"t", 0, 1}}

	e1, park, _ := p.Failed(fresh, now, "http_5xx", cause)
	if park || e1.Attempt != 1 || !e1.FirstFailure.Equal(now) || e1.ErrorClass != "http_5xx" || e1.Error != "503" {
		t.Fatalf("first failure: %+v park=%v", e1, park)
	}
	// Equal jitter: the delay lies in [d/2, d].
	if d := e1.NotBefore.Sub(now); d < 500*time.Millisecond || d > time.Second {
		t.Fatalf("first delay %s outside [0.5s, 1s]", d)
	}
	e2, park, _ := p.Failed(e1, now.Add(time.Second), "timeout", cause)
	if park || e2.Attempt != 2 || !e2.FirstFailure.Equal(now) {
		t.Fatalf("second failure: %+v", e2)
	}
	if d := e2.NotBefore.Sub(now.Add(time.Second)); d < time.Second || d > 2*time.Second {
		t.Fatalf("second delay %s outside [1s, 2s]", d)
	}
	e3, park, reason := p.Failed(e2, now.Add(3*time.Second), "timeout", cause)
	if !park || !errors.Is(reason, ErrExhausted) || e3.ErrorClass != ClassExhausted || !e3.NotBefore.IsZero() {
		t.Fatalf("third failure: %+v park=%v reason=%v", e3, park, reason)
	}
	old := e1
	old.FirstFailure = now.Add(-2 * time.Hour)
	e4, park, reason := p.Failed(old, now, "timeout", cause)
	if !park || !errors.Is(reason, ErrExpired) || e4.ErrorClass != ClassExpired {
		t.Fatalf("expired: %+v park=%v reason=%v", e4, park, reason)
	}
}

// Invariant 3: the number of DLQ cycles one record makes during an outage
// grows with the logarithm of the outage's length: doubling the outage adds
// about one cycle (with a cap high enough not to bind).
func TestInvariant3_CyclesGrowWithTheLogOfTheOutage(t *testing.T) {
	p := Policy{Base: time.Second, MaxDelay: 1000 * time.Hour, MaxAttempts: 100, MaxAge: 1000 * time.Hour}
	prev := p.CyclesFor(time.Minute)
	for outage := 2 * time.Minute; outage <= 64*time.Hour; outage *= 2 {
		n := p.CyclesFor(outage)
		if n-prev > 1 {
			t.Fatalf("outage %s: %d cycles, %d more than half as long an outage", outage, n, n-prev)
		}
		prev = n
	}
	if prev > 20 {
		t.Fatalf("a 64h outage costs %d cycles per record", prev)
	}
}

func TestPolicyValidateNamesTheSetting(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Base: 0, MaxDelay: 1, MaxAttempts: 1, MaxAge: 1}, "retry-base:"},
		{Policy{Base: 2, MaxDelay: 1, MaxAttempts: 1, MaxAge: 1}, "retry-max-delay:"},
		{Policy{Base: 1, MaxDelay: 1, MaxAttempts: 0, MaxAge: 1}, "max-attempts:"},
		{Policy{Base: 1, MaxDelay: 1, MaxAttempts: 1, MaxAge: 0}, "max-age:"},
	} {
		if err := tc.p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want it to name %q", tc.p, err, tc.want)
		}
	}
}
