package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
)

// Dial settings of the inspector: an operator waiting at a prompt wants to
// hear quickly that a broker is unreachable, not after the pipeline's
// patient retries.
const (
	DialTimeout   = 5 * time.Second
	MetadataTries = 2 // first attempt and one retry
)

// ClientConfig copies base (pipeline.Kafka.SaramaConfig, which carries TLS
// and SASL) and sets what the inspector needs: short connection timeouts, no
// topic auto-creation (reading must never create a topic), consumer errors
// returned, and a producer that writes to explicit partitions and waits for
// every in-sync replica.
func ClientConfig(base *sarama.Config) *sarama.Config {
	cfg := *base
	cfg.ClientID = base.ClientID + "-inspect"
	cfg.Net.DialTimeout = DialTimeout
	cfg.Metadata.Retry.Max = MetadataTries - 1
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Metadata.AllowAutoTopicCreation = false
	// Metadata.Full stays on: the client then fetches metadata when it is
	// created, which is what tells an unreachable broker at once.
	cfg.Metadata.Full = true
	cfg.Consumer.Return.Errors = true
	// A fetch at the end of a partition waits this long for new records,
	// and holds up the next partition's start on that broker meanwhile.
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Retry.Max = 5
	// Send at once: goka's defaults batch for throughput, and a replay's
	// sync sends would each wait for the flush timer.
	cfg.Producer.Flush = base.Producer.Flush
	cfg.Producer.Flush.Frequency, cfg.Producer.Flush.Bytes, cfg.Producer.Flush.Messages = 0, 0, 0
	return &cfg
}

// Kafka reads redrive's topics with plain partition consumers (no consumer
// group, no commits), reads a group's committed offsets, and writes replays.
// It implements Reader, Sender and OffsetReader.
type Kafka struct {
	brokers  []string
	client   sarama.Client
	consumer sarama.Consumer
	// The consumer has a client of its own: a fetch waiting at the end of
	// a partition must not hold up metadata and offset requests.
	consumerClient sarama.Client

	mu       sync.Mutex
	producer sarama.SyncProducer // created on first Send
}

// Connect connects to the cluster; cfg should come from ClientConfig. The
// error names the brokers and what was tried.
func Connect(brokers []string, cfg *sarama.Config) (*Kafka, error) {
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("brokers %s: cannot connect (tried each with a %s dial timeout, %d metadata attempts): %w",
			strings.Join(brokers, ","), cfg.Net.DialTimeout, cfg.Metadata.Retry.Max+1, err)
	}
	cc, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("brokers %s: cannot connect: %w", strings.Join(brokers, ","), err)
	}
	consumer, err := sarama.NewConsumerFromClient(cc)
	if err != nil {
		cc.Close()
		client.Close()
		return nil, fmt.Errorf("brokers %s: %w", strings.Join(brokers, ","), err)
	}
	return &Kafka{brokers: brokers, client: client, consumer: consumer, consumerClient: cc}, nil
}

// Close releases the connections.
func (k *Kafka) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	if k.producer != nil {
		errs = append(errs, k.producer.Close())
	}
	errs = append(errs, k.consumer.Close(), k.consumerClient.Close(), k.client.Close())
	return errors.Join(errs...)
}

// Partitions implements Reader.
func (k *Kafka) Partitions(ctx context.Context, topic string) ([]PartitionRange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, err := k.client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return nil, &TopicNotFoundError{Topic: topic, Brokers: k.brokers}
	}
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	out := make([]PartitionRange, 0, len(ids))
	for _, p := range ids {
		start, err := k.client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("oldest offset of %s/%d: %w", topic, p, err)
		}
		end, err := k.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
		}
		out = append(out, PartitionRange{Partition: p, Start: start, End: end})
	}
	return out, nil
}

// Read implements Reader. Records written by redrive have no offset gaps, so
// the read ends with the record at to-1.
func (k *Kafka) Read(ctx context.Context, topic string, partition int32, from, to int64, fn func(Message) error) error {
	if from >= to {
		return nil
	}
	return k.consume(ctx, topic, partition, from, func(m Message) (bool, error) {
		if m.Offset >= to {
			return true, nil
		}
		if err := fn(m); err != nil {
			return true, err
		}
		return m.Offset >= to-1, nil
	})
}

