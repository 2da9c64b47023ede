package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich"
)

// rule matches records whose category is X.
func rule(t *testing.T) Matcher {
	r, err := enrich.CompileRule(`category == "X"`)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runWithTester runs the processor's real goka graph against goka's tester.
func runWithTester(t *testing.T, cfg Config, deps Deps) (*tester.Tester, *Processor) {
	t.Helper()
	tt := tester.New(t)
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := goka.NewProcessor(nil, p.Graph(), goka.WithTester(tt), graphOptions)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
		p.Wait()
	})
	return tt, p
}

func testConfig() Config {
	return Config{
		Group: "g", InputTopic: "in", DLQTopic: "in.dlq", ParkingTopic: "in.parking", MaxRecordBytes: 200,
		Retry: dlq.Policy{Base: time.Second, MaxDelay: time.Minute, MaxAttempts: 3, MaxAge: time.Hour},
	}
}

// headersOf encodes an envelope as goka headers.
func headersOf(env dlq.Envelope) goka.Headers {
	h := goka.Headers{}
	for _, x := range env.Headers() {
		h[x.Key] = x.Value
	}
	return h
}

// Routing: each kind of record takes the route the design gives it, through
// the real goka graph, and its commit is released (goka's tester waits for
// the commit before Consume returns).
func TestRouting_EachRecordTakesItsRoute(t *testing.T) {
	sink, fwd, enr := &fakeSink{}, &fakeForwarder{}, &fakeEnricher{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tt, _ := runWithTester(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd, Now: func() time.Time { return now }})

	tt.Consume("in", "k1", []byte(`{"id":1,"category":"Y"}`))                                       // no rule match: direct
	tt.Consume("in", "k2", []byte(`{"id":2,"category":"X"}`))                                       // enriched
	tt.Consume("in", "k3", []byte(`{"id":3,"category":"X","outcome":"transient"}`))                 // DLQ
	tt.Consume("in", "k4", []byte(`{"id":4,"category":"X","outcome":"permanent"}`))                 // parked http_4xx
	tt.Consume("in", "k5", []byte(`not json`))                                                      // parked malformed
	tt.Consume("in", "k6", []byte(`{"id":6,"pad":"`+strings.Repeat("x", 300)+`"}`))                 // parked oversize
	tt.Consume("in", "k7", []byte(`{"id":7,"category":"X","amount":"1"}`), tester.WithHeaders(nil)) // enriched
	tt.Consume("in", "k8", []byte(`{"id":8,"category":1}`))                                         // rule false: direct

	lines := sink.lines()
	if len(lines) != 4 {
		t.Fatalf("sink got %d lines, want 4 (ids 1, 2, 7, 8)", len(lines))
	}
	enriched := 0
	for _, l := range lines {
		if l["enrichment"] != nil {
			enriched++
		}
	}
	if enriched != 2 {
		t.Fatalf("%d enriched lines, want 2", enriched)
	}
	dlqs := fwd.to("in.dlq")
	if len(dlqs) != 1 || dlqs[0].Key != "k3" {
		t.Fatalf("DLQ writes = %+v, want k3 only", dlqs)
	}
	d := dlqs[0]
	if d.Env.Attempt != 1 || d.Env.ErrorClass != "http_5xx" || !d.Env.NotBefore.After(now) || d.Env.Origin.Topic != "in" {
		t.Fatalf("DLQ envelope = %+v", d.Env)
	}
	if d.Value != `{"id":3,"category":"X","outcome":"transient"}` {
		t.Fatalf("DLQ value changed: %s", d.Value)
	}
	parked := map[string]string{}
	for _, p := range fwd.to("in.parking") {
		parked[p.Key] = p.Env.ErrorClass
	}
	want := map[string]string{"k4": "http_4xx", "k5": ClassMalformed, "k6": ClassOversize}
	if fmt.Sprint(parked) != fmt.Sprint(want) {
		t.Fatalf("parked = %v, want %v", parked, want)
	}
}

// An API that answered when to come back (Retry-After) is not asked again
// sooner: the record is due in the DLQ no earlier than it said, and no
// later than the policy's longest delay (a minute here).
func TestRouting_DLQRecordWaitsWhatTheAPIAsked(t *testing.T) {
	fwd := &fakeForwarder{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tt, _ := runWithTester(t, testConfig(), Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: &fakeSink{}, Forwarder: fwd, Now: func() time.Time { return now }})
	tt.Consume("in", "k1", []byte(`{"category":"X","outcome":"throttled 30s"}`))
	tt.Consume("in", "k2", []byte(`{"category":"X","outcome":"throttled 1h"}`))
	tt.Consume("in", "k3", []byte(`{"category":"X","outcome":"transient"}`))
	due := map[string]time.Duration{}
	for _, w := range fwd.to("in.dlq") {
		due[w.Key] = w.Env.NotBefore.Sub(now)
	}
	if due["k1"] != 30*time.Second || due["k2"] != time.Minute {
		t.Fatalf("due after %v; want k1 after the 30s it asked, k2 after the policy's 1m cap", due)
	}
	if d := due["k3"]; d < 500*time.Millisecond || d > time.Second {
		t.Fatalf("k3 (no Retry-After) due after %s, want the policy's first delay (0.5s to 1s)", d)
	}
}

