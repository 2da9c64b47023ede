package dlq

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy decides what happens to a record whose enrichment failed: another
// trip through the DLQ no earlier than a backoff delay, or the parking topic.
//
// The delay before attempt n+1 is Base·2^(n-1), capped at MaxDelay, with
// "equal jitter" (a uniform draw from the upper half of that delay), so that
// records that failed together do not come back together. The delay is a
// function of the attempt count carried in the envelope rather than the state
// of a backoff.BackOff, because the record's retry state lives in Kafka
// headers between attempts, not in this process.
type Policy struct {
	// Base is the delay before the second attempt. Default 1s.
	Base time.Duration
	// MaxDelay caps the delay between attempts. Default 15m.
	MaxDelay time.Duration
	// MaxAttempts parks a record after this many failed attempts. Default 20.
	MaxAttempts int
	// MaxAge parks a record whose first failure is older than this. Default 24h.
	MaxAge time.Duration
}

// SetDefaults fills zero fields with their documented defaults.
func (p *Policy) SetDefaults() {
	if p.Base == 0 {
		p.Base = time.Second
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 15 * time.Minute
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 20
	}
	if p.MaxAge == 0 {
		p.MaxAge = 24 * time.Hour
	}
}

// Validate reports the first field that is out of range.
func (p Policy) Validate() error {
	switch {
	case p.Base <= 0:
		return fmt.Errorf("retry-base: must be positive, got %s", p.Base)
	case p.MaxDelay < p.Base:
		return fmt.Errorf("retry-max-delay: %s must be at least retry-base (%s)", p.MaxDelay, p.Base)
	case p.MaxAttempts < 1:
		return fmt.Errorf("max-attempts: must be at least 1, got %d", p.MaxAttempts)
	case p.MaxAge <= 0:
		return fmt.Errorf("max-age: must be positive, got %s", p.MaxAge)
	}
	return nil
}

// Reasons a record is parked by the policy. They become the envelope's error
// class, so they are part of the public header contract.
const (
	ClassExhausted = "exhausted" // MaxAttempts reached
	ClassExpired   = "expired"   // MaxAge reached
)

// ErrExhausted and ErrExpired explain why the policy parked a record.
var (
	ErrExhausted = errors.New("maximum number of attempts reached")
	ErrExpired   = errors.New("maximum age reached")
)

// Delay is the backoff before the attempt that follows failed attempt n
// (n ≥ 1), without jitter.
func (p Policy) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	// Base·2^(n-1) overflows quickly; compare in floating point first.
	d := float64(p.Base) * math.Pow(2, float64(n-1))
	if d >= float64(p.MaxDelay) {
		return p.MaxDelay
	}
	return time.Duration(d)
}

// Failed records one more failed attempt on env at time now and decides the
// record's fate: the returned envelope carries the new attempt count, error
// and not-before time. park is true when the record must go to the parking
// topic; reason then says why (it wraps ErrExhausted or ErrExpired, and the
// envelope's class is ClassExhausted or ClassExpired).
func (p Policy) Failed(env Envelope, now time.Time, class string, cause error) (next Envelope, park bool, reason error) {
	next = env
	next.Attempt++
	if next.FirstFailure.IsZero() {
		next.FirstFailure = now
	}
	next.ErrorClass = class
	if cause != nil {
		next.Error = cause.Error()
	}
	switch {
	case next.Attempt >= p.MaxAttempts:
		return parked(next, ClassExhausted, fmt.Errorf("%w (%d), last failure %s: %w", ErrExhausted, next.Attempt, class, cause))
	case now.Sub(next.FirstFailure) >= p.MaxAge:
		return parked(next, ClassExpired, fmt.Errorf("%w (%s), last failure %s: %w", ErrExpired, p.MaxAge, class, cause))
	}
	d := p.Delay(next.Attempt)
	// Equal jitter: half fixed, half random, so the delay never collapses
	// to zero and retries of a burst spread over the other half.
	half := d / 2
	next.NotBefore = now.Add(half + rand.N(d-half+1))
	return next, false, nil
}

// parked marks env as parked for reason: the class says why it stopped, the
// message keeps the last enrichment failure.
func parked(env Envelope, class string, reason error) (Envelope, bool, error) {
	env.ErrorClass = class
	env.Error = reason.Error()
	env.NotBefore = time.Time{}
	return env, true, reason
}

// CyclesFor is the number of DLQ trips one record makes while an outage of
// the given length lasts, ignoring jitter: the smallest n such that the
// delays 1..n add up to at least the outage. Benchmarks and tests compare the
// measured figure with it.
func (p Policy) CyclesFor(outage time.Duration) int {
	var total time.Duration
	n := 0
	for total < outage {
		n++
		total += p.Delay(n)
	}
	return n
}
