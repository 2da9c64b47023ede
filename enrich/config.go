package enrich

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config is the declarative configuration of a Client. Call SetDefaults, then
// Validate; New does both.
type Config struct {
	// URL of the enrichment API; required, http or https. It may contain
	// {field} placeholders, replaced (path-escaped) by the record's top-level
	// fields, e.g. http://api/users/{user_id} for GET lookups.
	URL string
	// Method is the HTTP method, default POST. POST, PUT and PATCH send the
	// record's JSON bytes as they are, with Content-Type application/json;
	// GET and DELETE send no body.
	Method string
	// Headers are extra request headers, e.g. Authorization. They are never
	// logged nor included in errors.
	Headers map[string]string
	// Timeout bounds one request attempt, answer body included; default 2s.
	Timeout time.Duration
	// Concurrency is the maximum number of requests in flight, default 32.
	// The default transport keeps as many idle connections per host and opens
	// at most that many per host.
	Concurrency int
	// Retries is the number of in-line retries of a transient failure before
	// Enrich gives up, default 2 (so 3 tries). 0 means try once; -1 is
	// rejected. Use NoRetries to ask for 0 explicitly, since 0 means default.
	Retries int
	// RetryInitial is the first in-line backoff, default 100ms; it grows
	// exponentially (x2) with ±50% jitter.
	RetryInitial time.Duration
	// RetryMax caps one in-line backoff, default 1s.
	RetryMax time.Duration
	// BreakerFailures is the number of consecutive transient failures that
	// open the circuit breaker, default 5.
	BreakerFailures uint32
	// BreakerOpenFor is how long the breaker stays open before it lets probe
	// requests through (half-open), default 10s.
	BreakerOpenFor time.Duration
	// BreakerHalfOpen is the number of probe requests allowed while
	// half-open; that many consecutive successes close the breaker. Default 1.
	BreakerHalfOpen uint32
	// MaxResponseBytes bounds the body of a successful answer, default 1 MiB;
	// a larger one is ClassBadResponse.
	MaxResponseBytes int64
}

// NoRetries is the value of Config.Retries that disables in-line retries
// (a zero Retries means "use the default").
const NoRetries = -1

// Defaults of Config, as documented on its fields.
const (
	DefaultMethod           = "POST"
	DefaultTimeout          = 2 * time.Second
	DefaultConcurrency      = 32
	DefaultRetries          = 2
	DefaultRetryInitial     = 100 * time.Millisecond
	DefaultRetryMax         = time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 10 * time.Second
	DefaultBreakerHalfOpen  = 1
	DefaultMaxResponseBytes = 1 << 20
)

// SetDefaults fills the zero fields with their defaults and upper-cases
// Method.
func (c *Config) SetDefaults() {
	c.Method = strings.ToUpper(strings.TrimSpace(c.Method))
	c.Method = cmp.Or(c.Method, DefaultMethod)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Retries = cmp.Or(c.Retries, DefaultRetries)
	c.RetryInitial = cmp.Or(c.RetryInitial, DefaultRetryInitial)
	c.RetryMax = cmp.Or(c.RetryMax, DefaultRetryMax)
	c.BreakerFailures = cmp.Or(c.BreakerFailures, DefaultBreakerFailures)
	c.BreakerOpenFor = cmp.Or(c.BreakerOpenFor, DefaultBreakerOpenFor)
	c.BreakerHalfOpen = cmp.Or(c.BreakerHalfOpen, DefaultBreakerHalfOpen)
	c.MaxResponseBytes = cmp.Or(c.MaxResponseBytes, DefaultMaxResponseBytes)
}

// retries is the number of in-line retries, NoRetries mapped to 0.
func (c Config) retries() int {
	if c.Retries == NoRetries {
		return 0
	}
	return c.Retries
}

// Validate reports every invalid field; each error begins with the name of
// the redrive flag that sets it ("enrich-url: ..."), or Config.Field for a
// field no flag sets. It expects SetDefaults to have run.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if _, err := parseTemplate(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("enrich-url: %w", err))
	}
	switch c.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		bad("enrich-method", "%q is not one of GET, POST, PUT, PATCH, DELETE", c.Method)
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			bad("enrich-header", "invalid header name %q", k)
		}
	}
	if c.Timeout <= 0 {
		bad("enrich-timeout", "must be positive, got %s", c.Timeout)
	}
	if c.Concurrency <= 0 {
		bad("enrich-concurrency", "must be positive, got %d", c.Concurrency)
	}
	if c.Retries < NoRetries {
		bad("enrich-retries", "must be at least 0, got %d", c.Retries)
	}
	if c.RetryInitial <= 0 {
		bad("enrich.Config.RetryInitial", "must be positive, got %s", c.RetryInitial)
	}
	if c.RetryMax < c.RetryInitial {
		bad("enrich.Config.RetryMax", "must be >= RetryInitial (%s), got %s", c.RetryInitial, c.RetryMax)
	}
	if c.BreakerFailures == 0 {
		bad("breaker-failures", "must be positive")
	}
	if c.BreakerOpenFor <= 0 {
		bad("breaker-open-for", "must be positive, got %s", c.BreakerOpenFor)
	}
	if c.BreakerHalfOpen == 0 {
		bad("enrich.Config.BreakerHalfOpen", "must be positive")
	}
	if c.MaxResponseBytes <= 0 {
		bad("enrich.Config.MaxResponseBytes", "must be positive, got %d", c.MaxResponseBytes)
	}
	return errors.Join(errs...)
}

// String formats the configuration with the header values and any password
// in the URL redacted (headers carry credentials such as Authorization), so
// that a config printed with %v or %+v never shows them.
func (c Config) String() string {
	type plain Config // without this method, so no recursion
	p := plain(c)
	if len(c.Headers) > 0 {
		p.Headers = make(map[string]string, len(c.Headers))
		for name := range c.Headers {
			p.Headers[name] = "<redacted>"
		}
	}
	if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), "redacted")
			p.URL = u.String()
		}
	}
	return fmt.Sprintf("%+v", p)
}

// LogValue keeps the secrets out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
