package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// These benchmarks price, per record of the pass-through workload, the
// steps the CPU profile of workload 1 shows on top, and the cheaper
// alternatives the report recommends:
//
//	go test -run '^$' -bench . -benchmem ./bench/
func benchRecords() [][]byte {
	g := newRecordGen(1024)
	recs := make([][]byte, 1024)
	for i := range recs {
		recs[i] = g.Value(nil, i, categoryPlain)
	}
	return recs
}

// BenchmarkRecordValidate is pipeline.validateObject's json.Valid.
func BenchmarkRecordValidate(b *testing.B) {
	recs := benchRecords()
	b.SetBytes(int64(len(recs[0])))
	for i := 0; b.Loop(); i++ {
		if !json.Valid(recs[i%len(recs)]) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkRecordDecodeMap is pipeline.decodeFields: every field decoded,
// the payload string copied, to read one field for the rule.
func BenchmarkRecordDecodeMap(b *testing.B) {
	recs := benchRecords()
	b.SetBytes(int64(len(recs[0])))
	for i := 0; b.Loop(); i++ {
		var m map[string]any
		if err := json.Unmarshal(recs[i%len(recs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordDecodeRuleFields decodes only the top-level field the
// rule reads (`category`): the alternative to decoding the whole record.
func BenchmarkRecordDecodeRuleFields(b *testing.B) {
	recs := benchRecords()
	b.SetBytes(int64(len(recs[0])))
	for i := 0; b.Loop(); i++ {
		var m struct {
			Category string `json:"category"`
		}
		if err := json.Unmarshal(recs[i%len(recs)], &m); err != nil || m.Category == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkGzip prices the sink's compression per record at the level it
// uses (the library default) and at BestSpeed, and reports the ratio.
func BenchmarkGzip(b *testing.B) {
	recs := benchRecords()
	for _, lvl := range []struct {
		name  string
		level int
	}{{"default", gzip.DefaultCompression}, {"bestspeed", gzip.BestSpeed}} {
		b.Run(lvl.name, func(b *testing.B) {
			var out bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&out, lvl.level)
			b.SetBytes(int64(len(recs[0]) + 1))
			for i := 0; b.Loop(); i++ {
				r := recs[i%len(recs)]
				_, _ = zw.Write(r)
				_, _ = zw.Write([]byte{'\n'})
				if out.Len() > 8<<20 {
					out.Reset() // keep memory flat; the ratio is taken below
				}
			}
			_ = zw.Close()
			b.ReportMetric(ratioOf(recs, lvl.level), "ratio")
		})
	}
}

// ratioOf is the compression ratio of 8 MiB of records at level.
func ratioOf(recs [][]byte, level int) float64 {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, level)
	raw := 0
	for i := 0; raw < 8<<20; i++ {
		r := recs[i%len(recs)]
		_, _ = zw.Write(r)
		_, _ = zw.Write([]byte{'\n'})
		raw += len(r) + 1
	}
	_ = zw.Close()
	return float64(raw) / float64(max(out.Len(), 1))
}
