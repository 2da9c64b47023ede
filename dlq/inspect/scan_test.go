package inspect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

var (
	parkingTopic = Topic{Name: "in.parking", Role: RoleParking}
	t0           = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
)

// fillParking makes a parking topic of 3 partitions: partition 0 holds
// k0..k3 (k1 replayed, its marker twice), partition 1 is empty, partition 2
// holds k4, k5 and a record without an envelope.
func fillParking(t *testing.T) *fakeKafka {
	t.Helper()
	f := newFakeKafka()
	f.create(parkingTopic.Name, 3)
	f.create("in", 3)
	o := func(off int64) dlq.Origin { return dlq.Origin{Topic: "in", Partition: 0, Offset: off} }
	f.add(parkingTopic.Name, 0, parked("k0", "http_4xx", 0, t0, o(10)))
	k1 := f.add(parkingTopic.Name, 0, parked("k1", "http_4xx", 0, t0.Add(time.Minute), o(11)))
	f.add(parkingTopic.Name, 0, parked("k2", "exhausted", 20, t0.Add(2*time.Minute), o(12)))
	mk := MarkerMessage(Record{Topic: parkingTopic, Partition: 0, Offset: k1, Key: []byte("k1")}, dlq.Origin{Topic: "in", Partition: 0, Offset: 99}, t0.Add(time.Hour))
	f.add(parkingTopic.Name, 0, Message{Key: mk.Key, Value: mk.Value, Headers: mk.Headers})
	f.add(parkingTopic.Name, 0, Message{Key: mk.Key, Value: mk.Value, Headers: mk.Headers}) // replayed twice by a race: still one replay
	f.add(parkingTopic.Name, 0, parked("k3", "malformed", 0, t0.Add(3*time.Minute), o(13)))
	p2 := func(off int64) dlq.Origin { return dlq.Origin{Topic: "in", Partition: 2, Offset: off} }
	f.add(parkingTopic.Name, 2, parked("k4", "http_4xx", 0, t0.Add(-time.Hour), p2(1)))
	f.add(parkingTopic.Name, 2, parked("k5", "exhausted", 20, t0.Add(time.Hour), p2(2)))
	f.add(parkingTopic.Name, 2, Message{Key: []byte("k6"), Value: []byte("raw"), Timestamp: t0})
	return f
}

func keysOf(recs []Record) string {
	var ks []string
	for _, r := range recs {
		ks = append(ks, string(r.Key))
	}
	return strings.Join(ks, ",")
}

func TestDLQMarkerRoundTrip(t *testing.T) {
	r := Record{Topic: parkingTopic, Partition: 2, Offset: 17, Key: []byte("k")}
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	m := MarkerMessage(r, dlq.Origin{Topic: "in", Partition: 1, Offset: 4242}, at)
	if m.Topic != "in.parking" || m.Partition != 2 || string(m.Key) != "k" {
		t.Fatalf("marker message %+v: want parking partition 2, key k", m)
	}
	got := decode(parkingTopic, Message{Partition: 2, Offset: 30, Key: m.Key, Value: m.Value, Headers: m.Headers})
	want := Marker{Of: Coord{2, 17}, To: dlq.Origin{Topic: "in", Partition: 1, Offset: 4242}, At: at, Self: Coord{2, 30}}
	if got.Marker == nil || *got.Marker != want || got.EnvelopeErr != nil {
		t.Fatalf("decoded marker %+v (err %v), want %+v", got.Marker, got.EnvelopeErr, want)
	}

	for _, c := range []struct {
		name   string
		header dlq.Header
	}{
		{"bad coordinate", dlq.Header{Key: HeaderReplayOf, Value: []byte("x")}},
		{"other partition", dlq.Header{Key: HeaderReplayOf, Value: []byte("1:17")}},
		{"bad destination", dlq.Header{Key: HeaderReplayTo, Value: []byte("in@3")}},
		{"bad time", dlq.Header{Key: dlq.HeaderReplayed, Value: []byte("soon")}},
	} {
		hs := append(append([]dlq.Header{}, m.Headers...), c.header) // the last value wins
		got := decode(parkingTopic, Message{Partition: 2, Offset: 30, Headers: hs})
		var mh *dlq.MalformedHeaderError
		if got.Marker != nil || !errors.As(got.EnvelopeErr, &mh) || got.Class() != ClassBadEnvelope {
			t.Errorf("%s: marker %+v, err %v; want a record with a malformed header", c.name, got.Marker, got.EnvelopeErr)
		}
	}
}

