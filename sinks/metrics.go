package sinks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/metric"
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
	f := metric.With(reg)
	batches := f.CounterVec("redrive_sink_batches_total",
		"Sealed batches by outcome: ok (durable) or failed (given up).",
		"result")
	return &metrics{
		batchesOK:     batches.WithLabelValues("ok"),
		batchesFailed: batches.WithLabelValues("failed"),
		batchRecords: f.Histogram("redrive_sink_batch_records",
			"Lines per sealed batch.",
			prometheus.ExponentialBuckets(1, 4, 10)), // 1 .. 262144
		batchBytes: f.Histogram("redrive_sink_batch_bytes",
			"Compressed size of each sealed batch in bytes.",
			prometheus.ExponentialBuckets(256, 4, 10)), // 256 B .. 64 MiB
		uploadDuration: f.Histogram("redrive_sink_upload_duration_seconds",
			"Duration of each upload attempt, successful or not.",
			prometheus.ExponentialBuckets(0.005, 2.5, 10)), // 5 ms .. ~19 s
		uploadRetries: f.Counter("redrive_sink_upload_retries_total",
			"Upload attempts that failed and were retried."),
		pending: f.Gauge("redrive_sink_pending_records",
			"Lines added to the sink whose Done has not been called yet."),
	}
}
