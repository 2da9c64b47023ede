package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxNestingDepth is encoding/json's limit: deeper values are invalid there,
// so they are here too.
const maxNestingDepth = 10000

// scanObject makes one pass over value: it checks that value is one JSON
// object (what json.Valid accepts, after bytes.TrimSpace) and, when out is
// not nil, decodes into out the top-level fields named in names, as
// encoding/json would decode them into an any (the last of repeated keys
// wins; absent fields stay absent). Validating and then decoding were two
// passes over every record, and the rule reads a field or two.
func scanObject(value []byte, names []string, out map[string]any) error {
	var s scanner
	return s.top(value, names, out)
}

// pickRaws picks fields without decoding them: raws[i] is set to the raw JSON
// of the top-level field names[i], or nil. The values alias value.
func pickRaws(value []byte, names []string, raws [][]byte) error {
	clear(raws)
	s := scanner{rawNames: names, raws: raws}
	return s.top(value, nil, nil)
}

// top scans value as one top-level object (scanObject).
func (s *scanner) top(value []byte, names []string, out map[string]any) error {
	v := bytes.TrimSpace(value)
	if len(v) == 0 {
		return errors.New("value is empty")
	}
	if v[0] != '{' {
		return errNotObject
	}
	s.v = v
	if err := s.object(names, out); err != nil {
		return err
	}
	if s.space(); s.i != len(v) {
		return s.fail("after the object")
	}
	return nil
}

// scanner is a JSON syntax checker over v; i is the next byte to read.
type scanner struct {
	v     []byte
	i     int
	depth int
	// rawNames, when set, name top-level fields whose raw values are
	// kept in raws, by index (pickRaws).
	rawNames []string
	raws     [][]byte
	// ownKeys, when set, are the keys redrive writes into an output line
	// (MetaField, then the enrichment field): shape notes which of them
	// the object has at its top level, and whether it has a line break.
	ownKeys []string
	shape   shape
}

// shape is what the pass that validates a record learns for its output
// line (lineParts), so that building the line does not search the value
// again.
type shape uint8

const (
	shapeKnown    shape = 1 << iota // the record was scanned with ownKeys
	shapeMetaKey                    // a top-level key is MetaField
	shapeFieldKey                   // a top-level key is the enrichment field
	shapeBreak                      // a line break, which JSON allows only as white space between tokens
)

// fail reports a syntax error at the current position.
func (s *scanner) fail(where string) error {
	if s.i >= len(s.v) {
		return fmt.Errorf("value is not valid JSON: unexpected end of input %s", where)
	}
	return fmt.Errorf("value is not valid JSON: invalid character %q at offset %d %s", s.v[s.i], s.i, where)
}

func (s *scanner) space() {
	for s.i < len(s.v) {
		switch s.v[s.i] {
		case ' ', '\t':
			s.i++
		case '\n', '\r':
			s.shape |= shapeBreak
			s.i++
		default:
			return
		}
	}
}

// object reads an object that starts at v[i] == '{', picking the named
// fields into out when out is not nil (only the top-level call passes one).
func (s *scanner) object(names []string, out map[string]any) error {
	if s.depth++; s.depth > maxNestingDepth {
		return errors.New("value is not valid JSON: exceeded max depth")
	}
	if s.open('}') {
		return nil
	}
	for {
		if s.i >= len(s.v) || s.v[s.i] != '"' {
			return s.fail("looking for the beginning of an object key")
		}
		keyStart := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.v[keyStart:s.i]
		if s.ownKeys != nil && s.depth == 1 {
			if i := wantedAt(key, s.ownKeys); i >= 0 {
				s.shape |= shapeMetaKey << i
			}
		}
		s.space()
		if s.i >= len(s.v) || s.v[s.i] != ':' {
			return s.fail("after an object key")
		}
		s.i++
		s.space()
		valStart := s.i
		if err := s.value(); err != nil {
			return err
		}
		if out != nil {
			if name, ok := wanted(key, names); ok {
				x, err := decodeValue(s.v[valStart:s.i])
				if err != nil {
					return fmt.Errorf("decoding field %s: %w", name, err)
				}
				out[name] = x
			}
		} else if s.rawNames != nil && s.depth == 1 {
			if i := wantedAt(key, s.rawNames); i >= 0 {
				s.raws[i] = s.v[valStart:s.i]
			}
		}
		if done, err := s.next('}', "after an object value"); done || err != nil {
			return err
		}
	}
}

func (s *scanner) array() error {
	if s.depth++; s.depth > maxNestingDepth {
		return errors.New("value is not valid JSON: exceeded max depth")
	}
	if s.open(']') {
		return nil
	}
	for {
		if err := s.value(); err != nil {
			return err
		}
		if done, err := s.next(']', "after an array element"); done || err != nil {
			return err
		}
	}
}

