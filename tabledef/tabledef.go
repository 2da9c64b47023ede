// Package tabledef writes the SQL that declares a table over redrive's
// output, for Athena (Hive DDL), Trino (its Hive connector) and DuckDB: the
// columns, the format, the dt=/hr= partitions with partition projection (so
// that no crawler or MSCK REPAIR is needed), and a view that keeps one copy
// of each record by its origin coordinates.
package tabledef

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

// Engine is a query engine whose SQL Write speaks.
type Engine string

// The engines Write knows.
const (
	Athena Engine = "athena"
	Trino  Engine = "trino"
	DuckDB Engine = "duckdb"
)

// Engines lists them, for help and errors.
var Engines = []Engine{Athena, Trino, DuckDB}

// Table describes the output to declare.
type Table struct {
	// Name of the table; the de-duplicated view is Name_dedup.
	Name string
	// Location is where the objects are: s3://BUCKET/PREFIX, or (DuckDB
	// only) a local directory of downloaded objects, the folder holding
	// the dt= folders.
	Location string
	// Format, Compression and Layout are the sinks.Config values the
	// output was written with.
	Format, Compression, Layout string
	// Columns are the record's columns (schema.Schema.Columns); nil for
	// JSON Lines without a schema file, which declares _redrive only
	// (Athena, Trino) or lets DuckDB detect the columns.
	Columns []schema.Column
	// Since is the first day (YYYY-MM-DD) of the dt projection range.
	Since string
}

var (
	sinceRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Write writes the table's definition and its de-duplicated view for e.
func Write(w io.Writer, e Engine, t Table) error {
	if err := t.check(e); err != nil {
		return err
	}
	var sb strings.Builder
	switch e {
	case Athena:
		athena(&sb, t)
	case Trino:
		trino(&sb, t)
	case DuckDB:
		duckdb(&sb, t)
	}
	dedup(&sb, e, t)
	_, err := io.WriteString(w, sb.String())
	return err
}

// check refuses what would print SQL that cannot work, naming the flag.
func (t Table) check(e Engine) error {
	switch {
	case e != Athena && e != Trino && e != DuckDB:
		return fmt.Errorf("engine: must be one of %v, got %q", Engines, e)
	case !nameRE.MatchString(t.Name):
		return fmt.Errorf("table: %q is not a plain SQL name (letters, digits, _)", t.Name)
	case t.Location == "":
		return errors.New("location: no output location: give --s3-bucket (and --s3-prefix), or --location")
	case e != DuckDB && !strings.HasPrefix(t.Location, "s3://"):
		return fmt.Errorf("location: %s reads s3:// locations, not %q; a local directory can be read with --engine duckdb", e, t.Location)
	case !sinceRE.MatchString(t.Since):
		return fmt.Errorf("since: %q is not a day like 2026-01-31", t.Since)
	case t.Format == sinks.FormatParquet && t.Columns == nil:
		return errors.New("parquet-schema: the Parquet output's columns are needed to declare its table")
	}
	return nil
}

// location is t.Location with exactly one trailing slash.
func (t Table) location() string { return strings.TrimRight(t.Location, "/") + "/" }

// hourly says whether objects are in dt=/hr= folders (not dt= only).
func (t Table) hourly() bool { return t.Layout != sinks.LayoutDaily }

// jsonl says whether the objects are JSON Lines.
func (t Table) jsonl() bool { return t.Format != sinks.FormatParquet }

// dedup writes the view that keeps, of the copies a crash or replay may
// have written, the first one written of each record, identified by its
// origin coordinates (the README's de-duplication query).
func dedup(sb *strings.Builder, e Engine, t Table) {
	fmt.Fprintf(sb, "\n-- One copy of each record: copies written again after a crash, a\n")
	fmt.Fprintf(sb, "-- rebalance or a replay share _redrive's origin coordinates.\n")
	cols := "*"
	if e == DuckDB {
		cols = "* EXCLUDE (redrive_copy)"
	} else if t.Columns != nil {
		var names []string
		for _, c := range t.Columns {
			names = append(names, quote(c.Name))
		}
		names = append(names, quote(schema.MetaField), "dt")
		if t.hourly() {
			names = append(names, "hr")
		}
		cols = strings.Join(names, ", ")
	}
	fmt.Fprintf(sb, "CREATE OR REPLACE VIEW %s AS\nSELECT %s FROM (\n", quote(t.Name+"_dedup"), cols)
	fmt.Fprintf(sb, "  SELECT *, row_number() OVER (\n")
	fmt.Fprintf(sb, "    PARTITION BY _redrive.topic, _redrive.\"partition\", _redrive.\"offset\"\n")
	fmt.Fprintf(sb, "    ORDER BY _redrive.written_at) AS redrive_copy\n")
	fmt.Fprintf(sb, "  FROM %s\n) AS copies\nWHERE redrive_copy = 1;\n", quote(t.Name))
}

// quote quotes a name as standard SQL does (Trino, DuckDB, and Athena's
// queries and views).
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// backquote quotes a name as Hive DDL does (Athena's CREATE TABLE).
func backquote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }
