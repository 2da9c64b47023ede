package testenv

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// Shared is one service for all the tests of a package, started by the
// first test that asks for it and closed by the package's TestMain:
//
//	var kafka = testenv.SharedKafka(1)
//
//	func TestMain(m *testing.M) { testenv.Main(m, kafka) }
//
//	func TestSomething(t *testing.T) {
//		k, err := kafka.Get(t.Context())
//		if err != nil {
//			testenv.Unavailable(t, "Kafka", err)
//			// ... fall back to an embedded broker
//		}
//		topic := testenv.UniqueName(t, "orders")
//		...
//	}
//
// Tests sharing a service stay independent by naming their topics, buckets
// and groups with UniqueName, and by not stopping shared nodes (a test that
// kills nodes starts a cluster of its own). A failed start is remembered:
// every later Get returns the same error at once.
type Shared[T io.Closer] struct {
	start func(context.Context) (T, error)

	mu      sync.Mutex // held through a start
	started bool
	val     T
	err     error

	cancelMu sync.Mutex
	cancel   context.CancelFunc // ends a start in progress; nil otherwise
}

// errClosed is what Get returns after Close.
var errClosed = errors.New("testenv: the shared service is closed")

// NewShared returns a Shared that starts its service with start.
func NewShared[T io.Closer](start func(context.Context) (T, error)) *Shared[T] {
	return &Shared[T]{start: start}
}

// SharedKafka returns a Shared Kafka cluster of nodes (1 or 3).
func SharedKafka(nodes int) *Shared[*Kafka] {
	return NewShared(func(ctx context.Context) (*Kafka, error) { return StartKafka(ctx, nodes) })
}

// SharedS3 returns a Shared S3 server.
func SharedS3() *Shared[*S3] { return NewShared(StartS3) }

// Get returns the service, starting it on the first call; ctx bounds that
// start only (the service lives until Close).
func (s *Shared[T]) Get(ctx context.Context) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		ctx, cancel := context.WithCancel(ctx)
		s.setCancel(cancel)
		s.val, s.err = s.start(ctx)
		s.setCancel(nil)
		cancel()
	}
	return s.val, s.err
}

func (s *Shared[T]) setCancel(cancel context.CancelFunc) {
	s.cancelMu.Lock()
	s.cancel = cancel
	s.cancelMu.Unlock()
}

// Close closes the service if it was started, first cutting short a start
// in progress (e.g. when Main is interrupted); Get fails afterwards.
func (s *Shared[T]) Close() error {
	s.cancelMu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.cancelMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.err = errClosed
		return nil
	}
	if s.err != nil {
		return nil
	}
	err := s.val.Close()
	s.err = errClosed
	return err
}

// Main runs a package's tests, then closes closers (the package's Shared
// services) and exits. On SIGINT or SIGTERM it closes them first, so an
// interrupted run leaves no server and no folder behind; if the binary is
// killed outright, the servers die with it (see startChild) but their
// folders stay under the temp folder.
func Main(m *testing.M, closers ...io.Closer) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			for _, c := range closers {
				if err := c.Close(); err != nil {
					os.Stderr.WriteString("testenv: " + err.Error() + "\n")
				}
			}
		})
	}
	go func() {
		if _, ok := <-sig; ok {
			closeAll()
			os.Exit(130)
		}
	}()
	code := m.Run()
	signal.Stop(sig)
	closeAll()
	os.Exit(code)
}
