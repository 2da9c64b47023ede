package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/peterbourgon/ff/v4"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/pipeline"
)

// runConfig is what the flags of `redrive run` fill: the topology, plus the
// few settings that need work after parsing (secret files, headers).
type runConfig struct {
	topo              redrive.Topology
	kafka             kafkaSecrets
	enrichHeaders     []string
	enrichHeadersFile string
	log               logConfig
	configFile        string // --config: read by the parser (parseOptions)
	printConfig       bool
}

// kafkaSecrets are the Kafka settings read from files after parsing.
type kafkaSecrets struct {
	saslPasswordFile string
}

func newRunCommand(stdout, stderr io.Writer) *ff.Command {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	return &ff.Command{
		Name:      "run",
		Usage:     "redrive run --brokers HOST:PORT --group G --input-topic T --dlq-topic D --parking-topic P --s3-bucket B [flags]",
		ShortHelp: "run the pipeline (one pod of the consumer group)",
		LongHelp: `Consume the input and dead-letter topics in one consumer group, enrich the
records matching --enrich-when through --enrich-url, write them to S3 in
batches, and retry failures through the dead-letter topic with exponential
backoff. Records that can never succeed go to the parking topic with their
cause in the headers. SIGTERM stops gracefully within --shutdown-grace.

Output objects: PREFIX/dt=YYYY-MM-DD/hr=HH/TOPIC-PARTITION-FIRST-LAST.jsonl.gz,
one JSON object per line with a "_redrive" object holding the origin
coordinates (topic, partition, offset) to de-duplicate on; or .parquet with
--format parquet, the columns of --parquet-schema and _redrive. 'redrive
table' prints the SQL that declares a table over them.`,
		Flags: fs.FlagSet,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected arguments %q", args)}
			}
			if c.printConfig {
				return c.writeEffective(fs, stdout)
			}
			topo, err := c.finish()
			if err != nil {
				return usageError{err}
			}
			log, err := c.log.logger(stderr)
			if err != nil {
				return usageError{err}
			}
			setMemoryLimit(log, memlimit.FromCgroup)
			reg := newRegistry(readBuildInfo())
			hint := func(err error) string { return kafkaHint(err, topo.Kafka) }
			return withKafkaHint(topo.Run(ctx, redrive.WithLogger(log), redrive.WithRegistry(reg), redrive.WithKafkaHint(hint)), topo.Kafka)
		},
	}
}

// bindKafkaFlags binds the connection flags shared by run and dlq.
func bindKafkaFlags(fs flagSet, k *pipeline.Kafka, s *kafkaSecrets) {
	fs.value(listValue{&k.Brokers}, "brokers", "Kafka bootstrap brokers, comma-separated host:port")
	fs.str(&k.ClientID, "client-id", "redrive", "Kafka client id")
	fs.str(&k.Version, "kafka-version", "3.6.0", "Kafka protocol version to speak")
	fs.boolean(&k.TLS.Enabled, "tls", "connect to the brokers with TLS")
	fs.str(&k.TLS.CAFile, "tls-ca-file", "", "PEM CA bundle for the brokers' certificates (default: system roots)")
	fs.str(&k.TLS.CertFile, "tls-cert-file", "", "PEM client certificate for mutual TLS")
	fs.str(&k.TLS.KeyFile, "tls-key-file", "", "PEM client key for mutual TLS")
	fs.boolean(&k.TLS.InsecureSkipVerify, "tls-insecure-skip-verify", "do not verify the brokers' certificates (test clusters only)")
	fs.str(&k.SASL.Mechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: no SASL)")
	fs.str(&k.SASL.User, "sasl-user", "", "SASL user")
	fs.str(&k.SASL.Password, "sasl-password", "", "SASL password (prefer --sasl-password-file or the env var; never logged)")
	fs.str(&s.saslPasswordFile, "sasl-password-file", "", "file holding the SASL password, e.g. a mounted Kubernetes Secret")
}

