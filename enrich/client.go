package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Client sends records to the enrichment API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	url     *urlTemplate
	http    *http.Client
	breaker *gobreaker.CircuitBreaker[json.RawMessage]
	slots   chan struct{} // one token per request in flight
	log     *slog.Logger
	m       *metrics
}

// New validates cfg (after SetDefaults) and returns a Client.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := parseTemplate(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("enrich: URL: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.registerer == nil {
		o.registerer = prometheus.NewRegistry()
	}
	if o.httpClient == nil {
		o.httpClient = newHTTPClient(cfg.Concurrency)
	}
	b := newBreaker(cfg, o.logger)
	m := newMetrics(o.registerer, b.State)
	return &Client{
		cfg:     cfg,
		url:     tmpl,
		http:    o.httpClient,
		breaker: b,
		slots:   make(chan struct{}, cfg.Concurrency),
		log:     o.logger,
		m:       m,
	}, nil
}

// newHTTPClient returns a client whose pool keeps as many idle connections
// per host as there may be requests in flight: Go's default of 2 idle per
// host would make most requests dial anew under load.
func newHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	t.MaxConnsPerHost = concurrency
	t.MaxIdleConns = max(t.MaxIdleConns, concurrency)
	return &http.Client{Transport: t}
}

// Enrich sends one record and returns the API's JSON answer. value is the
// record's raw JSON object, sent as the body of POST/PUT/PATCH; fields is its
// decoded top-level map, used by URL placeholders.
//
// Each attempt waits for a concurrency slot (ctx-aware), passes the circuit
// breaker and has its own timeout; transient failures are retried in line up
// to Config.Retries times with exponential backoff and jitter. Permanent
// failures and breaker refusals are returned at once. Every failure is an
// *Error; when ctx ends first its class is ClassCanceled.
func (c *Client) Enrich(ctx context.Context, value []byte, fields map[string]any) (json.RawMessage, error) {
	target, err := c.url.expand(fields)
	if err != nil {
		c.m.count(err)
		return nil, err
	}
	if ctx.Err() != nil {
		err := c.canceled(ctx, nil)
		c.m.count(err)
		return nil, err
	}
	var last error
	polite := politeBackOff{BackOff: c.newBackOff(), last: &last, most: c.cfg.RetryMax}
	b := backoff.WithContext(backoff.WithMaxRetries(polite, uint64(c.cfg.retries())), ctx)
	out, err := backoff.RetryWithData(func() (json.RawMessage, error) {
		res, err := c.attempt(ctx, target, value)
		if err == nil {
			return res, nil
		}
		last = err
		if cls := ClassOf(err); !cls.Retryable() || cls == ClassBreakerOpen || cls == ClassAuth {
			return nil, backoff.Permanent(err)
		}
		return nil, err
	}, b)
	switch {
	case err == nil:
		return out, nil
	case ClassOf(err) == ClassCanceled:
		return nil, err
	case ctx.Err() != nil:
		// ctx ended during a backoff sleep: backoff returns ctx.Err().
		return nil, c.canceled(ctx, last)
	}
	return nil, err
}

// newBackOff returns the in-line backoff of one Enrich call. Its number of
// tries is bounded by WithMaxRetries, not by elapsed time.
func (c *Client) newBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.cfg.RetryInitial),
		backoff.WithMaxInterval(c.cfg.RetryMax),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
}

// politeBackOff waits at least what the API's last answer asked for in its
// Retry-After header. A wait longer than most (Config.RetryMax) ends the
// in-line retries: the record goes around the DLQ, due no earlier than the
// API asked, instead of holding a worker that long.
type politeBackOff struct {
	backoff.BackOff
	last *error // the last attempt's failure
	most time.Duration
}

func (b politeBackOff) NextBackOff() time.Duration {
	next := b.BackOff.NextBackOff()
	asked := RetryAfterOf(*b.last)
	switch {
	case next == backoff.Stop || asked == 0:
		return next
	case asked > b.most:
		return backoff.Stop
	}
	return max(next, asked)
}

// attempt makes one try: it takes a concurrency slot, for this try only, and
// runs the request through the breaker.
func (c *Client) attempt(ctx context.Context, target string, body []byte) (json.RawMessage, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		err := c.canceled(ctx, nil)
		c.m.count(err)
		return nil, err
	}
	defer func() { <-c.slots }()

	out, err := c.breaker.Execute(func() (json.RawMessage, error) {
		return c.send(ctx, target, body)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		err = &Error{Class: ClassBreakerOpen, Err: err}
	}
	c.m.count(err)
	return out, err
}

// canceled is the error returned when the caller's ctx ended; last, if any,
// is the failure of the try before.
func (c *Client) canceled(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if last != nil {
		cause = fmt.Errorf("%w (after: %w)", cause, last)
	}
	return &Error{Class: ClassCanceled, Err: cause}
}

// BreakerState returns the circuit breaker's current state, for readiness
// reporting and tests. Reading it moves an open breaker whose BreakerOpenFor
// has passed to half-open, as any call would.
func (c *Client) BreakerState() gobreaker.State {
	return c.breaker.State()
}

// Close releases idle connections. The Client must not be used afterwards.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// NeedsFields reports whether Enrich reads the fields argument (the URL has
// {field} placeholders); when it does not, callers need not decode records.
func (c *Client) NeedsFields() bool { return !c.url.plain }

// RequestKey identifies the request Enrich would send for a record: the
// method, the URL with its placeholders filled in and, for methods that
// send the record, the body. Two records with the same RequestKey get the
// same answer from a deterministic API, which is what a cache of answers
// keys on when no lookup key is configured.
func (c *Client) RequestKey(value []byte, fields map[string]any) (string, error) {
	target, err := c.url.expand(fields)
	if err != nil {
		return "", err
	}
	if c.cfg.Method == http.MethodGet || c.cfg.Method == http.MethodDelete {
		return c.cfg.Method + " " + target, nil
	}
	return c.cfg.Method + " " + target + "\n" + string(value), nil
}
