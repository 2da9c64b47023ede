package tabledef

import (
	"fmt"
	"strings"

	"github.com/redrive-io/redrive/schema"
)

// Column types of each engine's DDL.
var (
	athenaTypes = map[schema.Type]string{schema.String: "string", schema.Int64: "bigint", schema.Int32: "int",
		schema.Double: "double", schema.Boolean: "boolean", schema.Timestamp: "timestamp", schema.JSON: "string"}
	trinoTypes = map[schema.Type]string{schema.String: "varchar", schema.Int64: "bigint", schema.Int32: "integer",
		schema.Double: "double", schema.Boolean: "boolean", schema.Timestamp: "timestamp(3)", schema.JSON: "varchar"}
	duckdbTypes = map[schema.Type]string{schema.String: "VARCHAR", schema.Int64: "BIGINT", schema.Int32: "INTEGER",
		schema.Double: "DOUBLE", schema.Boolean: "BOOLEAN", schema.Timestamp: "TIMESTAMPTZ", schema.JSON: "JSON"}
)

// hiveType is c's type in a Hive-style engine's DDL: in JSON Lines a
// timestamp is RFC 3339 text, which the engines' JSON SerDes read as a
// string (from_iso8601_timestamp() makes it a time).
func (t Table) hiveType(types map[schema.Type]string, c schema.Column) string {
	if c.Type == schema.Timestamp && t.jsonl() {
		return types[schema.String]
	}
	return types[c.Type]
}

// columnList is the DDL's list of t's columns and _redrive, one per line,
// each quoted by quote and typed by typ; group wraps _redrive's fields.
func (t Table) columnList(quote func(string) string, typ func(schema.Column) string, group func([]string) string) []string {
	var cols, meta []string
	for _, c := range t.Columns {
		cols = append(cols, fmt.Sprintf("  %s %s", quote(c.Name), typ(c)))
	}
	for _, c := range schema.MetaColumns {
		meta = append(meta, quote(c.Name)+" "+typ(c))
	}
	return append(cols, fmt.Sprintf("  %s %s", quote(schema.MetaField), group(meta)))
}

