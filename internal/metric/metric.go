// Package metric declares Prometheus collectors on the registerer the
// caller passes in (there is no global registry): one call per collector,
// its name and help first, the way prometheus.NewDesc takes them.
package metric

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Factory registers every collector it makes with one registerer, as
// promauto.With does; a nil registerer registers nothing.
type Factory struct{ f promauto.Factory }

// With returns a Factory that registers with reg.
func With(reg prometheus.Registerer) Factory { return Factory{promauto.With(reg)} }

// Counter makes a counter.
func (f Factory) Counter(name, help string) prometheus.Counter {
	return f.f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

// CounterVec makes a counter with the given labels.
func (f Factory) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return f.f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Gauge makes a gauge.
func (f Factory) Gauge(name, help string) prometheus.Gauge {
	return f.f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

// GaugeVec makes a gauge with the given labels.
func (f Factory) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return f.f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

// GaugeFunc makes a gauge whose value is read from value at scrape time.
func (f Factory) GaugeFunc(name, help string, value func() float64) prometheus.GaugeFunc {
	return f.f.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value)
}

// Histogram makes a histogram with the given bucket bounds.
func (f Factory) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return f.f.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

// HistogramVec makes a histogram with the given bucket bounds and labels.
func (f Factory) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return f.f.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}
