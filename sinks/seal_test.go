package sinks

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/fakeclock"
	"github.com/redrive-io/redrive/internal/wait"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// TestSealsByMaxRecords proves a batch is sealed and uploaded as soon as it holds
// MaxRecords lines, and that the remainder stays open until flushed.
func TestSealsByMaxRecords(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.MaxRecords = 3
	b := newTestBatcher(t, cfg, store, WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	for off := range int64(7) {
		b.Add(d.item("t", 0, off))
	}
	wait.For(t, 10*time.Second, "two full batches", func() bool { return store.count() == 2 && b.Pending() == 1 })
	want := []string{"dt=2026-05-06/hr=07/t-0-0-2.jsonl.gz", "dt=2026-05-06/hr=07/t-0-3-5.jsonl.gz"}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if calls := d.callsOf("t", 0, 6); len(calls) != 0 {
		t.Fatalf("the 7th line is in an open batch, yet its Done was called: %v", calls)
	}
	flush(t, b, "t", 0)
	if got := store.keys(); len(got) != 3 || got[2] != "dt=2026-05-06/hr=07/t-0-6-6.jsonl.gz" {
		t.Fatalf("after flush keys = %v", got)
	}
}

// TestSealsByMaxBytes proves a batch is sealed before it would exceed MaxBytes of
// uncompressed text (lines plus newlines), and that a line longer than MaxBytes makes
// a batch of its own.
func TestSealsByMaxBytes(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.MaxBytes = 25
	cfg.Compression = CompressionNone
	b := newTestBatcher(t, cfg, store, WithClock(func() time.Time { return t0 }))
	line := func(off int64, n int) Item {
		return Item{Topic: "t", Partition: 1, Offset: off, Line: []byte(strings.Repeat("x", n))}
	}
	b.Add(line(0, 9))  // 10 bytes
	b.Add(line(1, 9))  // 20 bytes
	b.Add(line(2, 9))  // would be 30 > 25: seals {0,1} first
	b.Add(line(3, 40)) // longer than MaxBytes: seals {2}, then itself alone
	b.Add(line(4, 14)) // 15 bytes, stays open
	b.Add(line(5, 9))  // exactly 25: seals {4,5}
	wait.For(t, 10*time.Second, "four batches", func() bool { return store.count() == 4 })
	prefix := "dt=2026-05-06/hr=07/"
	want := []string{prefix + "t-1-0-1.jsonl", prefix + "t-1-2-2.jsonl", prefix + "t-1-3-3.jsonl", prefix + "t-1-4-5.jsonl"}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	for _, k := range want {
		body := store.object(t, k)
		if len(body) > cfg.MaxBytes && k != prefix+"t-1-3-3.jsonl" {
			t.Fatalf("%s is %d bytes, above MaxBytes %d", k, len(body), cfg.MaxBytes)
		}
	}
	if b.Pending() != 0 {
		t.Fatalf("Pending = %d, want 0", b.Pending())
	}
}

// TestSealsByMaxAgeWithInjectedClock proves a batch is sealed once its first line is
// MaxAge old by the injected clock, and not a moment before. sealAged is the ager's
// tick, called explicitly so the test controls time.
func TestSealsByMaxAgeWithInjectedClock(t *testing.T) {
	store := newMemStore()
	clock := fakeclock.New(t0)
	cfg := testConfig()
	cfg.MaxAge = time.Minute
	b := newTestBatcher(t, cfg, store, WithClock(clock.Now))
	d := newDoneLog()
	b.Add(d.item("t", 2, 10))
	clock.Advance(30 * time.Second)
	b.Add(d.item("t", 2, 11)) // a later line does not restart the age
	clock.Advance(29 * time.Second)
	b.sealAged()
	if n := b.sealedCount(); n != 0 {
		t.Fatalf("sealed %d batches at 59s, want none before MaxAge", n)
	}
	clock.Advance(time.Second)
	b.sealAged()
	wait.For(t, 10*time.Second, "the aged batch", func() bool { return store.count() == 1 && b.Pending() == 0 })
	if got := store.keys()[0]; got != "dt=2026-05-06/hr=07/t-2-10-11.jsonl.gz" {
		t.Fatalf("key = %s", got)
	}
	d.requireOnce(t, "t", 2, 10, nil)
	d.requireOnce(t, "t", 2, 11, nil)
}

// TestAgerSealsOnItsOwn proves the background ager seals an idle batch without any
// explicit call: with a short MaxAge the object appears by itself.
func TestAgerSealsOnItsOwn(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.MaxAge = 20 * time.Millisecond
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	b.Add(d.item("t", 0, 1))
	wait.For(t, 10*time.Second, "the ager to seal the idle batch", func() bool { return store.count() == 1 && b.Pending() == 0 })
	d.requireOnce(t, "t", 0, 1, nil)
}

// TestBatchContent proves each object holds exactly its topic-partition's lines, in
// the order added, newline-terminated, for both compressions, with the documented
// content type and no Content-Encoding.
func TestBatchContent(t *testing.T) {
	for _, tc := range []struct {
		compression, contentType string
	}{{"gzip", "application/gzip"}, {"none", "application/x-ndjson"}} {
		t.Run(tc.compression, func(t *testing.T) {
			store := newMemStore()
			cfg := testConfig()
			cfg.Compression = tc.compression
			b := newTestBatcher(t, cfg, store, WithClock(func() time.Time { return t0 }))
			var wantA, wantB []string
			// Interleave two partitions and add offsets out of order.
			for i, off := range []int64{5, 3, 9, 4, 8, 1} {
				la := fmt.Sprintf(`{"p":"a","off":%d,"i":%d}`, off, i)
				lb := fmt.Sprintf(`{"p":"b","off":%d,"i":%d}`, off, i)
				b.Add(Item{Topic: "t", Partition: 0, Offset: off, Line: []byte(la)})
				b.Add(Item{Topic: "t.dlq", Partition: 0, Offset: off, Line: []byte(lb)})
				wantA, wantB = append(wantA, la), append(wantB, lb)
			}
			flush(t, b, "t", 0)
			flush(t, b, "t.dlq", 0)
			suffix := ".jsonl"
			if tc.compression == "gzip" {
				suffix += ".gz"
			}
			for key, want := range map[string][]string{
				"dt=2026-05-06/hr=07/t-0-1-9" + suffix:     wantA,
				"dt=2026-05-06/hr=07/t.dlq-0-1-9" + suffix: wantB,
			} {
				got := lines(t, store.object(t, key), tc.compression == "gzip")
				if !slices.Equal(got, want) {
					t.Fatalf("%s lines = %q, want %q", key, got, want)
				}
				if ct, ce := store.meta(key); ct != tc.contentType || ce != "" {
					t.Fatalf("%s content type %q encoding %q, want %q and none", key, ct, ce, tc.contentType)
				}
			}
		})
	}
}

// TestCompressorReuseKeepsStreamsApart proves a pooled gzip writer, reused across
// batches, starts a fresh stream each time (no bytes of one batch leak into another).
func TestCompressorReuseKeepsStreamsApart(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.MaxRecords = 2
	b := newTestBatcher(t, cfg, store, WithClock(func() time.Time { return t0 }))
	for off := range int64(20) {
		b.Add(Item{Topic: "t", Partition: 0, Offset: off, Line: []byte(fmt.Sprintf("line-%d", off))})
	}
	wait.For(t, 10*time.Second, "ten batches", func() bool { return store.count() == 10 && b.Pending() == 0 })
	for off := int64(0); off < 20; off += 2 {
		key := fmt.Sprintf("dt=2026-05-06/hr=07/t-0-%d-%d.jsonl.gz", off, off+1)
		want := []string{fmt.Sprintf("line-%d", off), fmt.Sprintf("line-%d", off+1)}
		if got := lines(t, store.object(t, key), true); !slices.Equal(got, want) {
			t.Fatalf("%s = %q, want %q", key, got, want)
		}
	}
}
