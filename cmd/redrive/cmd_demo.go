package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/peterbourgon/ff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
	"github.com/redrive-io/redrive/tabledef"
)

// demoConfig sizes the demo.
type demoConfig struct {
	records    int
	samples    string
	output     string
	partitions int
	timeout    time.Duration
	errorRate  float64
	outage     string
	format     string
	schema     string
	log        logConfig
}

func newDemoCommand(stdout, stderr io.Writer) *ff.Command {
	var c demoConfig
	fs := newFlagSet("demo")
	fs.integer(&c.records, "records", 5000, "records to produce (the sample file is cycled)")
	fs.str(&c.samples, "samples", "testdata/events.jsonl", "JSON Lines file of sample events")
	fs.str(&c.output, "output", "demo-output", "directory where the S3 objects are copied at the end")
	fs.integer(&c.partitions, "partitions", 4, "partitions of the demo topics")
	fs.duration(&c.timeout, "timeout", 3*time.Minute, "give up if the records are not all accounted for by then")
	fs.FlagSet.Float64Var(&c.errorRate, 0, "error-rate", 0.15, fs.usage("error-rate", "fraction of API answers that are transient errors"))
	fs.str(&c.outage, "outage", "0s+5s", "API outage window START+DURATION after start-up")
	fs.str(&c.format, "format", sinks.FormatJSONL, "object format: jsonl or parquet (make demo DEMO_FLAGS=--format=parquet)")
	fs.str(&c.schema, "parquet-schema", "testdata/events-schema.yaml", "the Parquet columns of the sample events, with --format parquet")
	bindLogFlags(fs, &c.log, "text")
	c.log.level = "warn"
	return &ff.Command{
		Name:      "demo",
		Usage:     "redrive demo [flags]",
		ShortHelp: "run the whole pipeline in one process: embedded Kafka, S3 and a flaky API",
		LongHelp: `Starts an in-process Kafka-protocol broker (franz-go's kfake), an in-memory S3
server on loopback (gofakes3, reached through the real AWS SDK), and a mock
enrichment API that fails part of the time and has an outage window; produces
sample events; and runs the real pipeline until every record is in S3 or
parked. It prints live progress, then copies the output objects to --output
and tells how to read them.`,
		Flags: fs.FlagSet,
		Exec: func(ctx context.Context, _ []string) error {
			return runDemo(ctx, c, stdout, stderr)
		},
	}
}

