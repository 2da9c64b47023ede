package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"go.yaml.in/yaml/v3"
)

// Type is a column's type. The schema file names it (String returns the
// name); the zero Type is none.
type Type uint8

// The column types (see the package doc).
const (
	String Type = iota + 1
	Int64
	Double
	Boolean
	Timestamp
	JSON
	// Int32 is not offered in the schema file; _redrive's partition and
	// attempt have it.
	Int32
)

// Types lists the column types a schema file may use, in the order the
// docs name them.
var Types = []Type{String, Int64, Double, Boolean, Timestamp, JSON}

var typeNames = [...]string{String: "string", Int64: "int64", Double: "double", Boolean: "boolean",
	Timestamp: "timestamp", JSON: "json", Int32: "int32"}

// String returns the type's name in the schema file.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// typeNamed returns the type a schema file calls name.
func typeNamed(name string) (Type, bool) {
	for _, t := range Types {
		if typeNames[t] == name {
			return t, true
		}
	}
	return 0, false
}

// MetaField is the name of the column holding the record's journey (the
// _redrive object of the JSON Lines output).
const MetaField = "_redrive"

// Column is one column of the output.
type Column struct {
	Name     string
	Type     Type
	Required bool
}

// file is the schema file's document. It is read as YAML 1.2 (yaml/v3),
// where only true and false are booleans: in YAML 1.1 a column named n,
// y, on or off would be read as a boolean and misnamed.
type file struct {
	Columns []struct {
		Name     string `yaml:"name"`
		Type     string `yaml:"type"`
		Required bool   `yaml:"required"`
	} `yaml:"columns"`
}

// Schema is a parsed schema file: the columns of the output records and
// the Parquet schema that holds them. It is safe for concurrent use.
type Schema struct {
	columns     []Column // the file's, then the enrichment column when the file has none
	enrichIndex int      // index of the enrichment column in columns, -1 without enrichment
	names       []string // columns' names: the top-level fields a row reads
	pq          *parquet.Schema
}

// Load reads the schema file at path (see Parse).
func Load(path, enrichField string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("parquet-schema: %w", err)
	}
	return Parse(data, path, enrichField)
}

// Parse reads a schema file's content; source names it in errors.
// enrichField is the output field of the enrichment answer ("" when
// nothing is enriched): the file may type it, and it is added as a json
// column when the file does not.
func Parse(data []byte, source, enrichField string) (*Schema, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parquet-schema: %s: %w", source, err)
	}
	if len(f.Columns) == 0 {
		return nil, fmt.Errorf("parquet-schema: %s: no columns: want a list under \"columns:\" of {name, type}", source)
	}
	var errs []error
	seen := map[string]bool{}
	columns := make([]Column, len(f.Columns))
	for i, c := range f.Columns {
		at := fmt.Sprintf("parquet-schema: %s: column %d", source, i+1)
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("%s: no name", at))
		case c.Name == MetaField:
			errs = append(errs, fmt.Errorf("%s: %q is the column redrive adds itself", at, MetaField))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("%s: %q is named twice", at, c.Name))
		}
		seen[c.Name] = true
		t, ok := typeNamed(c.Type)
		if !ok {
			errs = append(errs, fmt.Errorf("%s (%s): type %q, want one of %v", at, c.Name, c.Type, Types))
		}
		columns[i] = Column{Name: c.Name, Type: t, Required: c.Required}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Schema{columns: columns, enrichIndex: -1}
	if enrichField != "" {
		s.enrichIndex = slices.IndexFunc(s.columns, func(c Column) bool { return c.Name == enrichField })
		if s.enrichIndex < 0 {
			s.columns = append(s.columns, Column{Name: enrichField, Type: JSON})
			s.enrichIndex = len(s.columns) - 1
		}
	}
	for _, c := range s.columns {
		s.names = append(s.names, c.Name)
	}
	s.pq = s.build()
	return s, nil
}

// Columns returns the output's columns in file order, the enrichment
// column included and _redrive excluded (it is described by MetaColumns).
func (s *Schema) Columns() []Column { return slices.Clone(s.columns) }

// Fields returns the names of the top-level fields a row reads, in column
// order: the raw values passed to Row follow it.
func (s *Schema) Fields() []string { return s.names }

// Parquet returns the Parquet schema of the rows Row builds.
func (s *Schema) Parquet() *parquet.Schema { return s.pq }

// build makes the Parquet schema: the columns in file order, then
// _redrive. Parquet's own Group sorts fields by name; ordered keeps the
// file's order so that SELECT * reads like the schema file.
func (s *Schema) build() *parquet.Schema {
	top := ordered{Group: parquet.Group{}}
	for _, c := range s.columns {
		top.add(c.Name, c.node())
	}
	meta := ordered{Group: parquet.Group{}}
	for _, m := range MetaColumns {
		meta.add(m.Name, m.node())
	}
	top.add(MetaField, meta)
	return parquet.NewSchema("redrive", top)
}

// node is the column's Parquet node: its type's leaf, required or
// optional.
func (c Column) node() parquet.Node {
	if c.Required {
		return parquet.Required(leafOf(c.Type))
	}
	return parquet.Optional(leafOf(c.Type))
}

// leafOf is the Parquet leaf of a column type.
func leafOf(t Type) parquet.Node {
	switch t {
	case Int64:
		return parquet.Int(64)
	case Int32:
		return parquet.Int(32)
	case Double:
		return parquet.Leaf(parquet.DoubleType)
	case Boolean:
		return parquet.Leaf(parquet.BooleanType)
	case Timestamp:
		return parquet.Timestamp(parquet.Microsecond)
	case JSON:
		return parquet.JSON()
	}
	return parquet.String()
}

// ordered is a Parquet group whose fields keep the order they were added
// in, where parquet.Group's are sorted by name.
type ordered struct {
	parquet.Group
	order []string
}

func (g *ordered) add(name string, n parquet.Node) {
	g.Group[name] = n
	g.order = append(g.order, name)
}

// Fields returns the group's fields in the order they were added.
func (g ordered) Fields() []parquet.Field {
	fs := g.Group.Fields()
	slices.SortFunc(fs, func(a, b parquet.Field) int {
		return slices.Index(g.order, a.Name()) - slices.Index(g.order, b.Name())
	})
	return fs
}

// MetaColumns are the leaves of the _redrive group, in order: the fields
// of the JSON Lines output's _redrive object, with the same names and
// meaning.
var MetaColumns = []Column{
	{Name: "topic", Type: String, Required: true},
	{Name: "partition", Type: Int32, Required: true},
	{Name: "offset", Type: Int64, Required: true},
	{Name: "attempt", Type: Int32, Required: true},
	{Name: "enriched", Type: Boolean, Required: true},
	{Name: "source", Type: String},                       // table, api or cache; null when not enriched
	{Name: "lookup_miss", Type: Boolean, Required: true}, // written unenriched by --lookup-miss pass
	{Name: "first_failure", Type: Timestamp},
	{Name: "replayed_at", Type: Timestamp},
	{Name: "received_at", Type: Timestamp, Required: true},
	{Name: "written_at", Type: Timestamp, Required: true},
}
