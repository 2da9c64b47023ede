package metric

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestFactory_RegistersWhatItMakes checks that each collector is registered
// with the name, help, type, labels and buckets it was given.
func TestFactory_RegistersWhatItMakes(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := With(reg)
	f.Counter("t_counter_total", "A counter.").Inc()
	f.CounterVec("t_counter_vec_total", "A counter by kind.", "kind").WithLabelValues("a").Inc()
	f.Gauge("t_gauge", "A gauge.").Set(1)
	f.GaugeVec("t_gauge_vec", "A gauge by topic and partition.", "topic", "partition").WithLabelValues("in", "0").Set(1)
	f.GaugeFunc("t_gauge_func", "A gauge read at scrape time.", func() float64 { return 1 })
	f.Histogram("t_histogram", "A histogram.", []float64{1, 10}).Observe(1)
	f.HistogramVec("t_histogram_vec", "A histogram by topic.", []float64{1, 10}, "topic").WithLabelValues("dlq").Observe(1)

	want := map[string]struct {
		help   string
		typ    dto.MetricType
		labels []string
	}{
		"t_counter_total":     {"A counter.", dto.MetricType_COUNTER, nil},
		"t_counter_vec_total": {"A counter by kind.", dto.MetricType_COUNTER, []string{"kind"}},
		"t_gauge":             {"A gauge.", dto.MetricType_GAUGE, nil},
		"t_gauge_vec":         {"A gauge by topic and partition.", dto.MetricType_GAUGE, []string{"partition", "topic"}},
		"t_gauge_func":        {"A gauge read at scrape time.", dto.MetricType_GAUGE, nil},
		"t_histogram":         {"A histogram.", dto.MetricType_HISTOGRAM, nil},
		"t_histogram_vec":     {"A histogram by topic.", dto.MetricType_HISTOGRAM, []string{"topic"}},
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != len(want) {
		t.Fatalf("registered %d families, want %d", len(mfs), len(want))
	}
	for _, mf := range mfs {
		w, ok := want[mf.GetName()]
		if !ok {
			t.Fatalf("unexpected family %s", mf.GetName())
		}
		if mf.GetHelp() != w.help || mf.GetType() != w.typ {
			t.Errorf("%s: help %q type %v, want %q %v", mf.GetName(), mf.GetHelp(), mf.GetType(), w.help, w.typ)
		}
		m := mf.GetMetric()[0]
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName())
		}
		if !slices.Equal(labels, w.labels) {
			t.Errorf("%s: labels %v, want %v", mf.GetName(), labels, w.labels)
		}
		if h := m.GetHistogram(); h != nil {
			var bounds []float64
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			if !slices.Equal(bounds, []float64{1, 10}) {
				t.Errorf("%s: buckets %v, want [1 10]", mf.GetName(), bounds)
			}
		}
	}
}

// TestWith_NilRegistersNothing keeps promauto's rule: a nil registerer
// makes working collectors that no registry holds.
func TestWith_NilRegistersNothing(t *testing.T) {
	c := With(nil).Counter("t_unregistered_total", "Not registered.")
	c.Inc()
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("counter = %v (err %v), want 1", m.GetCounter().GetValue(), err)
	}
}
