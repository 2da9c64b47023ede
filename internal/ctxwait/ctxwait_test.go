package ctxwait_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/ctxwait"
)

var errStop = errors.New("stop")

// An ended context cuts each wait short with its cause; otherwise the wait
// ends when what it waits for happens.
func TestWaitsEndWithTheirContext(t *testing.T) {
	ended, cancel := context.WithCancelCause(context.Background())
	cancel(errStop)
	if err := ctxwait.Sleep(ended, time.Hour); !errors.Is(err, errStop) {
		t.Fatalf("Sleep on an ended context = %v, want its cause", err)
	}
	if err := ctxwait.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	if err := ctxwait.Group(ended, &wg); !errors.Is(err, errStop) {
		t.Fatalf("Group on an ended context = %v, want its cause", err)
	}
	go wg.Done()
	if err := ctxwait.Group(context.Background(), &wg); err != nil {
		t.Fatalf("Group = %v", err)
	}
	ch := make(chan struct{})
	if ctxwait.Closed(ch) {
		t.Fatal("an open channel reads as closed")
	}
	close(ch)
	if !ctxwait.Closed(ch) {
		t.Fatal("a closed channel reads as open")
	}
}
