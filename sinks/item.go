package sinks

import (
	"errors"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Item is one output record (a line or a row) and the input coordinates it
// came from.
type Item struct {
	// Topic is the input topic the record was read from (the main topic or the DLQ topic).
	Topic string
	// Partition is the input partition the record was read from.
	Partition int32
	// Offset is the record's input offset.
	Offset int64
	// Time is the record's partition time: its bucket (the hour, or the day
	// with PartitionLayout "daily") names the object's dt=/hr= folders, and a
	// batch holds lines of one bucket only. Zero means processing time: the
	// line joins the open batch of its topic-partition whatever its bucket,
	// and a new batch is dated by the sink's clock, as before event-time
	// partitioning.
	Time time.Time
	// Line is one JSON object without a trailing newline (the sink adds
	// '\n'), for Format "jsonl"; when Tail is set, the object is Line
	// followed by Tail, so that a caller can splice fields into a record
	// without copying it whole first. The sink copies both before Add
	// returns: the caller may reuse their buffers then.
	Line, Tail []byte
	// Row is the record as a row of Config.Schema, for Format "parquet"
	// (schema.Schema.Row builds it). The sink owns it, and the bytes its
	// values alias, after Add: it copies them into its column buffers within
	// a few hundred rows.
	Row parquet.Row
	// Done is called exactly once: with nil once the batch holding the line is
	// durable, with a non-nil error when the sink gave up on it. It is called from
	// the sink's goroutines and must not block long. It may be nil.
	Done func(err error)
}

// ErrGaveUp is wrapped by the error passed to Item.Done (and returned by
// FlushPartition and Close) when a batch's context ended before its upload succeeded.
var ErrGaveUp = errors.New("sinks: gave up before the batch was durable")

// ErrClosed is passed to Item.Done for items added after Close began, and returned
// by a second Close.
var ErrClosed = errors.New("sinks: batcher closed")
