package dlq

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Header names of the envelope. They are a public contract: the DLQ
// inspector, downstream tools and older redrive versions read them.
const (
	// HeaderPrefix begins every header redrive writes; a record's other
	// headers are its own and travel with it.
	HeaderPrefix       = "redrive-"
	HeaderAttempt      = "redrive-attempt"       // decimal; failed attempts so far (1 after the first failure)
	HeaderFirstFailure = "redrive-first-failure" // RFC 3339 with nanoseconds, UTC
	HeaderErrorClass   = "redrive-error-class"   // short machine-readable class, e.g. "http_5xx"
	HeaderErrorMessage = "redrive-error"         // human-readable message of the last failure
	HeaderNotBefore    = "redrive-not-before"    // RFC 3339; the record is not retried before this time
	HeaderOriginTopic  = "redrive-origin-topic"  // where the record first arrived
	HeaderOriginPart   = "redrive-origin-partition"
	HeaderOriginOffset = "redrive-origin-offset"
	HeaderReplayed     = "redrive-replayed" // RFC 3339 time of a replay from parking; absent otherwise
	// HeaderOriginTime is the Kafka timestamp of the record where it first
	// arrived (RFC 3339 with nanoseconds, UTC; absent when unknown): a DLQ
	// or parking copy has a timestamp of its own, and the S3 sink dates
	// records by the original one (--partition-time record).
	HeaderOriginTime = "redrive-origin-time"

	// A reduced envelope (a record that could never be written whole) says
	// so, and how to recognise the whole value, which is still at the
	// origin coordinates for as long as the input topic retains it.
	HeaderTruncated   = "redrive-truncated"    // "true": the value is only the first bytes of the original
	HeaderValueSize   = "redrive-value-size"   // decimal; size of the original value in bytes
	HeaderValueSHA256 = "redrive-value-sha256" // hex SHA-256 of the original value
)

// maxErrorLen bounds the error message kept in a header, so that one huge
// error body cannot make a DLQ record oversize.
const maxErrorLen = 1024

// Origin is where a record first arrived, kept unchanged across DLQ hops so
// that downstream can de-duplicate on it.
type Origin struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String formats the origin as topic/partition@offset.
func (o Origin) String() string {
	return fmt.Sprintf("%s/%d@%d", o.Topic, o.Partition, o.Offset)
}

// Envelope is the retry state a DLQ or parking record carries in its headers.
// The record's value is never changed.
type Envelope struct {
	Origin       Origin
	Attempt      int       // failed attempts so far
	FirstFailure time.Time // when the first attempt failed
	ErrorClass   string    // class of the last failure
	Error        string    // message of the last failure
	NotBefore    time.Time // earliest time of the next attempt; zero for parked records
	Replayed     time.Time // when an operator replayed it from parking; zero if never
	OriginTime   time.Time // Kafka timestamp of the record where it first arrived; zero if unknown
	// Reduced is set on a parked record whose value could not be written
	// whole: the value is truncated, and this describes the original.
	Reduced *Reduced
}

// Reduced describes the original value of a truncated parked record.
type Reduced struct {
	Size   int    // bytes of the original value
	SHA256 string // hex digest of the original value
}

// Header is one Kafka record header. It mirrors sarama.RecordHeader and
// goka.Headers without tying this package to either.
type Header struct {
	Key   string
	Value []byte
}

