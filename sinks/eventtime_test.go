package sinks

import (
	"slices"
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/fakeclock"
	"github.com/redrive-io/redrive/internal/wait"
)

// timedItem is d.item with an event time.
func timedItem(d *doneLog, partition int32, offset int64, at time.Time) Item {
	it := d.item("t", partition, offset)
	it.Time = at
	return it
}

// TestEventTimeOneObjectPerHour proves that lines of one topic-partition whose
// times fall into three hours become three objects, each in the dt=/hr=
// folders of its records' hour (not the clock's), each named by the offset
// range of its own lines, and that ParseKey still reads those keys.
func TestEventTimeOneObjectPerHour(t *testing.T) {
	store := newMemStore()
	clock := time.Date(2026, 5, 7, 12, 0, 0, 0, time.UTC) // a day after the events
	b := newTestBatcher(t, testConfig(), store, WithClock(func() time.Time { return clock }))
	d := newDoneLog()
	h := func(hour, minute int) time.Time { return time.Date(2026, 5, 6, hour, minute, 0, 0, time.UTC) }
	b.Add(timedItem(d, 2, 10, h(7, 0)))
	b.Add(timedItem(d, 2, 11, h(7, 59)))
	b.Add(timedItem(d, 2, 12, h(8, 0)))
	b.Add(timedItem(d, 2, 13, h(8, 30)))
	b.Add(timedItem(d, 2, 14, h(8, 31)))
	b.Add(timedItem(d, 2, 15, h(9, 5)))
	flush(t, b, "t", 2)
	want := []string{
		"dt=2026-05-06/hr=07/t-2-10-11.jsonl.gz",
		"dt=2026-05-06/hr=08/t-2-12-14.jsonl.gz",
		"dt=2026-05-06/hr=09/t-2-15-15.jsonl.gz",
	}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	for i, key := range want {
		kr, err := ParseKey(key)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", key, err)
		}
		first := []int64{10, 12, 15}[i]
		if kr.Topic != "t" || kr.Partition != 2 || kr.First != first {
			t.Fatalf("ParseKey(%q) = %+v", key, kr)
		}
	}
	if got := lines(t, store.object(t, want[1]), true); len(got) != 3 {
		t.Fatalf("hour 08 holds %d lines, want 3: %q", len(got), got)
	}
	for off := int64(10); off <= 15; off++ {
		d.requireOnce(t, "t", 2, off, nil)
	}
}

