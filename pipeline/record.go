package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/redrive-io/redrive/dlq"
)

// MetaField is the key of the object redrive adds to every output record.
// Its fields are a public contract: downstream de-duplicates on
// (topic, partition, offset), the coordinates where the record first arrived.
const MetaField = "_redrive"

// Meta is what redrive records about an output record's journey.
type Meta struct {
	Topic        string     `json:"topic"`     // where the record first arrived
	Partition    int32      `json:"partition"` // kept across DLQ hops
	Offset       int64      `json:"offset"`
	Attempt      int        `json:"attempt"`                 // failed enrichment attempts before this output (0: first try, or none needed)
	Enriched     bool       `json:"enriched"`                // the enrichment field holds an answer (of the API, the table or the cache)
	Source       string     `json:"source,omitempty"`        // where the answer came from: table, api or cache; set whenever Enriched
	LookupMiss   bool       `json:"lookup_miss,omitempty"`   // --lookup-miss pass wrote it unenriched: the table lacked its key
	FirstFailure *time.Time `json:"first_failure,omitempty"` // first failed attempt, if any
	ReplayedAt   *time.Time `json:"replayed_at,omitempty"`   // when an operator replayed it from parking, if ever
	ReceivedAt   time.Time  `json:"received_at"`             // when this process read the record
	WrittenAt    time.Time  `json:"written_at"`              // when it was handed to the sink
}

// Reasons a record is parked without being tried. Part of the header contract.
const (
	ClassMalformed = "malformed"       // value is not a JSON object (in UTF-8)
	ClassOversize  = dlq.ClassOversize // value larger than the configured maximum, or parked reduced
	ClassRuleError = "rule_error"      // the enrichment rule failed on this record
	// ClassSchemaMismatch: a field's value is not of its --parquet-schema
	// column's type (or a required field is missing).
	ClassSchemaMismatch = "schema_mismatch"
	ClassBadEnvelope    = "bad_envelope" // a DLQ record whose redrive headers cannot be decoded
	ClassHandoff        = "handoff"      // handed back to the DLQ unchanged when its partition was revoked
	ClassTombstone      = "tombstone"    // a null value: a delete on a compacted or CDC topic (Config.Tombstones)
)

// What becomes of an input record with a null value (Config.Tombstones).
const (
	TombstonesPark = "park"
	TombstonesSkip = "skip"
)

// errTombstone is the cause of a parked tombstone.
var errTombstone = errors.New("the value is null (a tombstone): there is no event to write; --tombstones=skip skips them")

// errNotObject is returned for values that are valid JSON but not objects.
var errNotObject = errors.New("value is not a JSON object")

// decodeFields decodes a record's top-level fields for the rule and URL
// templates.
// DecodeRecord checks value as the pipeline checks an input record (one
// JSON object, in UTF-8) and decodes its top-level fields as the rule sees
// them. The error is the one a parked record's envelope would carry.
func DecodeRecord(value []byte) (map[string]any, error) {
	if err := scanObject(value, nil, nil); err != nil {
		return nil, err
	}
	return decodeFields(value)
}

func decodeFields(value []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(value, &m); err != nil {
		return nil, fmt.Errorf("decoding fields: %w", err)
	}
	return m, nil
}

// lineParts returns the output line of value as two parts, head then tail,
// so that the value's bytes need not be copied to build it: head is the
// value itself up to its closing brace, and tail, appended to dst, is the
// enrichment (if any) under field, the journey under MetaField and the
// closing brace. The sink copies both into its compressed stream, which is
// the only copy of a pass-through value between sarama and the compressor.
//
// A value whose bytes cannot be kept as they are is rebuilt whole in dst
// (with a nil tail): one with a line break, which JSON Lines cannot hold
// (a pretty-printed record is compacted), and one that has a key redrive
// writes already (re-encoded, so that no key appears twice). An answer
// with a line break is compacted too. sh says which of these the value
// is, when the pass that validated it found out (Processor.scan);
// otherwise lineParts searches the value, and over-approximates a key by
// its quoted text anywhere.
func lineParts(dst, value []byte, field string, enrichment json.RawMessage, meta Meta, sh shape) (head, tail []byte, err error) {
	v := bytes.TrimSpace(value)
	if sh&shapeKnown == 0 {
		sh = searchShape(v, field)
	}
	if sh&shapeMetaKey != 0 || (enrichment != nil && sh&shapeFieldKey != 0) {
		metaJSON, err := json.Marshal(meta)
		if err != nil {
			return nil, nil, err
		}
		line, err := reencode(v, field, enrichment, metaJSON)
		return line, nil, err
	}
	if sh&shapeBreak != 0 {
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, v); err != nil {
			return nil, nil, err
		}
		line := buf.Bytes()
		line, err = appendTail(line[:len(line)-1], len(line) > 2, field, enrichment, meta)
		return line, nil, err
	}
	// v is a validated object, so it ends with its closing brace; what
	// precedes it is the last member, or nothing.
	head = v[:len(v)-1]
	head = bytes.TrimRight(head, " \t\r\n")
	tail, err = appendTail(dst, len(head) > 1, field, enrichment, meta)
	return head, tail, err
}

