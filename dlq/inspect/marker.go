package inspect

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// Header names of a replay marker. A marker is a small record that `redrive
// dlq replay` appends to the parking topic, in the partition of the record it
// replayed, once the replayed copy was acknowledged by the input topic.
// Kafka topics are append-only, so the marker is the durable memory of the
// replay: it lives exactly as long as the parked records around it, the
// pipeline never reads the parking topic, and every inspector command counts
// markers as bookkeeping rather than as parked records.
const (
	HeaderReplayOf = "redrive-replay-of" // PARTITION:OFFSET of the parked record that was replayed
	HeaderReplayTo = "redrive-replay-to" // topic/partition@offset of the copy written to the input topic
	// The replay time is in dlq.HeaderReplayed, as on the replayed copy.
)

// Marker records that a parked record was replayed.
type Marker struct {
	Of Coord      // the parked record replayed (same partition as the marker)
	To dlq.Origin // where the copy was written in the input topic
	At time.Time  // when
	// Self is where the marker itself is in the parking topic; set when read.
	Self Coord
}

// Headers encodes the marker as Kafka headers.
func (m Marker) Headers() []dlq.Header {
	return []dlq.Header{
		{Key: HeaderReplayOf, Value: []byte(m.Of.String())},
		{Key: HeaderReplayTo, Value: []byte(m.To.String())},
		{Key: dlq.HeaderReplayed, Value: []byte(m.At.UTC().Format(time.RFC3339Nano))},
	}
}

// value is the marker's record value: the same facts as the headers, as JSON,
// for people who look at the topic with other tools. Markers are recognised
// by their headers, never by their value.
func (m Marker) value() []byte {
	v, _ := json.Marshal(struct {
		Of string    `json:"redrive_replay_of"`
		To string    `json:"replayed_to"`
		At time.Time `json:"replayed_at"`
	}{m.Of.String(), m.To.String(), m.At.UTC()})
	return v
}

// parseMarker reports whether m is a replay marker and decodes it.
func parseMarker(m Message) (Marker, bool, error) {
	get := func(k string) ([]byte, bool) {
		for i := len(m.Headers) - 1; i >= 0; i-- {
			if m.Headers[i].Key == k {
				return m.Headers[i].Value, true
			}
		}
		return nil, false
	}
	of, ok := get(HeaderReplayOf)
	if !ok {
		return Marker{}, false, nil
	}
	mk := Marker{Self: Coord{m.Partition, m.Offset}}
	var err error
	if mk.Of, err = ParseCoord(string(of)); err != nil {
		return mk, true, &dlq.MalformedHeaderError{Header: HeaderReplayOf, Value: string(of), Err: err}
	}
	if mk.Of.Partition != m.Partition {
		return mk, true, &dlq.MalformedHeaderError{Header: HeaderReplayOf, Value: string(of),
			Err: fmt.Errorf("marker is in partition %d, not in the partition of the record it marks", m.Partition)}
	}
	to, _ := get(HeaderReplayTo)
	if mk.To, err = parseOrigin(string(to)); err != nil {
		return mk, true, &dlq.MalformedHeaderError{Header: HeaderReplayTo, Value: string(to), Err: err}
	}
	at, _ := get(dlq.HeaderReplayed)
	if mk.At, err = time.Parse(time.RFC3339Nano, string(at)); err != nil {
		return mk, true, &dlq.MalformedHeaderError{Header: dlq.HeaderReplayed, Value: string(at), Err: err}
	}
	return mk, true, nil
}
