package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// Journey is the _redrive group's values: the fields of pipeline.Meta, in
// its order and with its types, so that a Meta converts to a Journey (a
// field added to one and not the other fails to compile there).
type Journey struct {
	Topic        string
	Partition    int32
	Offset       int64
	Attempt      int
	Enriched     bool
	Source       string
	LookupMiss   bool
	FirstFailure *time.Time
	ReplayedAt   *time.Time
	ReceivedAt   time.Time
	WrittenAt    time.Time
}

// Row appends to dst[:0] the row of one output record and returns it.
// raw holds the raw JSON of the record's top-level fields in the order of
// Fields (nil for an absent field); answer, when not nil, is the
// enrichment answer, which takes the enrichment column's place. The row's
// byte values alias raw's and answer's bytes: write the row before they
// are reused.
//
// An error names the field and says what was wanted and found: the record
// does not fit the schema and must not be written.
func (s *Schema) Row(dst parquet.Row, raw [][]byte, answer json.RawMessage, j Journey) (parquet.Row, error) {
	row := dst[:0]
	for i, c := range s.columns {
		v := raw[i]
		if i == s.enrichIndex && answer != nil {
			v = answer
		}
		val, err := c.value(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", c.Name, err)
		}
		row = append(row, val.Level(0, defLevel(c, val), i))
	}
	n := len(s.columns)
	text := func(v string) parquet.Value {
		if v == "" {
			return parquet.NullValue()
		}
		return parquet.ByteArrayValue([]byte(v))
	}
	ts := func(t *time.Time) parquet.Value {
		if t == nil {
			return parquet.NullValue()
		}
		return parquet.Int64Value(t.UnixMicro())
	}
	meta := [...]parquet.Value{
		parquet.ByteArrayValue([]byte(j.Topic)),
		parquet.Int32Value(j.Partition),
		parquet.Int64Value(j.Offset),
		parquet.Int32Value(int32(min(j.Attempt, math.MaxInt32))),
		parquet.BooleanValue(j.Enriched),
		text(j.Source),
		parquet.BooleanValue(j.LookupMiss),
		ts(j.FirstFailure),
		ts(j.ReplayedAt),
		ts(&j.ReceivedAt),
		ts(&j.WrittenAt),
	}
	for k, v := range meta {
		row = append(row, v.Level(0, defLevel(MetaColumns[k], v), n+k))
	}
	return row, nil
}

// defLevel is a value's definition level: optional columns (top-level or
// in the required _redrive group) are defined at level 1.
func defLevel(c Column, v parquet.Value) int {
	if c.Required || v.IsNull() {
		return 0
	}
	return 1
}

// value converts one raw JSON value (nil when the field is absent) to c's
// Parquet value.
func (c Column) value(raw []byte) (parquet.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if c.Required {
			if raw == nil {
				return parquet.Value{}, fmt.Errorf("required %s, but the record has no such field", c.Type)
			}
			return parquet.Value{}, fmt.Errorf("required %s, got null", c.Type)
		}
		return parquet.NullValue(), nil
	}
	wrong := func() (parquet.Value, error) {
		return parquet.Value{}, fmt.Errorf("want %s, got %s %s", c.Type, kindOf(raw), excerpt(raw))
	}
	switch c.Type {
	case String:
		if raw[0] != '"' {
			return wrong()
		}
		return parquet.ByteArrayValue(unquote(raw)), nil
	case Int64:
		if !isNumber(raw) {
			return wrong()
		}
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return parquet.Int64Value(n), nil
		}
		// 12.0 and 1e3 are integers written as JSON producers in
		// JavaScript and Python may write them; 12.5 and 1e30 are not.
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return parquet.Value{}, fmt.Errorf("want int64, got %s, which is not an integer within int64", excerpt(raw))
		}
		return parquet.Int64Value(int64(f)), nil
	case Double:
		if !isNumber(raw) {
			return wrong()
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return parquet.Value{}, fmt.Errorf("want double, got %s, which is out of range", excerpt(raw))
		}
		return parquet.DoubleValue(f), nil
	case Boolean:
		switch string(raw) {
		case "true":
			return parquet.BooleanValue(true), nil
		case "false":
			return parquet.BooleanValue(false), nil
		}
		return wrong()
	case Timestamp:
		var t time.Time
		var ok bool
		switch {
		case raw[0] == '"':
			t, ok = EventTime(string(unquote(raw)))
		case isNumber(raw):
			f, err := strconv.ParseFloat(string(raw), 64)
			t, ok = EventTime(f)
			ok = ok && err == nil
		}
		if !ok {
			return parquet.Value{}, fmt.Errorf("want timestamp (RFC 3339 or epoch seconds or milliseconds), got %s %s", kindOf(raw), excerpt(raw))
		}
		return parquet.Int64Value(t.UnixMicro()), nil
	case JSON:
		return parquet.ByteArrayValue(raw), nil
	}
	return parquet.Value{}, fmt.Errorf("type %q is not a column type", c.Type) // Parse refuses it
}

// unquote returns the text of a JSON string, without a copy when it has
// no escapes; invalid UTF-8 becomes U+FFFD, as encoding/json decodes it.
func unquote(raw []byte) []byte {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return in // the record was validated as JSON: not reached
	}
	return []byte(s)
}

func isNumber(raw []byte) bool { return raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') }

// kindOf names the JSON kind of a non-null raw value, for errors.
func kindOf(raw []byte) string {
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	}
	return "a number"
}

// excerpt is the start of a raw value, enough to recognise it in a log.
func excerpt(raw []byte) string {
	const max = 40
	if len(raw) <= max {
		return string(raw)
	}
	n := max
	for n > 0 && !utf8.RuneStart(raw[n]) {
		n--
	}
	return string(raw[:n]) + "…"
}
