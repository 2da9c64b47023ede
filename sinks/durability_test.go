package sinks

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/wait"
)

var errStoreDown = errors.New("store is down")

// TestDoneOnlyAfterUploadSucceeds proves Invariant 1's part here: a line's Done is
// not called while its batch's upload is still in progress, and is called exactly
// once, with nil, after the upload succeeded.
func TestDoneOnlyAfterUploadSucceeds(t *testing.T) {
	store := newMemStore()
	release := make(chan struct{})
	store.block = func(string) chan struct{} { return release }
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.MaxRecords = 3
	b := newTestBatcher(t, cfg, store, WithRegisterer(reg))
	d := newDoneLog()
	for off := range int64(3) {
		b.Add(d.item("t", 0, off))
	}
	wait.For(t, 10*time.Second, "the upload to start", func() bool { return store.inflightNow() == 1 })
	if n := d.total(); n != 0 {
		t.Fatalf("%d Done calls while the upload is blocked, want 0", n)
	}
	if p := b.Pending(); p != 3 {
		t.Fatalf("Pending = %d while uploading, want 3", p)
	}
	if g := metricValue(t, b.m.pending); g != 3 {
		t.Fatalf("pending gauge = %v, want 3", g)
	}
	close(release)
	wait.For(t, 10*time.Second, "Done after the upload", func() bool { return b.Pending() == 0 })
	for off := range int64(3) {
		d.requireOnce(t, "t", 0, off, nil)
	}
	if g := metricValue(t, b.m.pending); g != 0 {
		t.Fatalf("pending gauge = %v after upload, want 0", g)
	}
	if n := metricValue(t, b.m.batchesOK); n != 1 {
		t.Fatalf("batches ok = %v, want 1", n)
	}
	// Close must not call any Done a second time.
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for off := range int64(3) {
		d.requireOnce(t, "t", 0, off, nil)
	}
}

