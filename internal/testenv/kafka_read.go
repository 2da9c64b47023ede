package testenv

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// readIdle bounds how long ReadTopic waits for the next record of a
// partition it has not read to its end: a record below the end is either
// served at once or missing (a compacted or aborted offset), and a test
// must fail then rather than hang.
const readIdle = 30 * time.Second

// ReadTopic reads topic with cfg and without a consumer group: each
// partition from its offset in from (or its oldest record when from lacks
// it) to the end it had when ReadTopic asked. The records come in
// partition order, then offset order. Tests read what redrive wrote with
// it, independently of redrive's own readers.
func ReadTopic(brokers []string, cfg *sarama.Config, topic string, from map[int32]int64) ([]*sarama.ConsumerMessage, error) {
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("testenv: reading %s: %w", topic, err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("testenv: reading %s: %w", topic, err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("testenv: partitions of %s: %w", topic, err)
	}
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		got, err := readPartition(client, consumer, topic, p, from)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func readPartition(client sarama.Client, consumer sarama.Consumer, topic string, p int32, from map[int32]int64) ([]*sarama.ConsumerMessage, error) {
	end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return nil, fmt.Errorf("testenv: end of %s/%d: %w", topic, p, err)
	}
	start, ok := from[p]
	if !ok {
		if start, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return nil, fmt.Errorf("testenv: start of %s/%d: %w", topic, p, err)
		}
	}
	if end <= start {
		return nil, nil
	}
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, fmt.Errorf("testenv: reading %s/%d: %w", topic, p, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	idle := time.NewTimer(readIdle)
	defer idle.Stop()
	for {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
			if m.Offset >= end-1 {
				return out, nil
			}
			idle.Reset(readIdle)
		case <-idle.C:
			return nil, fmt.Errorf("testenv: reading %s/%d: no record for %s at offset %d, before the end %d",
				topic, p, readIdle, nextOffset(out, start), end)
		}
	}
}

// nextOffset is the offset after the last record read, start when none was.
func nextOffset(read []*sarama.ConsumerMessage, start int64) int64 {
	if len(read) == 0 {
		return start
	}
	return read[len(read)-1].Offset + 1
}