// finish reads secrets from files.
func (s kafkaSecrets) finish(k *pipeline.Kafka) error {
	if s.saslPasswordFile != "" {
		pw, err := readSecretFile("sasl-password-file", s.saslPasswordFile)
		if err != nil {
			return err
		}
		k.SASL.Password = pw
	}
	return nil
}

// bindTopicFlags binds the group and topic names shared by run and dlq.
func bindTopicFlags(fs flagSet, p *pipeline.Config) {
	fs.str(&p.Group, "group", "redrive", "consumer group shared by every redrive pod")
	fs.str(&p.InputTopic, "input-topic", "", "main input topic (required)")
	fs.str(&p.DLQTopic, "dlq-topic", "", "dead-letter topic, consumed by the same group; same partition count as the input topic (default: INPUT.dlq)")
	fs.str(&p.ParkingTopic, "parking-topic", "", "topic for records that can never succeed (default: INPUT.parking)")
}

// defaultTopicNames derives the DLQ and parking names from the input topic.
func defaultTopicNames(p *pipeline.Config) {
	if p.InputTopic == "" {
		return
	}
	if p.DLQTopic == "" {
		p.DLQTopic = p.InputTopic + ".dlq"
	}
	if p.ParkingTopic == "" {
		p.ParkingTopic = p.InputTopic + ".parking"
	}
}

