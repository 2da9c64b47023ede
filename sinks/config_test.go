package sinks

import (
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults proves SetDefaults fills the documented defaults and keeps
// values that were set.
func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	want := Config{
		MaxRecords: 10000, MaxBytes: 8 << 20, MaxAge: 30 * time.Second, Format: "jsonl", Compression: "gzip", GzipLevel: 1,
		UploadTimeout: 60 * time.Second, RetryInitial: 500 * time.Millisecond, RetryMax: 30 * time.Second,
		MaxUploads: 4, PartitionLayout: "hourly", MaxOpenBuckets: 2,
	}
	if c != want {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	c = Config{MaxRecords: 7, Compression: "none", Prefix: "p/"}
	c.SetDefaults()
	if c.MaxRecords != 7 || c.Compression != "none" || c.Prefix != "p/" {
		t.Fatalf("SetDefaults overwrote set fields: %+v", c)
	}
	c = Config{Format: "parquet"}
	c.SetDefaults()
	if c.Compression != "snappy" {
		t.Fatalf("parquet's default compression = %q, want snappy", c.Compression)
	}
}

// TestConfigValidate proves each invalid field is reported by the name of
// its flag (or Config.Field where no flag sets it), first.
func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"records", func(c *Config) { c.MaxRecords = -1 }, "batch-max-records:"},
		{"bytes", func(c *Config) { c.MaxBytes = -1 }, "batch-max-bytes:"},
		{"bytes too big", func(c *Config) { c.MaxBytes = 2 << 30 }, "batch-max-bytes:"},
		{"age", func(c *Config) { c.MaxAge = -time.Second }, "batch-max-age:"},
		{"compression", func(c *Config) { c.Compression = "lz4" }, "compression:"},
		{"snappy is for parquet", func(c *Config) { c.Compression = "snappy" }, "compression:"},
		{"format", func(c *Config) { c.Format = "csv" }, "format:"},
		{"parquet without schema", func(c *Config) { c.Format = "parquet" }, "parquet-schema:"},
		{"row group bytes", func(c *Config) { c.RowGroupBytes = -1 }, "parquet-row-group-bytes:"},
		{"timeout", func(c *Config) { c.UploadTimeout = -1 }, "sinks.Config.UploadTimeout:"},
		{"retry initial", func(c *Config) { c.RetryInitial = -1 }, "sinks.Config.RetryInitial:"},
		{"retry max", func(c *Config) { c.RetryMax = -1 }, "sinks.Config.RetryMax:"},
		{"retry max below initial", func(c *Config) { c.RetryInitial, c.RetryMax = time.Second, time.Millisecond }, "sinks.Config.RetryMax:"},
		{"uploads", func(c *Config) { c.MaxUploads = -2 }, "sinks.Config.MaxUploads:"},
		{"open buckets", func(c *Config) { c.MaxOpenBuckets = -1 }, "sinks.Config.MaxOpenBuckets:"},
		{"layout", func(c *Config) { c.PartitionLayout = "weekly" }, "partition-layout:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			tc.edit(&c)
			c.SetDefaults()
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
			if _, err := NewBatcher(c, newMemStore()); err == nil {
				t.Fatalf("NewBatcher accepted an invalid %s", tc.field)
			}
		})
	}
}

// TestS3ClientConfigValidate proves the S3 client configuration names bad fields.
func TestS3ClientConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   S3ClientConfig
		field string // "" means valid
	}{
		{"aws defaults", S3ClientConfig{}, ""},
		{"endpoint", S3ClientConfig{Endpoint: "http://127.0.0.1:9000", PathStyle: true}, ""},
		{"relative endpoint", S3ClientConfig{Endpoint: "127.0.0.1:9000"}, "Endpoint"},
		{"key without secret", S3ClientConfig{AccessKeyID: "a"}, "SecretAccessKey"},
		{"secret without key", S3ClientConfig{SecretAccessKey: "s"}, "AccessKeyID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.SetDefaults()
			if c.Region != "us-east-1" && tc.cfg.Region == "" {
				t.Fatalf("Region default = %q, want us-east-1", c.Region)
			}
			err := c.Validate()
			if tc.field == "" && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}