func runDemo(ctx context.Context, c demoConfig, stdout, stderr io.Writer) error {
	log, err := c.log.logger(stderr)
	if err != nil {
		return usageError{err}
	}
	window, err := parseWindow(c.outage)
	if err != nil {
		return usageError{fmt.Errorf("outage: %w", err)}
	}
	samples, err := loadSamples(c.samples, c.records)
	if err != nil {
		return err
	}

	kafka, err := embedded.StartKafka(int32(c.partitions))
	if err != nil {
		return err
	}
	defer kafka.Close()
	const bucket = "redrive-demo"
	store, err := embedded.StartS3(bucket)
	if err != nil {
		return err
	}
	defer store.Close()
	apiCfg := mockapi.Config{Latency: 5 * time.Millisecond, ErrorRate: c.errorRate, PermanentRate: 0.01, GarbageRate: 0.005, Outages: []mockapi.Window{window}, Seed: 7}
	api := mockapi.New(apiCfg)
	outageEnd := time.Now().Add(window.Start + window.Duration) // the mock's windows count from New
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	apiCtx, stopAPI := context.WithCancel(context.Background())
	var apiWG sync.WaitGroup
	apiWG.Add(1)
	go func() { defer apiWG.Done(); api.Serve(apiCtx, ln) }() //nolint:errcheck // returns nil on stop
	defer func() { stopAPI(); apiWG.Wait() }()

	conn := pipeline.Kafka{Brokers: kafka.Brokers()}
	conn.SetDefaults()
	clientCfg, err := demoClientConfig(conn)
	if err != nil {
		return err
	}
	known, err := fillProfiles(conn.Brokers, clientCfg, c.partitions, samples)
	if err != nil {
		return err
	}

	topo := redrive.Topology{
		Kafka:       conn,
		Pipeline:    pipeline.Config{Group: "redrive-demo", InputTopic: "events", DLQTopic: "events.dlq", ParkingTopic: "events.parking"},
		Topics:      pipeline.Topics{Create: true, Partitions: int32(c.partitions)},
		StartOffset: pipeline.StartOldest,
		Enrich:      redrive.Enrichment{When: `category == "X"`},
		Lookup:      redrive.Lookup{Table: pipeline.TableConfig{Topic: profilesTopic}, Key: "user_id"},
		Sink:        sinks.Config{Prefix: "events", MaxAge: 2 * time.Second, Format: c.format},
		S3:          redrive.S3{Bucket: bucket},
		HTTPAddr:    "127.0.0.1:0",
	}
	if c.format == sinks.FormatParquet {
		topo.ParquetSchema = c.schema
	}
	topo.Enrich.Client.URL = "http://" + ln.Addr().String() + "/enrich"
	topo.Enrich.Client.BreakerOpenFor = time.Second
	topo.Pipeline.Retry.Base = 500 * time.Millisecond
	topo.Pipeline.Retry.MaxDelay = 4 * time.Second
	topo.Pipeline.CacheTTL = time.Minute
	topo.S3.Client = sinks.S3ClientConfig{Endpoint: store.URL, PathStyle: true, AccessKeyID: "demo", SecretAccessKey: "demo"}

	reg := prometheus.NewRegistry()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	r, err := topo.Start(runCtx, redrive.WithLogger(log), redrive.WithRegistry(reg))
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(runCtx) }()

	fmt.Fprintf(stdout, "redrive demo: %d records into topic %q (%d partitions); %s of them match %s\n",
		len(samples), "events", c.partitions, fmt.Sprint(countMatching(samples)), topo.Enrich.When)
	fmt.Fprintf(stdout, "lookup table: compacted topic %q holds %d of the %d users; the API answers the others (cached for %s)\n",
		profilesTopic, known, countUsers(samples), topo.Pipeline.CacheTTL)
	fmt.Fprintf(stdout, "mock API: %.0f%% transient errors, 1%% permanent, 0.5%% garbage, outage %s after start; metrics on http://%s/metrics\n\n",
		c.errorRate*100, c.outage, r.HTTPAddr())
	if err := produceSamples(conn.Brokers, clientCfg, "events", samples); err != nil {
		return err
	}

	done, err := waitDemo(ctx, c.timeout, int64(len(samples)), r, stdout)
	stopRun()
	if rerr := <-runErr; rerr != nil {
		return fmt.Errorf("pipeline: %w", rerr)
	}
	if err != nil {
		return err
	}
	return summarize(ctx, c, topo, bucket, done, reg, sourceTally{outageEnd: outageEnd}, window, stdout)
}

// waitDemo prints progress every second until every record is in S3 or
// parked.
func waitDemo(ctx context.Context, timeout time.Duration, total int64, r *redrive.Runner, stdout io.Writer) (pipeline.Snapshot, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(timeout)
	start := time.Now()
	for {
		s := r.Stats()
		fmt.Fprintf(stdout, "%5.1fs  in %5d  from table %5d  cache %4d  API %4d  to S3 %5d  DLQ trips %5d  parked %4d\n",
			time.Since(start).Seconds(), s.In, s.FromTable, s.FromCache, s.Enriched, s.ToSink, s.ToDLQ, s.Parked)
		if s.ToSink+s.Parked >= total {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-deadline:
			return s, fmt.Errorf("demo: only %d of %d records accounted for after %s", s.ToSink+s.Parked, total, timeout)
		case <-tick.C:
		}
	}
}

// summarize copies the objects out of S3 and checks the count.
func summarize(ctx context.Context, c demoConfig, topo redrive.Topology, bucket string, s pipeline.Snapshot, reg *prometheus.Registry, src sourceTally, outage mockapi.Window, stdout io.Writer) error {
	client, err := sinks.NewS3Client(ctx, topo.S3.Client)
	if err != nil {
		return err
	}
	objects, lines, err := downloadAll(ctx, client, bucket, c.output, src.add)
	if err != nil {
		return err
	}
	produced := s.In
	fmt.Fprintf(stdout, "\nproduced %d records: %d in S3 (%d objects), %d parked\n", produced, lines, objects, s.Parked)
	for _, cl := range parkedByClass(reg) {
		fmt.Fprintf(stdout, "  parked %-14s %d\n", cl.class, cl.n)
	}
	if int64(lines)+s.Parked != produced {
		return fmt.Errorf("demo: %d in S3 + %d parked != %d produced", lines, s.Parked, produced)
	}
	fmt.Fprintf(stdout, "S3 records + parked = produced: nothing lost.\n")
	src.report(stdout, outage)
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "The objects are in %s/ (copied from s3://%s).\n", c.output, bucket)
	if c.format == sinks.FormatParquet {
		return printDuckDBQuery(c, topo, stdout)
	}
	fmt.Fprintf(stdout, "Read them with:\n")
	fmt.Fprintf(stdout, "  find %s -name '*.jsonl.gz' | head\n", c.output)
	fmt.Fprintf(stdout, "  zcat $(find %s -name '*.jsonl.gz' | head -n 1) | head -n 3\n", c.output)
	fmt.Fprintf(stdout, "Each line is the event, its \"enrichment\" (if category == \"X\") and \"_redrive\" (origin topic/partition/offset, attempt).\n")
	return nil
}