// open steps over the opening '{' or '[' at v[i] and the space after it,
// and reports whether closing follows at once: an empty object or array,
// which it then closes.
func (s *scanner) open(closing byte) (empty bool) {
	s.i++
	s.space()
	if s.i < len(s.v) && s.v[s.i] == closing {
		s.i++
		s.depth--
		return true
	}
	return false
}

// next reads what follows a member or element: a ',' and the space after
// it, or the closing byte, which ends the object or array (done).
func (s *scanner) next(closing byte, where string) (done bool, err error) {
	s.space()
	if s.i < len(s.v) {
		switch s.v[s.i] {
		case ',':
			s.i++
			s.space()
			return false, nil
		case closing:
			s.i++
			s.depth--
			return true, nil
		}
	}
	return false, s.fail(where)
}

// value reads one value starting at v[i] (no leading space).
func (s *scanner) value() error {
	if s.i >= len(s.v) {
		return s.fail("looking for the beginning of a value")
	}
	switch c := s.v[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(nil, nil)
	case c == '[':
		return s.array()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("looking for the beginning of a value")
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.v[s.i:], []byte(lit)) {
		// Point at the first byte that differs, as encoding/json does.
		for j := 0; j < len(lit) && s.i < len(s.v) && s.v[s.i] == lit[j]; j++ {
			s.i++
		}
		return s.fail("in literal " + lit)
	}
	s.i += len(lit)
	return nil
}

// str reads a string starting at v[i] == '"'. Like encoding/json's
// validity check it rejects control characters and bad escapes and
// accepts any other byte (invalid UTF-8 included).
func (s *scanner) str() error {
	v := s.v
	i := s.i + 1
	for {
		// The common run: plain ASCII, eight bytes at a time while no byte
		// of the word is a quote, a backslash, a control character or
		// above 0x7f.
		for i+8 <= len(v) && !specialIn(binary.LittleEndian.Uint64(v[i:])) {
			i += 8
		}
		end := min(i+8, len(v))
		for i < end && v[i] >= 0x20 && v[i] < utf8.RuneSelf && v[i] != '"' && v[i] != '\\' {
			i++
		}
		if i == end {
			if i >= len(v) {
				s.i = i
				return s.fail("in a string")
			}
			continue
		}
		switch v[i] {
		case '"':
			s.i = i + 1
			return nil
		case '\\':
			i++
			if i >= len(v) {
				s.i = i
				return s.fail("in a string escape")
			}
			switch v[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for range 4 {
					if i >= len(v) || !isHex(v[i]) {
						s.i = i
						return s.fail("in a \\u escape")
					}
					i++
				}
			default:
				s.i = i
				return s.fail("in a string escape")
			}
		default:
			if v[i] < utf8.RuneSelf { // a control character
				s.i = i
				return s.fail("in a string")
			}
			// JSON is UTF-8 (RFC 8259): encoding/json lets other bytes
			// through, and one such line makes DuckDB, Trino and Athena
			// refuse the whole object it is in.
			r, size := utf8.DecodeRune(v[i:])
			if r == utf8.RuneError && size == 1 {
				s.i = i
				return fmt.Errorf("value is not valid JSON: byte %#x at offset %d in a string is not UTF-8", v[i], i)
			}
			i += size
		}
	}
}

// specialIn reports whether one of the eight bytes of x is below 0x20, a
// quote, a backslash or above 0x7f (the bit tricks of "Bit Twiddling
// Hacks": a byte below n, a zero byte after XOR, the high bit). It never
// misses one; a rare false report only sends the scan to the byte loop.
func specialIn(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(b-lo)&^b|x)&hi != 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() error {
	v := s.v
	if v[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(v) && v[s.i] == '0':
		s.i++
	case s.i < len(v) && v[s.i] >= '1' && v[s.i] <= '9':
		s.digits()
	default:
		return s.fail("in numeric literal")
	}
	if s.i < len(v) && v[s.i] == '.' {
		s.i++
		if s.i >= len(v) || v[s.i] < '0' || v[s.i] > '9' {
			return s.fail("after decimal point in numeric literal")
		}
		s.digits()
	}
	if s.i < len(v) && (v[s.i] == 'e' || v[s.i] == 'E') {
		s.i++
		if s.i < len(v) && (v[s.i] == '+' || v[s.i] == '-') {
			s.i++
		}
		if s.i >= len(v) || v[s.i] < '0' || v[s.i] > '9' {
			return s.fail("in exponent of numeric literal")
		}
		s.digits()
	}
	return nil
}

func (s *scanner) digits() {
	for s.i < len(s.v) && s.v[s.i] >= '0' && s.v[s.i] <= '9' {
		s.i++
	}
}

// decodeValue decodes one valid JSON value as encoding/json decodes it into
// an any; plain strings, numbers and literals skip reflection.
func decodeValue(raw []byte) (any, error) {
	switch raw[0] {
	case '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), nil
		}
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	case '{', '[':
	default:
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, nil
		}
	}
	var x any
	err := json.Unmarshal(raw, &x)
	return x, err
}