// athena writes Hive DDL with Athena's partition projection.
func athena(sb *strings.Builder, t Table) {
	typ := func(c schema.Column) string { return t.hiveType(athenaTypes, c) }
	fmt.Fprintf(sb, "-- Athena: the table over %s (%s), partitions projected, no crawler needed.\n", t.location(), t.describe())
	fmt.Fprintf(sb, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", backquote(t.Name))
	cols := t.columnList(backquote, typ, func(fields []string) string {
		// Hive's struct fields are name:type.
		for i, f := range fields {
			fields[i] = strings.Replace(f, " ", ":", 1)
		}
		return "struct<" + strings.Join(fields, ",") + ">"
	})
	sb.WriteString(strings.Join(cols, ",\n"))
	sb.WriteString("\n)\n")
	if t.hourly() {
		sb.WriteString("PARTITIONED BY (`dt` string, `hr` string)\n")
	} else {
		sb.WriteString("PARTITIONED BY (`dt` string)\n")
	}
	if t.jsonl() {
		sb.WriteString("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n")
		sb.WriteString("STORED AS TEXTFILE\n")
	} else {
		sb.WriteString("STORED AS PARQUET\n")
	}
	fmt.Fprintf(sb, "LOCATION %s\nTBLPROPERTIES (\n", sqlString(t.location()))
	props := []string{
		"'projection.enabled' = 'true'",
		"'projection.dt.type' = 'date'",
		"'projection.dt.format' = 'yyyy-MM-dd'",
		fmt.Sprintf("'projection.dt.range' = '%s,NOW'", t.Since),
		"'projection.dt.interval' = '1'",
		"'projection.dt.interval.unit' = 'DAYS'",
	}
	template := t.location() + "dt=${dt}/"
	if t.hourly() {
		props = append(props,
			"'projection.hr.type' = 'integer'",
			"'projection.hr.range' = '0,23'",
			"'projection.hr.digits' = '2'")
		template += "hr=${hr}/"
	}
	props = append(props, "'storage.location.template' = "+sqlString(template))
	sb.WriteString("  " + strings.Join(props, ",\n  ") + "\n);\n")
	if t.Columns == nil {
		sb.WriteString("-- No --parquet-schema was given: add the record's own columns above _redrive.\n")
	}
}

// trino writes DDL for Trino's Hive connector, with its partition
// projection properties (the ones Athena's are mapped to).
func trino(sb *strings.Builder, t Table) {
	typ := func(c schema.Column) string { return t.hiveType(trinoTypes, c) }
	fmt.Fprintf(sb, "-- Trino (Hive connector): the table over %s (%s), partitions projected.\n", t.location(), t.describe())
	fmt.Fprintf(sb, "CREATE TABLE IF NOT EXISTS %s (\n", quote(t.Name))
	cols := t.columnList(quote, typ, func(fields []string) string { return "ROW(" + strings.Join(fields, ", ") + ")" })
	cols = append(cols, fmt.Sprintf("  dt varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd', partition_projection_range = ARRAY['%s', 'NOW'], partition_projection_interval = 1, partition_projection_interval_unit = 'DAYS')", t.Since))
	partitions := "ARRAY['dt']"
	template := t.location() + "dt=${dt}/"
	if t.hourly() {
		cols = append(cols, "  hr varchar WITH (partition_projection_type = 'INTEGER', partition_projection_range = ARRAY['0', '23'], partition_projection_digits = 2)")
		partitions = "ARRAY['dt', 'hr']"
		template += "hr=${hr}/"
	}
	sb.WriteString(strings.Join(cols, ",\n"))
	format := "PARQUET"
	if t.jsonl() {
		format = "OPENX_JSON"
	}
	fmt.Fprintf(sb, "\n) WITH (\n  format = '%s',\n  external_location = %s,\n  partitioned_by = %s,\n  partition_projection_enabled = true,\n  partition_projection_location_template = %s\n);\n",
		format, sqlString(t.location()), partitions, sqlString(template))
	if t.Columns == nil {
		sb.WriteString("-- No --parquet-schema was given: add the record's own columns above _redrive.\n")
	}
}

// duckdb writes a view over the objects, read with hive partitioning.
func duckdb(sb *strings.Builder, t Table) {
	glob := t.location() + "dt=*/"
	if t.hourly() {
		glob += "hr=*/"
	}
	types := "{'dt': DATE}"
	if t.hourly() {
		types = "{'dt': DATE, 'hr': INTEGER}"
	}
	fmt.Fprintf(sb, "-- DuckDB: a view over %s (%s).\n", t.location(), t.describe())
	if strings.HasPrefix(t.Location, "s3://") {
		sb.WriteString("-- Reading s3:// needs the httpfs extension and credentials (CREATE SECRET).\n")
	}
	fmt.Fprintf(sb, "CREATE OR REPLACE VIEW %s AS\n", quote(t.Name))
	if !t.jsonl() {
		fmt.Fprintf(sb, "SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types = %s, union_by_name = true);\n", sqlString(glob+"*.parquet"), types)
		return
	}
	suffix := map[string]string{"gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}[t.Compression]
	if suffix == "" {
		suffix = ".jsonl"
	}
	fmt.Fprintf(sb, "SELECT * FROM read_json(%s, format = 'newline_delimited', hive_partitioning = true, hive_types = %s", sqlString(glob+"*"+suffix), types)
	if t.Columns != nil {
		duck := func(c schema.Column) string { return duckdbTypes[c.Type] }
		var cols, meta []string
		for _, c := range t.Columns {
			cols = append(cols, fmt.Sprintf("%s: '%s'", sqlString(c.Name), duck(c)))
		}
		for _, c := range schema.MetaColumns {
			meta = append(meta, quote(c.Name)+" "+duck(c))
		}
		cols = append(cols, fmt.Sprintf("'%s': 'STRUCT(%s)'", schema.MetaField, strings.Join(meta, ", ")))
		fmt.Fprintf(sb, ",\n  columns = {%s}", strings.Join(cols, ", "))
	}
	sb.WriteString(");\n")
}

// describe says what the objects are, for the DDL's comment.
func (t Table) describe() string {
	layout := "dt=/hr= folders"
	if !t.hourly() {
		layout = "dt= folders"
	}
	return fmt.Sprintf("%s, %s, %s", t.Format, t.Compression, layout)
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
