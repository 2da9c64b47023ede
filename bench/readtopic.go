package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/redrive-io/redrive/dlq"
)

// readTopic reads every record of topic below the high-water marks hw (read
// beforehand) and calls fn for each, without a consumer group.
func readTopic(ctx context.Context, brokers []string, topic string, hw map[int32]int64, fn func(*kgo.Record)) error {
	remaining := 0
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	for p, h := range hw {
		if h > 0 {
			remaining++
			offsets[topic][p] = kgo.NewOffset().AtStart()
		}
	}
	if remaining == 0 {
		return nil
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("redrive-bench-reader"),
		kgo.ConsumePartitions(offsets))
	if err != nil {
		return fmt.Errorf("reading %s: %w", topic, err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for remaining > 0 {
		fs := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: %d partitions unfinished: %w", topic, remaining, err)
		}
		for _, e := range fs.Errors() {
			return fmt.Errorf("reading %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= hw[r.Partition] {
				return
			}
			fn(r)
			if r.Offset == hw[r.Partition]-1 {
				remaining--
			}
		})
	}
	return nil
}

// envelopeOf decodes the redrive envelope of a DLQ or parking record.
func envelopeOf(r *kgo.Record) (dlq.Envelope, error) {
	return dlq.Parse(func(key string) ([]byte, bool) {
		for _, h := range r.Headers {
			if h.Key == key {
				return h.Value, true
			}
		}
		return nil, false
	})
}

// originKey names an input record by its origin coordinates, the key
// downstream de-duplicates on.
type originKey struct {
	Topic     string
	Partition int32
	Offset    int64
}

func (o originKey) String() string {
	return o.Topic + "/" + strconv.Itoa(int(o.Partition)) + "@" + strconv.FormatInt(o.Offset, 10)
}
