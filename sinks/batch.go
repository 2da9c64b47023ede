package sinks

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// Content types of uploaded objects. A gzip object is labelled application/gzip and
// carries no Content-Encoding: with "Content-Encoding: gzip" browsers, curl
// --compressed and several HTTP clients transparently decompress on GET, so a
// downloaded ".jsonl.gz" would silently hold plain text and break tools that trust
// the suffix. Athena, Spark and Hive pick the codec from the ".gz" suffix, as they do
// for Firehose's objects, so the suffix alone speaks for the encoding.
const (
	contentTypeGzip   = "application/gzip"
	contentTypeZstd   = "application/zstd"
	contentTypeNDJSON = "application/x-ndjson"
	// contentTypeParquet is the media type IANA registered for Parquet.
	contentTypeParquet = "application/vnd.apache.parquet"
)

// topicPartition names an input topic-partition; batches never mix two of them.
type topicPartition struct {
	topic     string
	partition int32
}

// encoder writes the object body of one open batch into its buffer as
// items arrive: JSON Lines (jsonlEncoder) or Parquet (parquetEncoder).
// Encoders are pooled by the Batcher, so sealing does not build a new one
// for the next batch.
type encoder interface {
	// add writes one item; size is what it counts against MaxBytes.
	add(it Item, size int) error
	// finish completes the body (the compressed stream's end, the Parquet
	// footer) and returns the encoder's state to its pool.
	finish() error
}

// openBatch accumulates the items of one topic-partition and time bucket
// until it is sealed.
type openBatch struct {
	buf      *bytes.Buffer // from Batcher.bodies
	enc      encoder
	records  int
	rawBytes int // input bytes added (lines with their newlines, or row sizes)
	minOff   int64
	maxOff   int64
	first    time.Time // clock time of the first item; MaxAge counts from it
	at       time.Time // start of the time bucket that names the object key
	event    bool      // at was set by the items' own time (Item.Time), not the clock
	dones    []func(error)
	err      error // sticky: a failed write fails the whole batch at seal
}

// add encodes one item. An encoder writes to a bytes.Buffer, which cannot
// fail, so err stays nil in practice; it is kept so that an impossible
// error still reaches every Done instead of being dropped.
func (ob *openBatch) add(it Item, size int) {
	if ob.records == 0 || it.Offset < ob.minOff {
		ob.minOff = it.Offset
	}
	if ob.records == 0 || it.Offset > ob.maxOff {
		ob.maxOff = it.Offset
	}
	ob.records++
	ob.rawBytes += size
	ob.dones = append(ob.dones, it.Done)
	if ob.err != nil {
		return
	}
	if err := ob.enc.add(it, size); err != nil {
		ob.err = fmt.Errorf("sinks: encode records up to offset %d: %w", ob.maxOff, err)
	}
}

// sealedBatch is a closed batch waiting for, or in, its upload.
type sealedBatch struct {
	tp          topicPartition
	key         string
	contentType string
	records     int
	body        []byte        // compressed object body; dropped when finished
	buf         *bytes.Buffer // holds body; back to Batcher.bodies after a clean upload
	dones       []func(error) // one per line; dropped when finished

	ctx    context.Context // ends when a flush or Close gives up on the batch
	cancel context.CancelCauseFunc

	state batchState // guarded by Batcher.mu
	err   error      // outcome, written before done is closed
	done  chan struct{}
}

// batchState says who owns a sealed batch; exactly one owner finishes it.
type batchState int

const (
	stateQueued    batchState = iota // waiting for an upload slot; a give-up may take it
	stateUploading                   // owned by an upload worker
	stateAbandoned                   // taken from the queue by a give-up, which finishes it
	stateFinished                    // every Done has been called
)
