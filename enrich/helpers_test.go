package enrich

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/wait"
)

// countingServer is an httptest server that counts the requests it sees and
// answers them with the current handler.
type countingServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	handler  http.HandlerFunc
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	return newCountingServerWith(t, h, nil)
}

// newCountingServerWith lets configure change the http.Server before it starts.
func newCountingServerWith(t *testing.T, h http.HandlerFunc, configure func(*http.Server)) *countingServer {
	t.Helper()
	s := &countingServer{handler: h}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		h := s.handler
		s.mu.Unlock()
		h(w, r)
	}))
	if configure != nil {
		configure(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// setHandler swaps the handler, e.g. to end an outage.
func (s *countingServer) setHandler(h http.HandlerFunc) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

var okJSON = status(200, `{"score":1}`)

// hang answers nothing until the client goes away (or 10s pass, so that a
// broken client cannot wedge the test server's Close). It reads the body
// first: only then does the server notice a client that disconnects.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// testClient builds a Client with fast retries and its own registry.
func testClient(t *testing.T, cfg Config, opts ...Option) (*Client, *prometheus.Registry) {
	t.Helper()
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = time.Millisecond
		cfg.RetryMax = 5 * time.Millisecond
	}
	reg := prometheus.NewRegistry()
	c, err := New(cfg, append([]Option{WithRegisterer(reg)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c, reg
}

// classOf asserts err is an *Error and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *enrich.Error", err, err)
	}
	return e
}

// metricValue returns the value of a counter or gauge in reg, selected by
// name and, optionally, one label pair.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			if m.Histogram != nil {
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}

func newTestLogger(buf *wait.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var bg = context.Background()
