package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/redrive-io/redrive/internal/fakeclock"
	"github.com/redrive-io/redrive/internal/wait"
)

// gatherText is the text exposition of the named metric family.
func gatherText(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if mf.GetName() == name {
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.String()
}

// Freshness: redrive_oldest_pending_age_seconds is the age of the oldest
// record read and not yet released, so a record whose batch is durable
// still counts while an earlier one is pending (its commit waits too,
// invariant 1); it is 0 once everything is durable.
// redrive_end_to_end_latency_seconds observes each record's Kafka timestamp
// to the moment its batch is durable.
func TestFreshness_OldestPendingAgeAndEndToEndLatency(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	sink := &fakeSink{hold: true}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}, Registerer: reg, Now: clock.Now})
	age := func() string {
		t.Helper()
		return gatherText(t, reg, "redrive_oldest_pending_age_seconds")
	}
	wantAge := func(in string) {
		t.Helper()
		want := `redrive_oldest_pending_age_seconds{partition="0",topic="in"} ` + in
		if got := age(); !strings.Contains(got, want) || !strings.Contains(got, `{partition="0",topic="in.dlq"} 0`) {
			t.Fatalf("want %s (and 0 for the DLQ), got:\n%s", want, got)
		}
	}
	h.ts = clock.Now().Add(-2 * time.Second) // produced two seconds before it was read
	h.consume("in", "a", []byte(`{}`), nil)
	clock.Advance(10 * time.Second)
	h.ts = clock.Now()
	h.consume("in", "b", []byte(`{}`), nil)
	wantAge("10")
	clock.Advance(5 * time.Second)
	sink.mu.Lock()
	held := sink.held
	sink.held = nil
	sink.mu.Unlock()
	held[1].Done(nil) // durable, but waits for record 0
	wantAge("15")
	held[0].Done(nil)
	wantAge("0")

	latency := `
# HELP redrive_end_to_end_latency_seconds Time from a record's Kafka timestamp to its S3 batch being durable, by the topic it was read from (a DLQ record's timestamp is that of its last DLQ write).
# TYPE redrive_end_to_end_latency_seconds histogram
`
	got := gatherText(t, reg, "redrive_end_to_end_latency_seconds")
	// Record b: 5 s; record a: 2 + 10 + 5 = 17 s.
	for _, want := range []string{strings.TrimSpace(latency), `redrive_end_to_end_latency_seconds_sum{topic="in"} 22`, `redrive_end_to_end_latency_seconds_count{topic="in"} 2`,
		`redrive_end_to_end_latency_seconds_bucket{topic="in",le="5"} 1`, `redrive_end_to_end_latency_seconds_bucket{topic="in",le="30"} 2`} {
		if !strings.Contains(got, want) {
			t.Errorf("latency histogram lacks %q:\n%s", want, got)
		}
	}
	// A revoked partition is no longer reported.
	h.cancel()
	wait.For(t, 10*time.Second, "the revoked partition to leave the pending age", func() bool {
		return !strings.Contains(age(), `partition="0"`)
	})
}
