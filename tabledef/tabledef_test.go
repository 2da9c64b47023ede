package tabledef

import (
	"strings"
	"testing"

	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

func columns(t *testing.T) []schema.Column {
	t.Helper()
	s, err := schema.Parse([]byte("columns: [{name: id, type: int64}, {name: ts, type: timestamp}, {name: note, type: json}]"), "test", "enrichment")
	if err != nil {
		t.Fatal(err)
	}
	return s.Columns()
}

func write(t *testing.T, e Engine, tb Table) string {
	t.Helper()
	var sb strings.Builder
	if err := Write(&sb, e, tb); err != nil {
		t.Fatalf("Write(%s): %v", e, err)
	}
	return sb.String()
}

// TestEachEngineDeclaresTheOutput: each engine's SQL names the columns
// with its types, the format, the location and the partitions of the
// layout, projected, and the de-duplicated view. (The DuckDB SQL is also
// run by a real DuckDB in TestE2E_ParquetQueriedByDuckDB.)
func TestEachEngineDeclaresTheOutput(t *testing.T) {
	hourly := Table{Name: "events", Location: "s3://lake/raw", Format: sinks.FormatParquet, Compression: "snappy", Layout: sinks.LayoutHourly, Columns: columns(t), Since: "2026-01-01"}
	for _, tc := range []struct {
		e    Engine
		want []string
	}{
		{Athena, []string{"CREATE EXTERNAL TABLE IF NOT EXISTS `events`", "`id` bigint", "`ts` timestamp", "`note` string", "`enrichment` string",
			"`_redrive` struct<`topic`:string,`partition`:int,`offset`:bigint", "PARTITIONED BY (`dt` string, `hr` string)", "STORED AS PARQUET",
			"LOCATION 's3://lake/raw/'", "'projection.dt.range' = '2026-01-01,NOW'", "'projection.hr.digits' = '2'",
			"'storage.location.template' = 's3://lake/raw/dt=${dt}/hr=${hr}/'",
			`CREATE OR REPLACE VIEW "events_dedup"`, `SELECT "id", "ts", "note", "enrichment", "_redrive", dt, hr FROM`}},
		{Trino, []string{`CREATE TABLE IF NOT EXISTS "events"`, `"id" bigint`, `"ts" timestamp(3)`, `"note" varchar`, `"_redrive" ROW("topic" varchar, "partition" integer`,
			"dt varchar WITH (partition_projection_type = 'DATE'", "partition_projection_range = ARRAY['2026-01-01', 'NOW']",
			"hr varchar WITH (partition_projection_type = 'INTEGER'", "format = 'PARQUET'", "partitioned_by = ARRAY['dt', 'hr']",
			"partition_projection_location_template = 's3://lake/raw/dt=${dt}/hr=${hr}/'", `CREATE OR REPLACE VIEW "events_dedup"`}},
		{DuckDB, []string{`CREATE OR REPLACE VIEW "events"`, "read_parquet('s3://lake/raw/dt=*/hr=*/*.parquet', hive_partitioning = true, hive_types = {'dt': DATE, 'hr': INTEGER}",
			"httpfs", "SELECT * EXCLUDE (redrive_copy)", `PARTITION BY _redrive.topic, _redrive."partition", _redrive."offset"`}},
	} {
		sql := write(t, tc.e, hourly)
		for _, w := range tc.want {
			if !strings.Contains(sql, w) {
				t.Errorf("%s SQL lacks %q:\n%s", tc.e, w, sql)
			}
		}
	}
}

// TestDailyLayoutHasNoHour: with the daily layout no engine declares or
// reads an hr partition.
func TestDailyLayoutHasNoHour(t *testing.T) {
	daily := Table{Name: "events", Location: "s3://lake/raw/", Format: sinks.FormatParquet, Layout: sinks.LayoutDaily, Columns: columns(t), Since: "2026-01-01"}
	for _, e := range Engines {
		sql := write(t, e, daily)
		if strings.Contains(sql, "hr") {
			t.Errorf("%s SQL for the daily layout mentions hr:\n%s", e, sql)
		}
	}
}

// TestJSONLinesTables: JSON Lines are read with a JSON SerDe or reader of
// the compression's suffix; timestamps are text for the Hive engines;
// without columns DuckDB detects them and the others say what to add.
func TestJSONLinesTables(t *testing.T) {
	tb := Table{Name: "events", Location: "s3://lake/raw", Format: sinks.FormatJSONL, Compression: "zstd", Layout: sinks.LayoutHourly, Columns: columns(t), Since: "2026-01-01"}
	for e, want := range map[Engine][]string{
		Athena: {"ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'", "`ts` string"},
		Trino:  {"format = 'OPENX_JSON'", `"ts" varchar`},
		DuckDB: {"read_json('s3://lake/raw/dt=*/hr=*/*.jsonl.zst', format = 'newline_delimited'", `'ts': 'TIMESTAMPTZ'`, `'_redrive': 'STRUCT("topic" VARCHAR`},
	} {
		sql := write(t, e, tb)
		for _, w := range want {
			if !strings.Contains(sql, w) {
				t.Errorf("%s SQL lacks %q:\n%s", e, w, sql)
			}
		}
	}
	tb.Columns = nil
	if sql := write(t, DuckDB, tb); strings.Contains(sql, "columns =") {
		t.Errorf("DuckDB SQL without columns declares some:\n%s", sql)
	}
	if sql := write(t, Athena, tb); !strings.Contains(sql, "add the record's own columns") || strings.Contains(sql, "`id`") {
		t.Errorf("Athena SQL without columns:\n%s", sql)
	}
}

// TestWriteRefusesWhatCannotWork names the flag at fault.
func TestWriteRefusesWhatCannotWork(t *testing.T) {
	ok := Table{Name: "events", Location: "s3://lake/raw", Format: sinks.FormatParquet, Layout: sinks.LayoutHourly, Columns: columns(t), Since: "2026-01-01"}
	for _, tc := range []struct {
		e    Engine
		edit func(*Table)
		want string
	}{
		{"spark", func(*Table) {}, "engine: must be one of [athena trino duckdb]"},
		{Athena, func(tb *Table) { tb.Name = "my-table" }, "table:"},
		{Athena, func(tb *Table) { tb.Location = "" }, "location: no output location"},
		{Trino, func(tb *Table) { tb.Location = "demo-output/events" }, "location: trino reads s3:// locations"},
		{Athena, func(tb *Table) { tb.Since = "yesterday" }, "since:"},
		{DuckDB, func(tb *Table) { tb.Columns = nil }, "parquet-schema:"},
	} {
		tb := ok
		tc.edit(&tb)
		err := Write(&strings.Builder{}, tc.e, tb)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Write(%s, %+v) = %v, want an error starting %q", tc.e, tb, err, tc.want)
		}
	}
	if err := Write(&strings.Builder{}, DuckDB, Table{Name: "events", Location: "demo-output/events", Format: sinks.FormatParquet, Columns: columns(t), Since: "2026-01-01"}); err != nil {
		t.Errorf("DuckDB reads a local directory: %v", err)
	}
}
