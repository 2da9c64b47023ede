package enrich

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/redrive-io/redrive/internal/metric"
)

// classOK is the class label of a successful call.
const classOK = "ok"

// metrics are the Client's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec // per attempt, by class ("ok" for success)
	duration prometheus.Histogram   // per request actually sent
	inFlight prometheus.Gauge       // requests on the wire now
}

// newMetrics declares the Client's series. redrive_enrich_breaker_state is
// read from the breaker at scrape time: a gauge set on state changes
// stayed at 2 (open) after the API recovered, until the next record needing
// enrichment came. gobreaker moves from open to half-open only when asked,
// and State() is such a question, so a scrape sees the state as time has
// made it.
func newMetrics(reg prometheus.Registerer, breakerState func() gobreaker.State) *metrics {
	f := metric.With(reg)
	f.GaugeFunc("redrive_enrich_breaker_state",
		"State of the enrichment circuit breaker: 0 closed, 1 half-open, 2 open; read at scrape time.",
		func() float64 { return float64(breakerState()) })
	m := &metrics{
		requests: f.CounterVec("redrive_enrich_requests_total",
			"Enrichment attempts by outcome class (ok for success); breaker_open attempts sent no request.",
			"class"),
		duration: f.Histogram("redrive_enrich_request_duration_seconds",
			"Duration of enrichment HTTP requests, answer body included.",
			prometheus.DefBuckets),
		inFlight: f.Gauge("redrive_enrich_in_flight",
			"Enrichment HTTP requests in flight."),
	}
	// Create every series up front so that dashboards see zeros, not gaps.
	for _, c := range []string{classOK, string(ClassTimeout), string(ClassConnection), string(ClassServer),
		string(ClassThrottled), string(ClassAuth), string(ClassBreakerOpen), string(ClassClient), string(ClassBadResponse),
		string(ClassBadInput), string(ClassCanceled)} {
		m.requests.WithLabelValues(c)
	}
	return m
}

// count records the outcome of one attempt.
func (m *metrics) count(err error) {
	label := classOK
	if err != nil {
		label = string(ClassOf(err))
	}
	m.requests.WithLabelValues(label).Inc()
}
