package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redrive-io/redrive/enrich/mockapi"
)

// meteredAPI is the seeded mock enrichment API served on loopback, wrapped
// so that the benchmark also knows when the first request arrived and the
// last answer left: the achieved rate is answers over that span, measured
// at the API for redrive and the baseline alike.
type meteredAPI struct {
	*mockapi.Server
	URL string

	first, last atomic.Int64 // unix nanos of the first arrival and the last answer
	inFlight    atomic.Int64
	stop        context.CancelFunc
	done        chan error
}

// startAPI serves a fresh mock API with cfg until Close.
func startAPI(cfg mockapi.Config) (*meteredAPI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mock API: %w", err)
	}
	a := &meteredAPI{Server: mockapi.New(cfg), URL: "http://" + ln.Addr().String() + "/enrich", done: make(chan error, 1)}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go func() {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		err := srv.Shutdown(sctx)
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		a.done <- err
	}()
	return a, nil
}

// ServeHTTP forwards to the mock and notes the span of the traffic.
func (a *meteredAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.first.CompareAndSwap(0, time.Now().UnixNano())
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	a.Server.ServeHTTP(w, r)
	now := time.Now().UnixNano()
	for {
		l := a.last.Load()
		if now <= l || a.last.CompareAndSwap(l, now) {
			return
		}
	}
}

// InFlight is the number of requests being served now.
func (a *meteredAPI) InFlight() int64 { return a.inFlight.Load() }

// Span is the time from the first request's arrival to the last answer.
func (a *meteredAPI) Span() time.Duration {
	f, l := a.first.Load(), a.last.Load()
	if f == 0 || l < f {
		return 0
	}
	return time.Duration(l - f)
}

// Close stops the server.
func (a *meteredAPI) Close() error {
	a.stop()
	return <-a.done
}
