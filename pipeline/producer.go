package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/ctxwait"
)

// Forwarder writes a record to the DLQ or parking topic at an explicit
// partition and calls done once the broker acknowledged it, or with a
// *WriteError once this attempt failed. Forward never blocks, and done must
// not block either.
type Forwarder interface {
	Forward(topic string, partition int32, key, value []byte, headers []dlq.Header, done func(error))
}

// WriteError is a failed DLQ or parking write with its class: FaultTooLarge
// means the record can never be written to that topic as it is (checked
// alone, not as part of a batch); any other fault may succeed later.
type WriteError struct {
	Topic     string
	Partition int32
	Fault     KafkaFault
	Err       error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("writing to %s/%d (%s): %v", e.Topic, e.Partition, e.Fault, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Producer is the Forwarder redrive runs with: a sarama async producer with
// a manual partitioner, because a DLQ record must land on the partition
// number it came from whatever hash the upstream producer used (goka's
// emitter hashes with FNV-32a, Java clients with murmur2).
//
// Forward only appends to a queue that the producer's own goroutine feeds
// to sarama, so a goka callback never waits on Kafka. The queue holds
// records that are still tracked by their partitions, so the pending
// windows bound it: when writes back up, the windows fill and fetching
// pauses.
type Producer struct {
	ap sarama.AsyncProducer
	// alone re-sends, one at a time, a record that failed as too large: a
	// batch can be too large where each of its records fits, and only a
	// record too large on its own may be reduced.
	alone   sarama.SyncProducer
	aloneCh chan *sarama.ProducerMessage

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*sarama.ProducerMessage
	closed bool

	wg sync.WaitGroup // the pump, the acknowledgement readers and the alone-checker
}

// ErrProducerClosed is given to done when Forward is called after Close,
// which only happens when a stop overran its grace period.
var ErrProducerClosed = errors.New("DLQ producer is closed")

// DLQBatchRecords is the most records the DLQ producer puts in one batch.
const DLQBatchRecords = 256

// NewProducer connects a producer to the brokers. base is copied;
// maxMessageBytes is the largest record the DLQ and parking topics take
// (their max.message.bytes), which also caps one batch.
func NewProducer(brokers []string, base *sarama.Config, maxMessageBytes int) (*Producer, error) {
	cfg := *base
	cfg.ClientID = base.ClientID + "-forwarder"
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	if maxMessageBytes > 0 {
		cfg.Producer.MaxMessageBytes = maxMessageBytes
	}
	// A failed write is retried by the pipeline with backoff while its
	// partition pauses, so sarama's own retries only ride out a leader
	// election; a write that fails while its partition is being revoked
	// must come back quickly so that the revoke can let it go.
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 250 * time.Millisecond
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
	aloneCfg := cfg
	aloneCfg.ClientID = base.ClientID + "-forwarder-check"
	aloneCfg.Producer.MaxMessageBytes = int(sarama.MaxRequestSize) // only the broker decides
	aloneCfg.Producer.Flush = cfg.Producer.Flush
	aloneCfg.Producer.Flush.MaxMessages = 1
	alone, err := sarama.NewSyncProducer(brokers, &aloneCfg)
	if err != nil {
		ap.Close()
		return nil, fmt.Errorf("starting DLQ producer: %w", err)
	}
	p := &Producer{ap: ap, alone: alone, aloneCh: make(chan *sarama.ProducerMessage, 64)}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(4)
	go p.pump()
	go func() {
		defer p.wg.Done()
		for m := range ap.Successes() {
			m.Metadata.(func(error))(nil)
		}
	}()
	go func() {
		defer p.wg.Done()
		defer close(p.aloneCh)
		for e := range ap.Errors() {
			fault := ClassifyKafka(e.Err)
			if fault == FaultTooLarge {
				p.aloneCh <- e.Msg
				continue
			}
			done(e.Msg)(&WriteError{Topic: e.Msg.Topic, Partition: e.Msg.Partition, Fault: fault, Err: e.Err})
		}
	}()
	go p.checkAlone()
	return p, nil
}

func done(m *sarama.ProducerMessage) func(error) { return m.Metadata.(func(error)) }

// Forward implements Forwarder.
func (p *Producer) Forward(topic string, partition int32, key, value []byte, headers []dlq.Header, done func(error)) {
	hs := make([]sarama.RecordHeader, len(headers))
	for i, h := range headers {
		hs[i] = sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value}
	}
	m := &sarama.ProducerMessage{
		Topic:     topic,
		Partition: partition,
		Key:       byteEncoder(key),
		Value:     byteEncoder(value),
		Headers:   hs,
		Metadata:  done,
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		done(ErrProducerClosed)
		return
	}
	p.queue = append(p.queue, m)
	p.mu.Unlock()
	p.cond.Signal()
}

// pump feeds queued messages to sarama; it alone may block on sarama's
// input. After Close, what is still queued fails with ErrProducerClosed.
func (p *Producer) pump() {
	defer p.wg.Done()
	var batch []*sarama.ProducerMessage
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		batch, p.queue = p.queue, batch[:0]
		closed := p.closed
		p.mu.Unlock()
		if closed {
			for _, m := range batch {
				done(m)(ErrProducerClosed)
			}
			p.ap.AsyncClose()
			return
		}
		for i, m := range batch {
			p.ap.Input() <- m
			batch[i] = nil
		}
	}
}

// checkAlone sends each record that failed as too large on its own: only
// if it fails alone is it reported as FaultTooLarge.
func (p *Producer) checkAlone() {
	defer p.wg.Done()
	defer p.alone.Close() //nolint:errcheck // nothing is pending at that point
	for m := range p.aloneCh {
		retry := &sarama.ProducerMessage{Topic: m.Topic, Partition: m.Partition, Key: m.Key, Value: m.Value, Headers: m.Headers}
		_, _, err := p.alone.SendMessage(retry)
		if err == nil {
			done(m)(nil)
			continue
		}
		done(m)(&WriteError{Topic: m.Topic, Partition: m.Partition, Fault: ClassifyKafka(err), Err: err})
	}
}

// Close stops taking records, flushes what sarama holds and waits for every
// acknowledgement, or until ctx ends: with the brokers unreachable sarama
// may retry for long, and a stop must not outlast its grace period. A
// Forward after Close fails with ErrProducerClosed.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	if already {
		return nil
	}
	if err := ctxwait.Group(ctx, &p.wg); err != nil {
		return fmt.Errorf("DLQ producer: writes still unacknowledged at close: %w", err)
	}
	return nil
}

// byteEncoder keeps a nil key nil (sarama.ByteEncoder(nil) would send an
// empty key, which is a different key).
func byteEncoder(b []byte) sarama.Encoder {
	if b == nil {
		return nil
	}
	return sarama.ByteEncoder(b)
}
