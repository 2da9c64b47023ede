package schema

import (
	"testing"
	"time"
)

// TestEventTime is the table of what an event-time field may hold (a partition-time field or a timestamp column): RFC
// 3339 text and epoch seconds or milliseconds are times; anything else is
// not, so that a record falls back to its Kafka timestamp or is parked.
func TestEventTime(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		name string
		v    any
		want time.Time // zero: not a time
	}{
		{"rfc3339 utc", "2026-05-06T07:08:09Z", at},
		{"rfc3339 offset", "2026-05-06T09:08:09+02:00", at},
		{"rfc3339 nanos", "2026-05-06T07:08:09.5Z", at.Add(500 * time.Millisecond)},
		{"epoch seconds", float64(at.Unix()), at},
		{"epoch seconds fraction", float64(at.Unix()) + 0.25, at.Add(250 * time.Millisecond)},
		{"epoch milliseconds", float64(at.UnixMilli() + 7), at.Add(7 * time.Millisecond)},
		{"epoch seconds as text", "1778051289", at},
		{"epoch milliseconds as text", "1778051289000", at},
		{"missing", nil, time.Time{}},
		{"not a date", "yesterday", time.Time{}},
		{"date only", "2026-05-06", time.Time{}},
		{"negative", float64(-5), time.Time{}},
		{"zero", float64(0), time.Time{}},
		{"too large", float64(1e18), time.Time{}},
		{"bool", true, time.Time{}},
		{"object", map[string]any{"s": 1.0}, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EventTime(tc.v)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Fatalf("EventTime(%#v) = %v, %v; want %v", tc.v, got, ok, tc.want)
			}
		})
	}
}
