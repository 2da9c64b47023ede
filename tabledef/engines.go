package tabledef

import (
	"fmt"
	"strings"

	"github.com/redrive-io/redrive/schema"
)

// athena writes Hive DDL with Athena's partition projection.
func athena(sb *strings.Builder, t Table) {
	typ := func(c schema.Column) string {
		switch c.Type {
		case schema.Int64:
			return "bigint"
		case schema.Int32:
			return "int"
		case schema.Double:
			return "double"
		case schema.Boolean:
			return "boolean"
		case schema.Timestamp:
			if t.jsonl() {
				return "string" // RFC 3339 text: from_iso8601_timestamp() reads it
			}
			return "timestamp"
		}
		return "string" // string, and json kept as its text
	}
	fmt.Fprintf(sb, "-- Athena: the table over %s (%s), partitions projected, no crawler needed.\n", t.location(), t.describe())
	fmt.Fprintf(sb, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", backquote(t.Name))
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, fmt.Sprintf("  %s %s", backquote(c.Name), typ(c)))
	}
	var meta []string
	for _, c := range schema.MetaColumns {
		meta = append(meta, backquote(c.Name)+":"+typ(c))
	}
	cols = append(cols, fmt.Sprintf("  %s struct<%s>", backquote(schema.MetaField), strings.Join(meta, ",")))
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
	typ := func(c schema.Column) string {
		switch c.Type {
		case schema.Int64:
			return "bigint"
		case schema.Int32:
			return "integer"
		case schema.Double:
			return "double"
		case schema.Boolean:
			return "boolean"
		case schema.Timestamp:
			if t.jsonl() {
				return "varchar" // RFC 3339 text: from_iso8601_timestamp() reads it
			}
			return "timestamp(3)"
		}
		return "varchar"
	}
	fmt.Fprintf(sb, "-- Trino (Hive connector): the table over %s (%s), partitions projected.\n", t.location(), t.describe())
	fmt.Fprintf(sb, "CREATE TABLE IF NOT EXISTS %s (\n", quote(t.Name))
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, fmt.Sprintf("  %s %s", quote(c.Name), typ(c)))
	}
	var meta []string
	for _, c := range schema.MetaColumns {
		meta = append(meta, quote(c.Name)+" "+typ(c))
	}
	cols = append(cols, fmt.Sprintf("  %s ROW(%s)", quote(schema.MetaField), strings.Join(meta, ", ")))
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
		duck := func(c schema.Column) string {
			switch c.Type {
			case schema.Int64:
				return "BIGINT"
			case schema.Int32:
				return "INTEGER"
			case schema.Double:
				return "DOUBLE"
			case schema.Boolean:
				return "BOOLEAN"
			case schema.Timestamp:
				return "TIMESTAMPTZ"
			case schema.JSON:
				return "JSON"
			}
			return "VARCHAR"
		}
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