// TestRetriesUntilUploadSucceeds proves an upload that fails N times and then
// succeeds calls each Done once with nil, counts N retries, and logs one line when
// the batch starts failing and one when it recovers (not one per retry).
func TestRetriesUntilUploadSucceeds(t *testing.T) {
	const failures = 4
	store := newMemStore()
	store.fail = func(_ string, n int) error {
		if n <= failures {
			return errStoreDown
		}
		return nil
	}
	var logs wait.SyncBuffer
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.MaxRecords = 2
	b := newTestBatcher(t, cfg, store, WithRegisterer(reg),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	b.Add(d.item("t", 0, 1))
	b.Add(d.item("t", 0, 2))
	wait.For(t, 10*time.Second, "the batch to become durable", func() bool { return b.Pending() == 0 })
	d.requireOnce(t, "t", 0, 1, nil)
	d.requireOnce(t, "t", 0, 2, nil)
	key := "dt=2026-05-06/hr=07/t-0-1-2.jsonl.gz"
	if n := store.attemptsOf(key); n != failures+1 {
		t.Fatalf("attempts = %d, want %d", n, failures+1)
	}
	if n := metricValue(t, b.m.uploadRetries); n != failures {
		t.Fatalf("retries metric = %v, want %d", n, failures)
	}
	out := logs.String()
	if n := strings.Count(out, "sink upload failing"); n != 1 {
		t.Fatalf("%d 'failing' log lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "sink upload recovered"); n != 1 {
		t.Fatalf("%d 'recovered' log lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, key) || !strings.Contains(out, "records=2") || !strings.Contains(out, errStoreDown.Error()) {
		t.Fatalf("log lines lack key, records or err:\n%s", out)
	}
}

// TestCloseWithCancelledContextGivesUp proves that Close with an already-cancelled
// context, while the store keeps failing, calls every Done exactly once with an
// error wrapping ErrGaveUp (queued and uploading batches, and the open ones Close
// sealed), returns an error, and leaves no goroutine behind.
func TestCloseWithCancelledContextGivesUp(t *testing.T) {
	before := runtime.NumGoroutine()
	store := newMemStore()
	store.fail = func(string, int) error { return errStoreDown }
	cfg := testConfig()
	cfg.MaxRecords = 2
	cfg.MaxUploads = 2
	b, err := NewBatcher(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	const partitions, perPartition = 5, 5 // two full batches and one open line each
	for p := range int32(partitions) {
		for off := range int64(perPartition) {
			b.Add(d.item("t", p, off))
		}
	}
	wait.For(t, 10*time.Second, "uploads to be failing", func() bool { return store.attemptsOf(store.keyContaining("")) >= 2 })
	if n := d.total(); n != 0 {
		t.Fatalf("%d Done calls before Close while the store fails, want 0", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = withinDeadline(t, "Close with a cancelled context", func() error { return b.Close(ctx) })
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want an error wrapping ErrGaveUp and context.Canceled", err)
	}
	for p := range int32(partitions) {
		for off := range int64(perPartition) {
			d.requireOnce(t, "t", p, off, ErrGaveUp)
		}
	}
	if b.Pending() != 0 {
		t.Fatalf("Pending = %d after Close, want 0", b.Pending())
	}
	// Adding after Close hands the item back at once.
	b.Add(d.item("t", 0, 99))
	d.requireOnce(t, "t", 0, 99, ErrClosed)
	if err := b.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	wait.For(t, 10*time.Second, "the Batcher's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestCloseWaitsForUploads proves Close with a live context seals the open batches
// and returns only once every line is durable.
func TestCloseWaitsForUploads(t *testing.T) {
	store := newMemStore()
	store.fail = func(_ string, n int) error {
		if n == 1 {
			return errStoreDown
		}
		return nil
	}
	b, err := NewBatcher(testConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	for p := range int32(3) {
		b.Add(d.item("t", p, 7))
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if store.count() != 3 {
		t.Fatalf("%d objects after Close, want 3", store.count())
	}
	for p := range int32(3) {
		d.requireOnce(t, "t", p, 7, nil)
	}
}

// TestFlushPartitionOnlyThatPartition proves FlushPartition seals and waits for the
// requested topic-partition only, including a batch of it already uploading, and
// leaves other topic-partitions (same topic other partition, other topic same
// partition) open and untouched.
func TestFlushPartitionOnlyThatPartition(t *testing.T) {
	store := newMemStore()
	releaseA := make(chan struct{})
	store.block = func(key string) chan struct{} {
		if strings.Contains(key, "/a-1-") {
			return releaseA
		}
		return nil
	}
	cfg := testConfig()
	cfg.MaxRecords = 2
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	for off := range int64(3) { // one full batch (uploading, blocked) and one open line
		b.Add(d.item("a", 1, off))
	}
	b.Add(d.item("a", 2, 0))
	b.Add(d.item("b", 1, 0))
	wait.For(t, 10*time.Second, "a/1's first batch to be uploading", func() bool { return store.inflightNow() == 1 })

	flushed := make(chan error, 1)
	go func() { flushed <- b.FlushPartition(context.Background(), "a", 1) }()
	wait.For(t, 10*time.Second, "a/1's open batch to be sealed and uploading", func() bool { return store.inflightNow() == 2 })
	select {
	case err := <-flushed:
		t.Fatalf("FlushPartition returned (%v) while a/1's uploads were blocked", err)
	default:
	}
	close(releaseA)
	if err := <-flushed; err != nil {
		t.Fatalf("FlushPartition: %v", err)
	}
	for off := range int64(3) {
		d.requireOnce(t, "a", 1, off, nil)
	}
	if n := len(d.callsOf("a", 2, 0)) + len(d.callsOf("b", 1, 0)); n != 0 {
		t.Fatalf("flushing a/1 called %d Done of other partitions", n)
	}
	if got := store.count(); got != 2 {
		t.Fatalf("%d objects, want a/1's two only: %v", got, store.keys())
	}
	if b.Pending() != 2 {
		t.Fatalf("Pending = %d, want the 2 lines of a/2 and b/1 still open", b.Pending())
	}
}

// TestFlushPartitionGivesUpAtContextEnd proves a flush whose context ends gives up
// on its own topic-partition's batches only: their Done get ErrGaveUp, while another
// partition's upload in progress is not cancelled and completes.
func TestFlushPartitionGivesUpAtContextEnd(t *testing.T) {
	store := newMemStore()
	releaseB := make(chan struct{})
	store.fail = func(key string, _ int) error {
		if strings.Contains(key, "/a-") {
			return errStoreDown
		}
		return nil
	}
	store.block = func(key string) chan struct{} {
		if strings.Contains(key, "/b-") {
			return releaseB
		}
		return nil
	}
	cfg := testConfig()
	cfg.MaxRecords = 1
	cfg.MaxUploads = 2
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	b.Add(d.item("b", 0, 0))
	wait.For(t, 10*time.Second, "b/0 to be uploading", func() bool { return store.inflightNow() == 1 })
	for off := range int64(3) {
		b.Add(d.item("a", 0, off))
	}
	wait.For(t, 10*time.Second, "a/0's uploads to be failing", func() bool { return store.attemptsOf(store.keyContaining("/a-")) >= 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := withinDeadline(t, "FlushPartition past its context", func() error { return b.FlushPartition(ctx, "a", 0) })
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("FlushPartition = %v, want ErrGaveUp wrapping the deadline", err)
	}
	for off := range int64(3) {
		d.requireOnce(t, "a", 0, off, ErrGaveUp)
	}
	if calls := d.callsOf("b", 0, 0); len(calls) != 0 {
		t.Fatalf("b/0's Done called (%v) by a flush of a/0", calls)
	}
	close(releaseB)
	wait.For(t, 10*time.Second, "b/0 to become durable", func() bool { return b.Pending() == 0 })
	d.requireOnce(t, "b", 0, 0, nil)
}

// TestMaxUploadsBound proves no more than MaxUploads uploads run at once, whatever
// the number of sealed batches: the others wait in the queue for a slot.
func TestMaxUploadsBound(t *testing.T) {
	const maxUploads, batches = 3, 10
	store := newMemStore()
	release := make(chan struct{})
	store.block = func(string) chan struct{} { return release }
	cfg := testConfig()
	cfg.MaxRecords = 1
	cfg.MaxUploads = maxUploads
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	for p := range int32(batches) {
		b.Add(d.item("t", p, 0)) // never blocks, although every upload is blocked
	}
	wait.For(t, 10*time.Second, "MaxUploads uploads in flight and the rest queued", func() bool {
		return store.inflightNow() == maxUploads && b.queued() == batches-maxUploads
	})
	close(release)
	wait.For(t, 10*time.Second, "all batches durable", func() bool { return b.Pending() == 0 })
	store.mu.Lock()
	peak := store.maxInflight
	store.mu.Unlock()
	if peak != maxUploads {
		t.Fatalf("peak concurrent Puts = %d, want %d", peak, maxUploads)
	}
	for p := range int32(batches) {
		d.requireOnce(t, "t", p, 0, nil)
	}
}

// TestDoneExactlyOnceUnderConcurrency proves, under concurrent Adds, flushes, age
// sealing and a store that fails now and then, that every Done is called exactly
// once with nil and every line lands in exactly one object.
func TestDoneExactlyOnceUnderConcurrency(t *testing.T) {
	store := newMemStore()
	store.fail = func(_ string, n int) error {
		if n == 1 {
			return errStoreDown
		}
		return nil
	}
	cfg := testConfig()
	cfg.MaxRecords = 7
	cfg.MaxAge = 5 * time.Millisecond
	cfg.Compression = CompressionNone
	b, err := NewBatcher(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	const partitions, perPartition = 4, 300
	var wg sync.WaitGroup
	for p := range int32(partitions) {
		wg.Go(func() {
			for off := range int64(perPartition) {
				b.Add(d.item("t", p, off))
				if off%50 == 49 {
					if err := b.FlushPartition(context.Background(), "t", p); err != nil {
						t.Errorf("FlushPartition: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	seen := map[string]int{}
	for _, k := range store.keys() {
		for _, l := range lines(t, store.object(t, k), false) {
			seen[l]++
		}
	}
	for p := range int32(partitions) {
		for off := range int64(perPartition) {
			d.requireOnce(t, "t", p, off, nil)
			it := d.item("t", p, off)
			if n := seen[string(it.Line)]; n != 1 {
				t.Fatalf("line %s stored %d times, want 1", it.Line, n)
			}
		}
	}
}

// TestAddRacingCloseNeverStrandsALine proves an Add that races Close never leaves a
// line in a batch nobody will seal: once Close and the Adds have returned, every
// Done has been called exactly once (nil if the line made it into a sealed batch,
// ErrClosed if it arrived too late). A race is probabilistic, so it runs many rounds.
func TestAddRacingCloseNeverStrandsALine(t *testing.T) {
	for round := range 30 {
		b, err := NewBatcher(testConfig(), newMemStore())
		if err != nil {
			t.Fatal(err)
		}
		d := newDoneLog()
		var wg sync.WaitGroup
		var added [4]int64
		for p := range int32(len(added)) {
			wg.Go(func() {
				for off := int64(0); ; off++ {
					b.Add(d.item("t", p, off))
					added[p] = off + 1
					if calls := d.callsOf("t", p, off); len(calls) == 1 && errors.Is(calls[0], ErrClosed) {
						return
					}
				}
			})
		}
		wait.For(t, 10*time.Second, "some lines to be added", func() bool { return b.Pending() > 10 })
		if err := b.Close(context.Background()); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		wg.Wait()
		for p := range int32(len(added)) {
			for off := range added[p] {
				if calls := d.callsOf("t", p, off); len(calls) != 1 {
					t.Fatalf("round %d: Done of t/%d@%d called %d times, want once", round, p, off, len(calls))
				}
			}
		}
		if n := b.Pending(); n != 0 {
			t.Fatalf("round %d: Pending = %d after Close", round, n)
		}
	}
}

// TestSealUploadsAnOpenBatchAtOnce proves Seal queues a small, young open batch
// of one topic-partition for upload without waiting for MaxAge, and leaves
// other topic-partitions open.
func TestSealUploadsAnOpenBatchAtOnce(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.MaxAge = time.Hour
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	b.Add(d.item("a", 1, 0))
	b.Add(d.item("a", 1, 1))
	b.Add(d.item("a", 2, 0))
	b.Seal("a", 1)
	b.Seal("a", 9) // nothing open there: a no-op
	wait.For(t, 10*time.Second, "a/1's two lines to be durable", func() bool { return len(d.callsOf("a", 1, 1)) == 1 })
	d.requireOnce(t, "a", 1, 0, nil)
	d.requireOnce(t, "a", 1, 1, nil)
	if got := store.count(); got != 1 {
		t.Fatalf("%d objects, want a/1's batch only: %v", got, store.keys())
	}
	if b.Pending() != 1 {
		t.Fatalf("Pending = %d, want a/2's line still open", b.Pending())
	}
}