// appendTail appends what follows an object's members in its output line:
// a comma when it has members, the enrichment, the journey and the
// closing brace.
func appendTail(b []byte, members bool, field string, enrichment json.RawMessage, meta Meta) ([]byte, error) {
	if members {
		b = append(b, ',')
	}
	if enrichment != nil {
		b = strconv.AppendQuote(b, field)
		b = append(b, ':')
		if hasLineBreak(enrichment) {
			buf := bytes.NewBuffer(b)
			if err := json.Compact(buf, enrichment); err != nil {
				return nil, fmt.Errorf("compacting the enrichment: %w", err)
			}
			b = buf.Bytes()
		} else {
			b = append(b, enrichment...)
		}
		b = append(b, ',')
	}
	b = append(b, `"`+MetaField+`":`...)
	b = meta.appendJSON(b)
	return append(b, '}'), nil
}

// hasLineBreak reports whether v holds a line break. In valid JSON one can
// only be white space between tokens (strings escape theirs).
func hasLineBreak(v []byte) bool {
	return bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0
}

// appendJSON writes meta exactly as encoding/json would (a test holds the
// two equal), without reflection: it runs once per record.
func (m Meta) appendJSON(b []byte) []byte {
	b = append(b, `{"topic":`...)
	b = appendJSONString(b, m.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(m.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, m.Offset, 10)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(m.Attempt), 10)
	b = append(b, `,"enriched":`...)
	b = strconv.AppendBool(b, m.Enriched)
	if m.Source != "" {
		b = append(b, `,"source":`...)
		b = appendJSONString(b, m.Source)
	}
	if m.LookupMiss {
		b = append(b, `,"lookup_miss":true`...)
	}
	if m.FirstFailure != nil {
		b = append(b, `,"first_failure":`...)
		b = appendJSONTime(b, *m.FirstFailure)
	}
	if m.ReplayedAt != nil {
		b = append(b, `,"replayed_at":`...)
		b = appendJSONTime(b, *m.ReplayedAt)
	}
	b = append(b, `,"received_at":`...)
	b = appendJSONTime(b, m.ReceivedAt)
	b = append(b, `,"written_at":`...)
	b = appendJSONTime(b, m.WrittenAt)
	return append(b, '}')
}

