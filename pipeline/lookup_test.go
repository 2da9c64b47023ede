package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/internal/fakeclock"
)

// lookupRig is the processor and its lookup table, both on one goka
// tester: records of the "profiles" topic go to the table's view, records
// of "in" and "in.dlq" to the processor.
type lookupRig struct {
	tt    *tester.Tester
	sink  *fakeSink
	fwd   *fakeForwarder
	enr   *fakeEnricher
	table *Table
	clock *fakeclock.Clock
	p     *Processor
}

func newLookupRig(t *testing.T, miss string, withAPI bool) *lookupRig {
	t.Helper()
	r := &lookupRig{tt: tester.New(t), sink: &fakeSink{}, fwd: &fakeForwarder{}, enr: &fakeEnricher{},
		clock: fakeclock.New(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))}
	table, err := NewTable(TableConfig{Topic: "profiles", MaxBytes: 1 << 20}, nil, nil, WithTableViewOptions(goka.WithViewTester(r.tt)))
	if err != nil {
		t.Fatal(err)
	}
	r.table = table
	key, err := enrich.CompileKey("user_id")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.LookupMiss = miss
	deps := Deps{Matcher: rule(t), Table: table, Key: key, Sink: r.sink, Forwarder: r.fwd, Now: r.clock.Now}
	if withAPI {
		deps.Enricher = r.enr
	}
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	proc, err := goka.NewProcessor(nil, p.Graph(), goka.WithTester(r.tt), graphOptions)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	procDone, tableDone := make(chan error, 1), make(chan error, 1)
	go func() { tableDone <- table.Run(ctx) }()
	go func() { procDone <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-procDone; err != nil {
			t.Errorf("processor: %v", err)
		}
		if err := <-tableDone; err != nil {
			t.Errorf("table: %v", err)
		}
		p.Wait()
		table.Close() //nolint:errcheck // in memory
	})
	<-table.Recovered()
	return r
}

// wantLookups checks the table's hit and miss counters.
func (r *lookupRig) wantLookups(t *testing.T, hits, misses float64) {
	t.Helper()
	if h, m := counterValue(r.p.metrics.tableHits), counterValue(r.p.metrics.tableMisses); h != hits || m != misses {
		t.Fatalf("table hits %v, misses %v; want %v, %v", h, m, hits, misses)
	}
}

// profile writes a table record; a nil value is a tombstone.
func (r *lookupRig) profile(key string, value []byte) { r.tt.Consume("profiles", key, value) }

// lastMeta returns the enrichment and _redrive of the sink's last line.
func (r *lookupRig) last(t *testing.T) (json.RawMessage, Meta) {
	t.Helper()
	lines := r.sink.lines()
	if len(lines) == 0 {
		t.Fatal("no line in the sink")
	}
	var m Meta
	if err := json.Unmarshal(lines[len(lines)-1][MetaField], &m); err != nil {
		t.Fatal(err)
	}
	return lines[len(lines)-1]["enrichment"], m
}

// A record whose key the table holds is enriched from the table: no API
// call, no DLQ trip, _redrive.source "table". A record the rule does not
// match is not looked up at all.
func TestLookup_HitIsEnrichedFromTheTableWithoutTheAPI(t *testing.T) {
	r := newLookupRig(t, LookupMissAPI, true)
	r.profile("u1", []byte(`{"tier":"gold"}`))
	r.tt.Consume("in", "k", []byte(`{"id":1,"category":"X","user_id":"u1"}`))
	answer, m := r.last(t)
	if string(answer) != `{"tier":"gold"}` || m.Source != SourceTable || !m.Enriched || m.Attempt != 0 || m.LookupMiss {
		t.Fatalf("line: enrichment %s, meta %+v; want the table's value, source table, attempt 0", answer, m)
	}
	r.tt.Consume("in", "k", []byte(`{"id":2,"category":"Y","user_id":"u1"}`))
	if answer, m := r.last(t); answer != nil || m.Source != "" || m.Enriched {
		t.Fatalf("unmatched record: enrichment %s, meta %+v; want neither", answer, m)
	}
	if n := r.enr.Calls(); n != 0 {
		t.Fatalf("%d API calls, want none", n)
	}
	if len(r.fwd.to("in.dlq")) != 0 {
		t.Fatal("a table hit went to the DLQ")
	}
	r.wantLookups(t, 1, 0)
}

