package sinks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquetLines renders each row of a Parquet object as the JSON object its
// JSON Lines twin would hold, so that the readers of the output (the demo,
// the tests, the bench) read both formats alike: json columns as their
// JSON, timestamps as RFC 3339 text in UTC, groups as objects, and null
// values left out.
func parquetLines(body []byte) ([][]byte, error) {
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	r := parquet.NewReader(f)
	defer r.Close()
	var lines [][]byte
	rows := make([]parquet.Row, 128)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			leaf := 0
			line, rerr := appendGroup(nil, f.Schema().Fields(), row, &leaf)
			if rerr != nil {
				return nil, rerr
			}
			lines = append(lines, line)
		}
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// appendGroup renders the fields of a group as a JSON object. leaf is the
// column index of the group's first leaf; it is advanced past the group.
// Repeated fields are not written by redrive and are refused.
func appendGroup(b []byte, fields []parquet.Field, row parquet.Row, leaf *int) ([]byte, error) {
	b = append(b, '{')
	first := true
	for _, f := range fields {
		if f.Repeated() {
			return nil, fmt.Errorf("column %s is repeated, which redrive does not write", f.Name())
		}
		var v []byte
		if f.Leaf() {
			if *leaf >= len(row) {
				return nil, fmt.Errorf("row of %d values has no column %d (%s)", len(row), *leaf, f.Name())
			}
			val := row[*leaf]
			*leaf++
			if val.IsNull() {
				continue
			}
			v = appendLeaf(nil, f.Type(), val)
		} else {
			var err error
			if v, err = appendGroup(nil, f.Fields(), row, leaf); err != nil {
				return nil, err
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		name, _ := json.Marshal(f.Name())
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// appendLeaf renders one non-null value by its column's logical type.
func appendLeaf(b []byte, t parquet.Type, v parquet.Value) []byte {
	if lt := t.LogicalType(); lt != nil {
		switch x := lt.Value.(type) {
		case *format.JsonType:
			return append(b, v.ByteArray()...)
		case *format.TimestampType:
			var ts time.Time
			switch x.Unit.Value.(type) {
			case *format.MilliSeconds:
				ts = time.UnixMilli(v.Int64())
			case *format.NanoSeconds:
				ts = time.Unix(0, v.Int64())
			default:
				ts = time.UnixMicro(v.Int64())
			}
			return strconv.AppendQuote(b, ts.UTC().Format(time.RFC3339Nano))
		}
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case parquet.Float:
		return strconv.AppendFloat(b, float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.AppendFloat(b, v.Double(), 'g', -1, 64)
	}
	s, _ := json.Marshal(string(v.ByteArray()))
	return append(b, s...)
}
