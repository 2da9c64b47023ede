package pipeline

import (
	"bytes"
	"context"
	"sync"

	"github.com/IBM/sarama"
)

// copyingGroup hands goka messages that own their bytes. sarama's messages
// are slices of the whole decompressed fetch batch, and goka keeps each
// record's message until its deferred commit is released, so one pending
// record would otherwise keep its entire batch alive: under a backlog that
// was most of the process's memory, far beyond --max-pending-bytes.
//
// Seeing every claim and every message, it also reports each claim's lag
// (lagReporter).
type copyingGroup struct {
	sarama.ConsumerGroup
	lag *lagReporter
}

func (g copyingGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	return g.ConsumerGroup.Consume(ctx, topics, copyingHandler{h, g.lag})
}

type copyingHandler struct {
	sarama.ConsumerGroupHandler
	lag *lagReporter
}

// ConsumeClaim relays the claim's messages, copied, to the wrapped handler.
// The relay stops when the handler returns, so it never outlives the claim.
func (h copyingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	lag := h.lag.watch(c)
	defer lag.end()
	out := make(chan *sarama.ConsumerMessage)
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
				case out <- ownBytes(m):
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

type copiedClaim struct {
	sarama.ConsumerGroupClaim
	out chan *sarama.ConsumerMessage
}

func (c copiedClaim) Messages() <-chan *sarama.ConsumerMessage { return c.out }

// ownBytes copies what goka keeps of a message out of sarama's batch buffer.
func ownBytes(m *sarama.ConsumerMessage) *sarama.ConsumerMessage {
	cp := *m
	cp.Key = bytes.Clone(m.Key)
	cp.Value = withRoom(m.Value, m.Topic) // room for the output line (record.go)
	if len(m.Headers) > 0 {
		cp.Headers = make([]*sarama.RecordHeader, len(m.Headers))
		for i, h := range m.Headers {
			cp.Headers[i] = &sarama.RecordHeader{Key: bytes.Clone(h.Key), Value: bytes.Clone(h.Value)}
		}
	}
	return &cp
}
