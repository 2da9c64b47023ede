package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/sinks"
)

// TestParsePartitionTime proves the three modes parse and anything else is
// refused naming the flag first.
func TestParsePartitionTime(t *testing.T) {
	for in, want := range map[string]partitionTime{
		"record":        {mode: "record"},
		"processing":    {mode: "processing"},
		"field:ts":      {mode: "field", field: "ts"},
		"field:a:b":     {mode: "field", field: "a:b"},
		"field:with sp": {mode: "field", field: "with sp"},
	} {
		if got, err := parsePartitionTime(in); err != nil || got != want {
			t.Errorf("parsePartitionTime(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"field:", "event", "Record", ""} {
		if _, err := parsePartitionTime(in); err == nil || !strings.HasPrefix(err.Error(), "partition-time: ") {
			t.Errorf("parsePartitionTime(%q) = %v, want an error starting with partition-time:", in, err)
		}
	}
	cfg := testConfig()
	cfg.PartitionTime = "wall"
	cfg.SetDefaults()
	if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), "partition-time: ") {
		t.Fatalf("Validate() = %v, want the partition-time error", err)
	}
}

// sinkTimes returns the Time of every item the sink got, by offset.
func sinkTimes(s *fakeSink) map[int64]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]time.Time{}
	for _, it := range append(append([]sinks.Item{}, s.items...), s.held...) {
		out[it.Offset] = it.Time
	}
	return out
}

// TestPartitionTimeReachesTheSink proves each mode dates the sink's items
// as documented, through the processor's callback, both when the record is
// only validated (no rule) and when the rule's fields are picked (the time
// field is picked in the same pass), and that every fallback is counted by
// its reason.
func TestPartitionTimeReachesTheSink(t *testing.T) {
	kafkaTS := time.Date(2026, 5, 6, 7, 30, 0, 0, time.UTC)
	event := time.Date(2026, 5, 6, 2, 15, 0, 0, time.UTC)
	values := []string{
		`{"category":"Y","ts":"2026-05-06T02:15:00Z"}`,
		`{"category":"Y","ts":1778033700}`,
		`{"category":"Y","ts":1778033700000}`,
		`{"category":"Y"}`,
		`{"category":"Y","ts":"soon"}`,
		`{"category":"Y","ts":null}`,
	}
	field := map[int64]time.Time{0: event, 1: event, 2: event, 3: kafkaTS, 4: kafkaTS, 5: kafkaTS}
	for _, tc := range []struct {
		name, mode string
		withRule   bool
		want       map[int64]time.Time
		fallbacks  map[string]float64
	}{
		{"field without rule", "field:ts", false, field, map[string]float64{"missing": 2, "unparseable": 1}},
		{"field with rule", "field:ts", true, field, map[string]float64{"missing": 2, "unparseable": 1}},
		{"record", "record", true, nil, nil},
		{"processing", "processing", false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PartitionTime = tc.mode
			reg := prometheus.NewRegistry()
			sink := &fakeSink{}
			deps := Deps{Sink: sink, Forwarder: &fakeForwarder{}, Registerer: reg}
			if tc.withRule {
				deps.Matcher, deps.Enricher = rule(t), &fakeEnricher{}
			}
			h := newHarness(t, cfg, deps)
			h.ts = kafkaTS
			for _, v := range values {
				h.consume("in", "k", []byte(v), nil)
			}
			got := sinkTimes(sink)
			if len(got) != len(values) {
				t.Fatalf("sink got %d items, want %d", len(got), len(values))
			}
			for off, at := range got {
				want := tc.want[off]
				switch tc.mode {
				case "record":
					want = kafkaTS
				case "processing":
					want = time.Time{}
				}
				if !at.Equal(want) {
					t.Errorf("offset %d dated %v, want %v", off, at, want)
				}
			}
			m := newMetricsProbe(t, reg)
			for _, reason := range []string{"missing", "unparseable", "no_record_time"} {
				if got := m(reason); got != tc.fallbacks[reason] {
					t.Errorf("fallbacks{reason=%q} = %v, want %v", reason, got, tc.fallbacks[reason])
				}
			}
		})
	}
}

// TestRecordTimeFallsBackToTheClock proves a record without a Kafka
// timestamp is dated by the clock and counted, never by the zero time
// (which the sink would read as "processing").
func TestRecordTimeFallsBackToTheClock(t *testing.T) {
	now := time.Date(2026, 5, 6, 9, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	sink := &fakeSink{}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}, Registerer: reg, Now: func() time.Time { return now }})
	h.consume("in", "k", []byte(`{}`), nil)
	if got := sinkTimes(sink)[0]; !got.Equal(now) {
		t.Fatalf("dated %v, want the clock's %v", got, now)
	}
	if got := newMetricsProbe(t, reg)("no_record_time"); got != 1 {
		t.Fatalf("no_record_time fallbacks = %v, want 1", got)
	}
}

// newMetricsProbe reads redrive_event_time_fallbacks_total by reason.
func newMetricsProbe(t *testing.T, reg *prometheus.Registry) func(reason string) float64 {
	return func(reason string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "redrive_event_time_fallbacks_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == reason {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
}

// TestRecordTimeSurvivesTheDLQ proves that in "record" mode a record keeps
// the timestamp of its first arrival through the DLQ: the DLQ copy carries
// it in its envelope (redrive-origin-time), and a DLQ record is dated by
// that, not by the later timestamp of its copy.
func TestRecordTimeSurvivesTheDLQ(t *testing.T) {
	first := time.Date(2026, 5, 6, 1, 10, 0, 0, time.UTC)
	copied := first.Add(6 * time.Hour)
	sink, fwd := &fakeSink{}, &fakeForwarder{}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: sink, Forwarder: fwd})
	h.ts = first
	h.consume("in", "k", []byte(`{"category":"X","outcome":"transient"}`), nil)
	wait.For(t, 10*time.Second, "the DLQ write", func() bool { return len(fwd.to("in.dlq")) == 1 })
	dlqs := fwd.to("in.dlq")
	if len(dlqs) != 1 || !dlqs[0].Env.OriginTime.Equal(first) {
		t.Fatalf("DLQ writes = %+v, want one whose envelope keeps the origin time %v", dlqs, first)
	}

	due := dlqs[0].Env
	due.NotBefore = time.Time{}
	h.ts = copied
	h.consume("in.dlq", "k", []byte(`{"category":"X"}`), headersOf(due))
	wait.For(t, 10*time.Second, "the DLQ record in the sink", func() bool { return len(sinkTimes(sink)) == 1 })
	if got := sinkTimes(sink)[0]; !got.Equal(first) {
		t.Fatalf("DLQ record dated %v, want its first arrival's %v (its copy's is %v)", got, first, copied)
	}
}
