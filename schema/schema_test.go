package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

const ordersSchema = `
columns:
  - {name: order_id, type: string, required: true}
  - {name: amount, type: double}
  - {name: qty, type: int64}
  - {name: paid, type: boolean}
  - {name: ts, type: timestamp}
  - {name: items, type: json}
`

// TestParseRefusesBadFiles: every mistake in a schema file is refused with
// the flag, the file and the column named.
func TestParseRefusesBadFiles(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"not yaml":        {"columns: [", "parquet-schema: f.yaml:"},
		"no columns":      {"columns: []", "no columns"},
		"unknown key":     {"columns: [{name: a, type: string, nullable: true}]", `field nullable not found`},
		"unknown type":    {"columns: [{name: a, type: varchar}]", `column 1 (a): type "varchar", want one of [string int64 double boolean timestamp json]`},
		"int32 is inside": {"columns: [{name: a, type: int32}]", `type "int32"`},
		"no type":         {"columns: [{name: a}]", `column 1 (a): type "", want one of`},
		"type of a list":  {"columns: [{name: a, type: [string]}]", "cannot unmarshal"},
		"no name":         {"columns: [{type: string}]", "column 1: no name"},
		"twice":           {"columns: [{name: a, type: string}, {name: a, type: json}]", `column 2: "a" is named twice`},
		"meta":            {"columns: [{name: _redrive, type: json}]", `"_redrive" is the column redrive adds itself`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file), "f.yaml", "enrichment")
			if err == nil || !strings.HasPrefix(err.Error(), "parquet-schema: f.yaml") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v; want an error starting with the flag and file, containing %q", tc.file, err, tc.want)
			}
		})
	}
}

// TestTypeNames: each type a file may use is read back from its name, and
// Int32 has a name for errors but no file may use it.
func TestTypeNames(t *testing.T) {
	for _, typ := range Types {
		if got, ok := typeNamed(typ.String()); !ok || got != typ {
			t.Errorf("typeNamed(%q) = %v, %v; want %v", typ.String(), got, ok, typ)
		}
	}
	if Int32.String() != "int32" {
		t.Errorf("Int32 is called %q", Int32.String())
	}
	if _, ok := typeNamed("int32"); ok {
		t.Error("a file may name int32")
	}
	if got := Type(0).String(); got != "Type(0)" {
		t.Errorf("the zero type is called %q", got)
	}
}

// TestNamesYAMLWouldReadAsBooleans: columns named n, y, on or off keep
// their names (YAML 1.1 reads them as booleans).
func TestNamesYAMLWouldReadAsBooleans(t *testing.T) {
	s, err := Parse([]byte("columns: [{name: n, type: int64}, {name: on, type: string}, {name: off, type: string}, {name: y, type: double}]"), "f", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Fields(), " "); got != "n on off y" {
		t.Fatalf("fields %q, want n on off y", got)
	}
}