func bindRunFlags(fs flagSet, c *runConfig) {
	t := &c.topo
	d := runDefaults()
	bindConfigFlag(fs, &c.configFile)
	fs.boolean(&c.printConfig, "print-config", "print the effective configuration (flags, env, --config, defaults) as YAML, secrets redacted, and exit")
	bindKafkaFlags(fs, &t.Kafka, &c.kafka)
	bindTopicFlags(fs, &t.Pipeline)
	t.StartOffset = d.StartOffset
	fs.value((*startOffsetValue)(&t.StartOffset), "start-offset", "where a group with no committed offsets starts: oldest or newest (Kafka's earliest and latest are accepted too)")
	fs.boolean(&t.Topics.Create, "create-topics", "create missing topics instead of failing (the DLQ and parking topics with a retention that keeps what waits there)")
	t.Topics = d.Topics
	fs.value(intValue[int32]{&t.Topics.Partitions}, "partitions", "partitions of created topics (a created DLQ takes the input topic's count)")
	fs.value(intValue[int16]{&t.Topics.ReplicationFactor}, "replication-factor", "replication factor of created topics (use 3 on a real cluster)")

	e := &t.Enrich.Client
	fs.str(&t.Enrich.When, "enrich-when", "", `enrichment rule over the record's top-level fields, e.g. 'category == "X"' (empty: enrich nothing)`)
	fs.str(&e.URL, "enrich-url", "", "enrichment API URL; {field} placeholders are replaced by record fields")
	fs.str(&e.Method, "enrich-method", d.Enrich.Client.Method, "HTTP method; POST/PUT/PATCH send the record as the body")
	fs.str(&t.Pipeline.EnrichField, "enrich-field", d.Pipeline.EnrichField, "output field that holds the API's answer")
	fs.duration(&e.Timeout, "enrich-timeout", d.Enrich.Client.Timeout, "timeout of one API request")
	fs.integer(&e.Concurrency, "enrich-concurrency", d.Enrich.Client.Concurrency, "API requests in flight at most (also the idle connections kept)")
	fs.integer(&e.Retries, "enrich-retries", d.Enrich.Client.Retries, "in-line retries of a transient failure before the record goes to the DLQ")
	fs.value(listValue{&c.enrichHeaders}, "enrich-header", `extra request headers, comma-separated "Name: value" pairs (never logged)`)
	fs.str(&c.enrichHeadersFile, "enrich-headers-file", "", `file of "Name: value" lines, e.g. a mounted Secret holding an Authorization header`)
	e.BreakerFailures = d.Enrich.Client.BreakerFailures
	fs.value(intValue[uint32]{&e.BreakerFailures}, "breaker-failures", "consecutive transient failures that open the circuit breaker")
	fs.duration(&e.BreakerOpenFor, "breaker-open-for", d.Enrich.Client.BreakerOpenFor, "how long the breaker stays open before a probe request")

	l := &t.Lookup
	fs.str(&l.Table.Topic, "lookup-topic", "", "compacted topic of key → JSON value records: records matching --enrich-when are enriched from it first, without the API (empty: no table)")
	fs.str(&l.Key, "lookup-key", "", `record field holding its key in the table and the cache, or an expression like --enrich-when, e.g. 'region + ":" + user_id'`)
	fs.str(&l.Table.Dir, "lookup-dir", "", "keep the table on disk (LevelDB) in this directory instead of in memory (default: memory)")
	l.Table.MaxBytes = d.Lookup.Table.MaxBytes
	fs.value(byteSize{&l.Table.MaxBytes}, "lookup-max-bytes", "bound of the table in memory (keys and values plus 80 bytes each); keys beyond it are not kept and read as misses")
	fs.str(&t.Pipeline.LookupMiss, "lookup-miss", "", "what a record whose key the table lacks becomes: api (ask the API), retry (around the DLQ: the table may catch up) or pass (written unenriched, _redrive.lookup_miss) (default: api with --enrich-url)")
	fs.duration(&t.Pipeline.CacheTTL, "cache-ttl", 0, "keep each API answer this long for the records with the same --lookup-key, or the same request; 0s: no cache")
	fs.integer(&t.Pipeline.CacheSize, "cache-size", d.Pipeline.CacheSize, "API answers cached at most; the least recently used goes first")

	fs.str(&t.S3.Bucket, "s3-bucket", "", "output bucket (credentials from the AWS default chain: env, IRSA, instance role)")
	fs.str(&t.Sink.Prefix, "s3-prefix", "", "object key prefix")
	fs.str(&t.S3.Client.Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (empty: AWS)")
	fs.str(&t.S3.Client.Region, "s3-region", d.S3.Client.Region, "S3 region")
	fs.boolean(&t.S3.Client.PathStyle, "s3-path-style", "address buckets by path (most S3-compatible servers need it)")
	fs.str(&t.S3.Encryption.SSE, "s3-sse", "", "server-side encryption each upload asks for: AES256, aws:kms or aws:kms:dsse, as a bucket policy may require (empty: the bucket's default)")
	fs.str(&t.S3.Encryption.KMSKeyID, "s3-sse-kms-key-id", "", "KMS key (ID or ARN) for --s3-sse aws:kms (empty: the account's default key for S3)")
	fs.str(&t.OutputDir, "output-dir", "", "write batches to this local directory instead of S3")
	fs.integer(&t.Sink.MaxRecords, "batch-max-records", d.Sink.MaxRecords, "seal an S3 batch at this many records")
	t.Sink.MaxBytes = d.Sink.MaxBytes
	fs.value(byteSize{&t.Sink.MaxBytes}, "batch-max-bytes", "seal an S3 batch at this many uncompressed bytes")
	fs.duration(&t.Sink.MaxAge, "batch-max-age", d.Sink.MaxAge, "seal an S3 batch this long after its first record")
	fs.str(&t.Sink.Format, "format", d.Sink.Format, "object format: jsonl (JSON Lines) or parquet (columns from --parquet-schema)")
	fs.str(&t.ParquetSchema, "parquet-schema", "", "YAML file of the Parquet columns: name, type (string, int64, double, boolean, timestamp, json), required (see the README); needs --format parquet")
	fs.value(byteSize{&t.Sink.RowGroupBytes}, "parquet-row-group-bytes", "start a new Parquet row group after this many input bytes (0: one row group per object, what engines read fastest)")
	fs.str(&t.Sink.Compression, "compression", "", "compression: gzip, zstd (.jsonl.zst, less CPU) or none for jsonl (default gzip); snappy, zstd, gzip or none inside parquet (default snappy)")
	fs.integer(&t.Sink.GzipLevel, "gzip-level", d.Sink.GzipLevel, "gzip level from 1 (fastest) to 9 (smallest objects)")
	fs.str(&t.Pipeline.PartitionTime, "partition-time", d.Pipeline.PartitionTime, "time that names dt=/hr= in object keys: record (Kafka timestamp), field:NAME (top-level field, RFC 3339 or epoch s/ms) or processing (when the batch opened)")
	fs.str(&t.Sink.PartitionLayout, "partition-layout", d.Sink.PartitionLayout, "object folders: hourly (dt=/hr=) or daily (dt= only)")

	r := &t.Pipeline.Retry
	fs.duration(&r.Base, "retry-base", d.Pipeline.Retry.Base, "DLQ backoff before the second attempt; it doubles each attempt, with jitter")
	fs.duration(&r.MaxDelay, "retry-max-delay", d.Pipeline.Retry.MaxDelay, "cap of the DLQ backoff")
	fs.integer(&r.MaxAttempts, "max-attempts", d.Pipeline.Retry.MaxAttempts, "failed attempts after which a record is parked")
	fs.duration(&r.MaxAge, "max-age", d.Pipeline.Retry.MaxAge, "time since the first failure after which a record is parked")

	fs.integer(&t.Pipeline.MaxPending, "max-pending", d.Pipeline.MaxPending, "records per partition in enrichment or awaiting upload before fetching pauses; a full window uploads its open batches at once")
	t.Pipeline.MaxPendingBytes = d.Pipeline.MaxPendingBytes
	fs.value(byteSize{&t.Pipeline.MaxPendingBytes}, "max-pending-bytes", "bytes of records per partition in enrichment or awaiting upload before fetching pauses")
	t.Pipeline.MaxPendingBytesTotal = d.Pipeline.MaxPendingBytesTotal
	fs.value(byteSize{&t.Pipeline.MaxPendingBytesTotal}, "max-pending-bytes-total", "the same bytes for the whole process, shared by the partitions it owns: this bounds its memory")
	fs.integer(&t.Pipeline.MaxWaiting, "max-waiting", d.Pipeline.MaxWaiting, "not-yet-due DLQ records held per partition before that DLQ partition pauses")
	t.Pipeline.MaxRecordBytes = d.Pipeline.MaxRecordBytes
	fs.value(byteSize{&t.Pipeline.MaxRecordBytes}, "max-record-bytes", "records larger than this are parked")
	fs.str(&t.Pipeline.Tombstones, "tombstones", d.Pipeline.Tombstones, "what an input record with a null value (a delete on a compacted or CDC topic) becomes: park (class tombstone) or skip (counted, written nowhere)")

	t.Pipeline.FetchBytes = d.Pipeline.FetchBytes
	fs.value(byteSize{&t.Pipeline.FetchBytes}, "fetch-bytes", "bytes fetched per partition at once; bounds how far a paused partition overshoots its window")
	fs.duration(&t.Pipeline.SessionTimeout, "session-timeout", d.Pipeline.SessionTimeout, "consumer-group session timeout: a member silent for this long leaves the group (brokers accept 6s to 30m)")
	fs.duration(&t.Pipeline.HeartbeatInterval, "heartbeat-interval", d.Pipeline.HeartbeatInterval, "consumer-group heartbeat interval, at most a third of --session-timeout")
	fs.duration(&t.Pipeline.RebalanceTimeout, "rebalance-timeout", d.Pipeline.RebalanceTimeout, "how long a rebalance waits for members to rejoin; a join may wait this long (must exceed the revoke flush, 2/3 of --shutdown-grace at most 30s)")
	fs.duration(&t.Pipeline.CommitInterval, "commit-interval", d.Pipeline.CommitInterval, "how often durable offsets are committed; a crash re-reads at most this long's worth")
	fs.str(&t.HTTPAddr, "http-addr", d.HTTPAddr, `address of /metrics, /healthz and /readyz ("off" to disable)`)
	fs.duration(&t.ShutdownGrace, "shutdown-grace", d.ShutdownGrace, "time allowed for a graceful stop on SIGTERM")
	bindLogFlags(fs, &c.log, "json")
}

// runDefaults is a topology with every default filled in, so that --help
// shows the values the packages really use.
func runDefaults() redrive.Topology {
	var d redrive.Topology
	d.SetDefaults()
	return d
}

// finish turns parsed flags into a validated topology.
func (c *runConfig) finish() (redrive.Topology, error) {
	t := c.topo
	defaultTopicNames(&t.Pipeline)
	if err := c.kafka.finish(&t.Kafka); err != nil {
		return t, err
	}
	headers, err := parseHeaders(c.enrichHeaders, c.enrichHeadersFile)
	if err != nil {
		return t, err
	}
	t.Enrich.Client.Headers = headers
	if t.Enrich.When == "" && t.Enrich.Client.URL != "" {
		return t, fmt.Errorf("enrich-url is set but enrich-when is empty: no record would be enriched (use enrich-when 'true' to enrich all)")
	}
	if t.Enrich.When != "" && t.Enrich.Client.URL == "" && t.Lookup.Table.Topic == "" {
		return t, fmt.Errorf("enrich-url: required with enrich-when (or --lookup-topic with --lookup-miss retry or pass)")
	}
	if _, err := c.log.logger(io.Discard); err != nil {
		return t, err
	}
	t.SetDefaults()
	if err := t.Validate(); err != nil {
		return t, err
	}
	if err := checkTLSFlags(t.Kafka); err != nil {
		return t, err
	}
	return t, nil
}

// parseHeaders reads "Name: value" pairs from the flag and the file.
func parseHeaders(pairs []string, file string) (map[string]string, error) {
	var lines []string
	lines = append(lines, pairs...)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("enrich-headers-file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("enrich-headers-file: %w", err)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	h := map[string]string{}
	for i, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(name) == "" {
			// Never echo the line: it may hold a credential.
			return nil, fmt.Errorf("enrich-header: entry %d is not \"Name: value\"", i+1)
		}
		h[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	return h, nil
}

// startOffsetValue accepts oldest or newest, and Kafka's own words for
// them, earliest and latest (auto.offset.reset), which people type first.
type startOffsetValue pipeline.StartOffset

func (v *startOffsetValue) String() string { return string(*v) }
func (v *startOffsetValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case string(pipeline.StartOldest), "earliest":
		*v = startOffsetValue(pipeline.StartOldest)
	case string(pipeline.StartNewest), "latest":
		*v = startOffsetValue(pipeline.StartNewest)
	default:
		return fmt.Errorf("%q is not oldest (earliest) or newest (latest)", s)
	}
	return nil
}

// writeEffective writes the effective configuration of `redrive run`.
func (c *runConfig) writeEffective(fs flagSet, w io.Writer) error {
	p := c.topo.Pipeline
	defaultTopicNames(&p)
	return writeEffectiveConfig(w, fs.FlagSet, map[string]bool{"config": true, "print-config": true},
		map[string]string{"dlq-topic": p.DLQTopic, "parking-topic": p.ParkingTopic})
}

// parseRunArgs parses `redrive run` arguments (and REDRIVE_* env vars) into
// a validated topology exactly as the binary does. The Helm chart's tests
// use it to prove that every rendered flag is one the binary knows.
func parseRunArgs(args []string) (redrive.Topology, error) {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	cmd := &ff.Command{Name: "run", Flags: fs.FlagSet}
	if err := cmd.Parse(args, parseOptions()...); err != nil {
		return redrive.Topology{}, err
	}
	return c.finish()
}
