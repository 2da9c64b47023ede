package pipeline

import (
	"bytes"
	"context"
	"sync"

	"github.com/IBM/sarama"
)

// copyingGroup hands goka messages that own their bytes, and keeps their
// values out of goka's hands. sarama's messages are slices of the whole
// decompressed fetch batch, and goka keeps each record's message until its
// deferred commit is released, so one pending record would otherwise keep
// its entire batch alive: under a backlog that was most of the process's
// memory, far beyond --max-pending-bytes. So goka gets a copy of the key
// and headers and an empty value, and the value waits in values until the
// processor takes it (Processor.consume). Most records go to the sink at
// once, which compresses the value and lets go of it, so their values are
// never copied; a record that must wait copies its value then
// (record.own), and lets go of the fetch batch.
//
// Seeing every claim and every message, it also reports each claim's lag
// (lagReporter).
type copyingGroup struct {
	sarama.ConsumerGroup
	lag    *lagReporter
	values *valueStore
}

func (g copyingGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	return g.ConsumerGroup.Consume(ctx, topics, &copyingHandler{ConsumerGroupHandler: h, lag: g.lag, values: g.values})
}

// copyingHandler wraps goka's handler for one session.
type copyingHandler struct {
	sarama.ConsumerGroupHandler
	lag    *lagReporter
	values *valueStore

	mu     sync.Mutex
	claims []heldClaim // the session's claims, whose values Cleanup drops
}

type heldClaim struct {
	tp   topicPartition
	held *heldValues
}

// Cleanup drops the values of the session's claims once goka's own
// Cleanup has stopped its partition processors: until then goka may still
// deliver a message it had queued, whose value its record needs (a revoke
// hands it on to the DLQ). Values not taken by then belong to records
// that were not processed, so not committed either.
func (h *copyingHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	err := h.ConsumerGroupHandler.Cleanup(s)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.claims {
		h.values.close(c.tp, c.held)
	}
	h.claims = nil
	return err
}

// ConsumeClaim relays the claim's messages, copied, to the wrapped handler.
// The relay stops when the handler returns, so it never outlives the claim.
func (h *copyingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	lag := h.lag.watch(c)
	defer lag.end()
	tp := topicPartition{c.Topic(), c.Partition()}
	held := h.values.open(tp)
	h.mu.Lock()
	h.claims = append(h.claims, heldClaim{tp, held})
	h.mu.Unlock()
	out := make(chan *sarama.ConsumerMessage, relayBuffer)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for {
			select {
			case m, ok := <-c.Messages():
				if !ok {
					return
				}
				select {
				case out <- ownBytes(m, held):
					lag.read(m.Offset)
				case <-done:
					return
				}
			case <-done:
				return
			}
		}
	}()
	err := h.ConsumerGroupHandler.ConsumeClaim(s, copiedClaim{c, out})
	close(done)
	wg.Wait()
	return err
}

// relayBuffer is how many messages the relay may run ahead of goka. An
// unbuffered hand-off made the two goroutines meet for every message
// (BenchmarkRelay: 1,050 ns a message, 720 with the buffer). What is
// relayed but not taken when the claim ends is read again after the
// rejoin, as what is left in sarama's own buffer is.
const relayBuffer = 64

type copiedClaim struct {
	sarama.ConsumerGroupClaim
	out chan *sarama.ConsumerMessage
}

func (c copiedClaim) Messages() <-chan *sarama.ConsumerMessage { return c.out }

// emptyValue is the value goka sees for a record whose value waits in a
// claim's heldValues: empty but not nil, since goka drops nil values.
var emptyValue = []byte{}

// ownBytes copies what goka keeps of a message out of sarama's batch
// buffer: its key and headers. The value goes to held instead, uncopied:
// the processor writes most values to the sink at once, and copies those
// that must wait (record.own). A nil value (a tombstone) is left to goka
// as it is. The message is changed in place: sarama hands it over with
// the channel and keeps no use of it.
func ownBytes(m *sarama.ConsumerMessage, held *heldValues) *sarama.ConsumerMessage {
	m.Key = bytes.Clone(m.Key)
	if m.Value != nil {
		held.put(m.Offset, m.Value)
		m.Value = emptyValue
	}
	for _, h := range m.Headers {
		h.Key, h.Value = bytes.Clone(h.Key), bytes.Clone(h.Value)
	}
	return m
}

// valueStore holds the values of the claims in progress, by topic and
// partition, each claim's in a heldValues of its own so that the relay of
// one partition and its processor contend only with each other.
//
// A claim's values are taken only by the callbacks of its own session:
// sarama starts the next session (and its claims) only once the last one's
// Cleanup returned, and goka's Cleanup stops its partition processors, so
// a later claim of the same partition never meets an earlier one's
// callback.
type valueStore struct {
	claims sync.Map // topicPartition → *heldValues
}

// topicPartition names one claim's topic-partition.
type topicPartition struct {
	topic     string
	partition int32
}

// heldValues are one claim's values not yet taken, by offset.
type heldValues struct {
	mu     sync.Mutex
	values map[int64][]byte
}

func (h *heldValues) put(offset int64, v []byte) {
	h.mu.Lock()
	h.values[offset] = v
	h.mu.Unlock()
}

// open starts holding the values of a claim, replacing what an earlier
// claim of the same partition left.
func (s *valueStore) open(tp topicPartition) *heldValues {
	h := &heldValues{values: make(map[int64][]byte)}
	s.claims.Store(tp, h)
	return h
}

// close drops a claim's values that were not taken, unless a newer claim
// of the partition holds its own already.
func (s *valueStore) close(tp topicPartition, h *heldValues) {
	s.claims.CompareAndDelete(tp, h)
	h.mu.Lock()
	clear(h.values)
	h.mu.Unlock()
}

// take removes and returns the value of a record; ok is false when its
// session has been cleaned up (goka delivered it after its own Cleanup).
func (s *valueStore) take(topic string, partition int32, offset int64) (v []byte, ok bool) {
	x, found := s.claims.Load(topicPartition{topic, partition})
	if !found {
		return nil, false
	}
	h := x.(*heldValues)
	h.mu.Lock()
	v, ok = h.values[offset]
	delete(h.values, offset)
	h.mu.Unlock()
	return v, ok
}
