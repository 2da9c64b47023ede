package pipeline

import (
	"encoding/json"
	"reflect"
	"testing"
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
