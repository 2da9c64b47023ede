package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// produce sends one record and fails the test if it is not acknowledged.
func produce(t *testing.T, brokers []string, cfg *sarama.Config, topic, key, value string) {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value)}
	if _, _, err := p.SendMessage(msg); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// groupHandler hands the first record it is given to got, marks and
// commits it.
type groupHandler struct{ got chan *sarama.ConsumerMessage }

func (groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(m, "")
			s.Commit()
			select {
			case h.got <- m:
			default:
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// consumeOneInGroup joins group on topic, returns the first record and
// leaves the group after committing it.
func consumeOneInGroup(t *testing.T, brokers []string, cfg *sarama.Config, group, topic string) *sarama.ConsumerMessage {
	t.Helper()
	cg, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	h := groupHandler{got: make(chan *sarama.ConsumerMessage, 1)}
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer group: %v", err)
		}
		if err := cg.Close(); err != nil {
			t.Errorf("closing the consumer group: %v", err)
		}
	}()
	select {
	case m := <-h.got:
		return m
	case <-ctx.Done():
		t.Fatalf("no record from %s in group %s: %v", topic, group, ctx.Err())
		return nil
	}
}

// committed returns group's committed offset for partition 0 of topic.
func committed(t *testing.T, brokers []string, cfg *sarama.Config, group, topic string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.GetBlock(topic, 0)
	if b == nil {
		t.Fatalf("no committed offset for %s/0 in group %s", topic, group)
	}
	return b.Offset
}