// --lookup-miss api: a record the table lacks (no such key, no key field,
// a key deleted by a tombstone, a value that is not JSON or not UTF-8)
// asks the API.
func TestLookup_MissModeAPIAsksTheAPI(t *testing.T) {
	r := newLookupRig(t, LookupMissAPI, true)
	r.profile("gone", []byte(`{"tier":"old"}`))
	r.profile("gone", nil)
	r.profile("bad", []byte(`not json`))
	r.profile("latin1", []byte("{\"name\":\"caf\xe9\"}"))
	for i, v := range []string{
		`{"id":1,"category":"X","user_id":"nobody"}`,
		`{"id":2,"category":"X"}`,
		`{"id":3,"category":"X","user_id":"gone"}`,
		`{"id":4,"category":"X","user_id":"bad"}`,
		`{"id":5,"category":"X","user_id":"latin1"}`,
	} {
		r.tt.Consume("in", "k", []byte(v))
		answer, m := r.last(t)
		if string(answer) != `{"score":1}` || m.Source != SourceAPI || m.LookupMiss {
			t.Fatalf("record %d: enrichment %s, meta %+v; want the API's answer, source api", i+1, answer, m)
		}
	}
	if n := r.enr.Calls(); n != 5 {
		t.Fatalf("%d API calls, want 5", n)
	}
	r.wantLookups(t, 0, 5) // the record without a key is a miss too
}

// --lookup-miss pass: written unenriched at once, flagged lookup_miss, no
// API call (there is none configured).
func TestLookup_MissModePassWritesUnenrichedAndFlagged(t *testing.T) {
	r := newLookupRig(t, LookupMissPass, false)
	r.tt.Consume("in", "k", []byte(`{"id":1,"category":"X","user_id":"nobody"}`))
	answer, m := r.last(t)
	if answer != nil || m.Enriched || m.Source != "" || !m.LookupMiss || m.Attempt != 0 {
		t.Fatalf("enrichment %s, meta %+v; want none, lookup_miss true", answer, m)
	}
	if len(r.fwd.to("in.dlq")) != 0 {
		t.Fatal("a passed miss went to the DLQ")
	}
}

// --lookup-miss retry: a miss goes around the DLQ as transient (class
// lookup_miss, attempt 1); once the table has the key and the record is
// due, it is enriched from the table with its attempt count kept. A
// record that stays a miss is parked when its attempts run out.
func TestLookup_MissModeRetryGoesAroundTheDLQUntilTheTableHasTheKey(t *testing.T) {
	r := newLookupRig(t, LookupMissRetry, false)
	in := []byte(`{"id":1,"category":"X","user_id":"late"}`)
	r.tt.Consume("in", "k", in)
	dlqs := r.fwd.to("in.dlq")
	if len(dlqs) != 1 || dlqs[0].Env.ErrorClass != ClassLookupMiss || dlqs[0].Env.Attempt != 1 || dlqs[0].Value != string(in) {
		t.Fatalf("DLQ writes %+v, want the record once, class lookup_miss, attempt 1, value unchanged", dlqs)
	}
	if len(r.sink.lines()) != 0 {
		t.Fatal("a retried miss reached the sink")
	}

	r.profile("late", []byte(`{"tier":"new"}`))
	r.clock.Advance(time.Hour) // due
	r.tt.Consume("in.dlq", "k", in, tester.WithHeaders(headersOf(dlqs[0].Env)))
	answer, m := r.last(t)
	if string(answer) != `{"tier":"new"}` || m.Source != SourceTable || m.Attempt != 1 || m.Offset != dlqs[0].Env.Origin.Offset {
		t.Fatalf("due record: enrichment %s, meta %+v; want the table's value, attempt 1, its origin", answer, m)
	}

	never := []byte(`{"id":2,"category":"X","user_id":"never"}`)
	env := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Offset: 9}, Attempt: 2, ErrorClass: ClassLookupMiss, FirstFailure: r.clock.Now()}
	r.tt.Consume("in.dlq", "k", never, tester.WithHeaders(headersOf(env)))
	parked := r.fwd.to("in.parking")
	if len(parked) != 1 || parked[0].Env.ErrorClass != dlq.ClassExhausted || !strings.Contains(parked[0].Env.Error, ClassLookupMiss) {
		t.Fatalf("parked %+v, want the record exhausted after lookup misses", parked)
	}
}

