package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/peterbourgon/ff/v4"

	"github.com/redrive-io/redrive/sinks"
	"github.com/redrive-io/redrive/tabledef"
)

// newTableCommand is `redrive table`: the SQL that declares a table over
// the output of a `redrive run` with the same flags (or --config, or
// REDRIVE_* variables), so that the output is queryable without a crawler.
func newTableCommand(stdout io.Writer) *ff.Command {
	var c runConfig
	var engine, table, location, since string
	fs := newFlagSet("table")
	bindRunFlags(fs, &c)
	fs.str(&engine, "engine", string(tabledef.Athena), fmt.Sprintf("query engine whose SQL to print: %v", tabledef.Engines))
	fs.str(&table, "table", "", "table name (default: --input-topic, other characters than letters, digits and _ as _)")
	fs.str(&location, "location", "", "where the objects are, instead of s3://--s3-bucket/--s3-prefix: e.g. a local directory of downloaded objects for duckdb")
	fs.str(&since, "since", "2020-01-01", "first day of the dt= partition projection range (YYYY-MM-DD)")
	return &ff.Command{
		Name:      "table",
		Usage:     "redrive table --engine athena|trino|duckdb [the flags of redrive run]",
		ShortHelp: "print the SQL that declares a table over the output (Athena, Trino, DuckDB)",
		LongHelp: `Print the table definition that reads what 'redrive run' writes with the same
flags (or the same --config file and REDRIVE_* variables): the columns of
--parquet-schema (with --format jsonl too) and _redrive, the format (--format, --compression), and the
dt=/hr= partitions of --partition-layout with partition projection, so no
crawler or MSCK REPAIR is needed. Then a view, TABLE_dedup, that keeps one
copy of each record by its origin coordinates (_redrive.topic, partition,
offset). Only the output flags are read; Kafka and the API are not needed.

  redrive table --config run.yaml --engine athena
  redrive table --format parquet --parquet-schema cols.yaml --engine duckdb --location demo-output/events`,
		Flags: fs.FlagSet,
		Exec: func(_ context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected arguments %q", args)}
			}
			t := c.topo
			t.SetDefaults()
			// With JSON Lines, a --parquet-schema file (which run refuses
			// there) gives the columns to declare.
			cols := t
			if t.ParquetSchema != "" {
				cols.Sink.Format = sinks.FormatParquet
			}
			sc, err := cols.OutputSchema()
			if err != nil {
				return usageError{err}
			}
			sink := t.Sink
			if sc != nil {
				sink.Schema = sc.Parquet()
			}
			if err := sink.Validate(); err != nil {
				return usageError{err}
			}
			def := tabledef.Table{
				Name:        table,
				Location:    location,
				Format:      t.Sink.Format,
				Compression: t.Sink.Compression,
				Layout:      t.Sink.PartitionLayout,
				Since:       since,
			}
			if sc != nil {
				def.Columns = sc.Columns()
			}
			if def.Name == "" {
				def.Name = tableName(t.Pipeline.InputTopic)
			}
			if def.Location == "" && t.S3.Bucket != "" {
				def.Location = "s3://" + t.S3.Bucket + "/" + strings.Trim(t.Sink.Prefix, "/")
			}
			if def.Location == "" && t.OutputDir != "" {
				def.Location = t.OutputDir
			}
			if err := tabledef.Write(stdout, tabledef.Engine(engine), def); err != nil {
				return usageError{err}
			}
			return nil
		},
	}
}

var notSQLName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// tableName makes a plain SQL name of a topic name ("orders.v2" is
// "orders_v2"); "redrive" when there is none.
func tableName(topic string) string {
	if topic == "" {
		return "redrive"
	}
	name := notSQLName.ReplaceAllString(topic, "_")
	if name[0] >= '0' && name[0] <= '9' {
		name = "t_" + name
	}
	return name
}
