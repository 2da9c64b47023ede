package inspect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// Role says which of redrive's topics a topic is.
type Role string

// The roles of redrive's topics.
const (
	RoleInput   Role = "input"
	RoleDLQ     Role = "dlq"
	RoleParking Role = "parking"
)

// Topic is a topic name with its role.
type Topic struct {
	Name string
	Role Role
}

// ClassBadEnvelope is the class the inspector gives a record whose envelope
// cannot be decoded. It is the class the pipeline parks such a DLQ record
// under, so one name means one thing in every listing.
const ClassBadEnvelope = "bad_envelope"

// Message is a record as read from Kafka, before decoding.
type Message struct {
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []dlq.Header
}

// Record is one record of a DLQ or parking topic with its envelope decoded.
type Record struct {
	Topic     Topic
	Partition int32
	Offset    int64
	Timestamp time.Time // when the record was written to this topic
	Key       []byte    // nil when the record has no key
	Value     []byte
	Headers   []dlq.Header // every header, as read
	// Envelope is the decoded retry state; it is meaningful only when
	// EnvelopeErr is nil.
	Envelope dlq.Envelope
	// EnvelopeErr says why the envelope could not be decoded
	// (dlq.ErrNoEnvelope or a *dlq.MalformedHeaderError).
	EnvelopeErr error
	// Replay is set on a parked record that was replayed, from its marker.
	Replay *Marker
	// Marker is set when the record is itself a replay marker: bookkeeping,
	// not a parked record.
	Marker *Marker
}

// Coord is a record's place in its topic.
func (r Record) Coord() Coord { return Coord{r.Partition, r.Offset} }

// Class is the record's error class, or ClassBadEnvelope when its envelope
// cannot be decoded.
func (r Record) Class() string {
	if r.EnvelopeErr != nil {
		return ClassBadEnvelope
	}
	return r.Envelope.ErrorClass
}

// FailedAt is when the record first failed; for a record without a readable
// envelope, when it was written. Age, --since and --until use it.
func (r Record) FailedAt() time.Time {
	if r.EnvelopeErr == nil && !r.Envelope.FirstFailure.IsZero() {
		return r.Envelope.FirstFailure
	}
	return r.Timestamp
}

// decode turns a message of topic t into a record, with Marker set when it
// is a replay marker. A marker whose headers cannot be read is returned as a
// record with EnvelopeErr set, so that it shows up instead of vanishing.
func decode(t Topic, m Message) Record {
	r := Record{Topic: t, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value, Headers: m.Headers}
	if mk, ok, err := parseMarker(m); ok {
		if err == nil {
			r.Marker = &mk
		} else {
			r.EnvelopeErr = err
		}
		return r
	}
	r.Envelope, r.EnvelopeErr = dlq.ParseHeaders(m.Headers)
	return r
}

// Coord is a partition and an offset, written PARTITION:OFFSET.
type Coord struct {
	Partition int32
	Offset    int64
}

// String formats the coordinate as PARTITION:OFFSET.
func (c Coord) String() string { return fmt.Sprintf("%d:%d", c.Partition, c.Offset) }

// ParseCoord parses PARTITION:OFFSET.
func ParseCoord(s string) (Coord, error) {
	ps, os, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Coord{}, fmt.Errorf("%q is not PARTITION:OFFSET, e.g. 3:1042", s)
	}
	p, err := strconv.ParseInt(ps, 10, 32)
	if err != nil || p < 0 {
		return Coord{}, fmt.Errorf("%q is not PARTITION:OFFSET: bad partition %q", s, ps)
	}
	o, err := strconv.ParseInt(os, 10, 64)
	if err != nil || o < 0 {
		return Coord{}, fmt.Errorf("%q is not PARTITION:OFFSET: bad offset %q", s, os)
	}
	return Coord{int32(p), o}, nil
}

// parseOrigin parses dlq.Origin's String form, topic/partition@offset.
func parseOrigin(s string) (dlq.Origin, error) {
	at := strings.LastIndexByte(s, '@')
	slash := strings.LastIndexByte(s[:max(at, 0)], '/')
	if at < 0 || slash <= 0 {
		return dlq.Origin{}, errors.New("not topic/partition@offset")
	}
	c, err := ParseCoord(s[slash+1:at] + ":" + s[at+1:])
	if err != nil {
		return dlq.Origin{}, err
	}
	return dlq.Origin{Topic: s[:slash], Partition: c.Partition, Offset: c.Offset}, nil
}
