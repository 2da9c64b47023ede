package testenv

import (
	"context"
	"errors"
	"sync"
	"testing"
)

type fakeService struct{ closed int }

func (f *fakeService) Close() error { f.closed++; return nil }

// TestShared_StartsOnceClosesOnce proves that concurrent Gets start the
// service once and share it, and that Close closes it once and ends Gets.
func TestShared_StartsOnceClosesOnce(t *testing.T) {
	starts := 0
	svc := &fakeService{}
	s := NewShared(func(context.Context) (*fakeService, error) { starts++; return svc, nil })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := s.Get(t.Context()); err != nil || got != svc {
				t.Errorf("Get = %p, %v", got, err)
			}
		})
	}
	wg.Wait()
	if starts != 1 {
		t.Fatalf("started %d times, want 1", starts)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if svc.closed != 1 {
		t.Fatalf("closed %d times, want 1", svc.closed)
	}
	if _, err := s.Get(t.Context()); !errors.Is(err, errClosed) {
		t.Fatalf("Get after Close: %v, want %v", err, errClosed)
	}
}

// TestShared_RemembersAFailedStart proves that a failed start is not
// retried by every later test: they all get the first error at once.
func TestShared_RemembersAFailedStart(t *testing.T) {
	boom := errors.New("no java")
	starts := 0
	s := NewShared(func(context.Context) (*fakeService, error) { starts++; return nil, boom })
	for range 3 {
		if _, err := s.Get(t.Context()); !errors.Is(err, boom) {
			t.Fatalf("Get: %v, want %v", err, boom)
		}
	}
	if starts != 1 {
		t.Fatalf("started %d times, want 1", starts)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after a failed start: %v", err)
	}
}

// TestShared_CloseCutsAStartShort proves that Close (as Main calls it on
// SIGINT) cancels a start in progress instead of waiting for it.
func TestShared_CloseCutsAStartShort(t *testing.T) {
	started := make(chan struct{})
	s := NewShared(func(ctx context.Context) (*fakeService, error) {
		close(started)
		<-ctx.Done() // a start that would otherwise never end
		return nil, ctx.Err()
	})
	got := make(chan error, 1)
	go func() {
		_, err := s.Get(context.Background())
		got <- err
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted Get returned %v, want %v", err, context.Canceled)
	}
}