// TestEnrichmentColumn: the enrichment answer is a json column after the
// file's unless the file types it, and there is none without enrichment.
func TestEnrichmentColumn(t *testing.T) {
	s, err := Parse([]byte(ordersSchema), "f", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Fields(); got[len(got)-1] != "enrichment" || s.Columns()[len(got)-1].Type != JSON {
		t.Fatalf("fields %v, columns %v: want a trailing json enrichment column", got, s.Columns())
	}
	s, err = Parse([]byte(ordersSchema+"  - {name: enrichment, type: double}\n"), "f", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Columns(); len(c) != 7 || c[6].Type != Double {
		t.Fatalf("columns %v: want the file's typed enrichment column only", c)
	}
	s, err = Parse([]byte(ordersSchema), "f", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Columns()) != 6 {
		t.Fatalf("columns %v: want none added without enrichment", s.Columns())
	}
}

// TestParquetColumnOrder: the file's order, then _redrive's leaves; SELECT
// * reads like the schema file.
func TestParquetColumnOrder(t *testing.T) {
	s, err := Parse([]byte(ordersSchema), "f", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, path := range s.Parquet().Columns() {
		got = append(got, strings.Join(path, "."))
	}
	want := "order_id amount qty paid ts items enrichment _redrive.topic _redrive.partition _redrive.offset _redrive.attempt _redrive.enriched _redrive.source _redrive.lookup_miss _redrive.first_failure _redrive.replayed_at _redrive.received_at _redrive.written_at"
	if strings.Join(got, " ") != want {
		t.Fatalf("columns\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestValueFits is the table of what each type takes and refuses: a value
// of another type is an error naming what was wanted and found, never a
// null.
func TestValueFits(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		col  Column
		raw  string // "" for an absent field
		want any    // nil for null; string for an error containing it
		err  bool
	}{
		{Column{Type: String}, `"abc"`, "abc", false},
		{Column{Type: String}, `"a\"b\u00e9"`, `a"bé`, false},
		{Column{Type: String}, `12`, "want string, got a number 12", true},
		{Column{Type: String}, `{"a":1}`, "got an object", true},
		{Column{Type: String}, ``, nil, false},
		{Column{Type: String}, `null`, nil, false},
		{Column{Type: String, Required: true}, ``, "no such field", true},
		{Column{Type: String, Required: true}, `null`, "got null", true},
		{Column{Type: Int64}, `42`, int64(42), false},
		{Column{Type: Int64}, `-9223372036854775808`, int64(-9223372036854775808), false},
		{Column{Type: Int64}, `12.0`, int64(12), false},
		{Column{Type: Int64}, `1e3`, int64(1000), false},
		{Column{Type: Int64}, `12.5`, "not an integer", true},
		{Column{Type: Int64}, `1e30`, "not an integer", true},
		{Column{Type: Int64}, `"12"`, "want int64, got a string", true},
		{Column{Type: Double}, `12.5`, 12.5, false},
		{Column{Type: Double}, `1e400`, "out of range", true},
		{Column{Type: Double}, `true`, "want double, got a boolean", true},
		{Column{Type: Boolean}, `true`, true, false},
		{Column{Type: Boolean}, `"true"`, "want boolean, got a string", true},
		{Column{Type: Timestamp}, `"2026-05-06T07:08:09Z"`, at.UnixMicro(), false},
		{Column{Type: Timestamp}, `1778051289`, at.UnixMicro(), false},
		{Column{Type: Timestamp}, `1778051289000`, at.UnixMicro(), false},
		{Column{Type: Timestamp}, `"1778051289"`, at.UnixMicro(), false},
		{Column{Type: Timestamp}, `"yesterday"`, "want timestamp", true},
		{Column{Type: Timestamp}, `[1]`, "want timestamp", true},
		{Column{Type: JSON}, `{"a": [1, 2]}`, `{"a": [1, 2]}`, false},
		{Column{Type: JSON}, `"text"`, `"text"`, false},
	}
	for _, tc := range cases {
		var raw []byte
		if tc.raw != "" {
			raw = []byte(tc.raw)
		}
		v, err := tc.col.value(raw)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.want.(string)) {
				t.Errorf("%s %s: got %v, %v; want an error containing %q", tc.col.Type, tc.raw, v, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.col.Type, tc.raw, err)
			continue
		}
		var got any
		switch {
		case v.IsNull():
		case v.Kind() == parquet.ByteArray:
			got = string(v.ByteArray())
		case v.Kind() == parquet.Int64:
			got = v.Int64()
		case v.Kind() == parquet.Double:
			got = v.Double()
		case v.Kind() == parquet.Boolean:
			got = v.Boolean()
		}
		if got != tc.want {
			t.Errorf("%s %s: got %#v, want %#v", tc.col.Type, tc.raw, got, tc.want)
		}
	}
}

// TestRowsRoundTrip writes rows with parquet-go's writer and reads them
// back: the values, the nulls, the enrichment answer in its column, and
// _redrive as a group.
func TestRowsRoundTrip(t *testing.T) {
	s, err := Parse([]byte(ordersSchema), "f", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	ff := at.Add(-time.Hour)
	records := []struct {
		value  string
		answer json.RawMessage
		j      Journey
	}{
		{`{"order_id":"o1","amount":9.5,"qty":2,"paid":true,"ts":"2026-05-06T07:08:09Z","items":[{"sku":"a"}],"extra":1}`,
			json.RawMessage(`{"tier":"gold"}`),
			Journey{Topic: "orders", Partition: 3, Offset: 7, Attempt: 2, Enriched: true, FirstFailure: &ff, ReceivedAt: at, WrittenAt: at}},
		{`{"order_id":"o2"}`, nil, Journey{Topic: "orders", Partition: 0, Offset: 8, ReceivedAt: at, WrittenAt: at}},
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, s.Parquet())
	for _, r := range records {
		row, err := s.Row(nil, pick(t, r.value, s.Fields()), r.answer, r.j)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	type meta struct {
		Topic        string     `parquet:"topic"`
		Partition    int32      `parquet:"partition"`
		Offset       int64      `parquet:"offset"`
		Attempt      int32      `parquet:"attempt"`
		Enriched     bool       `parquet:"enriched"`
		FirstFailure *time.Time `parquet:"first_failure,optional"`
		ReceivedAt   time.Time  `parquet:"received_at"`
	}
	type out struct {
		OrderID    string     `parquet:"order_id"`
		Amount     *float64   `parquet:"amount,optional"`
		Qty        *int64     `parquet:"qty,optional"`
		Paid       *bool      `parquet:"paid,optional"`
		TS         *time.Time `parquet:"ts,optional"`
		Items      *string    `parquet:"items,optional"`
		Enrichment *string    `parquet:"enrichment,optional"`
		Meta       meta       `parquet:"_redrive"`
	}
	got, err := parquet.Read[out](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d rows, want 2", len(got))
	}
	a, b := got[0], got[1]
	if a.OrderID != "o1" || *a.Amount != 9.5 || *a.Qty != 2 || !*a.Paid || !a.TS.Equal(at) || *a.Items != `[{"sku":"a"}]` || *a.Enrichment != `{"tier":"gold"}` {
		t.Errorf("row 1 = %+v", a)
	}
	if a.Meta.Topic != "orders" || a.Meta.Partition != 3 || a.Meta.Offset != 7 || a.Meta.Attempt != 2 || !a.Meta.Enriched || !a.Meta.FirstFailure.Equal(ff) || !a.Meta.ReceivedAt.Equal(at) {
		t.Errorf("row 1 _redrive = %+v", a.Meta)
	}
	if b.OrderID != "o2" || b.Amount != nil || b.Qty != nil || b.Paid != nil || b.TS != nil || b.Items != nil || b.Enrichment != nil || b.Meta.FirstFailure != nil || b.Meta.Offset != 8 {
		t.Errorf("row 2 = %+v; want nulls for the absent fields", b)
	}
}

// TestRowNamesTheField: a record that does not fit is refused naming the
// field.
func TestRowNamesTheField(t *testing.T) {
	s, err := Parse([]byte(ordersSchema), "f", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Row(nil, pick(t, `{"order_id":"o1","qty":"two"}`, s.Fields()), nil, Journey{})
	if err == nil || err.Error() != `field "qty": want int64, got a string "two"` {
		t.Fatalf("err = %v", err)
	}
	_, err = s.Row(nil, pick(t, `{"order_id":"o1"}`, s.Fields()), json.RawMessage(`"x"`), Journey{})
	if err != nil {
		t.Fatalf("a json enrichment column takes any answer: %v", err)
	}
}

// pick is the test's stand-in for the pipeline's one-pass picker.
func pick(t *testing.T, value string, names []string) [][]byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = m[n]
	}
	return out
}
