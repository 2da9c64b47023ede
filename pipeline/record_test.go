package pipeline

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestValidateObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string
	}{
		{`{"a":1}`, true, ""},
		{"  {\"a\":1}\n", true, ""},
		{`{}`, true, ""},
		{``, false, "empty"},
		{`   `, false, "empty"},
		{`[1,2]`, false, "not a JSON object"},
		{`"str"`, false, "not a JSON object"},
		{`{"a":`, false, "not valid JSON"},
		{`{"a":1}{"b":2}`, false, "not valid JSON"},
		{`not json`, false, "not a JSON object"},
	} {
		err := validateObject([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("validateObject(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validateObject(%q) = %q, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func TestOutputLineKeepsTheRecordAndAddsMeta(t *testing.T) {
	meta := Meta{Topic: "in", Partition: 3, Offset: 42, Attempt: 2, Enriched: true,
		ReceivedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name, in   string
		enrichment string
	}{
		{"spliced", `{"id":1,"category":"X"}`, `{"score":7}`},
		{"no enrichment", `{"id":1}`, ``},
		{"empty object", `{}`, `{"score":7}`},
		{"whitespace", " {\n \"id\" : 1 \n} \n", `{"score":7}`},
		{"record already has _redrive", `{"id":1,"_redrive":"spoof"}`, `{"score":7}`},
		{"record already has the enrichment field", `{"id":1,"enrichment":"old"}`, `{"score":7}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var enr json.RawMessage
			if tc.enrichment != "" {
				enr = json.RawMessage(tc.enrichment)
			}
			line, err := outputLine([]byte(tc.in), "enrichment", enr, meta)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(line), "\n") {
				t.Fatalf("line has a newline: %q", line)
			}
			var out map[string]json.RawMessage
			if err := json.Unmarshal(line, &out); err != nil {
				t.Fatalf("output %q is not a JSON object: %v", line, err)
			}
			if n := strings.Count(string(line), `"_redrive"`); n != 1 {
				t.Fatalf("_redrive appears %d times in %s", n, line)
			}
			var got Meta
			if err := json.Unmarshal(out[MetaField], &got); err != nil {
				t.Fatal(err)
			}
			if got.Topic != "in" || got.Partition != 3 || got.Offset != 42 || got.Attempt != 2 {
				t.Fatalf("meta = %+v", got)
			}
			if tc.enrichment != "" && string(out["enrichment"]) != tc.enrichment {
				t.Fatalf("enrichment = %s, want %s", out["enrichment"], tc.enrichment)
			}
			if tc.enrichment == "" && out["enrichment"] != nil {
				t.Fatalf("unexpected enrichment %s", out["enrichment"])
			}
			var orig map[string]json.RawMessage
			json.Unmarshal([]byte(tc.in), &orig) //nolint:errcheck // inputs are valid
			for k, v := range orig {
				if k == MetaField || k == "enrichment" {
					continue
				}
				if string(out[k]) != string(v) {
					t.Fatalf("field %s = %s, want %s", k, out[k], v)
				}
			}
		})
	}
}

// FuzzOutputLine: whatever JSON object comes in, the output is one JSON
// object holding every original field, the enrichment and the meta.
func FuzzOutputLine(f *testing.F) {
	f.Add(`{"a":1,"b":[1,2],"c":{"d":null}}`)
	f.Add(`{"_redrive":1}`)
	f.Add(`{"x":"}\"{"}`)
	f.Fuzz(func(t *testing.T, in string) {
		if validateObject([]byte(in)) != nil {
			return
		}
		line, err := outputLine([]byte(in), "enrichment", json.RawMessage(`{"k":1}`), Meta{Topic: "t", Offset: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(line, &out); err != nil {
			t.Fatalf("output %q of %q is not a JSON object: %v", line, in, err)
		}
		if string(out["enrichment"]) != `{"k":1}` || out[MetaField] == nil {
			t.Fatalf("output %q lacks enrichment or meta", line)
		}
	})
}

// The hand-written meta encoder writes exactly what encoding/json writes:
// the _redrive object is a public contract and must not drift.
func TestMetaAppendJSONMatchesEncodingJSON(t *testing.T) {
	ff := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	rp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, m := range []Meta{
		{},
		{Topic: "orders", Partition: 3, Offset: 1 << 40, Attempt: 7, Enriched: true, FirstFailure: &ff, ReplayedAt: &rp,
			ReceivedAt: time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC), WrittenAt: time.Now()},
		{Topic: `we"ird\<topic>&é`, Partition: -1, Offset: -1},
		{Topic: "t", Enriched: true, Source: SourceTable, ReplayedAt: &rp},
		{Topic: "t", Enriched: true, Source: SourceCache, FirstFailure: &ff},
		{Topic: "t", LookupMiss: true, Attempt: 3},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
		}
	}
}

// TestLinePartsSpliceWithoutCopying: head then tail is the line outputLine
// builds, and head is the value's own bytes (not a copy) unless the value
// must be rebuilt: a line break (compacted: JSON Lines has one record a
// line) or a key redrive writes (re-encoded).
func TestLinePartsSpliceWithoutCopying(t *testing.T) {
	ts := time.Date(2026, 11, 23, 16, 12, 46, 450000000, time.UTC)
	meta := Meta{Topic: "events", Partition: 3, Offset: 1084, Attempt: 2, FirstFailure: &ts, ReceivedAt: ts, WrittenAt: ts}
	for _, tc := range []struct {
		in      string
		aliased bool
	}{
		{`{"a":1}`, true},
		{`{}`, true},
		{`  { "a" : [1, 2] }  `, true},
		{`{ }`, true},
		{`{"x":"_redrive"}`, false}, // over-approximated: re-encoded, still right
		{"{\n}", false},
		{"{\"a\":\r\n 1}", false},
		{`{"_redrive":1,"b":2}`, false},
	} {
		for _, enr := range []json.RawMessage{nil, json.RawMessage(`{"k":1}`), json.RawMessage("{\n \"k\": [1,\r\n 2]\n}")} {
			want, err := outputLine([]byte(tc.in), "enrichment", enr, meta)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(string(want), "\r\n") {
				t.Fatalf("line of %q with %q has a line break: %q", tc.in, enr, want)
			}
			if err := json.Unmarshal(want, new(map[string]any)); err != nil {
				t.Fatalf("line of %q is not a JSON object: %q", tc.in, want)
			}
			value := []byte(tc.in)
			head, tail, err := lineParts(make([]byte, 0, 8), value, "enrichment", enr, meta, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(head) + string(tail); got != string(want) {
				t.Fatalf("parts of %q = %q + %q, want %q", tc.in, head, tail, want)
			}
			aliased := len(head) > 0 && &head[0] == &bytes.TrimSpace(value)[0]
			if aliased != tc.aliased {
				t.Fatalf("head of %q aliases the value: %v, want %v", tc.in, aliased, tc.aliased)
			}
		}
	}
}

// Invariant 5: the byte windows charge a held record's value by its
// length: a value still in its fetch buffer has the rest of the fetch as
// capacity, and one that waits is copied to its length (record.own).
func TestInvariant5_RecordCostChargesTheValuesLength(t *testing.T) {
	fetch := []byte(`{"a":1}{"b":2}`)
	v := fetch[:7]
	if got, want := recordCost([]byte("k"), v), 1+len(v)+recordOverhead; got != want {
		t.Fatalf("recordCost = %d, want %d (len %d, cap %d)", got, want, len(v), cap(v))
	}
}

// Journey times are written as encoding/json writes them, however many of
// their nanoseconds are zeros, at the edges of a second and of the
// four-digit years, in UTC or not.
func TestAppendJSONTimeMatchesEncodingJSON(t *testing.T) {
	base := time.Date(2026, 12, 2, 10, 18, 57, 0, time.UTC)
	times := []time.Time{{}, base, time.Unix(minJSONSecond, 0).UTC(), time.Unix(maxJSONSecond, 999999999).UTC(),
		base.In(time.FixedZone("x", 3600)), base.Add(-time.Nanosecond), base.Add(time.Second)}
	for _, ns := range []int{1, 10, 120, 123456789, 100000000, 999999999, 450000000} {
		times = append(times, base.Add(time.Duration(ns)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(r.Int64N(maxJSONSecond), r.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		want, err := json.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONTime(nil, tm); string(got) != string(want) {
			t.Fatalf("appendJSONTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
