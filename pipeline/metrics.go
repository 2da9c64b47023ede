package pipeline

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/metric"
)

// metrics are the processor's Prometheus series.
type metrics struct {
	routed *prometheus.CounterVec
	// The routes' counters, looked up once: they count every record.
	direct, enriched, dlq, parkedRoute, handoff, skipped prometheus.Counter
	parked                                               *prometheus.CounterVec
	reduced, letGo                                       prometheus.Counter
	dlqAttempt                                           prometheus.Histogram
	enrichSeconds                                        prometheus.Histogram
	pending                                              *prometheus.GaugeVec
	waiting                                              *prometheus.GaugeVec
	uncommitted                                          *prometheus.GaugeVec
	paused                                               *prometheus.GaugeVec
	lag                                                  *prometheus.GaugeVec
	latency                                              *prometheus.HistogramVec
	timeFallbacks                                        *prometheus.CounterVec
	// tableHits and tableMisses count lookups in the table (Deps.Table).
	tableHits, tableMisses prometheus.Counter
	// The latency histograms of the input and DLQ topics, looked up once
	// by New: they observe every record.
	latencyInput, latencyDLQ prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := metric.With(reg)
	m := &metrics{
		routed: f.CounterVec("redrive_records_routed_total",
			"Records by route: direct (to S3, no enrichment needed), enriched (to S3), dlq, parked, handoff (back to the DLQ on a revoke), skipped (tombstones, with --tombstones=skip).",
			"route"),
		tableHits: f.Counter("redrive_lookup_table_hits_total",
			"Records that matched the rule and whose key the lookup table held: enriched from the table."),
		tableMisses: f.Counter("redrive_lookup_table_misses_total",
			"Records that matched the rule and whose key the lookup table lacked, or that had no key: handled by --lookup-miss."),
		timeFallbacks: f.CounterVec("redrive_event_time_fallbacks_total",
			"Records dated by a fallback instead of the configured partition time: missing or unparseable (field:NAME absent or not a time: the record timestamp is used), no_record_time (no Kafka timestamp: the clock is used).",
			"reason"),
		parked: f.CounterVec("redrive_records_parked_total",
			"Records sent to the parking topic, by error class.",
			"class"),
		reduced: f.Counter("redrive_records_parked_reduced_total",
			"Records no topic would take whole, parked as a reduced envelope (size, SHA-256 and the first bytes of the value)."),
		letGo: f.Counter("redrive_records_let_go_total",
			"Records of a revoked partition let go uncommitted because Kafka could not be written in time; they are read again after the rejoin."),
		dlqAttempt: f.Histogram("redrive_dlq_attempt",
			"Attempt count of records written to the DLQ.",
			[]float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30}),
		enrichSeconds: f.Histogram("redrive_enrich_call_seconds",
			"Time of one enrichment call as the pipeline sees it, in-line retries and queueing for a slot included.",
			prometheus.ExponentialBuckets(0.001, 2, 15)),
		pending: f.GaugeVec("redrive_partition_pending_records",
			"Records of a partition in enrichment or waiting for their S3 batch.",
			"partition"),
		waiting: f.GaugeVec("redrive_partition_waiting_records",
			"DLQ records of a partition held until their not-before time.",
			"partition"),
		uncommitted: f.GaugeVec("redrive_partition_uncommitted_records",
			"Records read and not yet committed (commit lag within this process).",
			"partition"),
		paused: f.GaugeVec("redrive_partition_paused",
			"1 while fetching of a topic-partition is paused for backpressure.",
			"topic", "partition"),
		lag: f.GaugeVec("redrive_consumer_lag_records",
			"Records of an owned topic-partition not yet read by this process: the partition's high-water mark minus the next offset to read, refreshed every few seconds (lagInterval).",
			"topic", "partition"),
		latency: f.HistogramVec("redrive_end_to_end_latency_seconds",
			"Time from a record's Kafka timestamp to its S3 batch being durable, by the topic it was read from (a DLQ record's timestamp is that of its last DLQ write).",
			latencyBuckets, "topic"),
	}
	m.direct = m.routed.WithLabelValues("direct")
	m.enriched = m.routed.WithLabelValues("enriched")
	m.dlq = m.routed.WithLabelValues("dlq")
	m.parkedRoute = m.routed.WithLabelValues("parked")
	m.handoff = m.routed.WithLabelValues("handoff")
	m.skipped = m.routed.WithLabelValues("skipped")
	return m
}

// Stats are running totals of the processor, for progress reports.
type Stats struct {
	in, inDLQ, enriched, toSink, toDLQ, parked, handedOff, letGo, skipped atomic.Int64
	fromTable, fromCache                                                  atomic.Int64
}

// Snapshot is a copy of Stats at one moment.
type Snapshot struct {
	In        int64 // records read from the main topic
	InDLQ     int64 // records read from the DLQ topic
	Enriched  int64 // successful enrichments by the API
	FromTable int64 // records enriched from the lookup table
	FromCache int64 // records enriched from the cache of API answers
	ToSink    int64 // records durable in the sink
	ToDLQ     int64 // records written to the DLQ after a failed attempt
	Parked    int64 // records written to the parking topic
	HandedOff int64 // records handed back to the DLQ on a revoke
	LetGo     int64 // records let go uncommitted on a revoke (read again later)
	Skipped   int64 // tombstones skipped (Config.Tombstones)
}

func (s *Stats) snapshot() Snapshot {
	return Snapshot{
		In: s.in.Load(), InDLQ: s.inDLQ.Load(), Enriched: s.enriched.Load(),
		ToSink: s.toSink.Load(), ToDLQ: s.toDLQ.Load(), Parked: s.parked.Load(), HandedOff: s.handedOff.Load(),
		LetGo: s.letGo.Load(), FromTable: s.fromTable.Load(), FromCache: s.fromCache.Load(), Skipped: s.skipped.Load(),
	}
}
