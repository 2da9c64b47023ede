package enrich

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestParseTemplate proves that a URL template is checked once, at New: its
// braces balance, and whatever the fields, it yields an absolute http(s) URL.
func TestParseTemplate(t *testing.T) {
	cases := []struct {
		url, wantErr string
	}{
		{"http://api/enrich", ""},
		{"https://api:8443/users/{user_id}/orders/{order}?v=1", ""},
		{"http://{host}/x", ""},
		{"", "required"},
		{"http://api/users/{user_id", "unclosed"},
		{"http://api/users/{a{b}", "unclosed"},
		{"http://api/users/}x", "unmatched"},
		{"http://api/users/{}", "empty placeholder"},
		{"ftp://api/x", "scheme"},
		{"/relative/{id}", "scheme"},
		{"http:///nohost", "missing host"},
		{"http://api/%zz", "invalid URL"},
	}
	for _, tc := range cases {
		_, err := parseTemplate(tc.url)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%q: unexpected error %v", tc.url, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: error %v, want one containing %q", tc.url, err, tc.wantErr)
		}
	}
}

// TestExpandTemplate proves how record fields become URL path segments:
// path-escaped, numbers without exponent, and a missing, null, empty or
// non-scalar field is ClassBadInput (permanent).
func TestExpandTemplate(t *testing.T) {
	tmpl, err := parseTemplate("http://api/u/{id}/x")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		fields map[string]any
		want   string // "" means ClassBadInput
	}{
		{"string", map[string]any{"id": "abc"}, "http://api/u/abc/x"},
		{"escaped", map[string]any{"id": "a/b c?d"}, "http://api/u/a%2Fb%20c%3Fd/x"},
		{"large float64 id", map[string]any{"id": float64(12345678901)}, "http://api/u/12345678901/x"},
		{"fractional", map[string]any{"id": 1.5}, "http://api/u/1.5/x"},
		{"json.Number", map[string]any{"id": json.Number("9007199254740993")}, "http://api/u/9007199254740993/x"},
		{"int", map[string]any{"id": 7}, "http://api/u/7/x"},
		{"bool", map[string]any{"id": true}, "http://api/u/true/x"},
		{"missing", map[string]any{"other": 1}, ""},
		{"nil map", nil, ""},
		{"null", map[string]any{"id": nil}, ""},
		{"empty string", map[string]any{"id": ""}, ""},
		{"object", map[string]any{"id": map[string]any{"a": 1}}, ""},
		{"array", map[string]any{"id": []any{1}}, ""},
	}
	for _, tc := range cases {
		got, err := tmpl.expand(tc.fields)
		if tc.want == "" {
			if ClassOf(err) != ClassBadInput || IsRetryable(err) {
				t.Errorf("%s: got %q, %v; want a permanent bad_input", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// seen records what a test server received.
type seen struct {
	mu      sync.Mutex
	method  string
	path    string // escaped path
	body    string
	headers http.Header
	host    string
}

func (s *seen) handler(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.method, s.path, s.body, s.headers, s.host = r.Method, r.URL.EscapedPath(), string(b), r.Header.Clone(), r.Host
	s.mu.Unlock()
	okJSON(w, r)
}

// TestRequestShape proves what goes on the wire: GET lookups with the URL
// template filled from the record and no body; POST with the record's bytes
// as they are and Content-Type application/json; configured headers sent.
// A record missing a template field sends nothing and leaves the breaker
// alone.
func TestRequestShape(t *testing.T) {
	var s seen
	srv := newCountingServer(t, s.handler)
	record := []byte(`{"user_id":"u/1", "n": 1.0}`)
	fields := map[string]any{"user_id": "u/1", "n": 1.0}

	get, _ := testClient(t, Config{URL: srv.URL + "/users/{user_id}", Method: "get", BreakerFailures: 1,
		Headers: map[string]string{"Authorization": "Bearer t", "Host": "api.example"}})
	if _, err := get.Enrich(bg, record, fields); err != nil {
		t.Fatal(err)
	}
	if s.method != "GET" || s.path != "/users/u%2F1" || s.body != "" || s.headers.Get("Authorization") != "Bearer t" || s.host != "api.example" {
		t.Errorf("GET: method %s path %s body %q auth %q host %q", s.method, s.path, s.body, s.headers.Get("Authorization"), s.host)
	}
	_, err := get.Enrich(bg, []byte(`{}`), map[string]any{})
	if ClassOf(err) != ClassBadInput {
		t.Errorf("missing field: %v, want bad_input", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1: bad input must send nothing", n)
	}

	post, _ := testClient(t, Config{URL: srv.URL + "/enrich"})
	if _, err := post.Enrich(bg, record, fields); err != nil {
		t.Fatal(err)
	}
	if s.method != "POST" || s.body != string(record) || s.headers.Get("Content-Type") != "application/json" {
		t.Errorf("POST: method %s body %q content-type %q", s.method, s.body, s.headers.Get("Content-Type"))
	}
}
