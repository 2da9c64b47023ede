package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
)

// OutMessage is a record to write at an explicit partition.
type OutMessage struct {
	Topic     string
	Partition int32
	Key       []byte
	Value     []byte
	Headers   []dlq.Header
}

// SendResult is the outcome of one message: its offset, or why it was not
// written.
type SendResult struct {
	Offset int64
	Err    error
}

// Sender writes messages and returns once the broker acknowledged or
// refused each of them, with one result per message in the same order.
type Sender interface {
	Send(ctx context.Context, msgs []OutMessage) []SendResult
}

// ReplayMessage is the copy of parked record r that goes back to the input
// topic for a fresh start: same key, value untouched, and an envelope with
// attempt 0, no error and no not-before time, the original origin (so that
// downstream still de-duplicates it) and the replay time, which is what makes
// the pipeline treat it as a replay. Headers other than redrive's are kept.
//
// It goes to the input partition the record first arrived on, so that it
// stays with its key's partition whatever hash the upstream producer used;
// when that is unknown, to the partition sarama's hash of the key gives.
func ReplayMessage(r Record, input string, partitions int32, now time.Time) OutMessage {
	env := r.Envelope
	if r.EnvelopeErr != nil {
		// Nothing is known of where it came from: its place in the
		// parking topic is its identity from now on.
		env = dlq.Envelope{Origin: dlq.Origin{Topic: r.Topic.Name, Partition: r.Partition, Offset: r.Offset}}
	}
	env.Attempt = 0
	env.ErrorClass, env.Error = "", ""
	env.NotBefore = time.Time{}
	env.Replayed = now
	var hs []dlq.Header
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, dlq.HeaderPrefix) {
			hs = append(hs, h)
		}
	}
	hs = append(hs, env.Headers()...)

	part := env.Origin.Partition
	if r.EnvelopeErr != nil || part < 0 || part >= partitions {
		msg := &sarama.ProducerMessage{Topic: input}
		if r.Key != nil {
			msg.Key = sarama.ByteEncoder(r.Key)
		}
		part, _ = sarama.NewHashPartitioner(input).Partition(msg, partitions)
	}
	return OutMessage{Topic: input, Partition: part, Key: r.Key, Value: r.Value, Headers: hs}
}

// MarkerMessage is the marker saying that parked record r was replayed to
// to at time at. It goes to r's partition of the parking topic, after r.
func MarkerMessage(r Record, to dlq.Origin, at time.Time) OutMessage {
	mk := Marker{Of: r.Coord(), To: to, At: at}
	return OutMessage{Topic: r.Topic.Name, Partition: r.Partition, Key: r.Key, Value: mk.value(), Headers: mk.Headers()}
}

// Replayer sends parked records back to the input topic.
type Replayer struct {
	Sender          Sender
	Input           string // the input topic
	InputPartitions int32  // its partition count
	// Pacer limits the rate; nil is unlimited.
	Pacer *Pacer
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// ReplayResult is what happened to one record.
type ReplayResult struct {
	Record Record
	To     dlq.Origin // where the copy was written; zero when it was not
	// Err is why the record was not replayed, or why its marker was not
	// written (Unmarked).
	Err error
	// Unmarked: the copy was written but its marker was not, so a later
	// replay would send it again.
	Unmarked bool
}

// ReplayCounts sum up a replay.
type ReplayCounts struct {
	Sent     int // copies written to the input topic (marked or not)
	Failed   int // records not written
	Unmarked int // written, but the marker was not
}

// ErrIncomplete is returned (wrapped) when some records were not replayed or
// not marked.
var ErrIncomplete = errors.New("replay incomplete")

// Replay sends recs to the input topic in chunks, and for each copy the
// broker acknowledged, appends its marker to the parking topic. Writing the
// marker only after the copy is acknowledged means that a crash in between
// replays the record again next time (a duplicate downstream de-duplicates
// by origin) rather than never. each is told the outcome of every record.
func (rp Replayer) Replay(ctx context.Context, recs []Record, each func(ReplayResult)) (ReplayCounts, error) {
	var n ReplayCounts
	if rp.InputPartitions < 1 {
		return n, fmt.Errorf("replay: input topic %s has no partitions", rp.Input)
	}
	now := time.Now
	if rp.Now != nil {
		now = rp.Now
	}
	step := rp.Pacer.chunk()
	for len(recs) > 0 {
		chunk := recs[:min(step, len(recs))]
		recs = recs[len(chunk):]
		if err := rp.Pacer.Wait(ctx, len(chunk)); err != nil {
			return n, err
		}
		at := now()
		msgs := make([]OutMessage, len(chunk))
		for i, r := range chunk {
			msgs[i] = ReplayMessage(r, rp.Input, rp.InputPartitions, at)
		}
		sent := rp.Sender.Send(ctx, msgs)
		var marks []OutMessage
		var marked []ReplayResult
		for i, res := range sent {
			if res.Err != nil {
				n.Failed++
				each(ReplayResult{Record: chunk[i], Err: fmt.Errorf("writing to %s/%d: %w", rp.Input, msgs[i].Partition, res.Err)})
				continue
			}
			to := dlq.Origin{Topic: rp.Input, Partition: msgs[i].Partition, Offset: res.Offset}
			marks = append(marks, MarkerMessage(chunk[i], to, at))
			marked = append(marked, ReplayResult{Record: chunk[i], To: to})
		}
		n.Sent += len(marks)
		if len(marks) == 0 {
			continue
		}
		for i, res := range rp.Sender.Send(ctx, marks) {
			r := marked[i]
			if res.Err != nil {
				n.Unmarked++
				r.Unmarked = true
				r.Err = fmt.Errorf("writing replay marker to %s/%d: %w", marks[i].Topic, marks[i].Partition, res.Err)
			} else {
				r.Record.Replay = &Marker{Of: r.Record.Coord(), To: r.To, At: at, Self: Coord{marks[i].Partition, res.Offset}}
			}
			each(r)
		}
	}
	if n.Failed > 0 || n.Unmarked > 0 {
		return n, fmt.Errorf("%w: %d not written, %d written but not marked (a later replay sends those again)", ErrIncomplete, n.Failed, n.Unmarked)
	}
	return n, nil
}
