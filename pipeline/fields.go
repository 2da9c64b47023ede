package pipeline

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// pickFields decodes only the named top-level fields of value, which must
// already have passed validateObject: the rule reads a field or two, and
// decoding whole records into maps was a third of the pipeline's CPU. A
// field absent from the record is absent from the map (the rule sees nil).
// When a key repeats, the last one wins, as with encoding/json.
func pickFields(value []byte, names []string) (map[string]any, error) {
	out := make(map[string]any, len(names))
	v := value
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil, errNotObject
	}
	i = skipSpace(v, i+1)
	for i < len(v) && v[i] != '}' {
		keyEnd := endOfString(v, i)
		key := v[i:keyEnd]
		i = skipSpace(v, keyEnd)
		i = skipSpace(v, i+1) // ':'
		valEnd := endOfValue(v, i)
		if name, ok := wanted(key, names); ok {
			var x any
			if err := json.Unmarshal(v[i:valEnd], &x); err != nil {
				return nil, fmt.Errorf("decoding field %s: %w", name, err)
			}
			out[name] = x
		}
		i = skipSpace(v, valEnd)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return out, nil
}

// wanted reports whether the quoted key is one of names.
func wanted(quoted []byte, names []string) (string, bool) {
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
			return "", false
		}
		raw = []byte(k)
	}
	for _, n := range names {
		if string(raw) == n {
			return n, true
		}
	}
	return "", false
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string that starts at v[i].
func endOfString(v []byte, i int) int {
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(v)
}

// endOfValue returns the index just past the value that starts at v[i].
func endOfValue(v []byte, i int) int {
	switch v[i] {
	case '"':
		return endOfString(v, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(v); j++ {
			switch v[j] {
			case '"':
				j = endOfString(v, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(v)
	}
	j := i
	for j < len(v) && v[j] != ',' && v[j] != '}' && v[j] != ']' && v[j] != ' ' && v[j] != '\t' && v[j] != '\n' && v[j] != '\r' {
		j++
	}
	return j
}
