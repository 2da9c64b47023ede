package pipeline

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/IBM/sarama"
)

// copyingGroup hands goka messages that own their bytes, and keeps their
// values out of goka's hands. sarama's messages are slices of the whole
// decompressed fetch batch, and goka keeps each record's message until its
// deferred commit is released, so one pending record would otherwise keep
// its entire batch alive: under a backlog that was most of the process's
// memory, far beyond --max-pending-bytes. So goka gets a copy of the key
// and headers and a stand-in for the value (emptyValue), and the value
// waits in values until the processor takes it (Processor.consume). Most
// records go to the sink at once, which compresses the value and lets go
// of it, so their values are never copied; a record that must wait copies
// its value then (record.own), and lets go of the fetch batch.
//
// The messages are changed by holdingInterceptor, in sarama's own
// goroutine as it hands them out: a goroutine of ours relaying them to
// goka cost a channel hop per record. This handler opens each claim's
// store at Setup, before sarama fetches anything for the session, and
// reports each claim's lag (lagReporter).
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

// Setup opens the store of each of the session's claims: sarama calls it
// before it starts their partition consumers, whose messages the
// interceptor moves there.
func (h *copyingHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	for topic, partitions := range s.Claims() {
		for _, partition := range partitions {
			tp := topicPartition{topic, partition}
			h.claims = append(h.claims, heldClaim{tp, h.values.open(tp)})
		}
	}
	h.mu.Unlock()
	return h.ConsumerGroupHandler.Setup(s)
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

// ConsumeClaim reports the claim's lag while goka consumes it.
func (h *copyingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	lag := h.lag.watch(c)
	defer lag.end()
	if held := h.values.holder(c.Topic(), c.Partition()); held != nil {
		held.lag.Store(lag)
		defer held.lag.CompareAndSwap(lag, nil)
	}
	return h.ConsumerGroupHandler.ConsumeClaim(s, c)
}

// holdingInterceptor is the sarama consumer interceptor that moves each
// message's value into its claim's store (ownBytes) before goka sees the
// message. A message of a claim without a store (one added to the session
// after Setup, by a cooperative rebalance) is left as it is: goka carries
// its value, as it would without this group.
type holdingInterceptor struct{ values *valueStore }

func (i holdingInterceptor) OnConsume(m *sarama.ConsumerMessage) {
	held := i.values.holder(m.Topic, m.Partition)
	if held == nil || isStandIn(m.Value) {
		// sarama calls the interceptors a second time for the message
		// whose hand-off timed out (MaxProcessingTime): its value is held
		// already, and must not be replaced by the stand-in.
		return
	}
	ownBytes(m, held)
	if lag := held.lag.Load(); lag != nil {
		lag.read(m.Offset)
	}
}

// emptyValue is the value goka sees for a record whose value waits in a
// claim's heldValues: empty but not nil, since goka drops nil values, and
// told from a record's own empty value by its array (isStandIn).
var emptyValue = make([]byte, 1)[:0]

// isStandIn reports whether v is emptyValue itself.
func isStandIn(v []byte) bool {
	return v != nil && len(v) == 0 && cap(v) == 1 && unsafe.SliceData(v) == unsafe.SliceData(emptyValue)
}

// ownBytes copies what goka keeps of a message out of sarama's batch
// buffer: its key and headers. The value goes to held instead, uncopied:
// the processor writes most values to the sink at once, and copies those
// that must wait (record.own). A nil value (a tombstone) is left to goka
// as it is. The message is changed in place, before sarama hands it on.
func ownBytes(m *sarama.ConsumerMessage, held *heldValues) {
	m.Key = bytes.Clone(m.Key)
	if m.Value != nil {
		held.put(m.Offset, m.Value)
		m.Value = emptyValue
	}
	for _, h := range m.Headers {
		h.Key, h.Value = bytes.Clone(h.Key), bytes.Clone(h.Value)
	}
}

// valueStore holds the values of the claims in progress, by topic and
// partition, each claim's in a heldValues of its own so that the sarama
// goroutine of one partition and its processor contend only with each
// other.
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

// heldValues are one claim's values not yet taken, by offset, and the
// claim's lag report once goka consumes it.
type heldValues struct {
	mu     sync.Mutex
	values map[int64][]byte
	lag    atomic.Pointer[claimLag]
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

// holder returns the store of a claim of the session, or nil.
func (s *valueStore) holder(topic string, partition int32) *heldValues {
	x, ok := s.claims.Load(topicPartition{topic, partition})
	if !ok {
		return nil
	}
	return x.(*heldValues)
}

// take removes and returns the value of a record; ok is false when its
// session has been cleaned up (goka delivered it after its own Cleanup).
func (s *valueStore) take(topic string, partition int32, offset int64) (v []byte, ok bool) {
	h := s.holder(topic, partition)
	if h == nil {
		return nil, false
	}
	h.mu.Lock()
	v, ok = h.values[offset]
	delete(h.values, offset)
	h.mu.Unlock()
	return v, ok
}
