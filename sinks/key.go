package sinks

import (
	"strconv"
	"strings"
	"time"
)

// objectKey builds the object key documented in the package doc.
func objectKey(prefix, topic string, partition int32, first, last int64, at time.Time, compression string) string {
	at = at.UTC()
	var sb strings.Builder
	if p := strings.Trim(prefix, "/"); p != "" {
		sb.WriteString(p)
		sb.WriteByte('/')
	}
	sb.WriteString(at.Format("dt=2006-01-02/hr=15/"))
	sb.WriteString(topic)
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(int64(partition), 10))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(first, 10))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatInt(last, 10))
	sb.WriteString(".jsonl")
	switch compression {
	case CompressionGzip:
		sb.WriteString(".gz")
	case CompressionZstd:
		sb.WriteString(".zst")
	}
	return sb.String()
}
