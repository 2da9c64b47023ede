package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pendingAge reports redrive_oldest_pending_age_seconds: per owned
// topic-partition, how long ago the oldest record that is read but not yet
// released (durable, and every earlier record of its topic-partition too)
// was read. It is computed when Prometheus scrapes, from the trackers'
// first unreleased entries, so that it costs the records nothing and
// reports exactly the partitions this process owns at that moment.
type pendingAge struct {
	p    *Processor
	desc *prometheus.Desc
}

func newPendingAge(p *Processor) *pendingAge {
	return &pendingAge{p: p, desc: prometheus.NewDesc("redrive_oldest_pending_age_seconds",
		"Age of the oldest record of a topic-partition read and not yet durable (with every earlier one), by the time this process read it; 0 when none is pending. DLQ records held until their not-before time count as pending.",
		[]string{"topic", "partition"}, nil)}
}

func (a *pendingAge) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *pendingAge) Collect(ch chan<- prometheus.Metric) {
	p := a.p
	p.partsMu.Lock()
	parts := make([]*partition, 0, len(p.parts))
	for _, part := range p.parts {
		parts = append(parts, part)
	}
	p.partsMu.Unlock()
	now := p.now()
	for _, part := range parts {
		if part.ctx.Err() != nil {
			continue // revoked: no longer this process's to report
		}
		for _, t := range []struct {
			topic string
			tr    *tracker
		}{{p.cfg.InputTopic, &part.main}, {p.cfg.DLQTopic, &part.dlq}} {
			age := 0.0
			if read, ok := t.tr.oldest(); ok {
				age = max(now.Sub(read).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, age, t.topic, part.label())
		}
	}
}

// latencyBuckets span a record written seconds after it was produced to
// one held through a long outage (a day).
var latencyBuckets = []float64{0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600}

// observeLatency records, once a record's S3 batch is durable, the time
// since its Kafka timestamp. A record without a timestamp (before Kafka
// 0.10) is not observed; a producer clock ahead of ours counts as 0.
func observeLatency(h prometheus.Observer, ts, now time.Time) {
	if ts.IsZero() || ts.Unix() <= 0 {
		return
	}
	h.Observe(max(now.Sub(ts).Seconds(), 0))
}
