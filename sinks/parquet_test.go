package sinks

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/redrive-io/redrive/schema"
)

// parquetItems builds n items of rows of s: {"id": "events/0@N", "n": N}
// with _redrive's coordinates, recorded by d.
func parquetItems(t *testing.T, s *schema.Schema, d *doneLog, partition int32, from, n int64) []Item {
	t.Helper()
	at := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	var items []Item
	for off := from; off < from+n; off++ {
		it := d.item("events", partition, off)
		id := fmt.Sprintf(`"%s"`, doneID("events", partition, off))
		row, err := s.Row(nil, [][]byte{[]byte(id), []byte(fmt.Sprint(off))}, nil,
			schema.Journey{Topic: "events", Partition: partition, Offset: off, ReceivedAt: at, WrittenAt: at})
		if err != nil {
			t.Fatal(err)
		}
		it.Line, it.Row = nil, row
		items = append(items, it)
	}
	return items
}

func parquetConfig(t *testing.T) (Config, *schema.Schema) {
	t.Helper()
	s, err := schema.Parse([]byte("columns: [{name: id, type: string}, {name: n, type: int64}]"), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Format, cfg.Schema = FormatParquet, s.Parquet()
	return cfg, s
}

// TestParquetBatches: a parquet sink writes one .parquet object per batch,
// labelled as Parquet, whose rows read back (as JSON, by Object.Lines) to
// what was added, in order, with every Done called once with nil.
func TestParquetBatches(t *testing.T) {
	for _, compression := range []string{CompressionSnappy, CompressionZstd, CompressionGzip, CompressionNone} {
		t.Run(compression, func(t *testing.T) {
			store := newMemStore()
			cfg, s := parquetConfig(t)
			cfg.Compression = compression
			b := newTestBatcher(t, cfg, store)
			d := newDoneLog()
			for _, it := range parquetItems(t, s, d, 0, 0, 300) {
				b.Add(it)
			}
			flush(t, b, "events", 0)
			keys := store.keys()
			if len(keys) != 1 || !strings.HasSuffix(keys[0], "/events-0-0-299.parquet") {
				t.Fatalf("keys = %v, want one events-0-0-299.parquet", keys)
			}
			if ct, _ := store.meta(keys[0]); ct != contentTypeParquet {
				t.Fatalf("Content-Type = %q, want %q", ct, contentTypeParquet)
			}
			ls, err := Object{Key: keys[0], Body: store.object(t, keys[0])}.Lines()
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 300 {
				t.Fatalf("read %d rows, want 300", len(ls))
			}
			for i, l := range ls {
				want := fmt.Sprintf(`{"id":"events/0@%d","n":%d,"_redrive":{"topic":"events","partition":0,"offset":%d,"attempt":0,"enriched":false,"lookup_miss":false,"received_at":"2026-05-06T07:00:00Z","written_at":"2026-05-06T07:00:00Z"}}`, i, i, i)
				if string(l) != want {
					t.Fatalf("row %d:\n got %s\nwant %s", i, l, want)
				}
				d.requireOnce(t, "events", 0, int64(i), nil)
			}
		})
	}
}

// TestParquetRowGroupBytes: RowGroupBytes splits a batch's rows into row
// groups; without it a batch is one row group. Both read back whole.
func TestParquetRowGroupBytes(t *testing.T) {
	for _, tc := range []struct {
		rowGroupBytes, wantGroups int
	}{{0, 1}, {2 << 10, 0}} {
		store := newMemStore()
		cfg, s := parquetConfig(t)
		cfg.RowGroupBytes = tc.rowGroupBytes
		b := newTestBatcher(t, cfg, store)
		d := newDoneLog()
		for _, it := range parquetItems(t, s, d, 0, 0, 1000) {
			b.Add(it)
		}
		flush(t, b, "events", 0)
		body := store.object(t, store.keys()[0])
		f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		groups := len(f.RowGroups())
		if tc.wantGroups > 0 && groups != tc.wantGroups || tc.wantGroups == 0 && groups < 2 {
			t.Fatalf("RowGroupBytes %d: %d row groups, want %d (0: several)", tc.rowGroupBytes, groups, tc.wantGroups)
		}
		if f.NumRows() != 1000 {
			t.Fatalf("RowGroupBytes %d: %d rows, want 1000", tc.rowGroupBytes, f.NumRows())
		}
	}
}

// TestParquetWritersAreReused: a pooled writer starts a fresh file for each
// batch, so two batches written in turn read back separately.
func TestParquetWritersAreReused(t *testing.T) {
	store := newMemStore()
	cfg, s := parquetConfig(t)
	b := newTestBatcher(t, cfg, store)
	d := newDoneLog()
	for batch := range int64(3) {
		for _, it := range parquetItems(t, s, d, 0, batch*10, 10) {
			b.Add(it)
		}
		flush(t, b, "events", 0)
	}
	for _, key := range store.keys() {
		ls, err := Object{Key: key, Body: store.object(t, key)}.Lines()
		if err != nil || len(ls) != 10 {
			t.Fatalf("%s: %d rows, err %v; want 10", key, len(ls), err)
		}
		kr, _ := ParseKey(key)
		if !strings.Contains(string(ls[0]), fmt.Sprintf(`"offset":%d,`, kr.First)) {
			t.Fatalf("%s starts with %s", key, ls[0])
		}
	}
}

// TestItemOfTheWrongFormat: a line given to a parquet sink, or a row to a
// jsonl sink, is refused through its Done, never written wrong.
func TestItemOfTheWrongFormat(t *testing.T) {
	cfg, s := parquetConfig(t)
	d := newDoneLog()
	b := newTestBatcher(t, cfg, newMemStore())
	b.Add(d.item("events", 0, 1))
	jb := newTestBatcher(t, testConfig(), newMemStore())
	jb.Add(parquetItems(t, s, d, 0, 2, 1)[0])
	for off, want := range map[int64]string{1: "a parquet sink takes Item.Row", 2: "a jsonl sink takes Item.Line"} {
		calls := d.callsOf("events", 0, off)
		if len(calls) != 1 || calls[0] == nil || !strings.Contains(calls[0].Error(), want) {
			t.Fatalf("offset %d: Done calls %v, want one error saying %q", off, calls, want)
		}
	}
}
