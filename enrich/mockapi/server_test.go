package mockapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve sends one POST to h and returns the recorded answer.
func serve(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

// TestRatesDeterministic proves that with a fixed seed the counts over N
// requests are the same on every run and whether requests arrive one by one
// or concurrently, and that they are close to the configured rates.
func TestRatesDeterministic(t *testing.T) {
	cfg := Config{ErrorRate: 0.2, PermanentRate: 0.05, GarbageRate: 0.1, Seed: 42}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	const n = 4000
	sequential := New(cfg)
	for i := range n {
		serve(sequential, "POST", "/", fmt.Sprintf(`{"i":%d}`, i))
	}
	concurrent := New(cfg)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				serve(concurrent, "POST", "/", fmt.Sprintf(`{"i":%d}`, i))
			}
		})
	}
	wg.Wait()

	a, b := sequential.Stats(), concurrent.Stats()
	a.MeanServedLatency, b.MeanServedLatency, a.MaxInFlight, b.MaxInFlight = 0, 0, 0, 0
	if a != b {
		t.Errorf("same seed, different counts:\n sequential %+v\n concurrent %+v", a, b)
	}
	if a.Requests != n || a.OK+a.ServerErrors+a.ClientErrors+a.Garbage != n || a.Outage != 0 {
		t.Errorf("counts do not add up to %d: %+v", n, a)
	}
	near := func(name string, got int64, rate float64) {
		if want := rate * n; float64(got) < want*0.85 || float64(got) > want*1.15 {
			t.Errorf("%s = %d, want about %.0f", name, got, want)
		}
	}
	near("ServerErrors", a.ServerErrors, cfg.ErrorRate)
	near("ClientErrors", a.ClientErrors, cfg.PermanentRate)
	near("Garbage", a.Garbage, cfg.GarbageRate)
	near("OK", a.OK, 1-cfg.ErrorRate-cfg.PermanentRate-cfg.GarbageRate)

	other := New(Config{ErrorRate: 0.2, PermanentRate: 0.05, GarbageRate: 0.1, Seed: 43})
	for i := range n {
		serve(other, "POST", "/", fmt.Sprintf(`{"i":%d}`, i))
	}
	if o := other.Stats(); o.ServerErrors == a.ServerErrors && o.ClientErrors == a.ClientErrors && o.Garbage == a.Garbage {
		t.Errorf("seeds 42 and 43 gave identical counts %+v: the seed is ignored", o)
	}
}

// TestAnswers proves each kind of answer: the JSON answer is derived from the
// path and body (so a test can tell it came from the API), errors carry the
// documented statuses, and only GET and POST are served.
func TestAnswers(t *testing.T) {
	ok := New(Config{})
	rec := serve(ok, "POST", "/users/7", `{"id":7}`)
	if rec.Code != 200 || rec.Body.String() != string(Answer("/users/7", []byte(`{"id":7}`))) {
		t.Errorf("POST: %d %s", rec.Code, rec.Body)
	}
	var ans struct{ Score, Len int }
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Len != 8 || ans.Score < 0 || ans.Score > 999 {
		t.Errorf("answer %s: %+v %v", rec.Body, ans, err)
	}
	if string(Answer("/a", []byte("x"))) == string(Answer("/b", []byte("x"))) &&
		string(Answer("/a", []byte("x"))) == string(Answer("/a", []byte("y"))) {
		t.Error("Answer ignores its input")
	}
	if rec := serve(ok, "GET", "/users/7", ``); rec.Code != 200 {
		t.Errorf("GET: %d", rec.Code)
	}
	if rec := serve(ok, "PUT", "/", `{}`); rec.Code != 405 {
		t.Errorf("PUT: %d, want 405", rec.Code)
	}

	for _, tc := range []struct {
		cfg  Config
		code int
		json bool
	}{
		{Config{ErrorRate: 1}, 503, true},
		{Config{PermanentRate: 1}, 400, true},
		{Config{GarbageRate: 1}, 200, false},
	} {
		rec := serve(New(tc.cfg), "POST", "/", `{}`)
		if rec.Code != tc.code || json.Valid(rec.Body.Bytes()) != tc.json {
			t.Errorf("%+v: %d %q", tc.cfg, rec.Code, rec.Body)
		}
	}
}

// TestSetDown proves the manual outage switch: every request is answered 503
// while down, and served normally again after.
func TestSetDown(t *testing.T) {
	s := New(Config{})
	s.SetDown(true)
	for range 5 {
		if rec := serve(s, "POST", "/", `{}`); rec.Code != 503 {
			t.Fatalf("down: %d, want 503", rec.Code)
		}
	}
	s.SetDown(false)
	if rec := serve(s, "POST", "/", `{}`); rec.Code != 200 {
		t.Fatalf("up again: %d, want 200", rec.Code)
	}
	if st := s.Stats(); st.Outage != 5 || st.OK != 1 || st.Requests != 6 {
		t.Errorf("stats %+v", st)
	}
}

// TestOutageWindow proves that outage windows are relative to the server's
// creation and cover [Start, Start+Duration).
func TestOutageWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := New(Config{Outages: []Window{{Start: 10 * time.Second, Duration: 5 * time.Second}}},
		WithClock(func() time.Time { return now }))
	for _, tc := range []struct {
		at   time.Duration
		code int
	}{{0, 200}, {9 * time.Second, 200}, {10 * time.Second, 503}, {14 * time.Second, 503}, {15 * time.Second, 200}, {time.Hour, 200}} {
		now = t0.Add(tc.at)
		if rec := serve(s, "POST", "/", `{}`); rec.Code != tc.code {
			t.Errorf("at +%s: %d, want %d", tc.at, rec.Code, tc.code)
		}
	}
}

// TestLatencyMeasured proves that Latency is served and that
// MeanServedLatency measures it (a lower bound only: the machine may be slow).
func TestLatencyMeasured(t *testing.T) {
	s := New(Config{Latency: 20 * time.Millisecond})
	for range 3 {
		serve(s, "POST", "/", `{}`)
	}
	if m := s.Stats().MeanServedLatency; m < 20*time.Millisecond {
		t.Errorf("MeanServedLatency = %s, want >= 20ms", m)
	}
}

// TestServe proves the server can be run on 127.0.0.1:0 and stops cleanly
// when its context ends.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Config{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/x", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(Answer("/x", []byte(`{"a":1}`))) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// TestConfigValidate proves that invalid rates, latency and windows are
// reported by field name.
func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg   Config
		field string
	}{
		{Config{ErrorRate: -0.1}, "ErrorRate"},
		{Config{PermanentRate: 1.5}, "PermanentRate"},
		{Config{GarbageRate: 2}, "GarbageRate"},
		{Config{ErrorRate: 0.6, PermanentRate: 0.6}, "ErrorRate+PermanentRate+GarbageRate"},
		{Config{Latency: -1}, "Latency"},
		{Config{Outages: []Window{{Start: time.Second}}}, "Outages[0]"},
	}
	for _, tc := range cases {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if err := (Config{ErrorRate: 0.5, PermanentRate: 0.5}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// RejectContaining answers 400 to the requests whose body holds the marker
// and only to those, so that tests can choose which records are rejected.
func TestRejectContaining(t *testing.T) {
	s := New(Config{RejectContaining: `"mock":"reject"`})
	for body, want := range map[string]int{`{"id":1,"mock":"reject"}`: 400, `{"id":2}`: 200} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/enrich", strings.NewReader(body)))
		if w.Code != want {
			t.Errorf("%s: status %d, want %d", body, w.Code, want)
		}
	}
}
