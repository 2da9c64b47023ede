package pipeline

import (
	"encoding/json"
	"unicode/utf8"
)

// pickFields checks that value is a JSON object and decodes only the named
// top-level fields, in the same pass (scanObject): the rule reads a field
// or two, and decoding whole records into maps was a third of the
// pipeline's CPU. A field absent from the record is absent from the map
// (the rule sees nil). When a key repeats, the last one wins, as with
// encoding/json.
func pickFields(value []byte, names []string) (map[string]any, error) {
	out := make(map[string]any, len(names))
	if err := scanObject(value, names, out); err != nil {
		return nil, err
	}
	return out, nil
}

// wanted reports whether the quoted key is one of names.
func wanted(quoted []byte, names []string) (string, bool) {
	if i := wantedAt(quoted, names); i >= 0 {
		return names[i], true
	}
	return "", false
}

// wantedAt returns the index in names of the quoted key, or -1.
func wantedAt(quoted []byte, names []string) int {
	raw := quoted[1 : len(quoted)-1]
	escaped := false
	for _, c := range raw {
		if c == '\\' {
			escaped = true
			break
		}
	}
	// Escapes and invalid UTF-8 (which encoding/json turns into U+FFFD)
	// go through the decoder's own unquoting.
	if escaped || !utf8.Valid(raw) {
		var k string
		if json.Unmarshal(quoted, &k) != nil {
			return -1
		}
		raw = []byte(k)
	}
	for i, n := range names {
		if string(raw) == n {
			return i
		}
	}
	return -1
}
