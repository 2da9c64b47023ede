package enrich

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClassification proves that every kind of answer or failure maps to its
// class and retryability (the contract the DLQ and parking routing obey), that
// error messages carry a bounded piece of the answer's body, and that they
// never carry request headers or the URL's query.
func TestClassification(t *testing.T) {
	longBody := strings.Repeat("x", 1000)
	reset := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	cases := []struct {
		name      string
		handler   http.HandlerFunc // nil: nothing listens (connection refused)
		class     Class            // "" means success
		retryable bool
		status    int
		inMessage string
	}{
		{name: "200 JSON object", handler: okJSON},
		{name: "201 JSON scalar", handler: status(201, `42`)},
		{name: "200 not JSON", handler: status(200, `<html>oops</html>`), class: ClassBadResponse, status: 200, inMessage: "oops"},
		{name: "200 empty body", handler: status(200, ``), class: ClassBadResponse, status: 200},
		{name: "200 JSON not in UTF-8", handler: status(200, "{\"name\":\"caf\xe9\"}"), class: ClassBadResponse, status: 200, inMessage: "not UTF-8"},
		{name: "204 no content", handler: status(204, ``), class: ClassBadResponse, status: 204},
		{name: "200 oversize JSON", handler: status(200, `"`+strings.Repeat("a", 100)+`"`), class: ClassBadResponse, status: 200, inMessage: "MaxResponseBytes"},
		{name: "302 without Location", handler: status(302, ``), class: ClassBadResponse, status: 302},
		{name: "400", handler: status(400, `{"error":"field x is required"}`), class: ClassClient, status: 400, inMessage: "field x is required"},
		{name: "401", handler: status(401, `no`), class: ClassAuth, retryable: true, status: 401},
		{name: "403", handler: status(403, `forbidden`), class: ClassAuth, retryable: true, status: 403, inMessage: "forbidden"},
		{name: "404", handler: status(404, `not found`), class: ClassClient, status: 404},
		{name: "422", handler: status(422, `bad`), class: ClassClient, status: 422},
		{name: "408", handler: status(408, `slow`), class: ClassThrottled, retryable: true, status: 408},
		{name: "429", handler: status(429, `slow down`), class: ClassThrottled, retryable: true, status: 429, inMessage: "slow down"},
		{name: "500", handler: status(500, `boom`), class: ClassServer, retryable: true, status: 500, inMessage: "boom"},
		{name: "503 long body", handler: status(503, longBody), class: ClassServer, retryable: true, status: 503, inMessage: strings.Repeat("x", 200)},
		{name: "timeout", handler: hang, class: ClassTimeout, retryable: true},
		{name: "connection reset", handler: reset, class: ClassConnection, retryable: true},
		{name: "connection refused", class: ClassConnection, retryable: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			var srv *countingServer
			if tc.handler != nil {
				srv = newCountingServer(t, tc.handler)
				url = srv.URL
			} else {
				url = "http://" + closedAddr(t)
			}
			c, _ := testClient(t, Config{
				URL:              url + "/enrich?key=QUERYSECRET",
				Headers:          map[string]string{"Authorization": "Bearer HEADERSECRET"},
				Timeout:          100 * time.Millisecond,
				Retries:          NoRetries,
				MaxResponseBytes: 64,
			})
			out, err := c.Enrich(bg, []byte(`{"id":1}`), nil)
			if srv != nil && srv.requests.Load() != 1 {
				t.Errorf("server saw %d requests, want 1", srv.requests.Load())
			}
			if tc.class == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if len(out) == 0 {
					t.Fatal("success with empty answer")
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, got success %s", tc.class, out)
			}
			e := asError(t, err)
			if e.Class != tc.class || ClassOf(err) != tc.class {
				t.Errorf("class = %s, want %s (err: %v)", e.Class, tc.class, err)
			}
			if e.Retryable() != tc.retryable || IsRetryable(err) != tc.retryable {
				t.Errorf("retryable = %v, want %v", e.Retryable(), tc.retryable)
			}
			if e.Status != tc.status {
				t.Errorf("status = %d, want %d", e.Status, tc.status)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.inMessage) {
				t.Errorf("message %q lacks %q", msg, tc.inMessage)
			}
			if strings.Contains(msg, strings.Repeat("x", 201)) {
				t.Errorf("message carries more than 200 bytes of the body: %d bytes", len(msg))
			}
			if strings.Contains(msg, "SECRET") {
				t.Errorf("message leaks a header or the query: %q", msg)
			}
		})
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestErrorHelpers proves the class → retryable table and how IsRetryable
// and ClassOf treat nil, wrapped and unknown errors.
func TestErrorHelpers(t *testing.T) {
	transient := []Class{ClassTimeout, ClassConnection, ClassServer, ClassThrottled, ClassBreakerOpen}
	permanent := []Class{ClassClient, ClassBadResponse, ClassBadInput, ClassCanceled}
	for _, c := range transient {
		if !c.Retryable() {
			t.Errorf("%s should be retryable", c)
		}
	}
	for _, c := range permanent {
		if c.Retryable() {
			t.Errorf("%s should not be retryable", c)
		}
	}
	wrapped := fmt.Errorf("pipeline: %w", &Error{Class: ClassClient, Status: 404, Err: errors.New("nope")})
	unknown := errors.New("something else")
	cases := []struct {
		name      string
		err       error
		class     Class
		retryable bool
	}{
		{"nil", nil, "", false},
		{"wrapped permanent", wrapped, ClassClient, false},
		{"wrapped transient", fmt.Errorf("x: %w", &Error{Class: ClassServer}), ClassServer, true},
		{"unknown error retries (fail safe)", unknown, ClassConnection, true},
		{"canceled", &Error{Class: ClassCanceled}, ClassCanceled, false},
	}
	for _, tc := range cases {
		if got := ClassOf(tc.err); got != tc.class {
			t.Errorf("%s: ClassOf = %q, want %q", tc.name, got, tc.class)
		}
		if got := IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.retryable)
		}
	}
	e := &Error{Class: ClassServer, Status: 503, Err: unknown}
	if !errors.Is(e, unknown) {
		t.Error("Unwrap does not expose the cause")
	}
	if got, want := e.Error(), "enrich: http_5xx status 503: something else"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestClip proves that snippets are bounded, valid UTF-8 even when cut inside
// a multi-byte rune.
func TestClip(t *testing.T) {
	s := clip([]byte(strings.Repeat("é", 150))) // 300 bytes
	if len(s) > snippetLen {
		t.Errorf("len = %d, want <= %d", len(s), snippetLen)
	}
	if strings.ContainsRune(s, '\uFFFD') {
		t.Errorf("clip produced a replacement rune: %q", s)
	}
}
