package sinks

import (
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/fakeclock"
)

// TestObjectKeyLayout proves the public key layout: prefix handling, suffix per
// compression, FIRST/LAST as min/max of out-of-order offsets, and dt/hr as the UTC
// date and hour of the batch's first line by the injected clock.
func TestObjectKeyLayout(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	// 02:10 on 1 March in UTC+05:30 is 20:40 on 28 February in UTC.
	local := time.Date(2026, 3, 1, 2, 10, 0, 0, ist)
	utc := time.Date(2026, 7, 4, 9, 59, 59, 0, time.UTC)
	cases := []struct {
		name        string
		prefix      string
		compression string
		clock       time.Time
		offsets     []int64
		want        string
	}{
		{"no prefix", "", "gzip", utc, []int64{5}, "dt=2026-07-04/hr=09/events-3-5-5.jsonl.gz"},
		{"prefix", "raw", "gzip", utc, []int64{5, 6}, "raw/dt=2026-07-04/hr=09/events-3-5-6.jsonl.gz"},
		{"prefix trailing slash", "raw/", "gzip", utc, []int64{5, 6}, "raw/dt=2026-07-04/hr=09/events-3-5-6.jsonl.gz"},
		{"nested prefix with slashes", "/lake/raw/", "gzip", utc, []int64{5}, "lake/raw/dt=2026-07-04/hr=09/events-3-5-5.jsonl.gz"},
		{"no compression", "raw", "none", utc, []int64{5}, "raw/dt=2026-07-04/hr=09/events-3-5-5.jsonl"},
		{"zstd", "raw", "zstd", utc, []int64{5, 6}, "raw/dt=2026-07-04/hr=09/events-3-5-6.jsonl.zst"},
		{"out of order offsets", "", "gzip", utc, []int64{17, 3, 42, 9}, "dt=2026-07-04/hr=09/events-3-3-42.jsonl.gz"},
		{"local clock is dated in UTC", "", "none", local, []int64{100, 99}, "dt=2026-02-28/hr=20/events-3-99-100.jsonl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := fakeclock.New(tc.clock)
			store := newMemStore()
			cfg := testConfig()
			cfg.Prefix, cfg.Compression = tc.prefix, tc.compression
			cfg.MaxAge = 48 * time.Hour // the clock jumps below; only the flush seals
			b := newTestBatcher(t, cfg, store, WithClock(clock.Now))
			d := newDoneLog()
			for _, off := range tc.offsets {
				b.Add(d.item("events", 3, off))
				clock.Advance(90 * time.Minute) // later lines must not move dt/hr
			}
			flush(t, b, "events", 3)
			if got := store.keys(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("keys = %v, want [%s]", got, tc.want)
			}
		})
	}
}

// ParseKey reads back what objectKey wrote (topics with dashes included,
// for every format and compression) and refuses keys not in that layout rather than
// misreading them.
func TestParseKey(t *testing.T) {
	at := time.Date(2026, 11, 23, 16, 5, 0, 0, time.UTC)
	for _, cfg := range []Config{
		{Format: FormatJSONL, Compression: CompressionGzip},
		{Format: FormatJSONL, Compression: CompressionZstd},
		{Format: FormatJSONL, Compression: CompressionNone},
		{Format: FormatParquet, Compression: CompressionSnappy},
	} {
		key := objectKey("w1", "w1-pass", 3, 0, 6999, at, LayoutHourly, suffix(cfg))
		got, err := ParseKey(key)
		if err != nil || got != (KeyRange{"w1-pass", 3, 0, 6999}) {
			t.Errorf("ParseKey(%q) = %+v, %v", key, got, err)
		}
	}
	for _, key := range []string{
		"p/dt=x/hr=y/a.b-c-12-100-99.jsonl.gz", // first > last
		"p/dt=x/hr=y/events-1-2.jsonl.gz",
		"p/dt=x/hr=y/events-x-1-2.jsonl.gz",
	} {
		if got, err := ParseKey(key); err == nil {
			t.Errorf("ParseKey(%q) = %+v, want an error", key, got)
		}
	}
}