// Headers encodes the envelope as Kafka headers.
func (e Envelope) Headers() []Header {
	msg := e.Error
	if len(msg) > maxErrorLen {
		// Cut on a rune boundary so that the header stays valid UTF-8.
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	h := []Header{
		{HeaderAttempt, []byte(strconv.Itoa(e.Attempt))},
		{HeaderFirstFailure, formatTime(e.FirstFailure)},
		{HeaderErrorClass, []byte(e.ErrorClass)},
		{HeaderErrorMessage, []byte(msg)},
		{HeaderNotBefore, formatTime(e.NotBefore)},
		{HeaderOriginTopic, []byte(e.Origin.Topic)},
		{HeaderOriginPart, []byte(strconv.FormatInt(int64(e.Origin.Partition), 10))},
		{HeaderOriginOffset, []byte(strconv.FormatInt(e.Origin.Offset, 10))},
	}
	if !e.Replayed.IsZero() {
		h = append(h, Header{HeaderReplayed, formatTime(e.Replayed)})
	}
	if !e.OriginTime.IsZero() {
		h = append(h, Header{HeaderOriginTime, formatTime(e.OriginTime)})
	}
	if e.Reduced != nil {
		h = append(h,
			Header{HeaderTruncated, []byte("true")},
			Header{HeaderValueSize, []byte(strconv.Itoa(e.Reduced.Size))},
			Header{HeaderValueSHA256, []byte(e.Reduced.SHA256)})
	}
	return h
}

// ErrNoEnvelope is returned by Parse when a record carries no envelope at
// all: it is a fresh record, not a dead-lettered one.
var ErrNoEnvelope = errors.New("record has no redrive envelope")

// MalformedHeaderError names the header that could not be decoded.
type MalformedHeaderError struct {
	Header string
	Value  string
	Err    error
}

func (e *MalformedHeaderError) Error() string {
	return fmt.Sprintf("envelope header %s=%q: %v", e.Header, e.Value, e.Err)
}

func (e *MalformedHeaderError) Unwrap() error { return e.Err }

// Parse decodes an envelope from headers given by a lookup function (so that
// goka's map and sarama's slice both fit). It returns ErrNoEnvelope when the
// attempt header is absent, and a *MalformedHeaderError when a header is malformed.
func Parse(get func(key string) ([]byte, bool)) (Envelope, error) {
	var e Envelope
	raw, ok := get(HeaderAttempt)
	if !ok {
		return e, ErrNoEnvelope
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 {
		if err == nil {
			err = errors.New("negative")
		}
		return e, &MalformedHeaderError{HeaderAttempt, string(raw), err}
	}
	e.Attempt = n
	for _, t := range []struct {
		key string
		dst *time.Time
	}{
		{HeaderFirstFailure, &e.FirstFailure},
		{HeaderNotBefore, &e.NotBefore},
		{HeaderReplayed, &e.Replayed},
		{HeaderOriginTime, &e.OriginTime},
	} {
		raw, ok := get(t.key)
		if !ok || len(raw) == 0 {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, string(raw))
		if err != nil {
			return e, &MalformedHeaderError{t.key, string(raw), err}
		}
		*t.dst = v
	}
	if v, ok := get(HeaderErrorClass); ok {
		e.ErrorClass = string(v)
	}
	if v, ok := get(HeaderErrorMessage); ok {
		e.Error = string(v)
	}
	if v, ok := get(HeaderOriginTopic); ok {
		e.Origin.Topic = string(v)
	}
	if raw, ok := get(HeaderOriginPart); ok {
		p, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return e, &MalformedHeaderError{HeaderOriginPart, string(raw), err}
		}
		e.Origin.Partition = int32(p)
	}
	if raw, ok := get(HeaderOriginOffset); ok {
		o, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return e, &MalformedHeaderError{HeaderOriginOffset, string(raw), err}
		}
		e.Origin.Offset = o
	}
	if raw, ok := get(HeaderTruncated); ok && string(raw) == "true" {
		r := &Reduced{}
		if v, ok := get(HeaderValueSize); ok {
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 {
				return e, &MalformedHeaderError{HeaderValueSize, string(v), errors.Join(err, errors.New("not a size"))}
			}
			r.Size = n
		}
		if v, ok := get(HeaderValueSHA256); ok {
			r.SHA256 = string(v)
		}
		e.Reduced = r
	}
	if e.Origin.Topic == "" {
		return e, &MalformedHeaderError{HeaderOriginTopic, "", errors.New("missing")}
	}
	return e, nil
}

// ParseMap decodes an envelope from goka-style map headers.
func ParseMap(h map[string][]byte) (Envelope, error) {
	return Parse(func(k string) ([]byte, bool) { v, ok := h[k]; return v, ok })
}

// ParseHeaders decodes an envelope from a header slice; the last value of a
// repeated key wins, as in Kafka's own clients.
func ParseHeaders(h []Header) (Envelope, error) {
	return Parse(func(k string) ([]byte, bool) {
		for i := len(h) - 1; i >= 0; i-- {
			if h[i].Key == k {
				return h[i].Value, true
			}
		}
		return nil, false
	})
}

func formatTime(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	return []byte(t.UTC().Format(time.RFC3339Nano))
}