// A record's own Kafka headers travel with it into the DLQ, back out of
// it, and into parking, in key order before the envelope; redrive's
// headers as read are replaced by the new envelope, never doubled.
func TestRouting_RecordHeadersTravelWithIt(t *testing.T) {
	fwd := &fakeForwarder{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tt, _ := runWithTester(t, testConfig(), Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: &fakeSink{}, Forwarder: fwd, Now: func() time.Time { return now }})
	own := goka.Headers{"traceparent": []byte("00-abc-01"), "content-type": []byte("application/json")}
	tt.Consume("in", "k1", []byte(`{"category":"X","outcome":"transient"}`), tester.WithHeaders(own))
	tt.Consume("in", "k2", []byte(`{"category":"X","outcome":"permanent"}`), tester.WithHeaders(own))
	due := dlq.Envelope{Attempt: 1, ErrorClass: "http_5xx", Origin: dlq.Origin{Topic: "in", Partition: 0, Offset: 7}, FirstFailure: now.Add(-time.Minute), NotBefore: now.Add(-time.Second)}
	fromDLQ := headersOf(due)
	fromDLQ["traceparent"] = []byte("00-def-01")
	tt.Consume("in.dlq", "k3", []byte(`{"category":"X","outcome":"transient"}`), tester.WithHeaders(fromDLQ))

	writes := append(fwd.to("in.dlq"), fwd.to("in.parking")...)
	if len(writes) != 3 {
		t.Fatalf("%d writes, want 3: %+v", len(writes), writes)
	}
	for _, w := range writes {
		want := []string{"content-type=application/json", "traceparent=00-abc-01"}
		if w.Key == "k3" {
			want = []string{"traceparent=00-def-01"}
		}
		var got []string
		attempts := 0
		for _, h := range w.Headers {
			if h.Key == dlq.HeaderAttempt {
				attempts++
			}
			if !strings.HasPrefix(h.Key, dlq.HeaderPrefix) {
				got = append(got, h.Key+"="+string(h.Value))
			}
		}
		if !slices.Equal(got, want) || !strings.HasPrefix(w.Headers[len(want)].Key, dlq.HeaderPrefix) {
			t.Errorf("%s to %s: own headers %v, want %v before the envelope", w.Key, w.Topic, got, want)
		}
		if attempts != 1 {
			t.Errorf("%s to %s: %d %s headers, want 1", w.Key, w.Topic, attempts, dlq.HeaderAttempt)
		}
	}
	if k3 := fwd.to("in.dlq"); len(k3) != 2 || k3[1].Key != "k3" || k3[1].Env.Attempt != 2 {
		t.Fatalf("the DLQ record's rewrite = %+v, want k3 at attempt 2", k3)
	}
}

// A tombstone (a null value) is parked as such by default, and with
// Tombstones "skip" counted and written nowhere; the records around it go
// their way either way.
func TestRouting_Tombstones(t *testing.T) {
	for _, mode := range []string{TombstonesPark, TombstonesSkip} {
		t.Run(mode, func(t *testing.T) {
			sink, fwd := &fakeSink{}, &fakeForwarder{}
			cfg := testConfig()
			cfg.Tombstones = mode
			tt, p := runWithTester(t, cfg, Deps{Sink: sink, Forwarder: fwd})
			tt.Consume("in", "k1", []byte(`{"id":1}`))
			tt.Consume("in", "k1", nil)
			tt.Consume("in", "k1", []byte(`{"id":2}`))
			if n := len(sink.lines()); n != 2 {
				t.Fatalf("sink got %d lines, want the 2 records around the tombstone", n)
			}
			parked := fwd.to("in.parking")
			st := p.Stats()
			switch mode {
			case TombstonesPark:
				if len(parked) != 1 || parked[0].Key != "k1" || parked[0].Env.ErrorClass != ClassTombstone || parked[0].Value != "" {
					t.Fatalf("parked %+v, want the tombstone of k1, class %s", parked, ClassTombstone)
				}
			case TombstonesSkip:
				if len(parked) != 0 || st.Skipped != 1 {
					t.Fatalf("parked %+v and skipped %d, want nothing parked and 1 skipped", parked, st.Skipped)
				}
			}
		})
	}
}

