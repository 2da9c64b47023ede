package sinks

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Formats accepted by Config.Format.
const (
	FormatJSONL   = "jsonl"
	FormatParquet = "parquet"
)

// Compression values accepted by Config.Compression. Snappy is for Parquet
// only, where it is the usual codec.
const (
	CompressionGzip   = "gzip"
	CompressionZstd   = "zstd"
	CompressionSnappy = "snappy"
	CompressionNone   = "none"
)

// maxBatchBytes bounds Config.MaxBytes: a batch is held in memory and uploaded with a
// single PutObject (limit 5 GiB), so anything near that is a configuration mistake.
const maxBatchBytes = 1 << 30

// Config is the declarative configuration of a Batcher.
type Config struct {
	// Prefix is prepended to every object key; leading and trailing slashes are
	// ignored. Default "" (keys then start at "dt=").
	Prefix string
	// MaxRecords seals a batch when it holds this many lines. Default 10000.
	MaxRecords int
	// MaxBytes seals a batch before it would exceed this many uncompressed bytes
	// (lines plus their newlines); a single longer line makes a batch of its own.
	// Default 8 MiB, at most 1 GiB.
	MaxBytes int
	// MaxAge seals a batch this long after its first line. Default 30s.
	MaxAge time.Duration
	// Format is "jsonl" (JSON Lines, Item.Line) or "parquet" (one Parquet
	// file per batch, Item.Row, in Schema). Default "jsonl".
	Format string
	// Schema is the Parquet schema of the rows; required with Format
	// "parquet" (schema.Schema.Parquet builds it from --parquet-schema).
	Schema *parquet.Schema `json:"-"`
	// RowGroupBytes, with Format "parquet", starts a new row group each
	// time this many input bytes were written to the current one. Default
	// 0: one row group per batch, which engines read fastest; a smaller
	// value bounds the columns held in memory per open batch.
	RowGroupBytes int
	// Compression is "gzip", "zstd" or "none" for JSON Lines (default
	// "gzip"), and "snappy", "zstd", "gzip" or "none" for Parquet (default
	// "snappy"). zstd (klauspost/compress at its fastest level, objects
	// named .jsonl.zst) costs less CPU than gzip level 1 for smaller
	// objects; gzip is read by every tool, zstd by Athena, Trino, Spark
	// and DuckDB.
	Compression string
	// GzipLevel trades CPU for object size, from 1 (fastest) to 9
	// (smallest). Default 1: it compresses about twice as fast as level 5
	// (measured with BenchmarkAdd) and compression was the pipeline's
	// largest CPU cost.
	GzipLevel int
	// UploadTimeout bounds one upload attempt. Default 60s.
	UploadTimeout time.Duration
	// RetryInitial is the first wait between upload attempts (exponential backoff
	// with jitter). Default 500ms.
	RetryInitial time.Duration
	// RetryMax caps the wait between upload attempts. Default 30s.
	RetryMax time.Duration
	// PartitionLayout is "hourly" (dt=/hr= folders) or "daily" (dt= only):
	// the width of the time buckets that name objects and split batches.
	// Default "hourly".
	PartitionLayout string
	// MaxOpenBuckets bounds the batches open at once per topic-partition, one
	// per time bucket: when a line of yet another bucket arrives, the batch
	// opened first is sealed. Default 2: with record timestamps a
	// partition's times rise, and two buckets cover the records that
	// straddle an hour's end without a small object each time they
	// alternate; times spread wider (a field of late events) make smaller
	// objects rather than more open batches. Each open batch holds a
	// compressor (about 0.5-0.8 MiB).
	MaxOpenBuckets int
	// MaxUploads bounds the uploads in flight at once across all partitions; sealed
	// batches wait for a slot. Default 4.
	MaxUploads int
}

// SetDefaults fills every zero field with its documented default.
func (c *Config) SetDefaults() {
	c.MaxRecords = cmp.Or(c.MaxRecords, 10000)
	c.MaxBytes = cmp.Or(c.MaxBytes, 8<<20)
	c.MaxAge = cmp.Or(c.MaxAge, 30*time.Second)
	c.Format = cmp.Or(c.Format, FormatJSONL)
	if c.Compression == "" {
		c.Compression = CompressionGzip
		if c.Format == FormatParquet {
			c.Compression = CompressionSnappy
		}
	}
	c.GzipLevel = cmp.Or(c.GzipLevel, 1)
	c.UploadTimeout = cmp.Or(c.UploadTimeout, 60*time.Second)
	c.RetryInitial = cmp.Or(c.RetryInitial, 500*time.Millisecond)
	c.RetryMax = cmp.Or(c.RetryMax, 30*time.Second)
	c.MaxUploads = cmp.Or(c.MaxUploads, 4)
	c.MaxOpenBuckets = cmp.Or(c.MaxOpenBuckets, 2)
	c.PartitionLayout = cmp.Or(c.PartitionLayout, LayoutHourly)
}

// Validate reports every invalid field; each error begins with the name of
// the redrive flag that sets it, or Config.Field for a field no flag sets.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %d", name, v))
		}
	}
	positive("batch-max-records", int64(c.MaxRecords))
	positive("batch-max-bytes", int64(c.MaxBytes))
	positive("sinks.Config.MaxUploads", int64(c.MaxUploads))
	positive("sinks.Config.MaxOpenBuckets", int64(c.MaxOpenBuckets))
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"batch-max-age", c.MaxAge}, {"sinks.Config.UploadTimeout", c.UploadTimeout}, {"sinks.Config.RetryInitial", c.RetryInitial}, {"sinks.Config.RetryMax", c.RetryMax}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.name, d.v))
		}
	}
	if c.MaxBytes > maxBatchBytes {
		errs = append(errs, fmt.Errorf("batch-max-bytes: must be at most %d (1 GiB), got %d", maxBatchBytes, c.MaxBytes))
	}
	if c.RetryInitial > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("sinks.Config.RetryMax: %s must be at least RetryInitial (%s)", c.RetryMax, c.RetryInitial))
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		errs = append(errs, fmt.Errorf("gzip-level: must be 1 to 9, got %d", c.GzipLevel))
	}
	switch c.Format {
	case FormatJSONL:
		if c.Compression != CompressionGzip && c.Compression != CompressionZstd && c.Compression != CompressionNone {
			errs = append(errs, fmt.Errorf("compression: must be %q, %q or %q for --format jsonl, got %q", CompressionGzip, CompressionZstd, CompressionNone, c.Compression))
		}
	case FormatParquet:
		if c.Compression != CompressionSnappy && c.Compression != CompressionZstd && c.Compression != CompressionGzip && c.Compression != CompressionNone {
			errs = append(errs, fmt.Errorf("compression: must be %q, %q, %q or %q for --format parquet, got %q", CompressionSnappy, CompressionZstd, CompressionGzip, CompressionNone, c.Compression))
		}
		if c.Schema == nil {
			errs = append(errs, errors.New("parquet-schema: required with --format parquet: a file of the output's columns"))
		}
	default:
		errs = append(errs, fmt.Errorf("format: must be %q or %q, got %q", FormatJSONL, FormatParquet, c.Format))
	}
	if c.RowGroupBytes < 0 {
		errs = append(errs, fmt.Errorf("parquet-row-group-bytes: must not be negative, got %d", c.RowGroupBytes))
	}
	if c.PartitionLayout != LayoutHourly && c.PartitionLayout != LayoutDaily {
		errs = append(errs, fmt.Errorf("partition-layout: must be %q or %q, got %q", LayoutHourly, LayoutDaily, c.PartitionLayout))
	}
	return errors.Join(errs...)
}
