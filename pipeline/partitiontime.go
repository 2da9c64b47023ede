package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/redrive-io/redrive/schema"
)

// Values of Config.PartitionTime: which time names a record's dt=/hr=
// folders in S3 (sinks.Item.Time).
const (
	// PartitionTimeRecord is the Kafka record's timestamp (the default).
	PartitionTimeRecord = "record"
	// PartitionTimeProcessing is the hour the sink's batch was opened: the
	// behaviour before event-time partitioning.
	PartitionTimeProcessing = "processing"
	// PartitionTimeFieldPrefix starts "field:NAME": a top-level field of the
	// record holding RFC 3339 text or epoch seconds or milliseconds.
	PartitionTimeFieldPrefix = "field:"
)

// Reasons of redrive_event_time_fallbacks_total: why a record was dated
// by another time than the one configured.
const (
	fallbackMissing     = "missing"        // field:NAME absent or null: the record timestamp is used
	fallbackUnparseable = "unparseable"    // field:NAME not a time: the record timestamp is used
	fallbackNoTimestamp = "no_record_time" // no Kafka timestamp either: the clock is used
)

// partitionTimeField is the mode of "field:NAME" once parsed.
const partitionTimeField = "field"

// partitionTime is Config.PartitionTime parsed.
type partitionTime struct {
	mode  string // PartitionTimeRecord, PartitionTimeProcessing or partitionTimeField
	field string // the field's name in "field" mode
}

// parsePartitionTime reads a --partition-time value.
func parsePartitionTime(s string) (partitionTime, error) {
	switch {
	case s == PartitionTimeRecord, s == PartitionTimeProcessing:
		return partitionTime{mode: s}, nil
	case strings.HasPrefix(s, PartitionTimeFieldPrefix):
		name := strings.TrimPrefix(s, PartitionTimeFieldPrefix)
		if name == "" {
			return partitionTime{}, fmt.Errorf("partition-time: %q names no field, want field:NAME", s)
		}
		return partitionTime{mode: partitionTimeField, field: name}, nil
	}
	return partitionTime{}, fmt.Errorf("partition-time: must be %q, %q or field:NAME, got %q", PartitionTimeRecord, PartitionTimeProcessing, s)
}

// stampTime sets rec.partTime by the configured mode. In "field" mode v is
// the field's value as the pickers decode it and present says whether the
// record has the field (picked in the pass that validated the record); they
// are ignored otherwise.
func (p *Processor) stampTime(rec *record, v any, present bool) {
	switch p.ptime.mode {
	case PartitionTimeProcessing:
		return // zero: the sink dates the batch by its clock
	case PartitionTimeRecord:
		rec.partTime = p.recordTime(rec)
		return
	}
	if t, ok := schema.EventTime(v); ok {
		rec.partTime = t
		return
	}
	reason := fallbackUnparseable
	if !present || v == nil {
		reason = fallbackMissing
	}
	p.metrics.timeFallbacks.WithLabelValues(reason).Inc()
	rec.partTime = p.recordTime(rec)
}

// recordTime is the Kafka timestamp of the record where it first arrived
// (a DLQ or replayed copy carries it in its envelope, since its own is the
// time of its copy; a copy written by an older redrive has only its own),
// or the clock when there is none (a broker before 0.10 or a producer that
// sent -1).
func (p *Processor) recordTime(rec *record) time.Time {
	if !rec.env.OriginTime.IsZero() {
		return rec.env.OriginTime
	}
	if rec.ts.Unix() <= 0 {
		p.metrics.timeFallbacks.WithLabelValues(fallbackNoTimestamp).Inc()
		return p.now()
	}
	return rec.ts
}
