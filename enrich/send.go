package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// send makes one HTTP request with its own timeout, derived from the
// caller's ctx, and classifies the outcome.
func (c *Client) send(ctx context.Context, target string, body []byte) (json.RawMessage, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var rd io.Reader
	hasBody := c.cfg.Method != http.MethodGet && c.cfg.Method != http.MethodDelete
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, c.cfg.Method, target, rd)
	if err != nil {
		// The template is valid, so only a substituted field can break it.
		return nil, &Error{Class: ClassBadInput, Err: fmt.Errorf("building request: %w", stripURL(err))}
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.cfg.Headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}

	c.m.inFlight.Inc()
	defer c.m.inFlight.Dec()
	start := time.Now()
	defer func() { c.m.duration.Observe(time.Since(start).Seconds()) }()

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer drainClose(resp.Body)
	return c.readAnswer(ctx, resp)
}

// readAnswer classifies an answer and, for a 2xx, returns its JSON body.
func (c *Client) readAnswer(ctx context.Context, resp *http.Response) (json.RawMessage, error) {
	code := resp.StatusCode
	if code < 200 || code > 299 {
		return nil, &Error{
			RetryAfter: retryAfter(resp, time.Now()),
			Class:      statusClass(code),
			Status:     code,
			Err:        fmt.Errorf("%s: %q", http.StatusText(code), snippet(resp.Body)),
		}
	}
	max := c.cfg.MaxResponseBytes
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, transportError(ctx, fmt.Errorf("reading answer: %w", err))
	}
	if int64(len(data)) > max {
		return nil, &Error{Class: ClassBadResponse, Status: code,
			Err: fmt.Errorf("answer larger than MaxResponseBytes (%d)", max)}
	}
	if !json.Valid(data) {
		return nil, &Error{Class: ClassBadResponse, Status: code,
			Err: fmt.Errorf("answer is not JSON: %q", clip(data))}
	}
	if !utf8.Valid(data) {
		// encoding/json lets it through, but JSON is UTF-8 (RFC 8259), and
		// one such line makes analytics engines refuse its whole object.
		return nil, &Error{Class: ClassBadResponse, Status: code,
			Err: fmt.Errorf("answer is not UTF-8: %q", clip(data))}
	}
	return data, nil
}

// stripURL drops the URL from a *url.Error: the URL may carry a key in its
// query, and messages end up in DLQ headers.
func stripURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// drainLimit bounds what is read from a body nobody needs so that its
// connection can be reused; past it, closing (and re-dialling) is cheaper.
const drainLimit = 64 << 10

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}

// maxRetryAfter caps what a Retry-After header may ask: a wait longer than
// this is an API's mistake or a date in another clock.
const maxRetryAfter = time.Hour

// retryAfter is the wait a 429 or 503 answer asks for in its Retry-After
// header (RFC 9110: seconds, or an HTTP date, read against now), capped at
// maxRetryAfter; 0 for other answers, without the header, or for a value
// that cannot be read.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
