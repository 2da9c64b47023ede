package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `redrive table` reads the flags (and REDRIVE_* variables) of the run it
// describes: the table is named after the input topic, located at the
// bucket and prefix, with the schema's columns; Kafka is not needed.
func TestTableCommandReadsTheRunFlags(t *testing.T) {
	t.Setenv("REDRIVE_S3_PREFIX", "/raw/orders/")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"table", "--engine=athena", "--input-topic=orders.v2", "--s3-bucket=lake",
		"--format=parquet", "--parquet-schema=../../testdata/events-schema.yaml", "--partition-layout=daily"}, &out, &errOut)
	if err != nil {
		t.Fatalf("table: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"CREATE EXTERNAL TABLE IF NOT EXISTS `orders_v2`", "`amount` double", "LOCATION 's3://lake/raw/orders/'",
		"PARTITIONED BY (`dt` string)", "STORED AS PARQUET", `CREATE OR REPLACE VIEW "orders_v2_dedup"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "enrichment") {
		t.Errorf("no --enrich-when, yet an enrichment column:\n%s", out.String())
	}
}

// Each mistake in the output flags is a usage error naming the flag, for
// table as for run.
func TestOutputFormatFlagsAreChecked(t *testing.T) {
	schema := "--parquet-schema=../../testdata/events-schema.yaml"
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("columns: [{name: a, type: varchar}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format=csv"}, "format: must be"},
		{[]string{"--format=parquet"}, "parquet-schema: required with --format parquet"},
		{[]string{schema}, "parquet-schema: ../../testdata/events-schema.yaml is only read with --format parquet"},
		{[]string{"--format=parquet", "--parquet-schema=/no/such/file.yaml"}, "parquet-schema: open /no/such/file.yaml"},
		{[]string{"--format=parquet", "--parquet-schema=" + bad}, `parquet-schema: ` + bad + `: column 1 (a): type "varchar"`},
		{[]string{"--compression=snappy"}, "compression: must be \"gzip\", \"zstd\" or \"none\" for --format jsonl"},
		{[]string{"--format=parquet", schema, "--compression=lz4"}, "compression: must be \"snappy\""},
	} {
		_, err := parseRunArgs(append(append([]string{}, minimalRun...), tc.args...))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("run %v: err = %v, want one starting %q", tc.args, err, tc.want)
		}
	}
	for _, ok := range [][]string{
		{"--format=parquet", schema},
		{"--format=parquet", schema, "--compression=zstd", "--parquet-row-group-bytes=1MiB"},
		{"--compression=zstd"},
	} {
		if _, err := parseRunArgs(append(append([]string{}, minimalRun...), ok...)); err != nil {
			t.Errorf("run %v: %v", ok, err)
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"table", "--engine=trino", "--output-dir=/tmp/x"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "location: trino reads s3:// locations") {
		t.Errorf("table --engine=trino on a directory: %v", err)
	}
}