// A table update after start-up is used by the records read after it.
func TestLookup_UpdatedValueIsUsedByLaterRecords(t *testing.T) {
	r := newLookupRig(t, LookupMissAPI, true)
	r.profile("u1", []byte(`{"v":1}`))
	r.tt.Consume("in", "k", []byte(`{"id":1,"category":"X","user_id":"u1"}`))
	if answer, _ := r.last(t); string(answer) != `{"v":1}` {
		t.Fatalf("before the update: %s", answer)
	}
	r.profile("u1", []byte(`{"v":2}`))
	r.tt.Consume("in", "k", []byte(`{"id":2,"category":"X","user_id":"u1"}`))
	if answer, _ := r.last(t); string(answer) != `{"v":2}` {
		t.Fatalf("after the update: %s, want {\"v\":2}", answer)
	}
}

// A key expression that fails on a record parks it as rule_error, like the
// rule does.
func TestLookup_KeyExpressionErrorParksTheRecord(t *testing.T) {
	r := newLookupRig(t, LookupMissAPI, true)
	r.tt.Consume("in", "k", []byte(`{"id":1,"category":"X","user_id":{"nested":true}}`))
	parked := r.fwd.to("in.parking")
	if len(parked) != 1 || parked[0].Env.ErrorClass != ClassRuleError {
		t.Fatalf("parked %+v, want one rule_error", parked)
	}
}

// runTable runs a table over goka's tester until stop is called or the
// test ends.
func runTable(t *testing.T, tt *tester.Tester, cfg TableConfig) (table *Table, stop func()) {
	t.Helper()
	table, err := NewTable(cfg, nil, nil, WithTableViewOptions(goka.WithViewTester(tt)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("table: %v", err)
			}
			if err := table.Close(); err != nil {
				t.Errorf("closing the table: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	<-table.Recovered()
	return table, stop
}

// The table is up (ready) once it has caught up, and not after it stopped;
// Recovered stays closed.
func TestTable_UpOnceCaughtUp(t *testing.T) {
	tt := tester.New(t)
	table, err := NewTable(TableConfig{Topic: "profiles"}, nil, nil, WithTableViewOptions(goka.WithViewTester(tt)))
	if err != nil {
		t.Fatal(err)
	}
	if table.Up() || table.HasRecovered() {
		t.Fatal("up before it ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	<-table.Recovered()
	if !table.Up() {
		t.Fatal("not up after it caught up")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if table.Up() || !table.HasRecovered() {
		t.Fatalf("after the stop: up %v, recovered %v; want false, true", table.Up(), table.HasRecovered())
	}
}

// With --lookup-dir the table is kept in LevelDB: lookups answer from it,
// and a process started again on the same directory has the table at once.
func TestTable_OnDiskKeepsTheTableAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	tt := tester.New(t)
	table, stop := runTable(t, tt, TableConfig{Topic: "profiles", Dir: dir})
	tt.Consume("profiles", "u1", []byte(`{"tier":"gold"}`))
	tt.Consume("profiles", "u2", []byte(`{"tier":"silver"}`))
	tt.Consume("profiles", "u2", nil)
	if v, found, err := table.Get("u1"); err != nil || !found || string(v) != `{"tier":"gold"}` {
		t.Fatalf("Get(u1) = %s, %v, %v", v, found, err)
	}
	if _, found, _ := table.Get("u2"); found {
		t.Fatal("u2 was deleted by a tombstone but is still found")
	}
	stop() // what a SIGTERM does: the supervisor stops, the storages close

	// The topic still holds what was read: the new view starts after the
	// offset the directory kept, and reads none of it again.
	tt = tester.New(t)
	tt.RegisterEmitter("profiles", new(codec.Bytes))
	tt.Consume("profiles", "u1", []byte(`{"tier":"gold"}`))
	tt.Consume("profiles", "u2", []byte(`{"tier":"silver"}`))
	tt.Consume("profiles", "u2", nil)
	again, _ := runTable(t, tt, TableConfig{Topic: "profiles", Dir: dir})
	if v, found, err := again.Get("u1"); err != nil || !found || string(v) != `{"tier":"gold"}` {
		t.Fatalf("after a restart, Get(u1) = %s, %v, %v", v, found, err)
	}
}
