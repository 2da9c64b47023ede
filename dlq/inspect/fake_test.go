package inspect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// fakeKafka is an in-memory Reader and Sender: topics of partitions of
// messages, offsets from 0.
type fakeKafka struct {
	mu      sync.Mutex
	topics  map[string][][]Message
	changed chan struct{} // closed and replaced on every append
	// fail, if set, refuses a message to send.
	fail func(OutMessage) error
}

func newFakeKafka() *fakeKafka {
	return &fakeKafka{topics: map[string][][]Message{}, changed: make(chan struct{})}
}

func (f *fakeKafka) create(topic string, partitions int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[topic] = make([][]Message, partitions)
}

// add appends a message and returns its offset.
func (f *fakeKafka) add(topic string, partition int32, m Message) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := f.topics[topic]
	m.Partition, m.Offset = partition, int64(len(parts[partition]))
	if m.Timestamp.IsZero() {
		m.Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	parts[partition] = append(parts[partition], m)
	close(f.changed)
	f.changed = make(chan struct{})
	return m.Offset
}

func (f *fakeKafka) Partitions(_ context.Context, topic string) ([]PartitionRange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts, ok := f.topics[topic]
	if !ok {
		return nil, &TopicNotFoundError{Topic: topic, Brokers: []string{"fake:9092"}}
	}
	out := make([]PartitionRange, len(parts))
	for i, p := range parts {
		out[i] = PartitionRange{Partition: int32(i), End: int64(len(p))}
	}
	return out, nil
}

func (f *fakeKafka) Read(ctx context.Context, topic string, partition int32, from, to int64, fn func(Message) error) error {
	f.mu.Lock()
	msgs := f.topics[topic][partition]
	f.mu.Unlock()
	for _, m := range msgs {
		if m.Offset < from || m.Offset >= to {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeKafka) Follow(ctx context.Context, topic string, partition int32, from int64, fn func(Message) error) error {
	next := from
	for {
		f.mu.Lock()
		msgs := f.topics[topic][partition]
		changed := f.changed
		f.mu.Unlock()
		for ; next < int64(len(msgs)); next++ {
			if err := fn(msgs[next]); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func (f *fakeKafka) Send(_ context.Context, msgs []OutMessage) []SendResult {
	out := make([]SendResult, len(msgs))
	for i, m := range msgs {
		if f.fail != nil {
			if err := f.fail(m); err != nil {
				out[i].Err = err
				continue
			}
		}
		out[i].Offset = f.add(m.Topic, m.Partition, Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
	}
	return out
}

var errRefused = errors.New("refused")

// parked builds a parked message with an envelope.
func parked(key, class string, attempt int, first time.Time, origin dlq.Origin) Message {
	env := dlq.Envelope{Origin: origin, Attempt: attempt, FirstFailure: first, ErrorClass: class, Error: "failed: " + class}
	return Message{Key: []byte(key), Value: fmt.Appendf(nil, `{"key":%q}`, key), Headers: env.Headers()}
}