// printDuckDBQuery shows the SQL a user can paste into DuckDB (the duckdb
// CLI, or python3 -c 'import duckdb; duckdb.sql(...).show()') to query the
// downloaded Parquet objects: redrive table's view, then a query.
func printDuckDBQuery(c demoConfig, topo redrive.Topology, stdout io.Writer) error {
	topo.SetDefaults()
	sc, err := topo.OutputSchema()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Query them with DuckDB: paste into the duckdb shell (this is what\n")
	fmt.Fprintf(stdout, "redrive table --engine duckdb --location %s/events prints, and a query):\n\n", c.output)
	err = tabledef.Write(stdout, tabledef.DuckDB, tabledef.Table{
		Name: "events", Location: filepath.Join(c.output, topo.Sink.Prefix),
		Format: sinks.FormatParquet, Compression: topo.Sink.Compression, Layout: topo.Sink.PartitionLayout,
		Columns: sc.Columns(), Since: "2020-01-01",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nSELECT dt, hr, count(*) AS records, count(*) FILTER (WHERE _redrive.enriched) AS enriched,\n")
	fmt.Fprintf(stdout, "       max(_redrive.attempt) AS most_attempts FROM events_dedup GROUP BY dt, hr ORDER BY dt, hr;\n")
	return nil
}

// downloadAll copies every object of the bucket under dir and counts lines.
func downloadAll(ctx context.Context, client *s3.Client, bucket, dir string, each func(line []byte)) (objects, lines int, err error) {
	if err := os.RemoveAll(dir); err != nil {
		return 0, 0, err
	}
	err = sinks.ReadBatches(ctx, client, bucket, "", func(o sinks.Object) error {
		path := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, o.Body, 0o644); err != nil {
			return err
		}
		ls, err := o.Lines()
		if err != nil {
			return err
		}
		objects++
		lines += len(ls)
		for _, l := range ls {
			each(l)
		}
		return nil
	})
	return objects, lines, err
}

type classCount struct {
	class string
	n     int64
}

// parkedByClass reads the parked counter from the registry.
func parkedByClass(reg *prometheus.Registry) []classCount {
	mfs, err := reg.Gather()
	if err != nil {
		return nil
	}
	var out []classCount
	for _, mf := range mfs {
		if mf.GetName() != "redrive_records_parked_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "class" {
					out = append(out, classCount{l.GetValue(), int64(m.GetCounter().GetValue())})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].class < out[j].class })
	return out
}

// loadSamples reads the sample file and cycles it to n records.
func loadSamples(path string, n int) ([][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samples: %w (run the demo from the repository root, or pass --samples)", err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, errors.New("samples: file is empty")
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = lines[i%len(lines)]
	}
	return out, nil
}

func countMatching(samples [][]byte) int {
	n := 0
	for _, s := range samples {
		if bytes.Contains(s, []byte(`"category":"X"`)) {
			n++
		}
	}
	return n
}

// produceSamples writes the samples keyed by their user_id, as an upstream
// service would.
func produceSamples(brokers []string, cfg *sarama.Config, topic string, samples [][]byte) error {
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("demo producer: %w", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, 0, 500)
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		err := p.SendMessages(msgs)
		msgs = msgs[:0]
		return err
	}
	for _, s := range samples {
		key := userID(s)
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(s)})
		if len(msgs) == cap(msgs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// demoClientConfig is the config of the demo's own clients (the producers
// of the samples and profiles, the admin creating the profiles topic): the
// connection redrive itself makes, with acks from every replica, as an
// upstream service that must not lose its events would ask.
func demoClientConfig(conn pipeline.Kafka) (*sarama.Config, error) {
	cfg, err := conn.SaramaConfig()
	if err != nil {
		return nil, err
	}
	cfg.ClientID = "redrive-demo-producer"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	return cfg, nil
}

// userID extracts "user_id" cheaply for the key; malformed samples get "".
func userID(s []byte) string {
	const k = `"user_id":"`
	i := bytes.Index(s, []byte(k))
	if i < 0 {
		return ""
	}
	rest := s[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
