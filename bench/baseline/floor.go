package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// floorStream is the work pass-through cannot avoid for one partition:
// validate each value as a JSON object and compress it, with a newline,
// into one stream whose output is counted and discarded.
type floorStream struct {
	w   io.WriteCloser
	out countingDiscard
}

func newFloorStream(kind string, level int) (*floorStream, error) {
	f := &floorStream{}
	var err error
	switch kind {
	case "zstd":
		// redrive's sink: zstd.SpeedFastest, one encoder goroutine.
		f.w, err = zstd.NewWriter(&f.out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	default:
		f.w, err = gzip.NewWriterLevel(&f.out, level)
	}
	return f, err
}

// add reports whether value is a JSON object; only objects are compressed.
func (f *floorStream) add(value []byte) bool {
	v := bytes.TrimSpace(value)
	if len(v) == 0 || v[0] != '{' || !json.Valid(v) {
		return false
	}
	_, _ = f.w.Write(v)
	_, _ = f.w.Write([]byte{'\n'})
	return true
}

// close ends the stream and returns the compressed bytes it produced.
func (f *floorStream) close() int64 {
	_ = f.w.Close()
	return int64(f.out)
}

type countingDiscard int64

func (c *countingDiscard) Write(p []byte) (int, error) {
	*c += countingDiscard(len(p))
	return len(p), nil
}