// appendJSONTime writes t as encoding/json does (RFC 3339 with the
// nanoseconds, trailing zeros trimmed). A UTC time, as every journey time
// is, reuses the text of its second (lastSecond): most records of a
// second share it, and formatting the calendar twice per record was a
// few percent of pass-through's CPU.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	sec := t.Unix()
	if t.Location() != time.UTC || sec < minJSONSecond || sec > maxJSONSecond {
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	s := lastSecond.Load()
	if s == nil || s.unix != sec {
		s = &secondText{unix: sec}
		t.Truncate(time.Second).AppendFormat(s.text[:0], "2006-01-02T15:04:05")
		lastSecond.Store(s)
	}
	b = append(b, s.text[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z', '"')
}

// secondText is the text of one second, "2006-01-02T15:04:05".
type secondText struct {
	unix int64
	text [19]byte
}

// lastSecond is the last second appendJSONTime wrote: a memo of a pure
// function, shared by the processors of the process.
var lastSecond atomic.Pointer[secondText]

// The seconds of years 0000 to 9999, the four-digit years RFC 3339 (and
// the fast path) writes.
const (
	minJSONSecond = -62167219200 // 0000-01-01T00:00:00Z
	maxJSONSecond = 253402300799 // 9999-12-31T23:59:59Z
)

// appendJSONString quotes s as encoding/json does; topic names are plain
// ASCII, so the fast path is the common one.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// searchShape is a value's shape found by searching it: a key counts if
// its quoted text appears anywhere.
func searchShape(v []byte, field string) shape {
	var sh shape
	if hasKey(v, MetaField) {
		sh |= shapeMetaKey
	}
	if hasKey(v, field) {
		sh |= shapeFieldKey
	}
	if hasLineBreak(v) {
		sh |= shapeBreak
	}
	return sh
}

// hasKey is a cheap over-approximation: the quoted key appears somewhere.
func hasKey(v []byte, key string) bool {
	return bytes.Contains(v, []byte(strconv.Quote(key)))
}

func reencode(v []byte, field string, enrichment, metaJSON json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	if enrichment != nil {
		m[field] = enrichment
	}
	m[MetaField] = metaJSON
	return json.Marshal(m)
}

// record is one input record on its way through the pipeline.
type record struct {
	part   *partition
	topic  string // input topic it was read from
	offset int64
	key    []byte
	value  []byte
	// fetched: value is still a slice of sarama's fetch buffer, which it
	// keeps alive (copyingGroup). Fine for a record that goes straight to
	// the sink; one that must wait is given its own copy first (own).
	fetched  bool
	shape    shape        // learnt by the pass that validated it (Processor.scan)
	size     int          // memory charged to the windows (recordCost); value itself is dropped once written
	env      dlq.Envelope // origin and retry state; Attempt 0 for fresh records
	received time.Time
	ts       time.Time // the record's Kafka timestamp, for the end-to-end latency
	partTime time.Time // names its S3 folders (sinks.Item.Time); zero: processing time
	tr       *tracker
	entry    *entry
	inSink   bool // handed to the sink: counted in its partition's inSink
	inBatch  bool // its Add returned: counted in its partition's inBatch
	// source is where its enrichment came from (SourceTable, ...);
	// lookupMiss marks a record --lookup-miss pass writes unenriched.
	source     string
	lookupMiss bool
	// headers are the record's Kafka headers as read (goka's map), its
	// own and, from the DLQ, redrive's envelope (writeHeaders).
	headers map[string][]byte
	// cacheKey is the key under which the API's answer is cached; "" when
	// there is no cache.
	cacheKey string
	// lookupKey is the record's lookup key when match computed it in its pass
	// (keyKnown); hasKey is false when the record has none.
	lookupKey        string
	keyKnown, hasKey bool
	// finished is set when the record's commit is released or let go, so
	// that a late acknowledgement of a write that was let go does nothing.
	finished atomic.Bool
	// writeBackoff paces the retries of a failed DLQ or parking write;
	// nil until a write fails.
	writeBackoff backoff.BackOff
}

// own copies a value that is still in its fetch buffer, so that a record
// that waits (for the API, its not-before time or a Kafka write) keeps
// only its own bytes alive, not the rest of the fetch. Call it before the
// record is handed to another goroutine.
func (r *record) own() {
	if r.fetched {
		r.value = bytes.Clone(r.value)
		r.fetched = false
	}
}

// fromDLQ reports whether the record was read from the DLQ topic.
func (r *record) fromDLQ() bool { return r.topic == r.part.p.cfg.DLQTopic }

// recordOverhead is what a pending record costs beyond its key and value:
// goka's message and context, the header map, this struct and its commit
// entry, about 1 KiB together. It is charged to the byte windows so that a
// backlog of small records is bounded too. Fetch and producer buffers come
// on top; make bench's heap profile reports the heap per held record with
// everything included.
const recordOverhead = 1 << 10

// recordCost is the memory a pending record is charged in the byte windows.
// Its length, not its capacity: a value still in its fetch buffer
// (record.fetched) has that whole buffer's rest as capacity, and one that
// must wait is copied to its length (record.own).
func recordCost(key, value []byte) int { return len(key) + len(value) + recordOverhead }

// writeHeaders are the headers of rec's DLQ or parking copy: its own, in
// key order (Kafka allows a key twice; goka's map kept the last), then its
// envelope. redrive's own headers as read are replaced by the envelope.
func (rec *record) writeHeaders() []dlq.Header {
	var hs []dlq.Header
	for k, v := range rec.headers {
		if !strings.HasPrefix(k, dlq.HeaderPrefix) {
			hs = append(hs, dlq.Header{Key: k, Value: v})
		}
	}
	slices.SortFunc(hs, func(a, b dlq.Header) int { return strings.Compare(a.Key, b.Key) })
	return append(hs, rec.env.Headers()...)
}
