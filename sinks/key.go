package sinks

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// objectKey builds the object key documented in the package doc, ending
// in suffix. With layout "daily" the key has no hr= folder.
func objectKey(prefix, topic string, partition int32, first, last int64, at time.Time, layout, suffix string) string {
	at = at.UTC()
	var sb strings.Builder
	if p := strings.Trim(prefix, "/"); p != "" {
		sb.WriteString(p)
		sb.WriteByte('/')
	}
	if layout == LayoutDaily {
		sb.WriteString(at.Format("dt=2006-01-02/"))
	} else {
		sb.WriteString(at.Format("dt=2006-01-02/hr=15/"))
	}
	sb.WriteString(topic)
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(int64(partition), 10))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(first, 10))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(last, 10))
	sb.WriteString(suffix)
	return sb.String()
}

// suffix is the file name suffix of cfg's objects: .parquet (compressed
// inside, column by column), or .jsonl with .gz or .zst when compressed.
func suffix(cfg Config) string {
	switch {
	case cfg.Format == FormatParquet:
		return ".parquet"
	case cfg.Compression == CompressionGzip:
		return ".jsonl.gz"
	case cfg.Compression == CompressionZstd:
		return ".jsonl.zst"
	}
	return ".jsonl"
}

// KeyRange is what an object key says about its batch: the input
// topic-partition and the first and last offsets in it, so that a replayed
// or re-written batch is recognisable by its key alone.
type KeyRange struct {
	Topic       string
	Partition   int32
	First, Last int64
}

// ParseKey reads a key objectKey built:
// PREFIX/dt=.../hr=../TOPIC-PARTITION-FIRST-LAST.jsonl[.gz|.zst] or .parquet. The topic
// may hold dashes, so the numbers are taken from the end; a key not in this
// layout is refused rather than misread.
func ParseKey(key string) (KeyRange, error) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if b, ok := strings.CutSuffix(base, ".parquet"); ok {
		base = b
	} else {
		base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".zst"), ".jsonl")
	}
	parts := strings.Split(base, "-")
	bad := fmt.Errorf("object key %q: want TOPIC-PARTITION-FIRST-LAST.jsonl[.gz|.zst] or .parquet", key)
	if len(parts) < 4 {
		return KeyRange{}, bad
	}
	n := len(parts)
	p, err1 := strconv.ParseInt(parts[n-3], 10, 32)
	first, err2 := strconv.ParseInt(parts[n-2], 10, 64)
	last, err3 := strconv.ParseInt(parts[n-1], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first > last {
		return KeyRange{}, bad
	}
	return KeyRange{Topic: strings.Join(parts[:n-3], "-"), Partition: int32(p), First: first, Last: last}, nil
}
