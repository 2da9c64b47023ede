package sinks

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// jsonlEncoder writes a batch as JSON Lines, compressed as the lines arrive
// (one stream per open batch) rather than at seal time: an open batch then
// holds its compressed bytes plus the compressor's state (about 0.5-0.8
// MiB) instead of up to MaxBytes of raw text, and a sealed batch holds
// compressed bytes only.
type jsonlEncoder struct {
	buf *bytes.Buffer
	zw  compressor // nil when Compression is "none"
	// stage gathers lines for zw, which is fed stageBytes at a time: one
	// compressor call per record (two with the newline) cost more than
	// the copy into stage. Pooled with zw.
	stage []byte
	pool  *compressors
}

// stageBytes is how much of the raw text the compressor is fed at once.
const stageBytes = 64 << 10

// add appends the item's line and a newline.
func (e *jsonlEncoder) add(it Item, _ int) error {
	if e.zw == nil {
		e.buf.Write(it.Line)
		e.buf.Write(it.Tail)
		e.buf.WriteByte('\n')
		return nil
	}
	e.stage = append(e.stage, it.Line...)
	e.stage = append(e.stage, it.Tail...)
	e.stage = append(e.stage, '\n')
	if len(e.stage) >= stageBytes {
		return e.flushStage()
	}
	return nil
}

// flushStage hands the staged lines to the compressor.
func (e *jsonlEncoder) flushStage() error {
	if len(e.stage) == 0 {
		return nil
	}
	_, err := e.zw.Write(e.stage)
	e.stage = e.stage[:0]
	return err
}

// finish ends the compressed stream and returns the compressor to its pool.
func (e *jsonlEncoder) finish() error {
	if e.zw == nil {
		return nil
	}
	err := e.flushStage()
	if cerr := e.zw.Close(); err == nil {
		err = cerr
	}
	e.pool.put(e.zw, e.stage)
	e.zw, e.stage = nil, nil
	return err
}

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

// compressors pools the compressors of one Batcher between batches, so that
// sealing does not allocate a new one for the next batch.
type compressors struct {
	pool  sync.Pool
	kind  string // CompressionGzip or CompressionZstd
	level int    // gzip level
}

// encoder returns a JSON Lines encoder writing to w.
func (c *compressors) encoder(w *bytes.Buffer) encoder {
	e := &jsonlEncoder{buf: w, pool: c}
	if c.kind == CompressionNone {
		return e
	}
	if pc, ok := c.pool.Get().(*pooledCompressor); ok {
		pc.zw.Reset(w)
		e.zw, e.stage = pc.zw, pc.stage[:0]
		return e
	}
	var err error
	if c.kind == CompressionZstd {
		// The fastest level, one goroutine per stream (a partition's batch
		// is written by one goroutine at a time, and the process has many
		// partitions), and the smaller window state: an open batch holds
		// its encoder for up to MaxAge.
		e.zw, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	} else {
		e.zw, err = gzip.NewWriterLevel(w, c.level)
	}
	if err != nil {
		panic(fmt.Sprintf("sinks: %s compressor: %v", c.kind, err)) // the level was validated by Config.Validate
	}
	e.stage = make([]byte, 0, stageBytes+4<<10)
	return e
}

func (c *compressors) put(zw compressor, stage []byte) {
	c.pool.Put(&pooledCompressor{zw: zw, stage: stage})
}
