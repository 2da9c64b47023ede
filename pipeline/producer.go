package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
)

// Forwarder writes a record to the DLQ or parking topic at an explicit
// partition and calls done once the broker acknowledged it (or gave up).
// done must not block.
type Forwarder interface {
	Forward(topic string, partition int32, key, value []byte, headers []dlq.Header, done func(error))
}

// Producer is the Forwarder redrive runs with: a sarama async producer with
// a manual partitioner, because a DLQ record must land on the partition
// number it came from whatever hash the upstream producer used (goka's
// emitter hashes with FNV-32a, Java clients with murmur2).
type Producer struct {
	ap sarama.AsyncProducer
	wg sync.WaitGroup

	mu     sync.RWMutex // held for reading while a record is handed to sarama
	closed bool
}

// ErrProducerClosed is given to done when Forward is called after Close,
// which only happens when a stop overran its grace period.
var ErrProducerClosed = errors.New("DLQ producer is closed")

// DLQBatchRecords is the most records the DLQ producer puts in one batch.
const DLQBatchRecords = 256

// NewProducer connects a producer to the brokers. cfg is copied.
func NewProducer(brokers []string, base *sarama.Config) (*Producer, error) {
	cfg := *base
	cfg.ClientID = base.ClientID + "-forwarder"
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	// A DLQ write that fails stops the processor (nothing is committed past
	// it), so give leader elections and broker restarts time to settle.
	cfg.Producer.Retry.Max = 30
	cfg.Producer.Retry.Backoff = 500 * time.Millisecond
	// Kafka hands a consumer whole record batches, even past its fetch
	// size, so the batches written here bound how far a paused DLQ
	// partition overshoots its wait room. sarama caps a batch only at
	// MaxMessageBytes (which must stay above the largest record), so cap
	// the number of records per request instead.
	cfg.Producer.Flush.MaxMessages = DLQBatchRecords
	ap, err := sarama.NewAsyncProducer(brokers, &cfg)
	if err != nil {
		return nil, fmt.Errorf("starting DLQ producer: %w", err)
	}
	p := &Producer{ap: ap}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		for m := range ap.Successes() {
			m.Metadata.(func(error))(nil)
		}
	}()
	go func() {
		defer p.wg.Done()
		for e := range ap.Errors() {
			e.Msg.Metadata.(func(error))(fmt.Errorf("writing to %s/%d: %w", e.Msg.Topic, e.Msg.Partition, e.Err))
		}
	}()
	return p, nil
}

// Forward implements Forwarder.
func (p *Producer) Forward(topic string, partition int32, key, value []byte, headers []dlq.Header, done func(error)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		done(ErrProducerClosed)
		return
	}
	hs := make([]sarama.RecordHeader, len(headers))
	for i, h := range headers {
		hs[i] = sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value}
	}
	p.ap.Input() <- &sarama.ProducerMessage{
		Topic:     topic,
		Partition: partition,
		Key:       byteEncoder(key),
		Value:     byteEncoder(value),
		Headers:   hs,
		Metadata:  done,
	}
}

// Close flushes what is buffered, waits for every acknowledgement and stops
// the producer. A Forward after Close fails with ErrProducerClosed.
func (p *Producer) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.ap.AsyncClose()
	p.wg.Wait()
}

// byteEncoder keeps a nil key nil (sarama.ByteEncoder(nil) would send an
// empty key, which is a different key).
func byteEncoder(b []byte) sarama.Encoder {
	if b == nil {
		return nil
	}
	return sarama.ByteEncoder(b)
}
