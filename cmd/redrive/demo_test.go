package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/redrive-io/redrive/internal/testenv"
)

// `make demo` runs this path: embedded broker and S3, flaky API with an
// outage, the real pipeline. The demo checks its own accounting (S3 +
// parked = produced) and fails otherwise; here we also check the numbers it
// prints and that the objects were copied where it says.
func TestDemoAccountsForEveryRecord(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo-output")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"demo", "--records=1500", "--samples=../../testdata/events.jsonl",
		"--output=" + out, "--outage=1s+2s", "--timeout=2m"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`produced (\d+) records: (\d+) in S3 \((\d+) objects\), (\d+) parked`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no summary line in:\n%s", stdout.String())
	}
	produced, inS3, objects, parked := atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
	if produced != 1500 || inS3+parked != produced || objects == 0 {
		t.Fatalf("summary %q does not add up", m[0])
	}
	// The sample file has 3 malformed lines per 1000: at least those are parked.
	if parked < 3 {
		t.Fatalf("only %d parked; the samples hold malformed records", parked)
	}
	// The profiles table answers for most users: records of its users are
	// enriched from it, on their first attempt, outage or not.
	src := regexp.MustCompile(`enriched (\d+) records: (\d+) from the lookup table, (\d+) from the cache, (\d+) from the API`).FindStringSubmatch(stdout.String())
	trips := regexp.MustCompile(`(\d+) of the (\d+) records enriched from the table were written to S3 before it ended; (\d+) of them took a DLQ trip`).FindStringSubmatch(stdout.String())
	if src == nil || trips == nil {
		t.Fatalf("no lookup table summary in:\n%s", stdout.String())
	}
	if table := atoi(src[2]); table == 0 || table < atoi(src[4]) || atoi(trips[3]) != 0 {
		t.Fatalf("lookup summary %q / %q: want most enrichments from the table, none of them after a DLQ trip", src[0], trips[0])
	}
	var files int
	filepath.WalkDir(out, func(_ string, d os.DirEntry, _ error) error { //nolint:errcheck
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files != objects {
		t.Fatalf("%d files copied to %s, the demo reported %d objects", files, out, objects)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// `make demo DEMO_FLAGS=--format=parquet` writes Parquet and ends with SQL
// to paste into DuckDB: run as printed by a real DuckDB, it counts the
// records the demo put in S3.
func TestDemoParquetQueryRunsInDuckDB(t *testing.T) {
	duck := testenv.NeedDuckDB(t)
	out := filepath.Join(t.TempDir(), "demo-output")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"demo", "--records=600", "--samples=../../testdata/events.jsonl",
		"--output=" + out, "--outage=0s+1s", "--timeout=2m", "--format=parquet", "--parquet-schema=../../testdata/events-schema.yaml"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`produced \d+ records: (\d+) in S3`).FindStringSubmatch(stdout.String())
	i := strings.Index(stdout.String(), "-- DuckDB:")
	if m == nil || i < 0 {
		t.Fatalf("no summary or no DuckDB SQL in:\n%s", stdout.String())
	}
	got := duck.Query(t, stdout.String()[i:], `SELECT count(*) FROM events_dedup`)
	if n := got[0][0][0]; n == nil || *n != m[1] {
		t.Fatalf("the printed query counts %v records, the demo put %s in S3", n, m[1])
	}
}
