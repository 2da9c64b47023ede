package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newRegistry is the registry served on /metrics: the Go and process
// collectors (what redrive.Topology adds to a registry it makes itself) and
// redrive_build_info, so that a dashboard can tell which build each pod
// runs and when a rollout reached it.
func newRegistry(b buildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "redrive_build_info",
			Help:        "Always 1; the labels name the build: version, commit and Go version.",
			ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
		}, func() float64 { return 1 }),
	)
	return reg
}
