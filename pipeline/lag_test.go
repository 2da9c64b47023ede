package pipeline

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/wait"
)

// fakeClaim is a claim whose high-water mark the test sets, as sarama
// does from each fetch response.
type fakeClaim struct {
	sarama.ConsumerGroupClaim
	initial int64
	hwm     atomic.Int64
}

func (c *fakeClaim) Topic() string              { return "in" }
func (c *fakeClaim) Partition() int32           { return 3 }
func (c *fakeClaim) InitialOffset() int64       { return c.initial }
func (c *fakeClaim) HighWaterMarkOffset() int64 { return c.hwm.Load() }

// fakeOffsets answers ListOffsets like a partition's leader; fail makes
// every look-up fail, as with the brokers down.
type fakeOffsets struct {
	newest, oldest atomic.Int64
	fail           atomic.Bool
}

func (f *fakeOffsets) GetOffset(_ string, _ int32, at int64) (int64, error) {
	if f.fail.Load() {
		return 0, errors.New("brokers down")
	}
	if at == sarama.OffsetOldest {
		return f.oldest.Load(), nil
	}
	return f.newest.Load(), nil
}

// redrive_consumer_lag_records is the high-water mark minus the next offset
// to read. While the partition is paused the claim's own high-water mark
// stands still, so the leader's is used; when the leader cannot be asked,
// the claim's. A group without a committed offset starts at the log start
// (--start-offset oldest). The series goes when the claim ends.
func TestConsumerLagFollowsTheHighWaterMark(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	offsets := &fakeOffsets{}
	r := &lagReporter{offsets: offsets, gauges: m.lag, interval: time.Millisecond}
	lagIs := func(what string, want string) {
		t.Helper()
		wait.For(t, 10*time.Second, what, func() bool {
			return strings.Contains(gatherText(t, reg, "redrive_consumer_lag_records"), `{partition="3",topic="in"} `+want+"\n")
		})
	}

	claim := &fakeClaim{initial: 10}
	claim.hwm.Store(60)
	offsets.newest.Store(100) // paused: the claim has not seen the last 40
	l := r.watch(claim)
	lagIs("lag from the leader's high-water mark", "90")
	l.read(49)
	lagIs("lag after reading up to offset 49", "50")
	offsets.fail.Store(true)
	lagIs("lag from the claim's high-water mark when the leader cannot be asked", "10")
	l.end()
	if got := gatherText(t, reg, "redrive_consumer_lag_records"); strings.Contains(got, `partition="3"`) {
		t.Fatalf("the series of an ended claim is still reported:\n%s", got)
	}

	offsets.fail.Store(false)
	offsets.oldest.Store(5)
	l = r.watch(&fakeClaim{initial: sarama.OffsetOldest})
	defer l.end()
	lagIs("lag of a group without a committed offset", "95")
}