func TestDLQParseOrigin(t *testing.T) {
	for _, c := range []struct {
		in   string
		want dlq.Origin
		ok   bool
	}{
		{"in/3@42", dlq.Origin{Topic: "in", Partition: 3, Offset: 42}, true},
		{"a/b.c/0@0", dlq.Origin{Topic: "a/b.c", Partition: 0, Offset: 0}, true},
		{"in@42", dlq.Origin{}, false},
		{"/3@42", dlq.Origin{}, false},
		{"in/3", dlq.Origin{}, false},
		{"in/x@1", dlq.Origin{}, false},
	} {
		got, err := parseOrigin(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseOrigin(%q) = %+v, %v", c.in, got, err)
		}
		if c.ok && got.String() != c.in {
			t.Errorf("parseOrigin(%q) does not round-trip: %s", c.in, got)
		}
	}
}

func TestDLQSelect(t *testing.T) {
	f := fillParking(t)
	for _, c := range []struct {
		name     string
		f        Filter
		opts     SelectOptions
		keys     string
		replayed int
	}{
		{"all, in partition and offset order", Filter{}, SelectOptions{}, "k0,k1,k2,k3,k4,k5,k6", 0},
		{"limit stops inside a partition", Filter{Limit: 2}, SelectOptions{}, "k0,k1", 0},
		{"limit spans partitions", Filter{Limit: 5}, SelectOptions{}, "k0,k1,k2,k3,k4", 0},
		{"filter then limit", Filter{Classes: []string{"exhausted"}, Limit: 1}, SelectOptions{}, "k2", 0},
		{"replayed skipped before the limit", Filter{Classes: []string{"http_4xx"}, Limit: 2}, SelectOptions{SkipReplayed: true}, "k0,k4", 1},
		{"replayed kept when not skipping", Filter{Classes: []string{"http_4xx"}}, SelectOptions{}, "k0,k1,k4", 0},
	} {
		for _, parallel := range []int{1, 8} {
			var got []Record
			calls := 0
			sel, err := Scanner{Reader: f, Parallel: parallel}.Select(context.Background(), parkingTopic, c.f, c.opts, func(recs []Record) error {
				calls++
				got = append(got, recs...)
				return nil
			})
			if err != nil || keysOf(got) != c.keys || sel.Matched != len(got) || sel.Replayed != c.replayed {
				t.Errorf("%s (parallel %d): %q, %+v, %v; want %q, %d replayed", c.name, parallel, keysOf(got), sel, err, c.keys, c.replayed)
			}
			if calls > 3 {
				t.Errorf("%s: emit called %d times, want once per partition at most", c.name, calls)
			}
			for _, r := range got {
				if (string(r.Key) == "k1") != (r.Replay != nil) {
					t.Errorf("%s: %s has replay %+v", c.name, r.Key, r.Replay)
				}
				if r.Replay != nil && (r.Replay.To.Offset != 99 || r.Replay.Self != (Coord{0, 3})) {
					t.Errorf("%s: replay of k1 is %+v, want the first marker, at 0:3", c.name, r.Replay)
				}
			}
		}
	}

	// An emit error ends the scan with that error.
	boom := errors.New("boom")
	_, err := Scanner{Reader: f}.Select(context.Background(), parkingTopic, Filter{}, SelectOptions{}, func([]Record) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Select with a failing emit: %v", err)
	}
	_, err = Scanner{Reader: f}.Select(context.Background(), Topic{Name: "nope"}, Filter{}, SelectOptions{}, func([]Record) error { return nil })
	if !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("Select of a missing topic: %v", err)
	}
}

