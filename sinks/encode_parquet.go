package sinks

import (
	"bytes"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	pqgzip "github.com/parquet-go/parquet-go/compress/gzip"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// parquetEncoder writes a batch as one Parquet file. parquet-go's writer
// holds a row group's columns in memory (encoded, and compressed page by
// page) until it is flushed: one row group per batch by default, or one
// per RowGroupBytes of input.
type parquetEncoder struct {
	w    *parquet.Writer
	rows []parquet.Row // staged for one WriteRows call
	// sinceFlush counts the input bytes (Item sizes) in the row group
	// being built, for RowGroupBytes.
	sinceFlush int
	pool       *parquetWriters
}

// stageRows is how many rows are handed to the writer at once: one call
// per row cost more than the staging.
const stageRows = 256

func (e *parquetEncoder) add(it Item, size int) error {
	e.rows = append(e.rows, it.Row)
	e.sinceFlush += size
	if len(e.rows) >= stageRows {
		if err := e.writeStaged(); err != nil {
			return err
		}
	}
	if limit := e.pool.rowGroupBytes; limit > 0 && e.sinceFlush >= limit {
		if err := e.writeStaged(); err != nil {
			return err
		}
		e.sinceFlush = 0
		return e.w.Flush()
	}
	return nil
}

// writeStaged hands the staged rows to the writer, which copies their
// values, so the rows (and the record bytes they alias) can go.
func (e *parquetEncoder) writeStaged() error {
	if len(e.rows) == 0 {
		return nil
	}
	_, err := e.w.WriteRows(e.rows)
	clear(e.rows)
	e.rows = e.rows[:0]
	return err
}

// finish writes the last row group and the footer, and returns the writer
// to its pool.
func (e *parquetEncoder) finish() error {
	err := e.writeStaged()
	if cerr := e.w.Close(); err == nil {
		err = cerr
	}
	e.pool.put(e)
	return err
}

// parquetWriters pools the Parquet writers of one Batcher between batches:
// a writer keeps its column buffers across Reset.
type parquetWriters struct {
	pool          sync.Pool
	schema        *parquet.Schema
	codec         compress.Codec
	rowGroupBytes int
}

func newParquetWriters(cfg Config) *parquetWriters {
	var codec compress.Codec
	switch cfg.Compression {
	case CompressionSnappy:
		codec = &parquet.Snappy
	case CompressionZstd:
		// The fastest level, as for JSON Lines: compression is the
		// sink's largest CPU cost.
		codec = &pqzstd.Codec{Level: pqzstd.SpeedFastest}
	case CompressionGzip:
		codec = &pqgzip.Codec{Level: cfg.GzipLevel}
	default:
		codec = &parquet.Uncompressed
	}
	return &parquetWriters{schema: cfg.Schema, codec: codec, rowGroupBytes: cfg.RowGroupBytes}
}

// encoder returns a Parquet encoder writing to w.
func (p *parquetWriters) encoder(w *bytes.Buffer) encoder {
	if e, ok := p.pool.Get().(*parquetEncoder); ok {
		e.w.Reset(w)
		e.sinceFlush = 0
		return e
	}
	// created_by stays parquet-go's own: readers (parquet-mr, Spark) key
	// their workarounds for a writer's known bugs on it.
	return &parquetEncoder{
		w:    parquet.NewWriter(w, p.schema, parquet.Compression(p.codec)),
		rows: make([]parquet.Row, 0, stageRows),
		pool: p,
	}
}

func (p *parquetWriters) put(e *parquetEncoder) { p.pool.Put(e) }

// rowSize estimates a row's input size: its byte values and 8 bytes for
// any other value, what MaxBytes and RowGroupBytes count for Parquet.
func rowSize(row parquet.Row) int {
	n := 0
	for _, v := range row {
		if v.Kind() == parquet.ByteArray && !v.IsNull() {
			n += len(v.ByteArray())
		} else {
			n += 8
		}
	}
	return n
}
