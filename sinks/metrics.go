package sinks

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the sink's Prometheus collectors.
type metrics struct {
	batchesOK      prometheus.Counter
	batchesFailed  prometheus.Counter
	batchRecords   prometheus.Histogram
	batchBytes     prometheus.Histogram
	uploadDuration prometheus.Histogram
	uploadRetries  prometheus.Counter
	pending        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	batches := f.NewCounterVec(prometheus.CounterOpts{
		Name: "redrive_sink_batches_total",
		Help: "Sealed batches by outcome: ok (durable) or failed (given up).",
	}, []string{"result"})
	return &metrics{
		batchesOK:     batches.WithLabelValues("ok"),
		batchesFailed: batches.WithLabelValues("failed"),
		batchRecords: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "redrive_sink_batch_records",
			Help:    "Lines per sealed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
		}),
		batchBytes: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "redrive_sink_batch_bytes",
			Help:    "Compressed size of each sealed batch in bytes.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10), // 256 B .. 64 MiB
		}),
		uploadDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "redrive_sink_upload_duration_seconds",
			Help:    "Duration of each upload attempt, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10), // 5 ms .. ~19 s
		}),
		uploadRetries: f.NewCounter(prometheus.CounterOpts{
			Name: "redrive_sink_upload_retries_total",
			Help: "Upload attempts that failed and were retried.",
		}),
		pending: f.NewGauge(prometheus.GaugeOpts{
			Name: "redrive_sink_pending_records",
			Help: "Lines added to the sink whose Done has not been called yet.",
		}),
	}
}