func TestDLQScanProgressEndsFull(t *testing.T) {
	f := fillParking(t)
	var last, total int64
	calls := 0
	sc := Scanner{Reader: f, Parallel: 1, Progress: func(d, tot int64) {
		calls++
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
	}}
	if _, err := sc.Stats(context.Background(), parkingTopic); err != nil {
		t.Fatal(err)
	}
	if last != 9 || total != 9 || calls < 9 {
		t.Errorf("progress ended at %d/%d after %d calls, want 9/9 after at least 9", last, total, calls)
	}
}

func TestDLQStats(t *testing.T) {
	f := fillParking(t)
	ts, err := Scanner{Reader: f}.Stats(context.Background(), parkingTopic)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		records, markers, replayed int64
		oldest, newest             time.Time
		classes                    map[string]int64
		attempts                   map[int]int64
	}
	check := func(what string, p PartitionStats, w want) {
		t.Helper()
		var oldest, newest time.Time
		if p.OldestFailure != nil {
			oldest, newest = *p.OldestFailure, *p.NewestFailure
		}
		if p.Records != w.records || p.ReplayMarkers != w.markers || p.Replayed != w.replayed ||
			!oldest.Equal(w.oldest) || !newest.Equal(w.newest) || !mapsEqual(p.ByClass, w.classes) || !mapsEqual(p.ByAttempt, w.attempts) {
			t.Errorf("%s: %+v (classes %v, attempts %v), want %+v", what, p, p.ByClass, p.ByAttempt, w)
		}
	}
	if len(ts.Partitions) != 3 || ts.Topic != "in.parking" || ts.Role != RoleParking {
		t.Fatalf("stats: %+v", ts)
	}
	check("partition 0", ts.Partitions[0], want{4, 2, 1, t0, t0.Add(3 * time.Minute),
		map[string]int64{"http_4xx": 2, "exhausted": 1, "malformed": 1}, map[int]int64{0: 3, 20: 1}})
	check("partition 1", ts.Partitions[1], want{})
	check("partition 2", ts.Partitions[2], want{3, 0, 0, t0.Add(-time.Hour), t0.Add(time.Hour),
		map[string]int64{"http_4xx": 1, "exhausted": 1, ClassBadEnvelope: 1}, map[int]int64{0: 1, 20: 1}})
	check("total", ts.Total, want{7, 2, 1, t0.Add(-time.Hour), t0.Add(time.Hour),
		map[string]int64{"http_4xx": 3, "exhausted": 2, "malformed": 1, ClassBadEnvelope: 1}, map[int]int64{0: 4, 20: 2}})
	if ts.Total.Partition != nil || *ts.Partitions[2].Partition != 2 || ts.Total.End != 9 || ts.Partitions[0].End != 6 {
		t.Errorf("partitions and offsets: %+v", ts)
	}
}

