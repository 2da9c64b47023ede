package inspect

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

func TestDLQReplayMessage(t *testing.T) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	env := dlq.Envelope{
		Origin: dlq.Origin{Topic: "in", Partition: 2, Offset: 77}, Attempt: 20, FirstFailure: t0,
		ErrorClass: "exhausted", Error: "too many", NotBefore: t0.Add(time.Hour),
	}
	hs := append([]dlq.Header{{Key: "trace-id", Value: []byte("abc")}}, env.Headers()...)
	r := Record{Topic: parkingTopic, Partition: 0, Offset: 5, Key: []byte("k"), Value: []byte(`{"a":1}`), Headers: hs, Envelope: env}

	m := ReplayMessage(r, "in", 4, now)
	got, err := dlq.ParseHeaders(m.Headers)
	want := dlq.Envelope{Origin: env.Origin, FirstFailure: t0, Replayed: now}
	if err != nil || got != want {
		t.Errorf("replayed envelope %+v (%v), want %+v: attempt 0, no error, no not-before, origin kept, replay time", got, err, want)
	}
	if m.Topic != "in" || m.Partition != 2 || string(m.Key) != "k" || string(m.Value) != `{"a":1}` || m.Headers[0].Key != "trace-id" {
		t.Errorf("replay message %+v: want topic in, origin partition 2, same key, value and foreign headers", m)
	}

	// An origin partition the input topic no longer has: the key's hash.
	a := ReplayMessage(r, "in", 2, now)
	b := ReplayMessage(r, "in", 2, now)
	if a.Partition < 0 || a.Partition >= 2 || a.Partition != b.Partition {
		t.Errorf("out-of-range origin: partitions %d and %d, want one stable partition below 2", a.Partition, b.Partition)
	}

	// A record without an envelope takes its parking place as its origin.
	bad := Record{Topic: parkingTopic, Partition: 1, Offset: 9, Key: []byte("k"), EnvelopeErr: dlq.ErrNoEnvelope}
	got, err = dlq.ParseHeaders(ReplayMessage(bad, "in", 4, now).Headers)
	if err != nil || got.Origin != (dlq.Origin{Topic: "in.parking", Partition: 1, Offset: 9}) || got.Replayed != now {
		t.Errorf("replay of a record without envelope: %+v, %v", got, err)
	}
}

func TestDLQReplayer_MarksOnlyWhatWasWritten(t *testing.T) {
	f := fillParking(t)
	ctx := context.Background()
	sc := Scanner{Reader: f}
	sel := func() []Record {
		var recs []Record
		if _, err := sc.Select(ctx, parkingTopic, Filter{}, SelectOptions{SkipReplayed: true}, func(r []Record) error {
			recs = append(recs, r...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return recs
	}
	recs := sel()
	if keysOf(recs) != "k0,k2,k3,k4,k5,k6" {
		t.Fatalf("selection %s", keysOf(recs))
	}
	// k2's copy is refused; k3's marker is refused.
	f.fail = func(m OutMessage) error {
		switch {
		case m.Topic == "in" && string(m.Key) == "k2",
			m.Topic == parkingTopic.Name && string(m.Key) == "k3":
			return errRefused
		}
		return nil
	}
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	results := map[string]ReplayResult{}
	var slept time.Duration
	clock := now
	pacer := &Pacer{Rate: 20, Now: func() time.Time { return clock }, Sleep: func(_ context.Context, d time.Duration) error {
		slept += d
		clock = clock.Add(d)
		return nil
	}}
	rp := Replayer{Sender: f, Input: "in", InputPartitions: 3, Now: func() time.Time { return now }, Pacer: pacer}
	n, err := rp.Replay(ctx, recs, func(r ReplayResult) { results[string(r.Record.Key)] = r })
	if slept != 200*time.Millisecond {
		// 6 records at 20/s in chunks of 2: the first chunk at once.
		t.Errorf("paced for %s, want 200ms", slept)
	}
	if !errors.Is(err, ErrIncomplete) || n != (ReplayCounts{Sent: 5, Failed: 1, Unmarked: 1}) {
		t.Fatalf("Replay = %+v, %v; want 5 sent, 1 failed, 1 unmarked", n, err)
	}
	if r := results["k2"]; !errors.Is(r.Err, errRefused) || r.To != (dlq.Origin{}) {
		t.Errorf("k2: %+v", r)
	}
	if r := results["k3"]; !r.Unmarked || r.To.Topic != "in" || r.Record.Replay != nil {
		t.Errorf("k3: %+v", r)
	}
	if r := results["k4"]; r.Err != nil || r.Record.Replay == nil || r.Record.Replay.To != r.To || r.To != (dlq.Origin{Topic: "in", Partition: 2, Offset: 0}) {
		t.Errorf("k4: %+v", r)
	}
	// Each copy carries the replay time, and each marker points at its copy.
	for _, p := range f.topics["in"] {
		for _, m := range p {
			env, err := dlq.ParseHeaders(m.Headers)
			if err != nil || env.Replayed != now || env.Attempt != 0 {
				t.Errorf("copy %s: %+v, %v", m.Key, env, err)
			}
		}
	}
	// What was not written (k2) or not marked (k3) is selected again; the
	// rest is not.
	f.fail = nil
	if again := sel(); keysOf(again) != "k2,k3" {
		t.Errorf("second selection %s, want k2,k3", keysOf(again))
	}
}

func TestDLQPacer(t *testing.T) {
	now := t0
	var slept time.Duration
	p := &Pacer{Rate: 4, Now: func() time.Time { return now }, Sleep: func(_ context.Context, d time.Duration) error {
		slept += d
		now = now.Add(d)
		return nil
	}}
	ctx := context.Background()
	for range 3 {
		if err := p.Wait(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	// 6 records at 4/s: the first 2 go at once, then 0.5 s per 2.
	if slept != time.Second {
		t.Errorf("slept %s for 6 records at 4/s, want 1s", slept)
	}
	now = now.Add(time.Hour) // idle time does not build up credit beyond one wait
	slept = 0
	p.Wait(ctx, 4) //nolint:errcheck
	p.Wait(ctx, 1) //nolint:errcheck
	if slept != time.Second {
		t.Errorf("after idling, slept %s, want 1s", slept)
	}
	var unlimited *Pacer
	if err := unlimited.Wait(ctx, 1000); err != nil || unlimited.chunk() != 100 {
		t.Errorf("nil pacer: %v, chunk %d", err, unlimited.chunk())
	}
	for _, c := range []struct {
		rate float64
		want int
	}{{0, 100}, {0.5, 1}, {25, 2}, {100, 10}, {1e6, 100}} {
		if got := (&Pacer{Rate: c.rate}).chunk(); got != c.want {
			t.Errorf("chunk at %v/s = %d, want %d", c.rate, got, c.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := (&Pacer{Rate: 1}).Wait(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context: %v", err)
	}
}
