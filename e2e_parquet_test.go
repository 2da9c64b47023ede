package redrive_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// TestE2E_ParquetQueriedByDuckDB proves the Parquet output end to end,
// through the binary, real Kafka, the real S3 API and a real query engine:
//
//   - records whose Kafka timestamps span three hours are written as Parquet
//     into those hours' dt=/hr= folders;
//   - records that do not fit the schema (a required field missing) are
//     parked as schema_mismatch, never written with a null; replayed once
//     the schema is relaxed, they land in the folders of their first
//     arrival, marked replayed;
//   - DuckDB, running the SQL that `redrive table --engine duckdb` prints
//     over the downloaded objects, counts every row, groups them by dt and
//     hr as produced, and its de-duplicated view removes a batch written
//     twice (as after a crash) to exactly one row per record.
func TestE2E_ParquetQueriedByDuckDB(t *testing.T) {
	duck := testenv.NeedDuckDB(t)
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	dir := t.TempDir()
	strict := writeSchema(t, dir, "strict.yaml", true)
	relaxed := writeSchema(t, dir, "relaxed.yaml", false)

	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const n = 300
	noAmount := func(i int) bool { return i%25 == 7 } // does not fit the strict schema
	p, err := sarama.NewSyncProducer(e.brokers, testSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for i := range n {
		v := fmt.Sprintf(`{"id":%d,"category":"Y","amount":%d.5,"note":{"i":[%d]},"extra":"not a column"}`, i, i, i)
		if noAmount(i) {
			v = fmt.Sprintf(`{"id":%d,"category":"Y"}`, i)
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: e.topic(), Key: sarama.StringEncoder(fmt.Sprint(i % 7)),
			Value: sarama.StringEncoder(v), Timestamp: base.Add(time.Duration(i) * 3 * time.Hour / n)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing: %v", err)
	}
	p.Close()
	want := map[origin]time.Time{}
	parked := 0
	for i, m := range msgs {
		want[origin{e.topic(), m.Partition, m.Offset}] = m.Timestamp.UTC()
		if noAmount(i) {
			parked++
		}
	}

	// The strict schema: the records without amount are parked.
	proc := e.start(t, e.runArgs("", "--format=parquet", "--parquet-schema="+strict))
	wait.For(t, 3*time.Minute, "the fitting records in S3 and the others parked", func() bool {
		return countS3Records(t, e) == n-parked && len(readTopic(t, e.brokers, e.parking())) == parked
	})
	if err := proc.term(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for _, r := range readTopic(t, e.brokers, e.parking()) {
		if r.Env.ErrorClass != pipeline.ClassSchemaMismatch || !strings.Contains(r.Env.Error, `field "amount": required double, but the record has no such field`) {
			t.Fatalf("parked record: class %q, error %q; want schema_mismatch naming the field", r.Env.ErrorClass, r.Env.Error)
		}
	}

	// Relaxed, the parked records are replayed (--force: schema_mismatch
	// records would be parked again under the same schema).
	replay := exec.Command(redriveBin, "dlq", "replay", "--brokers="+strings.Join(e.brokers, ","),
		"--input-topic="+e.topic(), "--parking-topic="+e.parking(), "--error=schema_mismatch", "--force", "--yes", "--rate=0")
	if out, err := replay.CombinedOutput(); err != nil {
		t.Fatalf("dlq replay: %v\n%s", err, out)
	}
	_, _, lines := runToFolders(t, e, e.runArgs("", "--format=parquet", "--parquet-schema="+relaxed), want)
	replayed := 0
	for _, l := range lines {
		if l.Meta.ReplayedAt != nil {
			replayed++
		}
	}
	if replayed != parked {
		t.Fatalf("%d lines replayed, want the %d parked", replayed, parked)
	}

	// A batch written twice, as when a crash comes between an upload and
	// the commit: the same rows under an overlapping offset range.
	out := filepath.Join(dir, "objects")
	dupRows := downloadWithDuplicate(t, e, out)

	table := exec.Command(redriveBin, "table", "--engine=duckdb", "--table=events", "--location="+out,
		"--format=parquet", "--parquet-schema="+relaxed)
	var sql, stderr bytes.Buffer
	table.Stdout, table.Stderr = &sql, &stderr
	if err := table.Run(); err != nil {
		t.Fatalf("redrive table: %v\n%s", err, stderr.Bytes())
	}
	got := duck.Query(t, sql.String(),
		`SELECT count(*) FROM events`,
		`SELECT strftime(dt, '%Y-%m-%d') || '/' || lpad(hr::VARCHAR, 2, '0'), count(*) FROM events_dedup GROUP BY ALL ORDER BY 1`,
		`SELECT count(*), count(DISTINCT id), count(amount), count(*) FILTER (WHERE _redrive.replayed_at IS NOT NULL) FROM events_dedup`,
		`SELECT printf('%.1f', sum(amount)), max(json_extract(note, '$.i[0]')::INTEGER) FROM events_dedup`,
	)
	if all := val(got[0][0][0]); all != fmt.Sprint(n+dupRows) {
		t.Errorf("events holds %s rows, want %d produced + %d written twice", all, n, dupRows)
	}
	wantHours := map[string]int{}
	for _, at := range want {
		wantHours[at.Format("2006-01-02/15")]++
	}
	gotHours := map[string]int{}
	for _, row := range got[1] {
		var c int
		fmt.Sscan(val(row[1]), &c)
		gotHours[val(row[0])] = c
	}
	if len(wantHours) != 3 || fmt.Sprint(gotHours) != fmt.Sprint(wantHours) {
		t.Errorf("GROUP BY dt, hr = %v, want %v", gotHours, wantHours)
	}
	sumAmount := 0.0
	for i := range n {
		if !noAmount(i) {
			sumAmount += float64(i) + 0.5
		}
	}
	wantDedup := fmt.Sprintf("[%d %d %d %d]", n, n, n-parked, parked)
	if s := fmt.Sprint(vals(got[2][0])); s != wantDedup {
		t.Errorf("events_dedup: count, distinct ids, amounts, replayed = %s, want %s", s, wantDedup)
	}
	if s := fmt.Sprint(vals(got[3][0])); s != fmt.Sprintf("[%.1f %d]", sumAmount, n-1) {
		t.Errorf("sum(amount), max(note.i[0]) = %s, want [%.1f %d]", s, sumAmount, n-1)
	}
	t.Logf("DuckDB read %d rows (%d written twice), %v per hour after de-duplication", n+dupRows, dupRows, gotHours)
}

// writeSchema writes the test's schema file: amount required or not.
func writeSchema(t *testing.T, dir, name string, amountRequired bool) string {
	t.Helper()
	path := filepath.Join(dir, name)
	body := fmt.Sprintf(`columns:
  - {name: id, type: int64, required: true}
  - {name: category, type: string}
  - {name: amount, type: double, required: %t}
  - {name: note, type: json}
`, amountRequired)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// countS3Records counts the distinct origins in the bucket's objects.
func countS3Records(t *testing.T, e *env) int {
	t.Helper()
	seen := map[origin]bool{}
	err := sinks.ReadRecords(context.Background(), e.client, e.bucket, "", func(_ string, x timedLine) error {
		seen[origin{x.Meta.Topic, x.Meta.Partition, x.Meta.Offset}] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(seen)
}

// downloadWithDuplicate copies one input-topic object in the bucket to an
// overlapping offset range, then downloads every object under dir by key,
// and returns the number of rows written twice.
func downloadWithDuplicate(t *testing.T, e *env, dir string) int {
	t.Helper()
	ctx := context.Background()
	dupRows := 0
	err := sinks.ReadBatches(ctx, e.client, e.bucket, "", func(o sinks.Object) error {
		kr, err := sinks.ParseKey(o.Key)
		if err != nil || dupRows > 0 || kr.Topic != e.topic() {
			return err
		}
		ls, err := o.Lines()
		if err != nil {
			return err
		}
		dupRows = len(ls)
		key := fmt.Sprintf("%s%s-%d-%d-%d.parquet", o.Key[:strings.LastIndexByte(o.Key, '/')+1], kr.Topic, kr.Partition, kr.First, kr.Last+1)
		_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(o.Body)})
		return err
	})
	if err != nil || dupRows == 0 {
		t.Fatalf("writing a batch twice: %v (rows %d)", err, dupRows)
	}
	err = sinks.ReadBatches(ctx, e.client, e.bucket, "", func(o sinks.Object) error {
		path := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, o.Body, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dupRows
}

// val reads a DuckDB value ("" for NULL).
func val(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

func vals(row []*string) []string {
	var out []string
	for _, v := range row {
		out = append(out, val(v))
	}
	return out
}
