// Package redrive moves events from Kafka to S3, enriching the records that
// match a rule through an HTTP API, and retries failures through a circular
// dead-letter topic without losing a record.
//
// A Topology is plain data: build one (the redrive binary fills it from
// flags), Validate it, and Run it. The subpackages do the work: pipeline (the
// goka processor), enrich (the API client), sinks (S3 batches) and dlq (retry
// bookkeeping, schema (the Parquet columns); they never import this
// package.
package redrive

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

// Topology is one redrive deployment.
type Topology struct {
	// Kafka says how to reach the cluster.
	Kafka pipeline.Kafka
	// Pipeline names the group and topics and sizes the windows.
	Pipeline pipeline.Config
	// Topics says whether and how missing topics are created.
	Topics pipeline.Topics
	// StartOffset is where a group with no committed offsets starts:
	// "oldest" (default) or "newest".
	StartOffset pipeline.StartOffset
	// Enrich is the enrichment rule and API; an empty rule enriches nothing.
	Enrich Enrichment
	// Lookup is the table kept in Kafka that records matching the rule are
	// looked up in before the API; a zero Lookup has none. What a miss
	// becomes is Pipeline.LookupMiss; the cache of API answers is
	// Pipeline.CacheTTL and CacheSize.
	Lookup Lookup
	// Sink sizes and names the output batches and chooses their format.
	// Its Schema is set from ParquetSchema; leave it nil.
	Sink sinks.Config
	// ParquetSchema is the file of the Parquet output's columns (the
	// schema package documents it); required with Sink.Format "parquet",
	// refused with "jsonl".
	ParquetSchema string
	// S3 is the output bucket. Exactly one of S3.Bucket and OutputDir is set.
	S3 S3
	// OutputDir writes batches to a local directory instead of S3 (demo,
	// tests). Exactly one of S3.Bucket and OutputDir is set.
	OutputDir string
	// HTTPAddr serves /metrics, /healthz and /readyz. Default ":9090";
	// "off" disables the server.
	HTTPAddr string
	// ShutdownGrace bounds a graceful stop: stop fetching, hand off or finish
	// in-flight work, flush S3 batches, commit. Default 30s.
	ShutdownGrace time.Duration
}

// Enrichment selects the records to enrich and says how.
type Enrichment struct {
	// When is an expression over the record's top-level fields, e.g.
	// `category == "X"`. Empty: no record is enriched.
	When string
	// Client configures the HTTP client; its URL is required when When is set.
	Client enrich.Config
}

// Lookup is the table of known answers and the key records are looked up by.
type Lookup struct {
	// Table is the compacted topic and where its view is kept; an empty
	// Table.Topic means no table.
	Table pipeline.TableConfig
	// Key is a field name or an expression over the record's top-level
	// fields (like Enrich.When) whose value is the record's key in the
	// table, and in the cache of API answers. Required with a table.
	Key string
}

// S3 names the output bucket and how to reach it.
type S3 struct {
	Bucket string
	Client sinks.S3ClientConfig
	// Encryption is the server-side encryption each upload asks for.
	Encryption sinks.Encryption
}

// SetDefaults fills zero fields with their documented defaults.
func (t *Topology) SetDefaults() {
	t.Kafka.SetDefaults()
	t.StartOffset = cmp.Or(t.StartOffset, pipeline.StartOldest)
	t.HTTPAddr = cmp.Or(t.HTTPAddr, ":9090")
	t.ShutdownGrace = cmp.Or(t.ShutdownGrace, 30*time.Second)
	if t.Pipeline.RevokeFlushTimeout == 0 {
		// A revoked partition must be released well within the grace
		// period, and within goka's own 60 s wait.
		t.Pipeline.RevokeFlushTimeout = min(t.ShutdownGrace*2/3, 30*time.Second)
	}
	// Every part gets its defaults, used or not, so that a Topology with
	// defaults is one place to read them from (--help does).
	t.Enrich.Client.SetDefaults()
	t.Pipeline.EnrichWorkers = cmp.Or(t.Pipeline.EnrichWorkers, t.Enrich.Client.Concurrency)
	t.Lookup.Table.SetDefaults()
	if t.Lookup.Table.Topic != "" && t.Pipeline.LookupMiss == "" && t.Enrich.Client.URL != "" {
		t.Pipeline.LookupMiss = pipeline.LookupMissAPI
	}
	t.Pipeline.SetDefaults()
	t.Topics.SetDefaults()
	t.Sink.SetDefaults()
	t.S3.Client.SetDefaults()
}