func mapsEqual[K comparable](a, b map[K]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDLQSetLag(t *testing.T) {
	ps := func(p int32, start, end int64) PartitionStats {
		return PartitionStats{Partition: &p, Start: start, End: end}
	}
	ts := TopicStats{Partitions: []PartitionStats{ps(0, 0, 10), ps(1, 5, 10), ps(2, 5, 10), ps(3, 0, 10), ps(4, 0, 0)}}
	ts.SetLag("g", map[int32]int64{0: -1, 1: 2, 2: 7, 3: 10})
	for i, w := range []struct {
		committed int64 // -1: none
		lag       int64
	}{
		{-1, 10}, // no commit: everything retained is ahead
		{2, 5},   // committed before the oldest retained offset
		{7, 3},
		{10, 0},
		{-1, 0}, // absent from the answer, empty partition
	} {
		p := ts.Partitions[i]
		if p.Lag == nil || *p.Lag != w.lag || (w.committed < 0) != (p.Committed == nil) || p.Committed != nil && *p.Committed != w.committed {
			t.Errorf("partition %d: committed %v lag %v, want %d and %d", i, p.Committed, p.Lag, w.committed, w.lag)
		}
	}
	if ts.Group != "g" || *ts.Total.Lag != 18 || *ts.Total.Committed != 19 {
		t.Errorf("total: group %q lag %v committed %v", ts.Group, *ts.Total.Lag, *ts.Total.Committed)
	}
}

func TestDLQFind(t *testing.T) {
	f := fillParking(t)
	sc := Scanner{Reader: f}
	ctx := context.Background()
	r, err := sc.Find(ctx, parkingTopic, Coord{0, 1})
	if err != nil || string(r.Key) != "k1" || r.Replay == nil || r.Replay.Self != (Coord{0, 3}) {
		t.Errorf("Find 0:1 = %+v, %v; want k1 with its first marker", r, err)
	}
	r, err = sc.Find(ctx, parkingTopic, Coord{0, 3})
	if err != nil || r.Marker == nil || r.Marker.Of != (Coord{0, 1}) {
		t.Errorf("Find 0:3 = %+v, %v; want the marker of 0:1", r, err)
	}
	r, err = sc.Find(ctx, Topic{Name: parkingTopic.Name, Role: RoleDLQ}, Coord{0, 1})
	if err != nil || r.Replay != nil {
		t.Errorf("Find in a DLQ-role topic looks for markers: %+v, %v", r, err)
	}
	for _, c := range []struct {
		at   Coord
		want string
	}{
		{Coord{5, 0}, "has no partition 5"},
		{Coord{0, 6}, "not written yet; the partition ends at offset 6"},
		{Coord{1, 0}, "not written yet"},
	} {
		if _, err := sc.Find(ctx, parkingTopic, c.at); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Find %s: %v, want %q", c.at, err, c.want)
		}
	}
}

func TestDLQTail(t *testing.T) {
	f := fillParking(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan Record, 10)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- Scanner{Reader: f}.Tail(ctx, []Topic{parkingTopic}, Filter{Classes: []string{"http_4xx"}, Limit: 2},
			func() { close(started) },
			func(r Record) error { got <- r; return nil })
	}()
	<-started
	mk := MarkerMessage(Record{Topic: parkingTopic, Partition: 1, Offset: 0}, dlq.Origin{Topic: "in", Partition: 1}, t0)
	f.add(parkingTopic.Name, 1, Message{Headers: mk.Headers, Value: mk.Value})                           // a marker: skipped
	f.add(parkingTopic.Name, 1, parked("n1", "malformed", 0, t0, dlq.Origin{Topic: "in", Partition: 1})) // filtered out
	f.add(parkingTopic.Name, 1, parked("n2", "http_4xx", 0, t0, dlq.Origin{Topic: "in", Partition: 1}))  // shown
	f.add(parkingTopic.Name, 2, parked("n3", "http_4xx", 0, t0, dlq.Origin{Topic: "in", Partition: 2}))  // shown, then the limit
	f.add(parkingTopic.Name, 0, parked("n4", "http_4xx", 0, t0, dlq.Origin{Topic: "in", Partition: 0}))  // may come before n3, or not at all
	if err := <-done; err != nil {
		t.Fatalf("Tail: %v", err)
	}
	close(got)
	var keys []string
	for r := range got {
		keys = append(keys, string(r.Key))
	}
	// Partitions are followed concurrently, so n4 may overtake n3; old
	// records (k0, k1, k4) must never show.
	if len(keys) != 2 || keys[0] == "n1" || strings.Contains(strings.Join(keys, ","), "k") {
		t.Errorf("Tail emitted %v, want 2 of n2, n3, n4", keys)
	}
}
