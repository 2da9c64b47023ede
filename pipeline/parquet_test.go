package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/redrive-io/redrive/schema"
)

// TestRouting_ParquetRowsAndSchemaMismatch: with a schema, a record that
// fits reaches the sink as a row (the enrichment answer in its column,
// _redrive's coordinates after the file's columns), and a record that does
// not fit is parked as schema_mismatch, whole and with the field named,
// never written with a null in its place.
func TestRouting_ParquetRowsAndSchemaMismatch(t *testing.T) {
	s, err := schema.Parse([]byte(`columns:
  - {name: id, type: int64, required: true}
  - {name: category, type: string}
  - {name: qty, type: int64}
`), "test", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	sink, fwd, enr := &fakeSink{}, &fakeForwarder{}, &fakeEnricher{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.EnrichField = "enrichment"
	tt, _ := runWithTester(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd, Schema: s, Now: func() time.Time { return now }})

	tt.Consume("in", "k1", []byte(`{"id":1,"category":"Y","qty":3,"extra":"not a column"}`)) // direct
	tt.Consume("in", "k2", []byte(`{"id":2,"category":"X"}`))                                // enriched
	tt.Consume("in", "k3", []byte(`{"id":3,"category":"Y","qty":"three"}`))                  // does not fit
	tt.Consume("in", "k4", []byte(`{"category":"Y"}`))                                       // required id missing

	sink.mu.Lock()
	items := sink.items
	sink.mu.Unlock()
	if len(items) != 2 {
		t.Fatalf("sink got %d items, want 2 (ids 1, 2)", len(items))
	}
	for _, it := range items {
		if it.Line != nil || it.Row == nil {
			t.Fatalf("item %d: Line %q, Row %v; want a row only", it.Offset, it.Line, it.Row)
		}
	}
	// Columns: id, category, qty, enrichment, then _redrive's topic,
	// partition, offset, attempt, enriched, source, lookup_miss, ...
	r1, r2 := items[0].Row, items[1].Row
	if r1[0].Int64() != 1 || string(r1[1].ByteArray()) != "Y" || r1[2].Int64() != 3 || !r1[3].IsNull() {
		t.Errorf("row 1 = %v", r1)
	}
	if r1[6].Int64() != 0 || r1[8].Boolean() {
		t.Errorf("row 1 _redrive offset %v, enriched %v; want 0, false", r1[6], r1[8])
	}
	if r2[0].Int64() != 2 || !r2[2].IsNull() || string(r2[3].ByteArray()) != `{"score":1}` || !r2[8].Boolean() {
		t.Errorf("row 2 = %v; want the answer in the enrichment column and enriched true", r2)
	}
	if r2[4].Kind() != parquet.ByteArray || string(r2[4].ByteArray()) != "in" {
		t.Errorf("row 2 _redrive.topic = %v, want in", r2[4])
	}
	if !r1[9].IsNull() || string(r2[9].ByteArray()) != "api" || r2[10].Boolean() {
		t.Errorf("_redrive.source %v and %v, lookup_miss %v; want null, api and false", r1[9], r2[9], r2[10])
	}

	parked := fwd.to("in.parking")
	if len(parked) != 2 {
		t.Fatalf("parked %d records, want 2 (k3, k4)", len(parked))
	}
	for _, p := range parked {
		want := map[string]struct{ value, cause string }{
			"k3": {`{"id":3,"category":"Y","qty":"three"}`, `field "qty": want int64, got a string "three"`},
			"k4": {`{"category":"Y"}`, `field "id": required int64, but the record has no such field`},
		}[p.Key]
		if p.Env.ErrorClass != ClassSchemaMismatch || p.Value != want.value || !strings.Contains(p.Env.Error, want.cause) || !strings.Contains(p.Env.Error, "--parquet-schema") {
			t.Errorf("parked %s: class %q, value %s, error %q; want %s with %q", p.Key, p.Env.ErrorClass, p.Value, p.Env.Error, ClassSchemaMismatch, want.cause)
		}
	}
}
