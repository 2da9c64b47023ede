package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

// lagInterval is how often the lag of a claimed topic-partition is
// refreshed: often enough for a scrape every 15 s, rarely enough that the
// look-ups of paused partitions' high-water marks cost the brokers nothing.
const lagInterval = 5 * time.Second

// offsetSource looks up a partition's offsets (sarama.Client.GetOffset):
// OffsetNewest is the high-water mark, OffsetOldest the log start.
type offsetSource interface {
	GetOffset(topic string, partition int32, time int64) (int64, error)
}

// lagReporter sets redrive_consumer_lag_records for each topic-partition a
// session claims: the high-water mark minus the next offset to read. The
// claim's own high-water mark comes with each fetch, so it stands still
// while the partition is paused for backpressure, which is when lag grows:
// the reporter asks the partition's leader instead (one ListOffsets request
// per claim and lagInterval) and falls back on the claim's when that fails.
type lagReporter struct {
	offsets  offsetSource // nil: the claim's high-water mark only
	gauges   *prometheus.GaugeVec
	interval time.Duration
}

// claimLag follows one claim's lag while it is consumed.
type claimLag struct {
	r     *lagReporter
	claim sarama.ConsumerGroupClaim
	gauge prometheus.Gauge
	next  atomic.Int64 // the next offset to read; negative until known
	stop  chan struct{}
}

// watch starts reporting the claim's lag until stop is called, which also
// deletes its series: a partition this process no longer owns is not
// reported. read must be called with each message's offset as it is
// handed on; it costs one atomic store.
func (r *lagReporter) watch(c sarama.ConsumerGroupClaim) *claimLag {
	l := &claimLag{r: r, claim: c, stop: make(chan struct{}),
		gauge: r.gauges.WithLabelValues(c.Topic(), partitionLabel(c.Partition()))}
	l.next.Store(c.InitialOffset())
	go l.run()
	return l
}

// read records that the message at offset was handed on.
func (l *claimLag) read(offset int64) { l.next.Store(offset + 1) }

// end stops the reporting and deletes the claim's series. It does not wait
// for a look-up in flight: with the brokers down that could take as long as
// the client's timeouts, and a revoke must be quick (invariant 6). The
// look-up ends with the client (closed by the supervisor when the session
// goes), and what it then sets is a gauge no longer in the vector, so a
// revoked partition is never reported again.
func (l *claimLag) end() {
	close(l.stop)
	l.r.gauges.DeleteLabelValues(l.claim.Topic(), partitionLabel(l.claim.Partition()))
}

func (l *claimLag) run() {
	t := time.NewTicker(l.r.interval)
	defer t.Stop()
	for {
		l.update()
		select {
		case <-t.C:
		case <-l.stop:
			return
		}
	}
}

// update sets the gauge from the freshest high-water mark it can get.
func (l *claimLag) update() {
	topic, id := l.claim.Topic(), l.claim.Partition()
	hwm := l.claim.HighWaterMarkOffset()
	if l.r.offsets != nil {
		if n, err := l.r.offsets.GetOffset(topic, id, sarama.OffsetNewest); err == nil {
			hwm = max(hwm, n)
		}
	}
	next := l.next.Load()
	if next < 0 {
		// Nothing read yet and no committed offset: the session starts at
		// the log's start or end (--start-offset).
		if l.r.offsets == nil || hwm <= 0 {
			return
		}
		n, err := l.r.offsets.GetOffset(topic, id, next)
		if err != nil {
			return
		}
		next = n
	}
	l.gauge.Set(float64(max(hwm-next, 0)))
}
