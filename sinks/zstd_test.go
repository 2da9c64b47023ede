package sinks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestZstdRoundTripThroughReadBatches proves Compression "zstd" through the
// real SDK: objects are named .jsonl.zst, labelled application/zstd, and
// ReadBatches gives back exactly the lines added, in order, across batches
// and with a batch larger than the compressor's own block.
func TestZstdRoundTripThroughReadBatches(t *testing.T) {
	ctx := context.Background()
	const bucket = "redrive-zstd"
	client := newFakeBucket(t, bucket)
	cfg := testConfig()
	cfg.Prefix = "z"
	cfg.Compression = CompressionZstd
	cfg.MaxRecords = 3000
	b, err := NewBatcher(cfg, NewS3Store(client, bucket, Encryption{}), WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	var want []string
	for off := range int64(n) {
		line := fmt.Sprintf(`{"id":%d,"pad":%q}`, off, strings.Repeat("x", int(off%200)))
		want = append(want, line)
		b.Add(Item{Topic: "events", Partition: 1, Offset: off, Line: []byte(line)})
	}
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	keys, got := readBack(t, client, bucket, "z/")
	wantKeys := []string{"z/dt=2026-05-06/hr=07/events-1-0-2999.jsonl.zst", "z/dt=2026-05-06/hr=07/events-1-3000-3999.jsonl.zst"}
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Fatalf("keys = %v, want %v", keys, wantKeys)
	}
	if len(got) != n || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("read back %d lines, want %d equal to those added", len(got), n)
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(wantKeys[0])})
	if err != nil {
		t.Fatal(err)
	}
	if ct := aws.ToString(head.ContentType); ct != contentTypeZstd {
		t.Fatalf("Content-Type = %q, want %q", ct, contentTypeZstd)
	}
}

// TestZstdCompressorsAreReused proves a pooled zstd encoder starts a fresh
// frame for each batch: two batches written in turn read back separately.
func TestZstdCompressorsAreReused(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.Compression = CompressionZstd
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	for batch := range int64(2) {
		b.Add(d.item("events", 0, batch))
		flush(t, b, "events", 0)
	}
	for i, key := range store.keys() {
		ls, err := Object{Key: key, Body: store.object(t, key)}.Lines()
		if err != nil || len(ls) != 1 || string(ls[0]) != fmt.Sprintf(`{"id":"events/0@%d"}`, i) {
			t.Fatalf("%s: lines %q, err %v", key, ls, err)
		}
	}
}