// Validate reports the first setting that cannot work; the message names
// the flag to fix.
func (t Topology) Validate() error {
	if err := t.Kafka.Validate(); err != nil {
		return err
	}
	if err := t.Pipeline.Validate(); err != nil {
		return err
	}
	switch t.StartOffset {
	case pipeline.StartOldest, pipeline.StartNewest:
	default:
		return fmt.Errorf("start-offset: %q is not oldest or newest", t.StartOffset)
	}
	if t.Topics.Partitions < 0 {
		return fmt.Errorf("partitions: must not be negative, got %d", t.Topics.Partitions)
	}
	if t.Topics.ReplicationFactor < 0 {
		return fmt.Errorf("replication-factor: must not be negative, got %d", t.Topics.ReplicationFactor)
	}
	switch {
	case t.S3.Bucket == "" && t.OutputDir == "":
		return errors.New("s3-bucket: required (or output-dir for a local directory)")
	case t.S3.Bucket != "" && t.OutputDir != "":
		return errors.New("s3-bucket and output-dir: give only one")
	case t.S3.Bucket != "":
		if err := t.S3.Client.Validate(); err != nil {
			return err
		}
		if err := t.S3.Encryption.Validate(); err != nil {
			return err
		}
	}
	sc, err := t.OutputSchema()
	if err != nil {
		return err
	}
	sink := t.Sink
	if sc != nil {
		sink.Schema = sc.Parquet()
	}
	if err := sink.Validate(); err != nil {
		return err
	}
	if t.Enrich.When != "" {
		if _, err := enrich.CompileRule(t.Enrich.When); err != nil {
			return fmt.Errorf("enrich-when: %w", err)
		}
		// With a table whose misses never go to the API, there may be no API.
		if t.Enrich.Client.URL != "" || t.Lookup.Table.Topic == "" {
			if err := t.Enrich.Client.Validate(); err != nil {
				return err
			}
		}
	}
	if err := t.validateLookup(); err != nil {
		return err
	}
	if t.ShutdownGrace < time.Second {
		return fmt.Errorf("shutdown-grace: %s is too short to flush and commit (at least 1s)", t.ShutdownGrace)
	}
	return nil
}

// OutputSchema loads ParquetSchema for the Parquet format; nil for JSON
// Lines. The enrichment column is the file's or a json one, only when
// records are enriched.
func (t Topology) OutputSchema() (*schema.Schema, error) {
	if t.Sink.Format != sinks.FormatParquet {
		if t.ParquetSchema != "" {
			return nil, fmt.Errorf("parquet-schema: %s is only read with --format parquet (the format is %s)", t.ParquetSchema, t.Sink.Format)
		}
		return nil, nil
	}
	if t.ParquetSchema == "" {
		return nil, errors.New("parquet-schema: required with --format parquet: a YAML file of the output's columns")
	}
	enrichField := ""
	if t.Enrich.When != "" {
		enrichField = t.Pipeline.EnrichField
	}
	return schema.Load(t.ParquetSchema, enrichField)
}

// LogValue formats the topology for structured logs with every secret
// redacted (the S3 secret key, the SASL password, the enrichment headers):
// slog's JSON handler would otherwise encode the fields themselves.
func (t Topology) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", t)) }

// validateLookup checks the lookup table, its key, the miss mode and the
// cache against each other and the enrichment settings.
func (t Topology) validateLookup() error {
	l, miss, api := t.Lookup, t.Pipeline.LookupMiss, t.Enrich.Client.URL != ""
	if l.Key != "" {
		if _, err := enrich.CompileKey(l.Key); err != nil {
			return fmt.Errorf("lookup-key: %w", err)
		}
	}
	if t.Pipeline.CacheTTL > 0 && !api {
		return errors.New("cache-ttl: needs --enrich-url (it caches the API's answers)")
	}
	if l.Table.Topic == "" {
		switch {
		case l.Table.Dir != "":
			return errors.New("lookup-dir: needs --lookup-topic")
		case miss != "":
			return errors.New("lookup-miss: needs --lookup-topic")
		case l.Key != "" && t.Pipeline.CacheTTL == 0:
			return errors.New("lookup-key: needs --lookup-topic or --cache-ttl")
		}
		return nil
	}
	switch p := t.Pipeline; {
	case t.Enrich.When == "":
		return errors.New("lookup-topic: needs --enrich-when (the rule picks the records to look up; 'true' for all)")
	case l.Key == "":
		return errors.New("lookup-key: required with --lookup-topic (the record's field, or an expression, holding its key in the table)")
	case l.Table.Topic == p.InputTopic || l.Table.Topic == p.DLQTopic || l.Table.Topic == p.ParkingTopic:
		return fmt.Errorf("lookup-topic: %q is also the input, DLQ or parking topic", l.Table.Topic)
	case miss == "":
		return errors.New("lookup-miss: required without --enrich-url: retry or pass")
	case miss == pipeline.LookupMissAPI && !api:
		return errors.New("lookup-miss: api needs --enrich-url")
	}
	return t.Lookup.Table.Validate()
}
