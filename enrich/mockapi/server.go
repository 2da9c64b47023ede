package mockapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds what the mock reads of a request.
const maxBody = 1 << 20

// Server is the mock enrichment API; it implements http.Handler and answers
// POST and GET on any path.
type Server struct {
	cfg   Config
	now   func() time.Time
	start time.Time
	down  atomic.Bool

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	requests, ok, serverErrors, clientErrors, garbage, outage atomic.Int64
	inFlight, maxInFlight                                     atomic.Int64
	servedNanos                                               atomic.Int64
}

// Stats are counts of the requests served so far.
type Stats struct {
	Requests          int64         // GET/POST requests answered, whatever the answer
	OK                int64         // 200 with the JSON answer
	ServerErrors      int64         // 503 drawn from ErrorRate
	ClientErrors      int64         // 400 drawn from PermanentRate
	Garbage           int64         // 200 with a non-JSON body, drawn from GarbageRate
	Outage            int64         // 503 because of SetDown or an outage window
	MaxInFlight       int64         // most requests being served at once
	MeanServedLatency time.Duration // mean time from a request's arrival to its answer written
}

// Option passes a collaborator to New.
type Option func(*Server)

// WithClock sets the clock used for outage windows and latency measurement;
// default time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// New returns a mock API. cfg is expected to be valid (see Config.Validate):
// rates outside [0, 1] behave as if clamped. Outage windows start counting
// now.
func New(cfg Config, opts ...Option) *Server {
	cfg.SetDefaults()
	s := &Server{cfg: cfg, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	seed := uint64(cfg.Seed)
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.start = s.now()
	return s
}

// SetDown switches the manual outage on or off: while down, every request
// is answered 503 at once.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		OK:           s.ok.Load(),
		ServerErrors: s.serverErrors.Load(),
		ClientErrors: s.clientErrors.Load(),
		Garbage:      s.garbage.Load(),
		Outage:       s.outage.Load(),
		MaxInFlight:  s.maxInFlight.Load(),
	}
	if st.Requests > 0 {
		st.MeanServedLatency = time.Duration(s.servedNanos.Load() / st.Requests)
	}
	return st
}

// outcome is what one request gets.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeServerError
	outcomeClientError
	outcomeGarbage
	outcomeOutage
)

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := s.now()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	out := s.decide(arrival)
	if out != outcomeOutage && s.cfg.RejectContaining != "" && bytes.Contains(body, []byte(s.cfg.RejectContaining)) {
		out = outcomeClientError
	}
	if out != outcomeOutage && s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client went away; nothing is counted
		}
	}
	s.write(w, r, out, body)
	s.requests.Add(1)
	s.servedNanos.Add(int64(s.now().Sub(arrival)))
}

// decide picks the outcome of a request arriving at t. Draws happen only
// outside outages, so the counts over N drawn requests depend on the seed
// alone, not on the order in which concurrent requests draw.
func (s *Server) decide(t time.Time) outcome {
	if s.down.Load() {
		return outcomeOutage
	}
	offset := t.Sub(s.start)
	for _, w := range s.cfg.Outages {
		if w.contains(offset) {
			return outcomeOutage
		}
	}
	s.mu.Lock()
	x := s.rng.Float64()
	s.mu.Unlock()
	c := s.cfg
	switch {
	case x < c.ErrorRate:
		return outcomeServerError
	case x < c.ErrorRate+c.PermanentRate:
		return outcomeClientError
	case x < c.ErrorRate+c.PermanentRate+c.GarbageRate:
		return outcomeGarbage
	}
	return outcomeOK
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, out outcome, body []byte) {
	switch out {
	case outcomeOutage:
		s.outage.Add(1)
		http.Error(w, `{"error":"outage"}`, http.StatusServiceUnavailable)
	case outcomeServerError:
		s.serverErrors.Add(1)
		http.Error(w, `{"error":"transient failure"}`, http.StatusServiceUnavailable)
	case outcomeClientError:
		s.clientErrors.Add(1)
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
	case outcomeGarbage:
		s.garbage.Add(1)
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, garbage)
	default:
		s.ok.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(Answer(r.URL.Path, body))
	}
}

// Serve serves s on ln until ctx ends, then shuts the HTTP server down
// gracefully (waiting at most 5s) and returns nil. The caller owns the
// goroutine that calls it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
