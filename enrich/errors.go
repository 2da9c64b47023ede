package enrich

import (
	"errors"
	"strconv"
	"time"
)

// Class is a short machine-readable failure class. It is written into DLQ
// headers, so its values are a public contract: never rename one.
type Class string

// The failure classes. Transient classes are worth retrying later (the
// record goes to the DLQ); permanent ones are not (the record is parked).
const (
	ClassTimeout    Class = "timeout"    // the per-request timeout expired: transient
	ClassConnection Class = "connection" // dial, reset, EOF or another transport failure: transient
	ClassServer     Class = "http_5xx"   // the API answered 5xx: transient
	ClassThrottled  Class = "http_429"   // the API answered 429 or 408: transient
	// ClassAuth: the API refused redrive's credentials (401, 403, 407).
	// Transient: the record is not at fault, credentials get fixed, and
	// the records go around the DLQ meanwhile instead of being parked.
	// It is not retried in line (nothing changes in milliseconds) and it
	// counts toward the breaker.
	ClassAuth        Class = "http_auth"
	ClassBreakerOpen Class = "breaker_open" // the circuit breaker refused the call, no request was sent: transient
	ClassClient      Class = "http_4xx"     // the API answered another 4xx: permanent
	ClassBadResponse Class = "bad_response" // a 2xx whose body is not JSON or is too large, or an unexpected 1xx/3xx: permanent
	ClassBadInput    Class = "bad_input"    // the record cannot be turned into a request: permanent
	ClassCanceled    Class = "canceled"     // the caller's context ended: neither, the caller hands the record off unchanged
)

// Retryable reports whether a failure of class c is transient. ClassCanceled
// is not retryable: the record did not fail, its caller went away, and the
// caller is expected to check for it before asking this question.
func (c Class) Retryable() bool {
	switch c {
	case ClassTimeout, ClassConnection, ClassServer, ClassThrottled, ClassBreakerOpen, ClassAuth:
		return true
	default:
		return false
	}
}

// Error is every failure Enrich returns. Its class, and so whether it is
// retryable, is decided here once; the rest of redrive obeys it.
type Error struct {
	Class  Class // failure class, written into DLQ headers
	Status int   // HTTP status of the answer, 0 when there was none
	Err    error // underlying cause; for 4xx/5xx it carries a short piece of the body
	// RetryAfter is how long the API asked to be left alone (the
	// Retry-After header of a 429 or 503 answer), 0 when it did not say.
	RetryAfter time.Duration
}

// Error formats the failure as "enrich: <class> [status N]: <cause>". It never
// contains request headers.
func (e *Error) Error() string {
	s := "enrich: " + string(e.Class)
	if e.Status != 0 {
		s += " status " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the failure is transient.
func (e *Error) Retryable() bool { return e.Class.Retryable() }

// IsRetryable reports whether err is worth retrying later. An error that is
// not an *Error is unknown and counted as retryable: it is safer to retry a
// record than to park it for a cause nobody classified. nil is not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable()
	}
	return true
}

// RetryAfterOf returns how long the API asked to be left alone before
// err's request is tried again (Error.RetryAfter), 0 when it did not say.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ClassOf returns the class of err: the class of the first *Error in its
// chain, "" for nil, and ClassConnection for any other error. ClassConnection
// is the transient class closest to "something failed on the way", which
// keeps ClassOf consistent with IsRetryable for unknown errors.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassConnection
}
