package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/schema"
)

// benchValues are 1 KiB records shaped like make bench's pass-through
// workload: a few short fields the rule may read and a long payload.
func benchValues() [][]byte {
	vals := make([][]byte, 256)
	for i := range vals {
		vals[i] = []byte(fmt.Sprintf(`{"id":%d,"user_id":"u%d","category":"%c","amount":%d.%02d,"ts":"2026-11-23T16:12:46.45Z","payload":%q}`,
			i, i*7%1000, 'A'+i%4, i*13%1000, i%100, strings.Repeat("lorem ipsum dolor sit amet ", 34)))
	}
	return vals
}

// BenchmarkRuleFields is what routeFresh does to a record before the rule:
// check it is a JSON object and decode the field the rule reads.
func BenchmarkRuleFields(b *testing.B) {
	vals := benchValues()
	names := []string{"category"}
	b.SetBytes(int64(len(vals[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v := vals[i%len(vals)]
		if err := validateObject(v); err != nil {
			b.Fatal(err)
		}
		if _, err := pickFields(v, names); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineParts builds a pass-through output line's parts, as toSink
// does: the value is not copied, the tail is built in a reused buffer.
func BenchmarkLineParts(b *testing.B) {
	vals := benchValues()
	now := time.Date(2026, 11, 23, 16, 12, 46, 450000000, time.UTC)
	b.SetBytes(int64(len(vals[0])))
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for i := 0; b.Loop(); i++ {
		meta := Meta{Topic: "events", Partition: 3, Offset: int64(i), ReceivedAt: now, WrittenAt: now}
		if _, _, err := lineParts(buf, vals[i%len(vals)], "enrichment", nil, meta, shapeKnown); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate is what routeFresh does to a record without a rule in
// the record and processing modes of --partition-time: check it is a JSON
// object.
func BenchmarkValidate(b *testing.B) {
	vals := benchValues()
	b.SetBytes(int64(len(vals[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := validateObject(vals[i%len(vals)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateWithTimeField is the same pass with --partition-time
// field:ts: the field is picked while validating, then read as a time.
func BenchmarkValidateWithTimeField(b *testing.B) {
	vals := benchValues()
	b.SetBytes(int64(len(vals[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		raw, err := pickRaw(vals[i%len(vals)], "ts")
		if err != nil {
			b.Fatal(err)
		}
		v, err := decodeValue(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := schema.EventTime(v); !ok {
			b.Fatal("no time")
		}
	}
}

// BenchmarkMetaAppendJSON is the _redrive object of a pass-through line.
func BenchmarkMetaAppendJSON(b *testing.B) {
	now := time.Date(2026, 11, 23, 16, 12, 46, 450000000, time.UTC)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t := now.Add(time.Duration(i) * time.Microsecond)
		m := Meta{Topic: "events", Partition: 3, Offset: int64(i), ReceivedAt: t, WrittenAt: t}
		buf = m.appendJSON(buf[:0])
	}
}
