package sinks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
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
)

// topicPartition names an input topic-partition; batches never mix two of them.
type topicPartition struct {
	topic     string
	partition int32
}

// openBatch accumulates the lines of one topic-partition until it is sealed.
//
// Lines are compressed as they are appended (one gzip stream per open batch) rather
// than at seal time: an open batch then holds its compressed bytes plus the
// compressor's state (about 0.5-0.8 MiB) instead of up to MaxBytes of raw text, and a
// sealed batch holds compressed bytes only. The compressors are pooled, so sealing
// does not allocate a new one for the next batch.
type openBatch struct {
	buf bytes.Buffer
	zw  compressor // nil when Compression is "none"
	// stage gathers lines for zw, which is fed stageBytes at a time: one
	// compressor call per record (two with the newline) cost more than
	// the copy into stage. Pooled with zw.
	stage    []byte
	records  int
	rawBytes int // uncompressed bytes appended, newlines included
	minOff   int64
	maxOff   int64
	first    time.Time // clock time of the first line; MaxAge counts from it
	at       time.Time // start of the time bucket that names the object key
	event    bool      // at was set by the lines' own time (Item.Time), not the clock
	dones    []func(error)
	err      error // sticky: a failed write fails the whole batch at seal
}

// add appends one line and its newline. Writes go to a bytes.Buffer, which cannot
// fail, so err stays nil in practice; it is kept so that an impossible error still
// reaches every Done instead of being dropped.
func (ob *openBatch) add(line []byte, offset int64, done func(error)) {
	if ob.records == 0 || offset < ob.minOff {
		ob.minOff = offset
	}
	if ob.records == 0 || offset > ob.maxOff {
		ob.maxOff = offset
	}
	ob.records++
	ob.rawBytes += len(line) + 1
	ob.dones = append(ob.dones, done)
	if ob.err != nil {
		return
	}
	if ob.zw == nil {
		ob.buf.Write(line)
		ob.buf.WriteByte('\n')
		return
	}
	ob.stage = append(ob.stage, line...)
	ob.stage = append(ob.stage, '\n')
	if len(ob.stage) >= stageBytes {
		ob.flushStage()
	}
}

// stageBytes is how much of the raw text the compressor is fed at once.
const stageBytes = 64 << 10

// flushStage hands the staged lines to the compressor.
func (ob *openBatch) flushStage() {
	if len(ob.stage) == 0 || ob.err != nil {
		return
	}
	if _, err := ob.zw.Write(ob.stage); err != nil {
		ob.err = fmt.Errorf("sinks: compress lines up to offset %d: %w", ob.maxOff, err)
	}
	ob.stage = ob.stage[:0]
}

// sealedBatch is a closed batch waiting for, or in, its upload.
type sealedBatch struct {
	tp          topicPartition
	key         string
	contentType string
	records     int
	body        []byte        // compressed object body; dropped when finished
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

// compressor is one compressed stream: *gzip.Writer or *zstd.Encoder.
type compressor interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// pooledCompressor is what the pool keeps between batches: a compressor
// and its staging buffer.
type pooledCompressor struct {
	zw    compressor
	stage []byte
}

// compressors pools the compressors of one Batcher between batches.
type compressors struct {
	pool  sync.Pool
	kind  string // CompressionGzip or CompressionZstd
	level int    // gzip level
}

func (c *compressors) get(w *bytes.Buffer) (compressor, []byte) {
	if pc, ok := c.pool.Get().(*pooledCompressor); ok {
		pc.zw.Reset(w)
		return pc.zw, pc.stage[:0]
	}
	var zw compressor
	var err error
	if c.kind == CompressionZstd {
		// The fastest level, one goroutine per stream (a partition's batch
		// is written by one goroutine at a time, and the process has many
		// partitions), and the smaller window state: an open batch holds
		// its encoder for up to MaxAge.
		zw, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	} else {
		zw, err = gzip.NewWriterLevel(w, c.level)
	}
	if err != nil {
		panic(err) // the level was validated by Config.Validate
	}
	return zw, make([]byte, 0, stageBytes+4<<10)
}

func (c *compressors) put(zw compressor, stage []byte) {
	c.pool.Put(&pooledCompressor{zw: zw, stage: stage})
}
