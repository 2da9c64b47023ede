package pipeline

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// A table topic written in transactions (a Kafka Streams or ksqlDB table
// with exactly-once) ends its partitions with offsets no consumer is ever
// handed: each transaction's commit marker, and under read_committed the
// records of aborted or still open transactions. goka's View recovers a
// partition until it is handed the record at the high-water mark minus
// one, so on such a topic it would never catch up, and /readyz would stay
// 503 until the table's next update. readableEndTM gives goka, as the
// partition's newest offset, the end of what a consumer is handed instead.

// Probe timing: a probe reads with probeMaxWait (the broker holds an empty
// fetch this long), and takes a partition as read out once a fetch answer
// has come and nothing more arrived for probeQuiet. probeTimeout bounds a
// probe whose fetches get no answer; the view then fails and is rebuilt.
const (
	probeMaxWait = 100 * time.Millisecond
	probeQuiet   = time.Second
	probeTimeout = 30 * time.Second
	// probeFirstWindow is how many offsets before the end the first probe
	// reads: enough for a transaction's last records and its marker. Each
	// later probe reads probeGrowth times as many, down to the oldest.
	probeFirstWindow = 16
	probeGrowth      = 16
)

// readableEndTM is goka's topic manager whose newest offset is the
// readable end (see readableEnd).
type readableEndTM struct {
	goka.TopicManager
	probe sarama.Consumer
	stop  <-chan struct{} // the view's run ended: a probe gives up
}

// newReadableEndTM wraps tm; probe reads with cfg's settings and
// probeMaxWait, until stop is closed. Close closes both.
func newReadableEndTM(tm goka.TopicManager, brokers []string, cfg sarama.Config, stop <-chan struct{}) (*readableEndTM, error) {
	cfg.Consumer.MaxWaitTime = probeMaxWait
	cfg.ClientID += "-end"
	probe, err := sarama.NewConsumer(brokers, &cfg)
	if err != nil {
		return nil, err
	}
	return &readableEndTM{TopicManager: tm, probe: probe, stop: stop}, nil
}

// GetOffset implements goka.TopicManager: OffsetNewest is the readable end.
func (tm *readableEndTM) GetOffset(topic string, partition int32, at int64) (int64, error) {
	end, err := tm.TopicManager.GetOffset(topic, partition, at)
	if err != nil || at != sarama.OffsetNewest {
		return end, err
	}
	oldest, err := tm.TopicManager.GetOffset(topic, partition, sarama.OffsetOldest)
	if err != nil {
		return 0, err
	}
	return readableEnd(tm.probe, tm.stop, topic, partition, oldest, end)
}

// Close closes the probe's consumer and the topic manager.
func (tm *readableEndTM) Close() error {
	err := tm.probe.Close()
	if terr := tm.TopicManager.Close(); err == nil {
		err = terr
	}
	return err
}

// readableEnd is the offset after the last record of topic/partition below
// end that a consumer is handed, or oldest when there is none. It reads the
// last probeFirstWindow offsets first, and more only when those hold no
// such record.
func readableEnd(probe sarama.Consumer, stop <-chan struct{}, topic string, partition int32, oldest, end int64) (int64, error) {
	for window := int64(probeFirstWindow); end > oldest; window *= probeGrowth {
		from := max(oldest, end-window)
		last, err := lastHanded(probe, stop, topic, partition, from, end)
		if err != nil {
			return 0, err
		}
		if last >= 0 {
			return last + 1, nil
		}
		if from == oldest {
			break
		}
	}
	return oldest, nil
}

// lastHanded reads topic/partition from offset from and returns the offset
// of the last record below end that it is handed, or -1 when there is none.
// The record at end-1 ends the read at once; otherwise the read ends once a
// fetch has answered and nothing more arrived for probeQuiet; a stop ends
// it with an error.
func lastHanded(probe sarama.Consumer, stop <-chan struct{}, topic string, partition int32, from, end int64) (int64, error) {
	pc, err := probe.ConsumePartition(topic, partition, from)
	if err != nil {
		return 0, err
	}
	defer pc.Close() //nolint:errcheck // nothing was consumed that an error could concern
	last := int64(-1)
	quiet := time.NewTimer(probeQuiet)
	defer quiet.Stop()
	tick := time.NewTicker(probeMaxWait / 4)
	defer tick.Stop()
	deadline := time.After(probeTimeout)
	answered := false
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return 0, fmt.Errorf("lookup table: reading %s/%d near its end: the consumer was closed: %w", topic, partition, net.ErrClosed)
			}
			if m.Offset >= end {
				return last, nil // a record written since end was read
			}
			last = m.Offset
			if last == end-1 {
				return last, nil
			}
			quiet.Reset(probeQuiet)
		case err := <-pc.Errors():
			return 0, err
		case <-tick.C:
			// sarama sets the high-water mark from each fetch answer
			// before it hands on the answer's records.
			if !answered && pc.HighWaterMarkOffset() > 0 {
				answered = true
				quiet.Reset(probeQuiet)
			}
		case <-quiet.C:
			if answered {
				return last, nil
			}
			quiet.Reset(probeQuiet)
		case <-stop:
			return 0, fmt.Errorf("lookup table: reading %s/%d near its end: %w", topic, partition, context.Canceled)
		case <-deadline:
			return 0, fmt.Errorf("lookup table: no answer reading %s/%d near its end: %w", topic, partition, context.DeadlineExceeded)
		}
	}
}
