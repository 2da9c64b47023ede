package pipeline

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestScanObjectValidity is a table of what the one-pass validator accepts
// and rejects; each case agrees with stdValidObject.
func TestScanObjectValidity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string // part of the error
	}{
		{`{}`, true, ""},
		{" \n\t{ } \r\n", true, ""},
		{"\v{\"a\":1}\f", true, ""}, // bytes.TrimSpace trims these, as before
		{`{"a":1,"b":[1,-2.5e+3,0.5,"x",true,false,null,{}],"c":{"d":"\u00e9\n\"\\\/"}}`, true, ""},
		{"{\"a\":\"caf\xc3\xa9 \U0001F600\"}", true, ""},
		{"{\"a\":\"caf\xc3\xa9 \xff\"}", false, "not UTF-8"}, // encoding/json lets it through; JSON is UTF-8
		{"{\"caf\xe9\":1}", false, "not UTF-8"},              // a Latin-1 key
		{"{\"a\":\"\xed\xa0\x80\"}", false, "not UTF-8"},     // an encoded surrogate
		{``, false, "empty"},
		{`   `, false, "empty"},
		{`[1]`, false, "not a JSON object"},
		{`null`, false, "not a JSON object"},
		{`{`, false, "not valid JSON"},
		{`{"a"}`, false, "not valid JSON"},
		{`{"a":}`, false, "not valid JSON"},
		{`{"a":1,}`, false, "not valid JSON"},
		{`{,}`, false, "not valid JSON"},
		{`{a:1}`, false, "not valid JSON"},
		{`{"a":1}{"b":2}`, false, "not valid JSON"},
		{`{"a":1} x`, false, "not valid JSON"},
		{`{"a":01}`, false, "not valid JSON"},
		{`{"a":1.}`, false, "not valid JSON"},
		{`{"a":.5}`, false, "not valid JSON"},
		{`{"a":1e}`, false, "not valid JSON"},
		{`{"a":-}`, false, "not valid JSON"},
		{`{"a":+1}`, false, "not valid JSON"},
		{`{"a":tru}`, false, "not valid JSON"},
		{`{"a":nul}`, false, "not valid JSON"},
		{`{"a":"\x"}`, false, "not valid JSON"},
		{`{"a":"\u12g4"}`, false, "not valid JSON"},
		{"{\"a\":\"tab\there\"}", false, "not valid JSON"},
		{`{"a":"open}`, false, "not valid JSON"},
		{`{"a":[1,2}`, false, "not valid JSON"},
		{`{"a":[1 2]}`, false, "not valid JSON"},
		{`{"a":{"b":1]}`, false, "not valid JSON"},
		{`{"a":1 "b":2}`, false, "not valid JSON"},
		{"{\"a\":" + strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth) + "}", false, "depth"},
		{"{\"a\":" + strings.Repeat("[", maxNestingDepth-1) + strings.Repeat("]", maxNestingDepth-1) + "}", true, ""},
	} {
		err := validateObject([]byte(tc.in))
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("validateObject(%.60q) = %v, want ok=%v mentioning %q", tc.in, err, tc.ok, tc.want)
		}
		if std := stdValidObject([]byte(tc.in)); std != tc.ok {
			t.Errorf("case %.60q: encoding/json says valid=%v; the table is wrong", tc.in, std)
		}
	}
}

// TestPickFieldsValidates: picking fields is the validation too, so a
// record whose rule field is fine but whose tail is broken is refused.
func TestPickFieldsValidates(t *testing.T) {
	if _, err := pickFields([]byte(`{"category":"X","rest":[1,}`), []string{"category"}); err == nil {
		t.Fatal("broken tail accepted")
	}
	got, err := pickFields([]byte(`{"category":"X","n":1e400,"big":12345678901234567890}`), []string{"category", "big"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"category": "X", "big": 12345678901234567890.0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	// A number out of float64's range fails as encoding/json fails, only
	// when the rule reads it.
	if _, err := pickFields([]byte(`{"n":1e400}`), []string{"n"}); err == nil {
		t.Fatal("1e400 decoded")
	}
}

// stdValidObject is the reference: encoding/json's validity of the trimmed
// value, an object, and UTF-8 as RFC 8259 asks (encoding/json lets other
// bytes through in strings).
func stdValidObject(value []byte) bool {
	v := bytes.TrimSpace(value)
	return len(v) > 0 && v[0] == '{' && json.Valid(v) && utf8.Valid(v)
}

// FuzzScanObject: the one-pass validator agrees with encoding/json on
// validity for any input, and when it is valid, picking every top-level
// key gives what json.Unmarshal decodes.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":[1,{"b":"}"}],"c":null}`, `{"\u0041":true, "a" : [ ] , "b":{}}`,
		`{"a":1}{}`, `{"a":01}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":-0.0e-0}`, `[1]`, ` {"x":"y"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		err := validateObject(in)
		if std := stdValidObject(in); (err == nil) != std {
			t.Fatalf("validateObject(%q) = %v, encoding/json valid = %v", in, err, std)
		}
		if err != nil {
			return
		}
		var want map[string]any
		if json.Unmarshal(bytes.TrimSpace(in), &want) != nil {
			return // valid, but a number out of float64's range
		}
		names := make([]string, 0, len(want))
		for k := range want {
			names = append(names, k)
		}
		got, err := pickFields(in, names)
		if err != nil {
			t.Fatalf("pickFields(%q): %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pickFields(%q) = %#v, want %#v", in, got, want)
		}
	})
}

// TestScanStringWordAtATime puts each kind of special byte at every
// position of strings long enough for the eight-byte fast path, with
// high bytes around it, and compares with encoding/json.
func TestScanStringWordAtATime(t *testing.T) {
	for _, special := range []string{`"`, `\`, `\n`, `\u00e9`, "\x00", "\x01", "\x1f", "\x20", "\x7f", "\x80", "\xff", "\\x", `\u12`} {
		for n := 0; n < 40; n++ {
			for _, fill := range []string{"a", "\xc3\xa9", "\x9f"} {
				body := strings.Repeat(fill, n) + special + strings.Repeat(fill, 17)
				in := []byte(`{"k":"` + body + `","z":1}`)
				if err := validateObject(in); (err == nil) != stdValidObject(in) {
					t.Fatalf("validateObject(%q) = %v, encoding/json valid = %v", in, err, stdValidObject(in))
				}
			}
		}
	}
}

// The pass that validates a record notes its shape for the output line:
// a top-level key redrive writes (escaped or not; not a nested one, not a
// string value) and a line break between tokens.
func TestScanNotesTheShapeOfTheLine(t *testing.T) {
	own := []string{MetaField, "enrichment"}
	for _, tc := range []struct {
		in   string
		want shape
	}{
		{`{"a":1}`, 0},
		{`{"x":"_redrive","y":"enrichment"}`, 0},
		{`{"a":{"_redrive":1,"enrichment":2}}`, 0},
		{`{"_redrive":1}`, shapeMetaKey},
		{`{"_redriv\u0065":1}`, shapeMetaKey},
		{`{"enrichment":null}`, shapeFieldKey},
		{"{\"a\":\r\n1,\"enrichment\":2,\"_redrive\":3}", shapeBreak | shapeFieldKey | shapeMetaKey},
		{"\n{\"a\":1}\n", 0}, // outside the object: trimmed, as the line trims it
	} {
		s := scanner{ownKeys: own}
		if err := s.top([]byte(tc.in), nil, nil); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if s.shape != tc.want {
			t.Errorf("shape of %q = %b, want %b", tc.in, s.shape, tc.want)
		}
	}
}
