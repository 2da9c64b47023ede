package sinks

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// An item's line is Line then Tail, and the sink copies both while Add
// runs: the caller reuses one buffer for every item (as the pipeline does
// with the tails it splices into records), and every line reads back whole,
// for each compression.
func TestLineAndTailAreCopiedDuringAdd(t *testing.T) {
	for _, compression := range []string{CompressionGzip, CompressionZstd, CompressionNone} {
		t.Run(compression, func(t *testing.T) {
			ctx := context.Background()
			bucket := "redrive-tail-" + compression
			client := newFakeBucket(t, bucket)
			cfg := testConfig()
			cfg.Prefix = "t"
			cfg.Compression = compression
			b, err := NewBatcher(cfg, NewS3Store(client, bucket, Encryption{}), WithClock(func() time.Time { return t0 }))
			if err != nil {
				t.Fatal(err)
			}
			const n = 500
			head := make([]byte, 0, 64)
			tail := make([]byte, 0, 64)
			for off := range int64(n) {
				head = fmt.Appendf(head[:0], `{"id":%d`, off)
				tail = fmt.Appendf(tail[:0], `,"n":%d}`, off*2)
				b.Add(Item{Topic: "events", Partition: 0, Offset: off, Line: head, Tail: tail})
			}
			if err := b.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			_, got := readBack(t, client, bucket, "t/")
			if len(got) != n {
				t.Fatalf("read back %d lines, want %d", len(got), n)
			}
			for off, l := range got {
				if want := fmt.Sprintf(`{"id":%d,"n":%d}`, off, off*2); l != want {
					t.Fatalf("line %d = %q, want %q", off, l, want)
				}
			}
		})
	}
}
