package pipeline

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/redrive-io/redrive/internal/wait"
)

func TestPickFields(t *testing.T) {
	in := `{ "category" : "X", "amount": 12.5, "nested": {"category": "no", "a": [1, "}", {"b": "]"}]},
		"esc\u0061ped": "e", "list": [1,2], "s": "a \" quote", "n": null, "category": "Y" }`
	got, err := pickFields([]byte(in), []string{"category", "amount", "escaped", "n", "missing", "s"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"category": "Y", "amount": 12.5, "escaped": "e", "n": nil, "s": `a " quote`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

// FuzzPickFields: for any valid JSON object, picking every key gives what
// encoding/json decodes.
func FuzzPickFields(f *testing.F) {
	f.Add(`{"a":1,"b":"x","c":{"d":[1,2,{"e":"}"}]}}`)
	f.Add(`{"\u0041":true, "a" : [ ] , "b":{}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		if validateObject([]byte(in)) != nil {
			return
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Skip()
		}
		names := make([]string, 0, len(want))
		for k := range want {
			names = append(names, k)
		}
		got, err := pickFields([]byte(in), names)
		if err != nil {
			t.Fatalf("pickFields(%q): %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pickFields(%q) = %#v, want %#v", in, got, want)
		}
	})
}

// TestPickRaw proves pickRaw finds a top-level field's raw value as
// pickFields would decode it (the last of repeated keys, escaped keys, not
// a nested key of the same name), returns nil for an absent one, and
// refuses what validateObject refuses.
func TestPickRaw(t *testing.T) {
	in := `{ "ts" : "first", "nested": {"ts": "no", "a": [1, "}", {"ts": "]"}]},
		"esc\u0061ped": 12.5, "ts": "2026-05-06T07:08:09Z" , "n": null}`
	for name, want := range map[string]string{"ts": `"2026-05-06T07:08:09Z"`, "escaped": `12.5`, "n": `null`, "missing": ``, "a": ``} {
		raw, err := pickRaw([]byte(in), name)
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != want || (want == "") != (raw == nil) {
			t.Errorf("pickRaw(%q) = %q, want %q", name, raw, want)
		}
	}
	for _, bad := range []string{`{"ts":1`, `[{"ts":1}]`, `{"ts":1} x`, ``} {
		if _, err := pickRaw([]byte(bad), "ts"); err == nil || validateObject([]byte(bad)) == nil {
			t.Errorf("pickRaw(%q) = nil error, want validateObject's refusal", bad)
		}
	}
}

// FuzzPickRaw: for any input, pickRaw accepts what validateObject accepts,
// and its value decodes to what pickFields picks.
func FuzzPickRaw(f *testing.F) {
	f.Add(`{"a":1,"b":"x","c":{"a":[1,2,{"a":"}"}]}}`, "a")
	f.Add(`{"\u0041":true, "A" : [ ] , "b":{}}`, "A")
	f.Fuzz(func(t *testing.T, in, name string) {
		raw, err := pickRaw([]byte(in), name)
		if (err == nil) != (validateObject([]byte(in)) == nil) {
			t.Fatalf("pickRaw(%q) error %v disagrees with validateObject", in, err)
		}
		if err != nil {
			return
		}
		fields, err := pickFields([]byte(in), []string{name})
		if err != nil {
			t.Fatalf("pickFields(%q): %v", in, err)
		}
		want, present := fields[name]
		if present != (raw != nil) {
			t.Fatalf("pickRaw(%q, %q) = %q, pickFields has it: %v", in, name, raw, present)
		}
		if raw == nil {
			return
		}
		got, err := decodeValue(raw)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("pickRaw(%q, %q) decodes to %#v (%v), want %#v", in, name, got, err, want)
		}
	})
}

// The map the rule's fields are decoded into is reused from record to
// record: a field of one record is never seen by the rule for the next,
// which lacks it.
func TestRuleFieldsDoNotLeakToTheNextRecord(t *testing.T) {
	enr := &fakeEnricher{}
	sink := &fakeSink{}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: &fakeForwarder{}})
	for range 50 {
		h.consume("in", "k", []byte(`{"category":"X"}`), nil)
		h.consume("in", "k", []byte(`{"other":1}`), nil)
	}
	wait.For(t, 5*time.Second, "every record in the sink", func() bool { return len(sink.lines()) == 100 })
	if got := enr.Calls(); got != 50 {
		t.Fatalf("%d API calls, want 50: only the records with category X match", got)
	}
}