// Follow implements Reader.
func (k *Kafka) Follow(ctx context.Context, topic string, partition int32, from int64, fn func(Message) error) error {
	err := k.consume(ctx, topic, partition, from, func(m Message) (bool, error) { return false, fn(m) })
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// consume reads topic/partition from offset from until fn says stop or ctx
// ends.
func (k *Kafka) consume(ctx context.Context, topic string, partition int32, from int64, fn func(Message) (stop bool, err error)) error {
	pc, err := k.consumePartition(ctx, topic, partition, from)
	if err != nil {
		return fmt.Errorf("consuming %s/%d from offset %d: %w", topic, partition, from, err)
	}
	defer pc.AsyncClose()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-pc.Errors():
			return err
		case m, ok := <-pc.Messages():
			if !ok {
				return fmt.Errorf("consumer of %s/%d closed", topic, partition)
			}
			stop, err := fn(message(m))
			if err != nil || stop {
				return err
			}
		}
	}
}

// releaseWait bounds how long consumePartition waits for the previous
// reader of a partition to let it go.
const releaseWait = 5 * time.Second

// consumePartition starts a partition consumer. A read ends with
// AsyncClose, which returns at once (Close would wait for the fetch in
// flight, about a tenth of a second per partition of a scan), so a second
// read of the same partition right after the first (replay counts its
// records, then sends them) can find it still held: sarama then refuses
// with "already being consumed", and the partition is asked for again
// until it is released.
func (k *Kafka) consumePartition(ctx context.Context, topic string, partition int32, from int64) (sarama.PartitionConsumer, error) {
	deadline := time.Now().Add(releaseWait)
	for {
		pc, err := k.consumer.ConsumePartition(topic, partition, from)
		var ce sarama.ConfigurationError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(string(ce), "already being consumed") || time.Now().After(deadline) {
			return pc, err
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func message(m *sarama.ConsumerMessage) Message {
	hs := make([]dlq.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = dlq.Header{Key: string(h.Key), Value: h.Value}
	}
	return Message{Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value, Headers: hs}
}

// Committed returns group's committed offsets of topic's partitions (-1 for
// none). It sends one OffsetFetch request to the group's coordinator, as
// sarama's ClusterAdmin.ListConsumerGroupOffsets does: a read that neither
// joins the group nor changes it.
func (k *Kafka) Committed(ctx context.Context, group, topic string, partitions []int32) (map[int32]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	coord, err := k.client.Coordinator(group)
	if err != nil {
		return nil, fmt.Errorf("coordinator of group %s: %w", group, err)
	}
	req := sarama.NewOffsetFetchRequest(k.client.Config().Version, group, map[string][]int32{topic: partitions})
	resp, err := coord.FetchOffset(req)
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := map[int32]int64{}
	switch gerr := resp.GroupError(); {
	case errors.Is(gerr, sarama.ErrGroupIDNotFound):
		// Some brokers say so for a group that never committed; Kafka
		// answers -1 offsets. Both mean no committed offset.
		for _, p := range partitions {
			out[p] = -1
		}
		return out, nil
	case !errors.Is(gerr, sarama.ErrNoError):
		return nil, fmt.Errorf("offsets of group %s: %w", group, gerr)
	}
	for _, p := range partitions {
		b := resp.GetBlock(topic, p)
		switch {
		case b == nil:
			out[p] = -1
		case !errors.Is(b.Err, sarama.ErrNoError):
			return nil, fmt.Errorf("offset of group %s on %s/%d: %w", group, topic, p, b.Err)
		default:
			out[p] = b.Offset
		}
	}
	return out, nil
}

// Send implements Sender with a synchronous producer on the same client.
func (k *Kafka) Send(ctx context.Context, msgs []OutMessage) []SendResult {
	out := make([]SendResult, len(msgs))
	p, err := k.syncProducer()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	pms := make([]*sarama.ProducerMessage, len(msgs))
	index := make(map[*sarama.ProducerMessage]int, len(msgs))
	for i, m := range msgs {
		hs := make([]sarama.RecordHeader, len(m.Headers))
		for j, h := range m.Headers {
			hs[j] = sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value}
		}
		pm := &sarama.ProducerMessage{Topic: m.Topic, Partition: m.Partition, Headers: hs}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
		}
		if m.Value != nil {
			pm.Value = sarama.ByteEncoder(m.Value)
		}
		pms[i], index[pm] = pm, i
	}
	err = p.SendMessages(pms)
	var perrs sarama.ProducerErrors
	if err != nil && !errors.As(err, &perrs) {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	failed := map[int]bool{}
	for _, pe := range perrs {
		if i, ok := index[pe.Msg]; ok {
			out[i].Err, failed[i] = pe.Err, true
		}
	}
	for i, pm := range pms {
		if !failed[i] {
			out[i].Offset = pm.Offset
		}
	}
	return out
}

func (k *Kafka) syncProducer() (sarama.SyncProducer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.producer == nil {
		p, err := sarama.NewSyncProducerFromClient(k.client)
		if err != nil {
			return nil, fmt.Errorf("starting the replay producer: %w", err)
		}
		k.producer = p
	}
	return k.producer, nil
}