// TestEventTimeDailyLayout proves that with PartitionLayout "daily" lines of
// different hours of one day share an object with no hr= folder, and a line
// of the next day starts another.
func TestEventTimeDailyLayout(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.PartitionLayout = LayoutDaily
	b := newTestBatcher(t, cfg, store, WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	b.Add(timedItem(d, 0, 0, time.Date(2026, 5, 6, 1, 0, 0, 0, time.UTC)))
	b.Add(timedItem(d, 0, 1, time.Date(2026, 5, 6, 23, 0, 0, 0, time.UTC)))
	// Another zone's clock: the bucket is the UTC day.
	b.Add(timedItem(d, 0, 2, time.Date(2026, 5, 7, 1, 0, 0, 0, time.FixedZone("x", 3*3600))))
	b.Add(timedItem(d, 0, 3, time.Date(2026, 5, 7, 0, 0, 0, 0, time.UTC)))
	flush(t, b, "t", 0)
	want := []string{"dt=2026-05-06/t-0-0-2.jsonl.gz", "dt=2026-05-07/t-0-3-3.jsonl.gz"}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

// TestEventTimeSealAndFlushCoverEveryBucket proves invariant 1 across
// buckets: while uploads are held, lines of three hours leave at most
// MaxOpenBuckets (2) batches open per partition (the one opened first is
// sealed when a third bucket opens), Seal queues every open one without
// waiting for MaxAge, and
// FlushPartition returns only once all three are durable, with every Done
// called once and none before its object is stored.
func TestEventTimeSealAndFlushCoverEveryBucket(t *testing.T) {
	store := newMemStore()
	release := make(chan struct{})
	store.block = func(string) chan struct{} { return release }
	b := newTestBatcher(t, testConfig(), store, WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	for i, hour := range []int{3, 4, 5} {
		at := time.Date(2026, 5, 6, hour, 0, 0, 0, time.UTC)
		b.Add(timedItem(d, 1, int64(2*i), at))
		b.Add(timedItem(d, 1, int64(2*i+1), at.Add(time.Minute)))
	}
	if n := b.sealedCount(); n != 1 {
		t.Fatalf("sealed batches = %d, want 1 (hour 03; 04 and 05 are open)", n)
	}
	b.Seal("t", 1)
	if n := b.sealedCount(); n != 3 {
		t.Fatalf("after Seal, sealed batches = %d, want 3", n)
	}
	if got := d.total(); got != 0 {
		t.Fatalf("%d Done calls before any upload finished", got)
	}
	close(release)
	flush(t, b, "t", 1)
	wait.For(t, 10*time.Second, "three objects", func() bool { return store.count() == 3 })
	for off := range int64(6) {
		d.requireOnce(t, "t", 1, off, nil)
	}
}

// TestProcessingTimeKeepsOneBatch proves that lines without a time (the
// "processing" mode) still share the open batch whatever the clock says,
// dated by the hour the batch was opened, as before event-time partitioning.
func TestProcessingTimeKeepsOneBatch(t *testing.T) {
	store := newMemStore()
	clock := fakeclock.New(t0)
	b := newTestBatcher(t, testConfig(), store, WithClock(clock.Now))
	d := newDoneLog()
	b.Add(d.item("t", 0, 0))
	clock.Advance(time.Hour)
	b.Add(d.item("t", 0, 1))
	flush(t, b, "t", 0)
	if got, want := store.keys(), []string{"dt=2026-05-06/hr=07/t-0-0-1.jsonl.gz"}; !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

// TestEventTimeOpenBucketsAreBounded proves that lines alternating between
// two hours (records straddling an hour's end) fill one object per hour
// rather than one per change, and that a line of a third hour seals the
// batch opened first, so no more than MaxOpenBuckets are ever open.
func TestEventTimeOpenBucketsAreBounded(t *testing.T) {
	store := newMemStore()
	b := newTestBatcher(t, testConfig(), store, WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	h := func(hour int) time.Time { return time.Date(2026, 5, 6, hour, 59, 0, 0, time.UTC) }
	for off, hour := range []int{10, 11, 10, 11, 10} {
		b.Add(timedItem(d, 0, int64(off), h(hour)))
	}
	if n := b.sealedCount(); n != 0 {
		t.Fatalf("%d batches sealed by lines of two hours, want 0", n)
	}
	b.Add(timedItem(d, 0, 5, h(12)))
	wait.For(t, 10*time.Second, "hour 10's object", func() bool { return store.count() == 1 })
	if got, want := store.keys(), []string{"dt=2026-05-06/hr=10/t-0-0-4.jsonl.gz"}; !slices.Equal(got, want) {
		t.Fatalf("after a third hour keys = %v, want %v (the bucket opened first)", got, want)
	}
	b.Add(timedItem(d, 0, 6, h(11)))
	flush(t, b, "t", 0)
	want := []string{
		"dt=2026-05-06/hr=10/t-0-0-4.jsonl.gz",
		"dt=2026-05-06/hr=11/t-0-1-6.jsonl.gz",
		"dt=2026-05-06/hr=12/t-0-5-5.jsonl.gz",
	}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

// TestEventTimeAgerSealsEachBucketByItsOwnAge proves MaxAge counts from each
// open batch's first line: of two open buckets, only the older one is
// sealed when it comes of age.
func TestEventTimeAgerSealsEachBucketByItsOwnAge(t *testing.T) {
	store := newMemStore()
	clock := fakeclock.New(t0)
	b := newTestBatcher(t, testConfig(), store, WithClock(clock.Now)) // MaxAge 1h
	d := newDoneLog()
	b.Add(timedItem(d, 0, 0, time.Date(2026, 5, 6, 1, 0, 0, 0, time.UTC)))
	clock.Advance(40 * time.Minute)
	b.Add(timedItem(d, 0, 1, time.Date(2026, 5, 6, 2, 0, 0, 0, time.UTC)))
	clock.Advance(30 * time.Minute)
	wait.For(t, 10*time.Second, "the older bucket sealed by age", func() bool { return store.count() == 1 })
	if got, want := store.keys(), []string{"dt=2026-05-06/hr=01/t-0-0-0.jsonl.gz"}; !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if calls := d.callsOf("t", 0, 1); len(calls) != 0 {
		t.Fatalf("the younger bucket's line was finished early: %v", calls)
	}
}
