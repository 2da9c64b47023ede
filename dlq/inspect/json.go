package inspect

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"time"
	"unicode/utf8"
)

// RecordJSON is the JSON form of a record: one line per record with --json.
// Its field names are a contract with operators' scripts.
type RecordJSON struct {
	Topic     string    `json:"topic"`
	Role      Role      `json:"role"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Key       *string   `json:"key"` // null for a record without a key
	// The envelope, decoded.
	Attempt      int         `json:"attempt"`
	ErrorClass   string      `json:"error_class"`
	Error        string      `json:"error"`
	FirstFailure *time.Time  `json:"first_failure"`
	NotBefore    *time.Time  `json:"not_before"`
	Origin       *OriginJSON `json:"origin"`
	// ReplayedAt is the envelope's replay time: this record is a copy that
	// was replayed once and failed again.
	ReplayedAt *time.Time `json:"replayed_at"`
	// OriginTime is the Kafka timestamp of the record where it first
	// arrived (redrive-origin-time), when it is known.
	OriginTime *time.Time `json:"origin_time,omitempty"`
	// Truncated is set on a record parked reduced: its value holds only the
	// first bytes of the original, described here.
	Truncated *TruncatedJSON `json:"truncated,omitempty"`
	// EnvelopeError says why the envelope could not be decoded.
	EnvelopeError string `json:"envelope_error,omitempty"`
	// Replay is set when this parked record was sent back by `replay`.
	Replay *ReplayJSON `json:"replay"`
	// Marker is set when the record is itself a replay marker.
	Marker *ReplayJSON `json:"marker,omitempty"`
	// Headers are every header as text, as read.
	Headers map[string]string `json:"headers"`
	// Value is the value as JSON when it is JSON, else a string, in
	// the encoding ValueEncoding names ("json", "text" or "base64").
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
}

// ReplayJSON describes a replay marker.
type ReplayJSON struct {
	Of     string     `json:"of"`     // PARTITION:OFFSET of the parked record
	To     OriginJSON `json:"to"`     // where the copy was written
	At     time.Time  `json:"at"`     // when
	Marker string     `json:"marker"` // PARTITION:OFFSET of the marker
}

func replayJSON(m *Marker) *ReplayJSON {
	if m == nil {
		return nil
	}
	return &ReplayJSON{Of: m.Of.String(), To: OriginJSON(m.To), At: m.At.UTC(), Marker: m.Self.String()}
}

// TruncatedJSON describes the whole value of a record parked reduced.
type TruncatedJSON struct {
	Size   int    `json:"size"`   // bytes of the whole value
	SHA256 string `json:"sha256"` // hex digest of the whole value
}

// OriginJSON is a dlq.Origin with the field names of the S3 output's
// "_redrive" object.
type OriginJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// NewRecordJSON converts a record.
func NewRecordJSON(r Record) RecordJSON {
	j := RecordJSON{
		Topic: r.Topic.Name, Role: r.Topic.Role, Partition: r.Partition, Offset: r.Offset,
		Timestamp: r.Timestamp.UTC(), Replay: replayJSON(r.Replay), Marker: replayJSON(r.Marker),
		Headers: map[string]string{},
	}
	if r.Key != nil {
		k := string(r.Key)
		j.Key = &k
	}
	for _, h := range r.Headers {
		j.Headers[h.Key] = string(h.Value)
	}
	switch {
	case r.Marker != nil:
	case r.EnvelopeErr != nil:
		j.ErrorClass = ClassBadEnvelope
		j.EnvelopeError = r.EnvelopeErr.Error()
	default:
		e := r.Envelope
		j.Attempt, j.ErrorClass, j.Error = e.Attempt, e.ErrorClass, e.Error
		j.FirstFailure, j.NotBefore, j.ReplayedAt = timePtr(e.FirstFailure), timePtr(e.NotBefore), timePtr(e.Replayed)
		j.OriginTime = timePtr(e.OriginTime)
		o := OriginJSON(e.Origin)
		j.Origin = &o
		if e.Reduced != nil {
			j.Truncated = &TruncatedJSON{Size: e.Reduced.Size, SHA256: e.Reduced.SHA256}
		}
	}
	j.Value, j.ValueEncoding = encodeValue(r.Value)
	return j
}

// encodeValue keeps a JSON value as it is, and quotes anything else.
func encodeValue(v []byte) (json.RawMessage, string) {
	switch {
	case v == nil:
		return json.RawMessage("null"), "json"
	case json.Valid(v):
		return v, "json"
	case utf8.Valid(v):
		s, _ := json.Marshal(string(v))
		return s, "text"
	}
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(v))
	return s, "base64"
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// WriteJSON writes v as one line of JSON.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