// A DLQ record that is due is enriched again; it keeps its origin and
// attempt count in the output, and a further failure raises the attempt.
func TestRouting_DueDLQRecordKeepsOriginAndAttempts(t *testing.T) {
	sink, fwd, enr := &fakeSink{}, &fakeForwarder{}, &fakeEnricher{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tt, _ := runWithTester(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd, Now: func() time.Time { return now }})

	origin := dlq.Origin{Topic: "in", Partition: 0, Offset: 77}
	first := now.Add(-time.Minute)
	due := dlq.Envelope{Origin: origin, Attempt: 1, FirstFailure: first, ErrorClass: "timeout", NotBefore: now.Add(-time.Second)}
	tt.Consume("in.dlq", "a", []byte(`{"id":1,"category":"X"}`), tester.WithHeaders(headersOf(due)))
	tt.Consume("in.dlq", "b", []byte(`{"id":2,"category":"X","outcome":"transient"}`), tester.WithHeaders(headersOf(due)))
	exhausted := due
	exhausted.Attempt = 2 // MaxAttempts is 3: the next failure parks it
	tt.Consume("in.dlq", "c", []byte(`{"id":3,"category":"X","outcome":"transient"}`), tester.WithHeaders(headersOf(exhausted)))
	tt.Consume("in.dlq", "d", []byte(`{"id":4}`), tester.WithHeaders(goka.Headers{dlq.HeaderAttempt: []byte("x")}))

	lines := sink.lines()
	if len(lines) != 1 {
		t.Fatalf("sink got %d lines, want 1", len(lines))
	}
	var meta Meta
	if err := json.Unmarshal(lines[0][MetaField], &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Topic != "in" || meta.Offset != 77 || meta.Attempt != 1 || meta.FirstFailure == nil || !meta.FirstFailure.Equal(first) {
		t.Fatalf("meta = %+v, want origin in/0@77 attempt 1 first failure %s", meta, first)
	}
	dlqs := fwd.to("in.dlq")
	if len(dlqs) != 1 || dlqs[0].Env.Attempt != 2 || dlqs[0].Env.Origin != origin || !dlqs[0].Env.FirstFailure.Equal(first) {
		t.Fatalf("DLQ writes = %+v, want b with attempt 2 and the same origin and first failure", dlqs)
	}
	parked := fwd.to("in.parking")
	if len(parked) != 2 {
		t.Fatalf("parked = %+v, want c (exhausted) and d (bad envelope)", parked)
	}
	classes := map[string]string{}
	for _, p := range parked {
		classes[p.Key] = p.Env.ErrorClass
	}
	if classes["c"] != dlq.ClassExhausted || classes["d"] != ClassBadEnvelope {
		t.Fatalf("parked classes = %v", classes)
	}
}

// A record replayed from parking onto the main topic starts afresh but keeps
// its origin, so downstream de-duplicates it against earlier copies.
func TestRouting_ReplayedRecordKeepsItsOrigin(t *testing.T) {
	sink, fwd := &fakeSink{}, &fakeForwarder{}
	tt, _ := runWithTester(t, testConfig(), Deps{Sink: sink, Forwarder: fwd})
	replayed := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Partition: 0, Offset: 5}, Attempt: 7, ErrorClass: "exhausted",
		Replayed: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	tt.Consume("in", "k", []byte(`{"id":1}`), tester.WithHeaders(headersOf(replayed)))
	lines := sink.lines()
	if len(lines) != 1 {
		t.Fatalf("sink got %d lines", len(lines))
	}
	var meta Meta
	json.Unmarshal(lines[0][MetaField], &meta) //nolint:errcheck
	if meta.Offset != 5 || meta.Attempt != 0 || meta.ReplayedAt == nil {
		t.Fatalf("meta = %+v, want origin offset 5, attempt 0, replayed_at set", meta)
	}
}

// A record whose own _redrive key is written with an escape is still
// seen to have one: its line is re-encoded with one _redrive, redrive's,
// rather than spliced into a line with two (searching the text for the
// key, as before, missed it).
func TestEscapedOwnKeyIsReplacedNotDuplicated(t *testing.T) {
	sink := &fakeSink{}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	h.consume("in", "k", []byte(`{"_redriv\u0065":"spoof","id":1}`), nil)
	sink.mu.Lock()
	line := string(append(sink.items[0].Line, sink.items[0].Tail...))
	sink.mu.Unlock()
	dec := json.NewDecoder(strings.NewReader(line))
	keys := 0
	dec.Token() //nolint:errcheck // the opening brace
	for dec.More() {
		k, _ := dec.Token()
		if k == MetaField {
			keys++
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
	}
	if keys != 1 || strings.Contains(line, "spoof") {
		t.Fatalf("line %s has %d keys %s, want redrive's alone", line, keys, MetaField)
	}
}
